"""The whole job offline on the bundled data (``make demo`` / ``phone demo``).

With the shipped model (phone/models/mask_rcnn_phone.h5), the loop a user
runs on their own frames:
1. segments the bundled real CORe50 frames with it at once and prints mask
   IoU against the hand-drawn VIA polygons;
2. fine-tunes it as ``phone train --weights shipped`` does on a few
   annotated frames (the small-set recipe of phone.finetune: the phones of
   the two bundled *train* frames pasted onto new scenes, replay, phone-free
   frames, heads only), choosing the epoch on the bundled *val* frame; the
   four frames of datasets/phone/more are never seen;
3. segments the frames again with the kept model: OUT/NAME_mask.png (0/255)
   and OUT/NAME_overlay.png, and prints both models' scores per frame with
   its role (train / validation / unseen) and what improved and what did
   not. The kept model becomes OUT/demo/mask_rcnn_phone.h5 (the default of
   ``phone segment``) only when it beat the shipped model on its
   validation; otherwise no demo model is left and the shipped one stays
   the default.

Without a shipped model it trains the from-scratch model instead (step 2
from random weights, PhoneScratchConfig); with ``coco_weights`` present it
fine-tunes Matterport's COCO model (PhoneConfig, class layers excluded).
Deterministic for a given seed (same data, same initial weights, same
order).
"""
import glob
import os
import time

import phone.paths as paths

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


#: the roles of the bundled frames in the demo's fine-tune
ROLES = {"train": "train (fine-tuned on)", "val": "validation (chose the epoch)",
         "more": "unseen"}


def _score_table(reports, roles):
    """{model label: report} and {frame: role} -> the printed table; the
    mean of each model over the frames of each role."""
    labels = list(reports)
    first = reports[labels[0]]["images"]
    print(f"{'frame':<18} {'role':<29} " + " ".join(f"{label:>14}" for label in labels))
    for i, row in enumerate(first):
        values = " ".join(f"{reports[label]['images'][i]['mask_iou']:>14.3f}" for label in labels)
        print(f"{row['image']:<18} {roles.get(row['image'], ''):<29} {values}")
    for role in dict.fromkeys(roles.values()):
        idx = [i for i, row in enumerate(first) if roles.get(row["image"]) == role]
        if idx and role != ROLES["train"]:
            means = " ".join(
                f"{sum(reports[label]['images'][i]['mask_iou'] for i in idx) / len(idx):>14.3f}"
                for label in labels)
            print(f"{role.split(' ')[0] + ' mean':<48} {means}")


def _verdict(before, after, roles, tolerance=0.01):
    """Lines saying which frames the fine-tune improved and which it made
    worse (by more than ``tolerance``), the train frames aside."""
    better, worse = [], []
    for a, b in zip(before["images"], after["images"]):
        if roles.get(a["image"]) == ROLES["train"]:
            continue
        d = b["mask_iou"] - a["mask_iou"]
        if d > tolerance:
            better.append(f"{a['image']} {a['mask_iou']:.3f} -> {b['mask_iou']:.3f}")
        elif d < -tolerance:
            worse.append(f"{a['image']} {a['mask_iou']:.3f} -> {b['mask_iou']:.3f}")
    return (["Improved: " + ("; ".join(better) if better else "none")]
            + ["Worse: " + ("; ".join(worse) if worse else "none")])


def _finetune(start_weights, logs, steps, n_train, seed, quiet):
    """``phone train --weights shipped`` on the bundled frames (train/ and
    val/ of datasets/phone), the small-set recipe. Returns train's dict."""
    import phone.finetune as finetune
    from phone.train import train
    recipe = finetune.RECIPES["small-set"].replace(n_synthetic=n_train)
    per_epoch = None if steps is None else max(1, -(-int(steps) // recipe.epochs))
    return train(None, paths.bundled_dataset_dir(), weights=start_weights, logs_dir=logs,
                 recipe=recipe, steps_per_epoch=per_epoch, seed=seed,
                 say=(lambda m: None) if quiet else (lambda m: print("      " + m, flush=True)),
                 verbose=0 if quiet else 1, display_config=False)


def _finetune_coco(coco, train_ds, val_ds, logs, steps, seed, quiet):
    """The heads of PhoneConfig trained from Matterport's COCO weights (class
    layers excluded). Returns the last checkpoint."""
    from phone.config import PhoneConfig, derive_config
    from phone.train import build_training_model
    from phone.weights import CLASS_SPECIFIC_LAYERS
    cfg = derive_config(PhoneConfig(), STEPS_PER_EPOCH=max(1, steps // 2))
    model = build_training_model(cfg, logs, start=coco, exclude=CLASS_SPECIFIC_LAYERS, seed=seed)
    model.train(train_ds, val_ds, cfg.LEARNING_RATE, epochs=2, layers="heads",
                verbose=0 if quiet else 1, seed=seed)
    return model.find_last()


def _roles():
    """{frame file name: role} of the annotated bundled frames."""
    import phone.learning as learning
    return {name: ROLES[subset] for subset in ("train", "val", "more")
            for name in learning.real_frame_names((subset,))}


def run_demo(steps=None, n_train=400, n_val=40, seed=0, out=None, work=None,
             coco_weights=None, shipped_model=None, from_scratch=False, quiet=False):
    """Runs the demo; returns the report dict it also writes to
    OUT/demo_evaluation.json.

    steps: training steps (default: the small-set recipe's, 6 epochs of 100
        with early stopping, to fine-tune the shipped model; 1000 from
        scratch). n_train: generated frames (copy-paste ones for the shipped
        model); n_val: synthetic validation frames (scratch / COCO only).
        out: where masks, overlays and OUT/demo/mask_rcnn_phone.h5 go
        (default: the outputs folder, phone.paths). work: scratch folder
        (default OUT/demo).
    coco_weights: COCO weights to fine-tune from when that file exists.
    shipped_model: the start model (default: the shipped one, when present).
    from_scratch: train the from-scratch model even when a shipped one exists.
    """
    import phone.learning as learning
    from phone.imageio import write_json_atomic
    from phone.segmenter import Segmenter

    t0 = time.time()
    out = os.path.abspath(out or paths.default_outputs_dir())
    work = os.path.abspath(work or os.path.join(out, "demo"))
    os.makedirs(out, exist_ok=True)
    shipped = shipped_model or paths.shipped_model_path()
    use_coco = bool(coco_weights) and os.path.exists(coco_weights)
    use_shipped = not (use_coco or from_scratch) and os.path.isfile(shipped)
    frames = sorted(glob.glob(os.path.join(paths.bundled_dataset_dir(), "*", "*.png")))
    roles = _roles()
    real = learning.load_real(("train", "val", "more"))
    reports = {}
    n_stages = 3
    logs = os.path.join(work, "logs")
    model_path = paths.demo_model_path(out)
    t = time.time()
    kept = True

    if use_shipped:
        _say(quiet, f"[1/{n_stages}] Shipped model {shipped}: segmenting the {len(frames)} "
                    f"bundled real CORe50 frames")
        start_seg = Segmenter(weights=shipped)
        counts = _segment_frames(start_seg, frames)
        reports["shipped"] = learning.evaluate(start_seg, real)
        _say(quiet, f"      {sum(counts.values())} phone(s) in {len(frames)} frames, "
                    f"{time.time() - t:.1f} s (model build included)")
        _say(quiet, f"[2/{n_stages}] Fine-tuning the shipped model on the 2 annotated train "
                    f"frames, as 'phone train --weights shipped' does (small-set recipe: "
                    f"{n_train} copy-paste frames, heads only, the epoch chosen on the val "
                    f"frame; {os.cpu_count()} CPU cores)")
        t = time.time()
        result = _finetune(shipped, logs, steps, n_train, seed, quiet)
        kept = bool(result and result["best"])
        chosen = result["best"] if kept else shipped
        label = "fine-tuned"
    else:
        steps = int(steps or 1000)
        _say(quiet, f"[1/{n_stages}] Synthetic training data ({n_train} frames, seed {seed}; "
                    f"phones cut from the real train frames)")
        paste = [os.path.join(paths.bundled_dataset_dir(), "train")]
        train_dir = learning.make_synthetic_split(os.path.join(work, "synthetic_train"), n_train,
                                                  seed=seed, paste_from=paste)
        val_dir = learning.make_synthetic_split(os.path.join(work, "synthetic_val"), n_val,
                                                seed=seed + 1000, paste_from=paste)
        train_ds = learning.load_split(train_dir)
        val_ds = learning.load_split(val_dir)
        if use_coco:
            _say(quiet, f"[2/{n_stages}] Fine-tuning from COCO weights {coco_weights} "
                        f"({steps} steps, heads)")
            chosen = _finetune_coco(coco_weights, train_ds, val_ds, logs, steps, seed, quiet)
            label = "COCO fine-tuned"
        else:
            _say(quiet, f"[2/{n_stages}] No shipped model and no COCO weights: training "
                        f"from scratch with PhoneScratchConfig, {steps} steps on "
                        f"{os.cpu_count()} CPU cores")
            chosen, _, _ = learning.train_scratch(train_ds, val_ds, steps, logs, seed=seed,
                                                  verbose=0 if quiet else 1)
            label = "from scratch"
    _say(quiet, f"      trained in {(time.time() - t) / 60:.1f} min")
    if kept:
        learning.copy_atomic(chosen, model_path)
        _say(quiet, f"      model: {model_path}")
    else:
        if os.path.isfile(model_path):
            os.remove(model_path)          # an earlier demo's model must not stay the default
        _say(quiet, "      no epoch beat the shipped model on the validation frame: the shipped "
                    "model stays the default (no demo model written)")

    _say(quiet, f"[3/{n_stages}] Segmenting the bundled real CORe50 frames with the "
                f"{label} model -> {out}/NAME_mask.png")
    segmenter = Segmenter(weights=chosen)
    counts = _segment_frames(segmenter, frames, out)
    for name, n in counts.items():
        _say(quiet, f"      {name}: {n} phone(s)")
    reports[label] = learning.evaluate(segmenter, real)

    print("      Mask IoU against the hand-drawn VIA polygons, per model:")
    _score_table(reports, roles)
    if "shipped" in reports:
        for line in _verdict(reports["shipped"], reports[label], roles):
            print("      " + line)
    report = dict(reports[label])
    report["roles"] = roles
    report["models"] = {name: {"mean": r["mean"], "images": r["images"]}
                        for name, r in reports.items()}
    report["model_paths"] = {"start": shipped if use_shipped else None,
                             label: model_path if kept else None}
    report["kept"] = kept
    write_json_atomic(os.path.join(out, "demo_evaluation.json"), report)
    where = (f"model: {model_path} (now the default of 'phone segment')" if kept
             else "the shipped model stays the default of 'phone segment'")
    print(f"Done in {(time.time() - t0) / 60:.1f} min. Masks and overlays: "
          f"{out}/*_mask.png, *_overlay.png; {where}; scores: {out}/demo_evaluation.json")
    return report
