"""The whole job offline on the bundled data (``make demo`` / ``phone demo``).

With the shipped model (phone/models/mask_rcnn_phone.h5):
1. segments the bundled real CORe50 frames with it at once and prints mask
   IoU against the hand-drawn VIA polygons;
2. fine-tunes it briefly, balloon style, on synthetic CORe50-like frames
   whose phones are cut out of the bundled *train* frames, and writes the
   result to OUT/demo/mask_rcnn_phone.h5 (a self-describing model file that
   ``phone segment`` then uses by default);
3. segments the frames again with the fine-tuned model: OUT/NAME_mask.png
   (0/255) and OUT/NAME_overlay.png, and prints both models' scores, saying
   which frames gave cut-outs to training (not a fair score) and which were
   held out.

Without a shipped model it trains the from-scratch model instead (step 2
from random weights, PhoneScratchConfig); with ``coco_weights`` present it
fine-tunes Matterport's COCO model (PhoneConfig, class layers excluded).
Deterministic for a given seed (same data, same initial weights, same
order).
"""
import glob
import os
import time

from phone import paths

__all__ = ["run_demo"]


def _say(quiet, *a):
    if not quiet:
        print(*a, flush=True)


def _segment_frames(segmenter, frames, out=None):
    """Masks (and overlays, with ``out``) of the bundled frames."""
    from phone.imageio import read_image, write_png_atomic
    counts = {}
    for path in frames:
        image = read_image(path)
        bw, r = segmenter.segment_image(image)
        name = os.path.splitext(os.path.basename(path))[0]
        counts[name] = len(r["class_ids"])
        if out is not None:
            write_png_atomic(os.path.join(out, f"{name}_overlay.png"), segmenter.overlay(image, r))
            write_png_atomic(os.path.join(out, f"{name}_mask.png"), bw)
    return counts


def _score_table(reports, train_real):
    """{model label: report} -> rows printed and the roles of each frame."""
    labels = list(reports)
    first = reports[labels[0]]["images"]
    roles = {}
    print(f"{'frame':<18} {'role':<22} " + " ".join(f"{label:>14}" for label in labels))
    for i, row in enumerate(first):
        role = "train (cut-outs used)" if row["image"] in train_real else "held out"
        roles[row["image"]] = role
        values = " ".join(f"{reports[label]['images'][i]['mask_iou']:>14.3f}" for label in labels)
        print(f"{row['image']:<18} {role:<22} {values}")
    held = [i for i, row in enumerate(first) if roles[row["image"]] == "held out"]
    if held:
        means = " ".join(
            f"{sum(reports[label]['images'][i]['mask_iou'] for i in held) / len(held):>14.3f}"
            for label in labels)
        print(f"{'held-out mean':<41} {means}")
    return roles


def _finetune(start_weights, train_ds, val_ds, logs, steps, seed, quiet):
    """A short balloon-style fine-tune of the model in ``start_weights``
    (its stored configuration), all layers. Returns the last checkpoint."""
    import keras
    from mrcnn.model import MaskRCNN
    from phone.config import derive_config
    from phone.weights import model_config
    base, _ = model_config(start_weights)
    epochs = max(1, min(4, int(steps) // 50))
    cfg = derive_config(base, STEPS_PER_EPOCH=max(1, -(-int(steps) // epochs)), IMAGES_PER_GPU=4,
                        GPU_COUNT=1, LEARNING_RATE=float(base.LEARNING_RATE) / 5, MIXED_PRECISION="auto",
                        LEARNING_RATE_WARMUP_STEPS=0)
    keras.utils.set_random_seed(int(seed))
    model = MaskRCNN("training", cfg, logs)
    model.load_weights(start_weights, by_name=True)
    model.train(train_ds, val_ds, cfg.LEARNING_RATE, epochs=epochs, layers="all",
                verbose=0 if quiet else 1, seed=int(seed))
    return model.find_last()


def _finetune_coco(coco, train_ds, val_ds, logs, steps, seed, quiet):
    import keras
    from mrcnn.model import MaskRCNN
    from phone.config import PhoneConfig, derive_config
    from phone.weights import CLASS_SPECIFIC_LAYERS
    cfg = derive_config(PhoneConfig(), STEPS_PER_EPOCH=max(1, steps // 2))
    keras.utils.set_random_seed(seed)
    model = MaskRCNN("training", cfg, logs)
    model.load_weights(coco, by_name=True, exclude=list(CLASS_SPECIFIC_LAYERS))
    model.train(train_ds, val_ds, cfg.LEARNING_RATE, epochs=2, layers="heads",
                verbose=0 if quiet else 1, seed=seed)
    return model.find_last()


def run_demo(steps=None, n_train=400, n_val=40, seed=0, out=None, work=None,
             coco_weights=None, shipped_model=None, from_scratch=False, quiet=False):
    """Runs the demo; returns the report dict it also writes to
    OUT/demo_evaluation.json.

    steps: training steps (default 100 to fine-tune the shipped model, 1000
        from scratch). n_train / n_val: synthetic frames. out: where masks,
        overlays and OUT/demo/mask_rcnn_phone.h5 go (default: the outputs
        folder, phone.paths). work: scratch folder (default OUT/demo).
    coco_weights: COCO weights to fine-tune from when that file exists.
    shipped_model: the start model (default: the shipped one, when present).
    from_scratch: train the from-scratch model even when a shipped one exists.
    """
    from phone import learning
    from phone.imageio import write_json_atomic
    from phone.segmenter import Segmenter

    t0 = time.time()
    out = os.path.abspath(out or paths.default_outputs_dir())
    work = os.path.abspath(work or os.path.join(out, "demo"))
    os.makedirs(out, exist_ok=True)
    shipped = shipped_model or paths.shipped_model_path()
    use_coco = bool(coco_weights) and os.path.exists(coco_weights)
    use_shipped = not (use_coco or from_scratch) and os.path.isfile(shipped)
    steps = int(steps or (100 if use_shipped else 1000))
    frames = sorted(glob.glob(os.path.join(paths.bundled_dataset_dir(), "*", "*.png")))
    train_real = learning.real_frame_names(("train",))
    real = learning.load_real()
    reports = {}
    n_stages = 4 if use_shipped else 3

    stage = 1
    if use_shipped:
        _say(quiet, f"[1/{n_stages}] Shipped model {shipped}: segmenting the {len(frames)} "
                    f"bundled real CORe50 frames")
        t = time.time()
        start_seg = Segmenter(weights=shipped)
        counts = _segment_frames(start_seg, frames)
        reports["shipped"] = learning.evaluate(start_seg, real)
        _say(quiet, f"      {sum(counts.values())} phone(s) in {len(frames)} frames, "
                    f"{time.time() - t:.1f} s (model build included)")
        stage = 2

    _say(quiet, f"[{stage}/{n_stages}] Synthetic training data ({n_train} frames, seed {seed}; "
                f"phones cut from real frames {', '.join(train_real)})")
    paste = [os.path.join(paths.bundled_dataset_dir(), "train")]
    train_dir = learning.make_synthetic_split(os.path.join(work, "synthetic_train"), n_train,
                                              seed=seed, paste_from=paste)
    val_dir = learning.make_synthetic_split(os.path.join(work, "synthetic_val"), n_val,
                                            seed=seed + 1000, paste_from=paste)
    train_ds = learning.load_split(train_dir)
    val_ds = learning.load_split(val_dir)

    stage += 1
    logs = os.path.join(work, "logs")
    model_path = paths.demo_model_path(out)
    t = time.time()
    if use_coco:
        _say(quiet, f"[{stage}/{n_stages}] Fine-tuning from COCO weights {coco_weights} "
                    f"({steps} steps, heads)")
        ckpt = _finetune_coco(coco_weights, train_ds, val_ds, logs, steps, seed, quiet)
        label = "COCO fine-tuned"
    elif use_shipped:
        _say(quiet, f"[{stage}/{n_stages}] Fine-tuning the shipped model, balloon style "
                    f"({steps} steps, all layers, on {os.cpu_count()} CPU cores)")
        ckpt = _finetune(shipped, train_ds, val_ds, logs, steps, seed, quiet)
        label = "fine-tuned"
    else:
        _say(quiet, f"[{stage}/{n_stages}] No shipped model and no COCO weights: training "
                    f"from scratch with PhoneScratchConfig, {steps} steps on "
                    f"{os.cpu_count()} CPU cores")
        ckpt, _, _ = learning.train_scratch(train_ds, val_ds, steps, logs, seed=seed,
                                            verbose=0 if quiet else 1)
        label = "from scratch"
    _say(quiet, f"      trained in {(time.time() - t) / 60:.1f} min")
    learning.copy_atomic(ckpt, model_path)
    _say(quiet, f"      model: {model_path}")

    stage += 1
    _say(quiet, f"[{stage}/{n_stages}] Segmenting the bundled real CORe50 frames with the "
                f"{label} model -> {out}/NAME_mask.png")
    segmenter = Segmenter(weights=model_path)
    counts = _segment_frames(segmenter, frames, out)
    for name, n in counts.items():
        _say(quiet, f"      {name}: {n} phone(s)")
    reports[label] = learning.evaluate(segmenter, real)

    _say(quiet, "      Mask IoU against the hand-drawn VIA polygons, per model:")
    roles = _score_table(reports, train_real)
    report = dict(reports[label])
    report["roles"] = roles
    report["models"] = {name: {"mean": r["mean"], "images": r["images"]}
                        for name, r in reports.items()}
    report["model_paths"] = {"start": shipped if use_shipped else None, label: model_path}
    write_json_atomic(os.path.join(out, "demo_evaluation.json"), report)
    print(f"Done in {(time.time() - t0) / 60:.1f} min. Masks and overlays: "
          f"{out}/*_mask.png, *_overlay.png; model: {model_path} (now the default of "
          f"'phone segment'); scores: {out}/demo_evaluation.json")
    return report
