#!/usr/bin/env python
"""Frames per second of ``phone segment --dir``: the local engine against
the Ray engine with 1 and 2 model actors, and a paper estimate for all of
CORe50 from the measured rate of one Ray worker.

    python benchmarks/bench_ray.py                        # 64 and 256 frames, ~5 min on 2 cores
    python benchmarks/bench_ray.py --repeats 4,16 --workers 1,2,4 --json /tmp/ray.json

The frames are the 8 bundled ones (datasets/phone/{train,val,more}) copied
R times into a temporary folder (R from --repeats), segmented with the
shipped model (batch 4, overlays written, as the command does) into a fresh
output folder per run. Each engine runs at two sizes; the table gives the
wall time of each run (the Ray rows include starting the actors and
building one model in each, the local row excludes its one model build,
timed apart) and the steady rate between the two sizes,
(n_large - n_small) / (t_large - t_small), which leaves the start-up out.

The local cluster is started once (2 CPUs here, no dashboard) and its start
is timed apart. A Ray actor holds 1 CPU and runs TensorFlow with 1 thread;
the local engine uses every core of this process, so on a 2-core machine no
speed-up is expected: the point is that the same command runs on a cluster.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

#: frames in CORe50 (the 128x128 release: 11 sessions x 50 objects x ~300 frames)
CORE50_FRAMES = 164_866
FRAME_DIRS = ("train", "val", "more")


def bundled_frames():
    root = os.path.join(C.ROOT, "datasets", "phone")
    out = []
    for sub in FRAME_DIRS:
        folder = os.path.join(root, sub)
        out += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".png"))
    return out


def make_folder(frames, repeats, where):
    """A folder holding ``frames`` ``repeats`` times (copy k of NAME.png is
    NAME_rK.png). Returns its path."""
    folder = os.path.join(where, f"frames_x{repeats}")
    os.makedirs(folder, exist_ok=True)
    for k in range(repeats):
        for f in frames:
            stem = os.path.splitext(os.path.basename(f))[0]
            shutil.copyfile(f, os.path.join(folder, f"{stem}_r{k}.png"))
    return folder


def run_local(model, folder, out):
    import phone.segment as lib
    t0 = time.perf_counter()
    summary = lib.segment_dir(model.segmenter(4), folder, out, quiet=True)
    return time.perf_counter() - t0, summary


def run_ray(model, folder, out, workers):
    from phone.distributed import segment_dir_ray
    t0 = time.perf_counter()
    summary = segment_dir_ray(folder, out, model, batch_size=4, workers=workers, quiet=True)
    return time.perf_counter() - t0, summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", default="8,32",
                   help="two copy counts of the 8 frames (small,large); default %(default)s")
    p.add_argument("--workers", default="1,2", help="Ray actor counts; default %(default)s")
    p.add_argument("--cpus", type=int, default=None,
                   help="CPUs of the local Ray cluster (default: this machine's)")
    p.add_argument("--estimate", default="1,2,8,32,128",
                   help="worker counts of the CORe50 paper estimate; default %(default)s")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    C.quiet_tf()
    small, large = C.parse_list(args.repeats, int)
    workers = C.parse_list(args.workers, int)
    frames = bundled_frames()
    from phone.distributed import ray_cluster
    from phone.model import PhoneModel
    rows, notes = [], []
    work = tempfile.mkdtemp(prefix="bench_ray_")
    try:
        folders = {r: make_folder(frames, r, work) for r in (small, large)}
        t0 = time.perf_counter()
        model = PhoneModel("shipped", say=False)
        model.segmenter(4)
        build = time.perf_counter() - t0
        notes.append(f"local model build (not in the local rows): {build:.1f} s")

        def measure(engine, n_workers, fn):
            times = {}
            for r, folder in folders.items():
                out = os.path.join(work, f"out_{engine}{n_workers}_{r}")
                seconds, summary = fn(folder, out)
                if summary.done != len(frames) * r or summary.failed:
                    raise C.BenchError(f"{engine}: {summary.line()}")
                times[r] = seconds
                rows.append({"engine": engine, "workers": n_workers, "frames": summary.done,
                             "seconds": seconds, "fps": summary.done / seconds})
            n_small, n_large = len(frames) * small, len(frames) * large
            steady = (n_large - n_small) / max(1e-9, times[large] - times[small])
            for row in rows[-2:]:
                row["steady_fps"] = steady
            return steady

        measure("local", "-", lambda folder, out: run_local(model, folder, out))
        t0 = time.perf_counter()
        with ray_cluster(num_cpus=args.cpus):
            notes.append(f"local Ray cluster start: {time.perf_counter() - t0:.1f} s")
            per_worker = None
            for n in workers:
                steady = measure("ray", n, lambda folder, out, n=n: run_ray(model, folder, out, n))
                if n == 1:
                    per_worker = steady
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(C.table(rows, [("engine", "engine"), ("workers", "workers"), ("frames", "frames"),
                         ("wall s", lambda r: C.fmt(r["seconds"])),
                         ("frames/s", lambda r: C.fmt(r["fps"])),
                         ("steady frames/s", lambda r: C.fmt(r["steady_fps"]))]))
    for note in notes:
        print(note)
    estimate = []
    if per_worker:
        print(f"\nCORe50 ({CORE50_FRAMES:,} frames) at {per_worker:.1f} frames/s per Ray "
              f"worker, scaling linearly (one worker per core or GPU, frames on shared storage):")
        for n in C.parse_list(args.estimate, int):
            hours = CORE50_FRAMES / (n * per_worker) / 3600
            estimate.append({"workers": n, "hours": hours})
            print(f"  {n:4d} workers: {hours:6.2f} h")
    if args.json:
        C.write_json(args.json, {"benchmark": "ray", "machine": C.machine_info(),
                                 "settings": vars(args), "results": rows, "notes": notes,
                                 "core50_estimate": estimate})
    return 0


if __name__ == "__main__":
    sys.exit(main())
