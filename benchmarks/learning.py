"""Learning benchmark: does the phone model really learn phones?

Trains PhoneScratchConfig from random weights for a fixed number of steps on
synthetic CORe50-like frames (phone/synthetic.py; phones drawn, and
real phones cut out of the bundled *train* frames and pasted onto new
backgrounds), then reports:

  * on a held-out synthetic set generated with a different seed:
    mask mIoU, mAP@0.5, mAP@0.5:0.95;
  * on the real annotated CORe50 frames that were NOT used for training in
    any way (no cut-out either): mask mIoU (and AP).

With --loo, real frames are scored leave-one-out instead: one model per
annotated real frame, trained with cut-outs of the other real frames only.

Prints a table and writes JSON (--json). Usage:

    python benchmarks/learning.py --steps 1500 --json benchmarks/learning.json
"""
import argparse
import ast
import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "Mask_RCNN"), ROOT]


def run_one(args, work, exclude_real, score_real):
    from phone import learning
    # Cut-outs from every annotated real frame except the excluded ones.
    paste_dirs = [os.path.join(learning.REAL_DIR, s) for s in ("train", "val")]
    tag = "_".join(sorted(n.split(".")[0] for n in exclude_real)) or "all"
    train_dir = learning.make_synthetic_split(
        os.path.join(work, f"train_{tag}"), args.n_train, seed=args.seed,
        paste_from=paste_dirs, exclude=exclude_real)
    val_dir = learning.make_synthetic_split(
        os.path.join(work, f"val_{tag}"), args.n_val, seed=args.seed + 1000,
        paste_from=paste_dirs, exclude=exclude_real)
    test_dir = learning.make_synthetic_split(
        os.path.join(work, "test_synthetic"), args.n_test,
        seed=args.seed + 2000, paste_prob=0.0)
    train_ds, val_ds = learning.load_split(train_dir), learning.load_split(val_dir)
    ckpt, history, secs = learning.train_scratch(
        train_ds, val_ds, args.steps, os.path.join(work, f"logs_{tag}"),
        seed=args.seed, verbose=2 if args.verbose else 0, **args.overrides)
    seg = learning.inference_segmenter(ckpt, score=args.score, **args.overrides)
    synth = learning.evaluate(seg, learning.load_split(test_dir))
    real_ds = learning.load_real()
    real_ds_scored = learning.load_real(
        exclude=[n for n in learning.real_frame_names() if n not in score_real])
    real = learning.evaluate(seg, real_ds_scored) if score_real else None
    del real_ds
    return {"checkpoint": ckpt, "train_seconds": secs,
            "final_loss": history.history["loss"][-1],
            "synthetic": synth, "real": real,
            "real_excluded_from_training": list(exclude_real)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--n-train", type=int, default=800)
    p.add_argument("--n-val", type=int, default=40)
    p.add_argument("--n-test", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loo", action="store_true",
                   help="leave-one-out over the annotated real frames")
    p.add_argument("--work", default=os.path.join(ROOT, "outputs", "learning"))
    p.add_argument("--json", default=None)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--set", dest="sets", action="append", default=[],
                   metavar="KEY=VALUE",
                   help="override a PhoneScratchConfig attribute (Python "
                        "literal), e.g. --set LEARNING_RATE=0.02; repeatable")
    p.add_argument("--score", type=float, default=None,
                   help="detection score threshold when scoring (default: "
                        "the config's DETECTION_MIN_CONFIDENCE)")
    args = p.parse_args(argv)
    args.overrides = {}
    for item in args.sets:
        key, sep, value = item.partition("=")
        if not sep or not key.isupper():
            p.error(f"--set wants KEY=VALUE with an upper-case Config "
                    f"attribute, got {item!r}")
        if key == "BACKBONE" and value.startswith("LightResNet("):
            # e.g. --set "BACKBONE=LightResNet(widths=(32, 64, 128, 256))"
            from mrcnn.backbones import LightResNet
            args.overrides[key] = eval(value, {"__builtins__": {}},
                                       {"LightResNet": LightResNet})
            continue
        try:
            args.overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            args.overrides[key] = value
    from phone import learning

    real_names = learning.real_frame_names()
    held_default = learning.real_frame_names(("val",))
    runs = []
    if args.loo:
        for name in real_names:
            runs.append(run_one(args, args.work, [name], [name]))
    else:
        # Train with cut-outs of the train-subset frames; score the val ones.
        runs.append(run_one(args, args.work, held_default, held_default))

    synth = runs[0]["synthetic"]["mean"]
    real_rows = [row for r in runs if r["real"] for row in r["real"]["images"]]
    real_iou = (sum(r["mask_iou"] for r in real_rows) / len(real_rows)
                if real_rows else None)
    cfg = learning.scratch_config(args.steps, **args.overrides)[0]
    result = {
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{os.cpu_count()} cores, {platform.python_version()}",
        "steps": args.steps, "batch_size": cfg.BATCH_SIZE,
        "train_seconds": [r["train_seconds"] for r in runs],
        "config": {"BACKBONE": repr(cfg.BACKBONE), "BACKBONE_NORM": cfg.BACKBONE_NORM,
                   "TOP_DOWN_PYRAMID_SIZE": cfg.TOP_DOWN_PYRAMID_SIZE,
                   "MASK_HEAD_CHANNELS": cfg.MASK_HEAD_CHANNELS,
                   "LEARNING_RATE": cfg.LEARNING_RATE,
                   "LEARNING_RATE_SCHEDULE": cfg.LEARNING_RATE_SCHEDULE,
                   "IMAGE_SHAPE": [int(v) for v in cfg.IMAGE_SHAPE],
                   "MIXED_PRECISION": cfg.MIXED_PRECISION,
                   "MASK_HEAD_ON_POSITIVE_ROIS": cfg.MASK_HEAD_ON_POSITIVE_ROIS,
                   "DETECTION_MIN_CONFIDENCE": (args.score if args.score is not None
                                                else cfg.DETECTION_MIN_CONFIDENCE),
                   "overrides": {k: (repr(v) if k == "BACKBONE" else v)
                                 for k, v in args.overrides.items()}},
        "n_train": args.n_train, "leave_one_out": args.loo,
        "synthetic_heldout": synth,
        "real": {"frames": [{"image": r["image"], "mask_iou": r["mask_iou"],
                             "ap50": r["ap50"]} for r in real_rows],
                 "mask_miou": real_iou},
        "runs": runs,
    }
    mins = sum(result["train_seconds"]) / 60
    print(f"\nTraining: {args.steps} steps x batch {cfg.BATCH_SIZE}, "
          f"{mins:.1f} min total on {result['machine']}")
    print(f"{'set':<34} {'mask mIoU':>9} {'mAP@0.5':>8} {'mAP@.5:.95':>10}")
    print(f"{'synthetic held-out (' + str(args.n_test) + ' frames)':<34} "
          f"{synth['mask_iou']:>9.3f} {synth['map50']:>8.3f} {synth['map50_95']:>10.3f}")
    for r in real_rows:
        print(f"{'real ' + r['image']:<34} {r['mask_iou']:>9.3f} "
              f"{(r['ap50'] if r['ap50'] is not None else float('nan')):>8.3f}")
    if real_iou is not None:
        print(f"{'real, mean':<34} {real_iou:>9.3f}")
    if args.json:
        from phone.evaluate import write_json
        write_json(result, args.json)
        print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
