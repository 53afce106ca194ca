"""Helpers shared by the benchmarks (bench_*.py).

Nothing here imports TensorFlow or torch at module level: each benchmark
worker sets its thread counts before the framework starts.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (ROOT, os.path.join(ROOT, "Mask_RCNN")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

#: prefix of the line a worker subprocess prints its result on
RESULT_TAG = "BENCH_RESULT "


class BenchError(RuntimeError):
    """A benchmark could not run (bad arguments, a worker that failed)."""


# ------------------------------------------------------------------ numbers
def summarize(seconds):
    """Median, p90, mean, min and max in milliseconds of a list of times in
    seconds (p90 by linear interpolation, numpy's default)."""
    t = np.asarray(seconds, dtype=np.float64) * 1000.0
    if t.size == 0:
        return {"median_ms": None, "p90_ms": None, "mean_ms": None,
                "min_ms": None, "max_ms": None, "n": 0}
    return {"median_ms": float(np.median(t)),
            "p90_ms": float(np.percentile(t, 90)),
            "mean_ms": float(t.mean()), "min_ms": float(t.min()),
            "max_ms": float(t.max()), "n": int(t.size)}


def time_calls(fn, repeats):
    """Calls fn() `repeats` times; returns the list of wall times (s)."""
    out = []
    for _ in range(int(repeats)):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def peak_rss_mb():
    """Peak resident set size of this process so far, in MiB (Linux
    ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    return None


def _version(module):
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:
        return None


def machine_info():
    """CPU, cores, memory, load and library versions (read without
    importing the frameworks)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "mem_gb": _mem_total_gb(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "tensorflow": _version("tensorflow-cpu") or _version("tensorflow"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
        "opencv": _version("opencv-python-headless") or _version("opencv-python"),
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "loadavg": loadavg(),
    }


# ------------------------------------------------------------------ threads
def set_tf_threads(threads, inter_op=1):
    """Sets TensorFlow's intra-op and inter-op thread pools; must run before
    TensorFlow executes anything. Returns the values in effect."""
    import tensorflow as tf
    try:
        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(int(inter_op))
    except RuntimeError:
        pass  # already initialised (in-process runs): report what is in effect
    return {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}


def quiet_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


# ------------------------------------------------------------------ workers
def run_worker(script, spec, timeout=None, env=None):
    """Runs `python script --worker JSON` in a fresh process (own peak
    memory, own thread pools) and returns the dict it printed."""
    cmd = [sys.executable, script, "--worker", json.dumps(spec)]
    e = dict(os.environ)
    e.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    e.update(env or {})
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=timeout, env=e)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{os.path.basename(script)}: worker {spec.get('label')} "
                         f"timed out after {timeout} s")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
    raise BenchError(f"{os.path.basename(script)}: worker {spec.get('label')} "
                     f"failed (exit {proc.returncode}): " + " | ".join(tail))


def emit_result(result):
    """Worker side of run_worker."""
    sys.stdout.write(RESULT_TAG + json.dumps(result) + "\n")
    sys.stdout.flush()


def add_report_options(parser):
    """--json PATH (the report is also written there) and the hidden
    --worker SPEC that run_worker starts a benchmark's child process with."""
    parser.add_argument("--json", metavar="PATH", help="also write the report here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)


def add_frame_timing_options(parser, repeats, warmup, frames=None):
    """--repeats (timed calls), --warmup (untimed calls first: the first one
    traces) and, given a default, --frames (distinct frames cycled)."""
    parser.add_argument("--repeats", type=int, default=repeats,
                        help=f"timed calls per configuration (default {repeats})")
    parser.add_argument("--warmup", type=int, default=warmup,
                        help=f"untimed calls first (the first traces; default {warmup})")
    if frames is not None:
        parser.add_argument("--frames", type=int, default=frames,
                            help=f"distinct synthetic frames cycled (default {frames})")


def ran_as_worker(args, worker):
    """In a child of run_worker (--worker SPEC given): runs worker(spec),
    prints its result for the parent and returns True; else False."""
    if not args.worker:
        return False
    emit_result(worker(json.loads(args.worker)))
    return True


def write_json(path, obj):
    """Writes obj as JSON atomically (temp file in the same dir + rename)."""
    path = os.path.abspath(path)
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def parse_list(text, cast=str):
    """'a,b, c' -> [cast(a), cast(b), cast(c)]."""
    return [cast(v.strip()) for v in str(text).split(",") if v.strip()]


def fmt(v, digits=None):
    if v is None:
        return "-"
    if isinstance(v, float):
        if digits is None:
            digits = 3 if abs(v) < 1 else 2 if abs(v) < 10 else 1
        return f"{v:.{digits}f}"
    return str(v)


def table(rows, columns):
    """Plain-text table. columns: [(header, key or callable)]."""
    cells = [[h for h, _ in columns]]
    for r in rows:
        cells.append([fmt(k(r) if callable(k) else r.get(k)) for _, k in columns])
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = []
    for j, c in enumerate(cells):
        lines.append("  ".join(s.rjust(w) if j and i else s.ljust(w)
                               for i, (s, w) in enumerate(zip(c, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
