#!/usr/bin/env python
"""MIXED_PRECISION = "auto" against float32 and mixed_bfloat16, paired.

    python benchmarks/bench_precision.py                       # phone-scratch, phone, coco
    python benchmarks/bench_precision.py --configs phone-scratch --repeats 40 \\
        --json benchmarks/results/precision_auto.json

Per configuration (bench_inference.py's: coco, phone, phone-scratch, tiny)
one process builds the model three times, under float32, "auto" (which runs
the probe of mrcnn/precision.py, or reads its cached decision) and
mixed_bfloat16, with the same random weights, then calls detect() on the
same image round-robin: float32, auto, bfloat16, float32, ... On a busy
machine the load then falls on all three alike, and the medians compare.
Reports per policy the median and p90 end-to-end detect() in ms, auto /
float32, what "auto" chose and why (the probe's two estimates).

--use train also probes for training (reported, not timed here: see
bench_train.py). --fresh forgets cached decisions first (the probe runs
again); the cache is cache_dir()/precision.json ($MRCNN_HOME).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

POLICIES = ("float32", "auto", "mixed_bfloat16")


def run_config(name, repeats, warmup):
    import keras
    from bench_inference import _test_image, make_config
    from mrcnn.model import MaskRCNN
    models = {}
    build = {}
    for policy in POLICIES:
        config = make_config({"config": name})
        config.MIXED_PRECISION = policy
        keras.utils.set_random_seed(0)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as logs:
            models[policy] = MaskRCNN("inference", config, logs)
        build[policy] = time.perf_counter() - t0
    weights = models["float32"].keras_model.get_weights()
    for policy in POLICIES[1:]:
        models[policy].keras_model.set_weights(weights)
    size = int(models["float32"].config.IMAGE_MAX_DIM)
    image = _test_image(size)
    for _ in range(warmup):
        for policy in POLICIES:
            models[policy].detect([image])
    times = {p: [] for p in POLICIES}
    for _ in range(repeats):
        for policy in POLICIES:
            t0 = time.perf_counter()
            models[policy].detect([image])
            times[policy].append((time.perf_counter() - t0) * 1e3)
    row = {"config": name, "input_size": size, "repeats": repeats,
           "auto_policy": models["auto"].mixed_precision or "float32",
           "auto_reason": models["auto"].mixed_precision_reason,
           "build_s": {p: round(v, 2) for p, v in build.items()}}
    for policy in POLICIES:
        ts = sorted(times[policy])
        row[policy] = {"median_ms": round(statistics.median(ts), 2),
                       "p90_ms": round(ts[int(0.9 * (len(ts) - 1))], 2),
                       "min_ms": round(ts[0], 2)}
    row["auto_over_float32"] = round(row["auto"]["median_ms"] /
                                     row["float32"]["median_ms"], 3)
    row["bf16_over_float32"] = round(row["mixed_bfloat16"]["median_ms"] /
                                     row["float32"]["median_ms"], 3)
    row["loadavg"] = C.loadavg()
    return row


def probe_train(name):
    from bench_inference import make_config
    from mrcnn.precision import resolve_mixed_precision_with_reason
    config = make_config({"config": name})
    policy, reason = resolve_mixed_precision_with_reason("auto", "train",
                                                         config=config)
    return {"config": name, "use": "train", "auto_policy": policy or "float32",
            "auto_reason": reason}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="phone-scratch,phone,coco")
    p.add_argument("--repeats", type=int, default=20,
                   help="timed rounds (coco: --slow-repeats)")
    p.add_argument("--slow-repeats", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--use", choices=("inference", "train", "both"), default="inference")
    p.add_argument("--fresh", action="store_true",
                   help="forget cached 'auto' decisions first")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    from mrcnn import precision as P
    if args.fresh:
        P.reset_decisions()
    rows, train = [], []
    for name in C.parse_list(args.configs):
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
        if args.use in ("inference", "both"):
            reps = args.slow_repeats if name == "coco" else args.repeats
            row = run_config(name, reps, args.warmup)
            rows.append(row)
            print(f"{name:14s} float32 {row['float32']['median_ms']:9.1f} ms  "
                  f"auto {row['auto']['median_ms']:9.1f} ms  "
                  f"bf16 {row['mixed_bfloat16']['median_ms']:9.1f} ms  "
                  f"auto/f32 {row['auto_over_float32']:.3f}  "
                  f"bf16/f32 {row['bf16_over_float32']:.3f}  "
                  f"load {row['loadavg'][0]:.1f}\n    auto = {row['auto_policy']}: "
                  f"{row['auto_reason']}", flush=True)
        if args.use in ("train", "both"):
            t = probe_train(name)
            train.append(t)
            print(f"{name:14s} train: auto = {t['auto_policy']}: {t['auto_reason']}",
                  flush=True)
    report = {"benchmark": "precision_auto", "machine": C.machine_info(),
              "decisions": P.show_decisions(), "inference": rows, "train": train,
              "settings": vars(args)}
    if args.json:
        C.write_json(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
