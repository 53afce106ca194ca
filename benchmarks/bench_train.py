#!/usr/bin/env python
"""Training speed: seconds per step of MaskRCNN training on synthetic data.

    python benchmarks/bench_train.py                       # phone, phone-scratch, coco
    python benchmarks/bench_train.py --configs phone --batches 1,2,4 \\
        --steps 5 --json /tmp/train.json

Each (configuration, batch size) runs in its own worker process: random
weights, SGD as MaskRCNN.compile sets it up, all layers trainable (see
--layers), Keras fit over pre-built batches (data loading is not timed; it is
reported separately per batch). The first --warmup steps (the first one traces
and compiles the train step) are not timed; the table gives median and p90
seconds per step over --steps steps, images per second, the first step's
time and peak resident memory.

Data: CORe50-like synthetic phone frames from phone/synthetic.py
(make_sample), drawn at up to 256 px and resized to the input size.

Configurations (--configs):
    phone          phone.config.PhoneConfig (ResNet-50, 128x128)
    phone-scratch  phone.config.PhoneScratchConfig (LightResNet, 128x128)
    coco           ResNet-101, 1024x1024, 81 classes, Matterport's defaults
                   (2000 training proposals, 200 ROIs per image)
    tiny           PhoneScratchConfig at 64x64 (smoke tests)
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

SCRIPT = os.path.abspath(__file__)
CONFIG_NAMES = ("phone", "phone-scratch", "coco", "tiny")
RESULT_KEYS = ("label", "config", "backbone", "input_size", "batch",
               "layers", "steps", "warmup", "step", "images_per_s",
               "first_step_s", "data_s_per_batch", "peak_rss_mb", "threads",
               "losses_finite", "xla")


def make_config(spec):
    from mrcnn.config import Config
    name = spec["config"]
    attrs = {"GPU_COUNT": 1, "IMAGES_PER_GPU": int(spec["batch"]),
             "STEPS_PER_EPOCH": 1, "VALIDATION_STEPS": 1}
    if name == "coco":
        base = Config
        attrs.update(NAME="coco", NUM_CLASSES=81, BACKBONE="resnet101")
    elif name == "phone":
        from phone.config import PhoneConfig as base
    elif name in ("phone-scratch", "tiny"):
        from phone.config import PhoneScratchConfig as base
        if name == "tiny":
            attrs.update(IMAGE_MIN_DIM=64, IMAGE_MAX_DIM=64,
                         POST_NMS_ROIS_TRAINING=100, TRAIN_ROIS_PER_IMAGE=16,
                         RPN_TRAIN_ANCHORS_PER_IMAGE=64, PRE_NMS_LIMIT=500,
                         MAX_GT_INSTANCES=4)
    else:
        raise C.BenchError(f"unknown configuration {name!r}")
    if spec.get("xla") is not None:
        attrs["XLA"] = bool(spec["xla"])
    cls = type(f"Train_{name.replace('-', '_')}", (base,), attrs)
    return cls()


def synthetic_dataset(n, size, seed=0, num_classes=2):
    """An mrcnn Dataset of n synthetic phone frames of side size; with more
    than 2 classes (COCO's 81) each phone gets a random foreground class."""
    import cv2
    import numpy as np
    from mrcnn import utils
    from phone.synthetic import make_sample

    class Frames(utils.Dataset):
        def load_image(self, image_id):
            return self.image_info[image_id]["image"]

        def load_mask(self, image_id):
            info = self.image_info[image_id]
            return info["masks"], info["class_ids"]

    ds = Frames()
    ds.add_class("synthetic", 1, "phone")
    for k in range(2, int(num_classes)):
        ds.add_class("synthetic", k, f"class{k}")
    rng = np.random.default_rng(seed)
    draw = min(size, 256)
    for i in range(n):
        image, masks = make_sample(rng, size=draw, max_phones=2)
        if masks.shape[-1] == 0 or not masks.any():
            image, masks = make_sample(rng, size=draw, max_phones=1)
        if draw != size:
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
            masks = np.stack([cv2.resize(masks[..., k].astype(np.uint8), (size, size),
                                         interpolation=cv2.INTER_NEAREST) > 0
                              for k in range(masks.shape[-1])], axis=-1)
        class_ids = rng.integers(1, max(2, int(num_classes)),
                                 masks.shape[-1]).astype(np.int32)
        ds.add_image("synthetic", image_id=i, path=None, image=image,
                     masks=masks, class_ids=class_ids)
    ds.prepare()
    return ds


def worker(spec):
    """Times training steps for one (configuration, batch); returns a row."""
    C.quiet_tf()
    threads = C.set_tf_threads(spec.get("threads"), spec.get("inter_op", 1))
    import keras
    import numpy as np
    from mrcnn.data.generator import MaskRCNNSequence
    from mrcnn.model import MaskRCNN
    from mrcnn.training import LAYER_REGEX

    keras.utils.set_random_seed(0)
    config = make_config(spec)
    # Config.MIXED_PRECISION: the model is built under that dtype policy
    config.MIXED_PRECISION = spec.get("mixed_precision") or None
    size = int(config.IMAGE_SHAPE[0])
    batch = int(config.BATCH_SIZE)
    warmup, steps = int(spec["warmup"]), int(spec["steps"])
    total = warmup + steps
    dataset = synthetic_dataset(max(2, min(8, batch * total)), size,
                                num_classes=int(config.NUM_CLASSES))
    seq = MaskRCNNSequence(dataset, config, shuffle=True, steps=total,
                           workers=1, seed=0)
    t0 = time.perf_counter()
    batches = [seq[i] for i in range(total)]
    data_s = (time.perf_counter() - t0) / total

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return total

        def __getitem__(self, i):
            return batches[i]

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.losses = [], []

        def on_train_batch_begin(self, batch, logs=None):
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self._t)
            self.losses.append(float((logs or {}).get("loss", np.nan)))

    with tempfile.TemporaryDirectory() as logs:
        t0 = time.perf_counter()
        model = MaskRCNN("training", config, logs)
        build_s = time.perf_counter() - t0
        layers = spec.get("layers", "all")
        model.set_trainable(LAYER_REGEX.get(layers, layers), verbose=0)
        model.compile(config.LEARNING_RATE, config.LEARNING_MOMENTUM)
        timer = StepTimer()
        model.keras_model.fit(Batches(), epochs=1, steps_per_epoch=total,
                              callbacks=[timer], verbose=0)
    timed = timer.times[warmup:]
    step = C.summarize(timed)
    step_s = {k: (v / 1000.0 if k.endswith("_ms") and v is not None else v)
              for k, v in step.items()}
    step_s = {k.replace("_ms", "_s"): v for k, v in step_s.items()}
    b = config.BACKBONE
    return {
        "label": spec["label"], "config": spec["config"],
        "backbone": b if isinstance(b, str) else type(b).__name__,
        "input_size": size, "batch": batch, "layers": layers,
        "steps": len(timed), "warmup": warmup, "step": step_s,
        "images_per_s": batch / step_s["median_s"] if step_s["median_s"] else None,
        "first_step_s": timer.times[0], "data_s_per_batch": data_s,
        "build_s": build_s, "peak_rss_mb": C.peak_rss_mb(), "threads": threads,
        "losses_finite": bool(np.all(np.isfinite(timer.losses))),
        "xla": bool(getattr(config, "XLA", False)),
    }


def plan(args):
    names = C.parse_list(args.configs)
    for n in names:
        if n not in CONFIG_NAMES:
            raise C.BenchError(f"--configs: unknown configuration {n!r} "
                               f"(choose from {', '.join(CONFIG_NAMES)})")
    specs = []
    for n in names:
        for b in C.parse_list(args.batches, int):
            if b < 1:
                raise C.BenchError(f"--batches: batch sizes must be >= 1, got {b}")
            steps = args.steps if n != "coco" else max(1, min(args.steps,
                                                              args.slow_steps))
            specs.append({"config": n, "batch": b, "steps": steps,
                          "warmup": args.warmup, "threads": args.threads,
                          "inter_op": args.inter_op, "layers": args.layers,
                          "xla": True if args.xla else None,
                          "mixed_precision": args.mixed_precision,
                          "label": f"{n}/b{b}"})
    return specs


def print_table(report, out=sys.stdout):
    m = report["machine"]
    print(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB; "
          f"TF {m['tensorflow']}, Keras {m['keras']}; load before "
          f"{m['loadavg']}, after {report['loadavg_after']}", file=out)
    print("seconds per training step (median / p90 after warm-up); layers = "
          "trainable layers\n", file=out)
    print(C.table(report["results"], [
        ("config", "label"), ("backbone", "backbone"), ("size", "input_size"),
        ("batch", "batch"), ("layers", "layers"),
        ("s/step med", lambda r: r["step"]["median_s"]),
        ("s/step p90", lambda r: r["step"]["p90_s"]),
        ("img/s", "images_per_s"),
        ("first step s", "first_step_s"), ("data s/batch", "data_s_per_batch"),
        ("rss MiB", "peak_rss_mb"), ("steps", "steps"),
        ("load", lambda r: (r.get("loadavg") or [None])[0])]), file=out)
    for note in report["notes"]:
        print("note:", note, file=out)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="phone-scratch,phone,coco",
                   help="comma list of phone, phone-scratch, coco, tiny")
    p.add_argument("--batches", default="1,2", help="batch sizes (default 1,2)")
    p.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    p.add_argument("--slow-steps", type=int, default=2,
                   help="cap on timed steps for coco (default 2)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed first steps (default 1: the traced one)")
    p.add_argument("--layers", default="all",
                   help="trainable layers: all, heads, 3+, 4+, 5+ or a regex")
    p.add_argument("--threads", type=int, default=None,
                   help="TF intra-op threads (default: cores)")
    p.add_argument("--inter-op", type=int, default=1)
    p.add_argument("--mixed-precision", metavar="POLICY", default=None,
                   help="Config.MIXED_PRECISION for our model: mixed_bfloat16 (CPUs "
                        "with AVX512_BF16 or AMX) or mixed_float16 (GPU); default float32")
    p.add_argument("--xla", action="store_true",
                   help="Config.XLA = True (affects detect() only: the train "
                        "step is never jit-compiled)")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="run in this process (peak memory = process peak)")
    C.add_report_options(p)
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1 or args.slow_steps < 1:
        p.error("--steps, --slow-steps and --warmup must be >= 1")
    if args.threads is None:
        args.threads = C.machine_info()["cores"]
    return args


def main(argv=None):
    args = parse_args(argv)
    if C.ran_as_worker(args, worker):
        return 0
    try:
        specs = plan(args)
    except C.BenchError as e:
        print(f"bench_train: {e}", file=sys.stderr)
        return 2
    machine = C.machine_info()
    rows, notes = [], []
    for spec in specs:
        print(f"[{time.strftime('%H:%M:%S')}] {spec['label']} ...",
              file=sys.stderr, flush=True)
        try:
            row = C.run_worker(SCRIPT, spec) if args.isolate else worker(spec)
        except C.BenchError as e:
            notes.append(str(e))
            print(f"bench_train: {e}", file=sys.stderr)
            continue
        row["loadavg"] = C.loadavg()
        rows.append(row)
    report = {"benchmark": "train", "machine": machine,
              "loadavg_after": C.loadavg(),
              "settings": {"steps": args.steps, "warmup": args.warmup,
                           "slow_steps": args.slow_steps,
                           "threads": args.threads, "inter_op": args.inter_op,
                           "layers": args.layers, "xla": bool(args.xla),
                           "mixed_precision": args.mixed_precision,
                           "isolate": args.isolate},
              "results": rows, "notes": notes}
    print_table(report)
    if args.json:
        C.write_json(args.json, report)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
