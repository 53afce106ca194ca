"""``make demo``: the whole job offline on the bundled data.

1. Builds a training set of synthetic CORe50-like frames, with the phones of
   the bundled *train* frames cut out and pasted onto new backgrounds.
2. Trains the phone model from scratch (PhoneScratchConfig) on the CPU, or,
   when ``mask_rcnn_coco.h5`` is present, fine-tunes from COCO weights
   (PhoneConfig, class layers excluded).
3. Segments every bundled real CORe50 frame: ``outputs/NAME_mask.png``
   (0/255) and ``outputs/NAME_overlay.png``.
4. Prints mask IoU against the annotated frames, saying which frames were
   used for training (their numbers are not a fair score) and which were
   held out.

Deterministic for a given --seed (same data, same initial weights, same
order).
"""
import argparse
import glob
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_parser():
    p = argparse.ArgumentParser(
        prog="phone demo", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1000,
                   help="training steps (batch of 4 frames each; default 1000)")
    p.add_argument("--n-train", type=int, default=400,
                   help="synthetic training frames (default 400)")
    p.add_argument("--n-val", type=int, default=40,
                   help="synthetic validation frames (default 40)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(REPO, "outputs"),
                   help="where masks, overlays and the model go")
    p.add_argument("--work", default=None,
                   help="scratch folder for generated data and logs "
                        "(default OUT/demo)")
    p.add_argument("--coco", default=os.path.join(REPO, "mask_rcnn_coco.h5"),
                   help="COCO weights; used when the file exists")
    p.add_argument("--quiet", action="store_true")
    return p


def _say(quiet, *a):
    if not quiet:
        print(*a, flush=True)


def main(args=None):
    if args is None or isinstance(args, list):
        argv = args
    else:
        argv = list(getattr(args, "argv", None) or [])
    opts = build_parser().parse_args(argv)
    from phone import learning
    from phone.imageio import read_image, write_png_atomic

    t0 = time.time()
    out = os.path.abspath(opts.out)
    work = os.path.abspath(opts.work or os.path.join(out, "demo"))
    os.makedirs(out, exist_ok=True)
    q = opts.quiet
    train_real = learning.real_frame_names(("train",))
    _say(q, f"[1/4] Synthetic training data ({opts.n_train} frames, seed "
            f"{opts.seed}; phones cut from real frames {', '.join(train_real)})")
    train_dir = learning.make_synthetic_split(
        os.path.join(work, "synthetic_train"), opts.n_train, seed=opts.seed,
        paste_from=[os.path.join(learning.REAL_DIR, "train")])
    val_dir = learning.make_synthetic_split(
        os.path.join(work, "synthetic_val"), opts.n_val, seed=opts.seed + 1000,
        paste_from=[os.path.join(learning.REAL_DIR, "train")])
    train_ds = learning.load_split(train_dir)
    val_ds = learning.load_split(val_dir)

    logs = os.path.join(work, "logs")
    model_path = os.path.join(out, "demo", "mask_rcnn_phone.h5")
    if os.path.exists(opts.coco):
        _say(q, f"[2/4] Fine-tuning from COCO weights {opts.coco} "
                f"({opts.steps} steps, heads)")
        ckpt = _finetune_coco(opts, train_ds, val_ds, logs)
        segmenter_factory = _coco_segmenter
    else:
        _say(q, f"[2/4] No COCO weights at {opts.coco} (offline): training "
                f"from scratch with PhoneScratchConfig, {opts.steps} steps "
                f"on {os.cpu_count()} CPU cores")
        ckpt, _, secs = learning.train_scratch(
            train_ds, val_ds, opts.steps, logs, seed=opts.seed,
            verbose=0 if q else 1)
        _say(q, f"      trained in {secs / 60:.1f} min")
        segmenter_factory = learning.inference_segmenter
    learning.copy_atomic(ckpt, model_path)
    _say(q, f"      model: {model_path}")

    _say(q, "[3/4] Segmenting the bundled real CORe50 frames")
    segmenter = segmenter_factory(model_path)
    frames = sorted(glob.glob(os.path.join(learning.REAL_DIR, "*", "*.png")))
    for path in frames:
        image = read_image(path)
        bw, r = segmenter.segment_image(image)
        name = os.path.splitext(os.path.basename(path))[0]
        write_png_atomic(os.path.join(out, f"{name}_overlay.png"),
                         segmenter.overlay(image, r))
        write_png_atomic(os.path.join(out, f"{name}_mask.png"), bw)
        _say(q, f"      {name}: {len(r['class_ids'])} phone(s) -> "
                f"outputs/{name}_mask.png")

    _say(q, "[4/4] Mask IoU against the hand-drawn VIA polygons")
    real = learning.load_real()
    report = learning.evaluate(segmenter, real)
    rows = []
    for row in report["images"]:
        used = row["image"] in train_real
        row["role"] = "train (cut-outs used)" if used else "held out"
        rows.append(row)
    held = [r["mask_iou"] for r in rows if r["role"] == "held out"]
    print(f"{'frame':<18} {'role':<22} {'mask IoU':>8}")
    for r in rows:
        print(f"{r['image']:<18} {r['role']:<22} {r['mask_iou']:>8.3f}")
    if held:
        print(f"{'held-out mean':<41} {sum(held) / len(held):>8.3f}")
    from phone.evaluate import write_json
    report["roles"] = {r["image"]: r["role"] for r in rows}
    write_json(report, os.path.join(out, "demo_evaluation.json"))
    print(f"Done in {(time.time() - t0) / 60:.1f} min. Masks and overlays: "
          f"{out}/*_mask.png, *_overlay.png; model: {model_path}; "
          f"scores: {out}/demo_evaluation.json")
    return 0


def _finetune_coco(opts, train_ds, val_ds, logs):
    import keras
    from mrcnn.model import MaskRCNN
    from phone.cli import derive_config
    from phone.config import PhoneConfig
    from phone.weights import CLASS_SPECIFIC_LAYERS
    cfg = derive_config(PhoneConfig(), STEPS_PER_EPOCH=max(1, opts.steps // 2))
    keras.utils.set_random_seed(opts.seed)
    model = MaskRCNN("training", cfg, logs)
    model.load_weights(opts.coco, by_name=True, exclude=list(CLASS_SPECIFIC_LAYERS))
    model.train(train_ds, val_ds, cfg.LEARNING_RATE, epochs=2, layers="heads",
                verbose=0 if opts.quiet else 1, seed=opts.seed)
    return model.find_last()


def _coco_segmenter(weights):
    from phone.config import PhoneInferenceConfig
    from phone.segment import Segmenter
    return Segmenter(config=PhoneInferenceConfig(), weights=weights)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
