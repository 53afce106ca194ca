"""detect() vs the exported phone segmenter: SavedModel, TFLite, ONNX Runtime.

For each configuration, the model (random but seeded weights, or --weights)
is exported to the three formats once (phone.export.export_model, verified),
then every runtime is measured in its own fresh process (own peak memory,
own thread pools): end to end from a uint8 frame to the [H, W] mask,

    detect      Segmenter.segment_image (NumPy molding/unmolding + compiled graph)
    saved_model tf.saved_model.load(...).signatures["serving_default"]
    tflite      LiteRT (ai_edge_litert) Interpreter, XNNPACK
    onnx        onnxruntime CPUExecutionProvider

reporting first-call time (load + first frame), median / p90 latency, frames
per second (1000 / median), file size and peak RSS. The ONNX and TFLite
workers never import TensorFlow.

    python benchmarks/bench_export.py --json benchmarks/results/export.json
    python benchmarks/bench_export.py --configs phone-scratch --repeats 50
"""
import argparse
import os
import sys
import tempfile
import time

import _common as C

SCRIPT = os.path.abspath(__file__)
CONFIGS = {
    # the shipped phone model: light from-scratch ResNet, 128 px
    "phone-scratch": ("phone.config", "PhoneScratchInferenceConfig"),
    # the ResNet-50 phone config (fine-tuned from COCO), 128 px
    "phone-r50": ("phone.config", "PhoneInferenceConfig"),
}
RUNTIMES = ("detect", "saved_model", "tflite", "onnx")


def _frames(n, size, seed=0):
    import numpy as np
    from phone import synthetic
    return [synthetic.make_sample(np.random.default_rng([seed, i]), size=size)[0]
            for i in range(n)]


def _segmenter(spec):
    import importlib
    import keras
    from phone.config import derive_config
    from phone.segment import Segmenter
    module, name = CONFIGS[spec["config"]]
    config = getattr(importlib.import_module(module), name)()
    config = derive_config(config, DETECTION_MIN_CONFIDENCE=spec["min_confidence"],
                           GPU_COUNT=1, IMAGES_PER_GPU=1)
    keras.utils.set_random_seed(1)
    return Segmenter(config=config, weights=spec.get("weights"),
                     model_dir=tempfile.gettempdir())


def export_worker(spec):
    """Exports the three formats; returns paths, sizes and export seconds."""
    C.quiet_tf()
    C.set_tf_threads(spec["threads"])
    from phone.export import export_model
    seg = _segmenter(spec)
    frames = _frames(2, int(seg.config.IMAGE_MIN_DIM), seed=99)
    out = {}
    names = {"saved_model": "saved_model", "tflite": "model.tflite", "onnx": "model.onnx"}
    for fmt in spec["formats"]:
        path = os.path.join(spec["dir"], names[fmt])
        t = time.perf_counter()
        try:
            report = export_model(seg, fmt, path, verify_images=frames, quiet=True)
        except Exception as e:
            out[fmt] = {"error": " ".join(str(e).split())[:300]}
            continue
        out[fmt] = {"path": path, "bytes": report["bytes"],
                    "export_s": round(time.perf_counter() - t, 2),
                    "min_iou": report["verification"]["min_iou"]}
    return out


def run_worker(spec):
    """Times one runtime on the benchmark frames."""
    import numpy as np
    runtime = spec["runtime"]
    frames = _frames(spec["frames"], spec["size"])
    t0 = time.perf_counter()
    if runtime == "detect":
        C.quiet_tf()
        C.set_tf_threads(spec["threads"])
        seg = _segmenter(spec)
    else:
        if runtime == "saved_model":
            C.quiet_tf()
            C.set_tf_threads(spec["threads"])
        from phone.export import ExportedSegmenter
        seg = ExportedSegmenter(spec["path"], num_threads=spec["threads"])
    bw, r = seg.segment_image(frames[0])
    first = time.perf_counter() - t0
    for i in range(spec["warmup"]):
        seg.segment_image(frames[i % len(frames)])
    times, counts = [], []
    for i in range(spec["repeats"]):
        image = frames[i % len(frames)]
        t = time.perf_counter()
        bw, r = seg.segment_image(image)
        times.append(time.perf_counter() - t)
        counts.append(len(r["class_ids"]))
    stats = C.summarize(times)
    return {"config": spec["config"], "runtime": runtime,
            "first_call_s": round(first, 3),
            "median_ms": stats["median_ms"], "p90_ms": stats["p90_ms"],
            "fps": 1000.0 / stats["median_ms"] if stats["median_ms"] else None,
            "peak_rss_mb": round(C.peak_rss_mb(), 1),
            "mean_instances": float(np.mean(counts)) if counts else None,
            "tensorflow_imported": "tensorflow" in sys.modules,
            "repeats": stats["n"]}


def worker(spec):
    return export_worker(spec) if spec["kind"] == "export" else run_worker(spec)


def print_table(report, out=sys.stdout):
    cols = [("config", "config"), ("runtime", "runtime"), ("median ms", "median_ms"),
            ("p90 ms", "p90_ms"), ("fps", "fps"), ("first call s", "first_call_s"),
            ("file MB", "file_mb"), ("peak RSS MB", "peak_rss_mb"),
            ("dets/frame", "mean_instances")]
    print(C.table(report["results"], cols), file=out)
    for n in report["notes"]:
        print(f"note: {n}", file=out)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="phone-scratch,phone-r50",
                   help=f"comma list of {', '.join(CONFIGS)}")
    p.add_argument("--runtimes", default=",".join(RUNTIMES))
    C.add_frame_timing_options(p, repeats=40, warmup=3, frames=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--min-confidence", type=float, default=0.3,
                   help="DETECTION_MIN_CONFIDENCE (random weights find a few 'phones' at 0.3)")
    p.add_argument("--weights", help="a trained .h5 instead of random weights (one config)")
    p.add_argument("--keep", metavar="DIR", help="keep the exports in DIR")
    C.add_report_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if C.ran_as_worker(args, worker):
        return 0
    configs = C.parse_list(args.configs)
    runtimes = C.parse_list(args.runtimes)
    bad = [c for c in configs if c not in CONFIGS] + [r for r in runtimes if r not in RUNTIMES]
    if bad:
        print(f"bench_export: unknown {', '.join(bad)}", file=sys.stderr)
        return 2
    machine = C.machine_info()
    rows, notes, exports = [], [], {}
    for config in configs:
        base = {"config": config, "threads": args.threads,
                "min_confidence": args.min_confidence, "weights": args.weights}
        workdir = args.keep and os.path.join(args.keep, config)
        tmp = None if workdir else tempfile.TemporaryDirectory(prefix="bench_export_")
        workdir = workdir or tmp.name
        os.makedirs(workdir, exist_ok=True)
        formats = [r for r in runtimes if r != "detect"]
        print(f"[{time.strftime('%H:%M:%S')}] {config}: exporting {', '.join(formats)} ...",
              file=sys.stderr, flush=True)
        try:
            made = C.run_worker(SCRIPT, dict(base, kind="export", dir=workdir, formats=formats),
                                timeout=3600) if formats else {}
        except C.BenchError as e:
            notes.append(str(e))
            made = {}
        exports[config] = made
        size = None
        for runtime in runtimes:
            info = made.get(runtime, {}) if runtime != "detect" else {}
            if runtime != "detect" and "path" not in info:
                notes.append(f"{config} {runtime}: not exported ({info.get('error', 'failed')})")
                continue
            size = size or (128 if config.startswith("phone") else None)
            spec = dict(base, kind="run", runtime=runtime, path=info.get("path"),
                        frames=args.frames, size=size, repeats=args.repeats,
                        warmup=args.warmup, label=f"{config}/{runtime}")
            print(f"[{time.strftime('%H:%M:%S')}] {config}: {runtime} ...", file=sys.stderr,
                  flush=True)
            try:
                res = C.run_worker(SCRIPT, spec, timeout=3600)
            except C.BenchError as e:
                notes.append(str(e))
                continue
            res["file_mb"] = round(info["bytes"] / 1e6, 1) if "bytes" in info else None
            res["export_s"] = info.get("export_s")
            res["loadavg"] = C.loadavg()
            rows.append(res)
        if tmp is not None:
            tmp.cleanup()
    report = {"benchmark": "export", "machine": machine, "loadavg_after": C.loadavg(),
              "settings": {"repeats": args.repeats, "warmup": args.warmup,
                           "threads": args.threads, "frames": args.frames,
                           "min_confidence": args.min_confidence,
                           "weights": args.weights or "random (seed 1)", "input": "128x128 uint8"},
              "exports": exports, "results": rows, "notes": notes}
    print_table(report)
    if args.json:
        C.write_json(args.json, report)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
