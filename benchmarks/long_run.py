#!/usr/bin/env python
"""Long-run stability of MaskRCNN.detect(): memory growth and retracing.

    python benchmarks/long_run.py                        # 1000 calls, tiny model
    python benchmarks/long_run.py --config phone-scratch --calls 2000 --every 200
    python benchmarks/long_run.py --calls 1000 --json /tmp/long_run.json --check

Runs ``--calls`` consecutive ``detect()`` calls on same-size frames (a new
random frame each call, like a camera) with random weights and
DETECTION_MIN_CONFIDENCE 0 (every call returns its full
DETECTION_MAX_INSTANCES, so mask pasting does its full work). Every
``--every`` calls it records:

    rss_mb     resident memory of the process (/proc/self/statm, after
               gc.collect()), MiB
    delta_mb   rss_mb minus the first sample (taken after the first block,
               which includes tracing and allocator warm-up)
    traces     MaskRCNN.trace_count (graph traces; 1 = never retraced)
    median_ms  median wall time of the calls in that block

and prints them as a table, then a verdict: growth per 1000 calls from the
first to the last sample (a least-squares slope, so one noisy sample does not
decide) and whether the graph was retraced. ``--check`` makes the exit status
1 when it retraced or the growth exceeds ``--max-growth-mb`` per 1000 calls.

Configurations (--config): tiny (LightResNet, 64x64, 20 proposals; the
default: quick), phone-scratch (phone.config.PhoneScratchInferenceConfig,
128x128), phone (PhoneInferenceConfig, ResNet-50, 128x128).
"""
import argparse
import gc
import os
import resource
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common as C  # noqa: E402  (puts the repo and Mask_RCNN/ on sys.path)

CONFIGS = ("tiny", "phone-scratch", "phone")


def make_config(name):
    """Inference config for a --config name (batch 1, every detection kept)."""
    attrs = {"GPU_COUNT": 1, "IMAGES_PER_GPU": 1, "DETECTION_MIN_CONFIDENCE": 0.0}
    if name == "phone":
        from phone.config import PhoneInferenceConfig as base
    elif name in ("tiny", "phone-scratch"):
        from phone.config import PhoneScratchInferenceConfig as base
        if name == "tiny":
            attrs.update(IMAGE_MIN_DIM=64, IMAGE_MAX_DIM=64, RPN_ANCHOR_SCALES=(4, 8, 16, 32, 64),
                         PRE_NMS_LIMIT=200, POST_NMS_ROIS_INFERENCE=20,
                         DETECTION_MAX_INSTANCES=5)
    else:
        raise C.BenchError(f"unknown --config {name!r} (one of {', '.join(CONFIGS)})")
    return type(f"LongRun_{name.replace('-', '_')}", (base,), attrs)()


def rss_mb():
    """Current resident set size in MiB (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def slope_per_1000(calls, values):
    """Least-squares slope of values over calls, per 1000 calls."""
    n = len(calls)
    if n < 2:
        return 0.0
    mx, my = sum(calls) / n, sum(values) / n
    var = sum((x - mx) ** 2 for x in calls)
    if var == 0:
        return 0.0
    return 1000.0 * sum((x - mx) * (y - my) for x, y in zip(calls, values)) / var


def run(config_name="tiny", calls=1000, every=100, frame_size=None, seed=0, progress=True):
    """Runs the calls; returns {"config", "frame", "rows": [...], "growth_mb_per_1000",
    "traces", "build_s", "first_call_s"}."""
    C.quiet_tf()                           # before TensorFlow is imported
    import numpy as np
    import keras
    from mrcnn.model import MaskRCNN
    keras.utils.set_random_seed(seed)
    config = make_config(config_name)
    side = int(frame_size or config.IMAGE_MAX_DIM)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as logs:
        model = MaskRCNN("inference", config, logs)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)

    def frame():
        return rng.integers(0, 256, (side, side, 3), dtype=np.uint8)

    t0 = time.perf_counter()
    model.detect([frame()])
    first_call_s = time.perf_counter() - t0
    rows, block = [], []
    for i in range(2, calls + 1):          # call 1 was the warm-up above
        image = frame()
        t0 = time.perf_counter()
        results = model.detect([image])
        block.append(time.perf_counter() - t0)
        del results
        if i % every == 0 or i == calls:
            gc.collect()
            rows.append({"calls": i, "rss_mb": rss_mb(), "traces": int(model.trace_count),
                         "median_ms": float(np.median(block)) * 1000.0})
            block = []
            if progress:
                print(f"  {i} calls, RSS {rows[-1]['rss_mb']:.1f} MiB", file=sys.stderr,
                      flush=True)
    for r in rows:
        r["delta_mb"] = r["rss_mb"] - rows[0]["rss_mb"]
    growth = slope_per_1000([r["calls"] for r in rows], [r["rss_mb"] for r in rows])
    return {"config": config_name, "frame": [side, side, 3], "calls": calls, "every": every,
            "rows": rows, "growth_mb_per_1000": growth,
            "traces": int(model.trace_count), "build_s": build_s,
            "first_call_s": first_call_s}


def report(result, out=sys.stdout):
    print(f"MaskRCNN.detect() x {result['calls']} ({result['config']}, frames "
          f"{result['frame'][0]}x{result['frame'][1]}; build {result['build_s']:.1f} s, "
          f"first call {result['first_call_s']:.1f} s)", file=out)
    print(C.table(result["rows"], [("calls", "calls"), ("rss_mb", "rss_mb"),
                                   ("delta_mb", "delta_mb"), ("traces", "traces"),
                                   ("median_ms", "median_ms")]), file=out)
    print(f"memory growth: {result['growth_mb_per_1000']:+.1f} MiB per 1000 calls "
          f"(least-squares slope after the first block); traces: {result['traces']}"
          f"{' (RETRACED)' if result['traces'] > 1 else ' (never retraced)'}", file=out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="tiny", choices=CONFIGS)
    p.add_argument("--calls", type=int, default=1000, help="detect() calls (default 1000)")
    p.add_argument("--every", type=int, default=100, help="sample every N calls (default 100)")
    p.add_argument("--frame-size", type=int, help="frame side (default: the model input side)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when retraced or growing more than --max-growth-mb")
    p.add_argument("--max-growth-mb", type=float, default=50.0,
                   help="per 1000 calls, for --check (default %(default)s)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.calls < 2 or a.every < 1:
        p.error("--calls must be >= 2 and --every >= 1")
    result = run(a.config, a.calls, a.every, a.frame_size, a.seed, progress=not a.quiet)
    result["machine"] = C.machine_info()
    report(result)
    if a.json:
        C.write_json(a.json, result)
    if a.check and (result["traces"] > 1 or result["growth_mb_per_1000"] > a.max_growth_mb):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
