#!/usr/bin/env python
"""Markdown tables from the JSON reports of bench_inference.py,
bench_train.py and bench_ablation.py (used to write RESULTS.md).

    python benchmarks/report.py benchmarks/results/inference.json \\
        benchmarks/results/train.json
"""
import json
import sys


def _f(v, digits=None):
    if v is None:
        return "-"
    if isinstance(v, float):
        if digits is None:
            digits = 3 if abs(v) < 1 else 2 if abs(v) < 10 else 1 if abs(v) < 1000 else 0
        return f"{v:.{digits}f}"
    return str(v)


def md_table(rows, columns):
    out = ["| " + " | ".join(h for h, _ in columns) + " |",
           "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(_f(k(r) if callable(k) else r.get(k))
                                     for _, k in columns) + " |")
    return "\n".join(out)


def machine_line(m):
    return (f"{m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB; TF "
            f"{m['tensorflow']}, Keras {m['keras']}, NumPy {m['numpy']}, torch "
            f"{m.get('torch')}, torchvision {m.get('torchvision')}; load "
            f"average at start {m['loadavg']}")


def inference(rep):
    lines = [f"Machine: {machine_line(rep['machine'])}", ""]
    lines.append(md_table(rep["results"], [
        ("config", "label"), ("framework", "framework"), ("backbone", "backbone"),
        ("input", "input_size"), ("proposals", "proposals"), ("dets", "detections"),
        ("e2e median ms", lambda r: r["e2e"]["median_ms"]),
        ("e2e p90 ms", lambda r: r["e2e"]["p90_ms"]),
        ("fps", "fps"),
        ("model median ms", lambda r: r["model"]["median_ms"]),
        ("pre ms", lambda r: r["pre"]["median_ms"]),
        ("post ms", lambda r: r["post"]["median_ms"]),
        ("peak RSS MiB", "peak_rss_mb"), ("traces", "trace_count"),
        ("n", lambda r: r["e2e"]["n"]),
        ("load", lambda r: (r.get("loadavg") or [None])[0])]))
    if rep.get("comparison"):
        lines += ["", md_table(rep["comparison"], [
            ("config", "label"), ("input", "input_size"),
            ("proposals", "proposals"),
            ("ours e2e ms", "ours_e2e_ms"), ("torchvision e2e ms", "torchvision_e2e_ms"),
            ("ratio", "e2e_ratio"),
            ("ours model ms", "ours_model_ms"),
            ("torchvision model ms", "torchvision_model_ms"),
            ("ratio ", "model_ratio"),
            ("dets ours/tv", lambda r: f"{r['ours_detections']}/{r['torchvision_detections']}"),
            ("torchvision RSS MiB", "torchvision_peak_rss_mb"), ("n", "n")])]
    return "\n".join(lines)


def train(rep):
    lines = [f"Machine: {machine_line(rep['machine'])}", ""]
    lines.append(md_table(rep["results"], [
        ("config", "label"), ("backbone", "backbone"), ("input", "input_size"),
        ("batch", "batch"), ("layers", "layers"),
        ("s/step median", lambda r: r["step"]["median_s"]),
        ("s/step p90", lambda r: r["step"]["p90_s"]),
        ("images/s", "images_per_s"), ("first step s", "first_step_s"),
        ("peak RSS MiB", "peak_rss_mb"), ("steps", "steps"),
        ("load", lambda r: (r.get("loadavg") or [None])[0])]))
    return "\n".join(lines)


def ablation(rep):
    lines = []
    if rep.get("paste"):
        lines.append(md_table(rep["paste"], [
            ("case", "label"), ("unmold_mask loop ms", "unmold_mask_loop_ms"),
            ("paste_masks ms", "paste_masks_ms"), ("speed-up", "speedup")]))
    rows = []
    for r in rep.get("results", []):
        row = {"label": r["label"], "dets": r["detections"],
               "load": (r.get("loadavg") or [None])[0]}
        for k, v in r["variants"].items():
            row[k] = v["median_ms"]
        rows.append(row)
    if rows:
        keys = [k for k in ("before", "+paste", "whole", "after", "frozen")
                if k in rows[0]]
        lines.append(md_table(rows, [("config", "label"), ("dets", "dets")] +
                              [(k + " ms", k) for k in keys] + [("load", "load")]))
    return "\n\n".join(lines)


def main(argv=None):
    for path in (argv if argv is not None else sys.argv[1:]):
        with open(path) as f:
            rep = json.load(f)
        kind = rep.get("benchmark")
        print(f"<!-- {path} -->")
        print({"inference": inference, "train": train,
               "ablation": ablation}[kind](rep))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
