"""The `phone serve` page in headless chromium next to detect(), LiteRT and
ONNX Runtime (Python), on the same machine and the same frames.

    page wasm   the page (phone/web) fed by chromium's fake camera: a y4m of the
                synthetic 128x128 frames bench_export.py uses (and, with
                --webcam, chromium's own 640x480 test pattern); fps = frames the
                page finished per second (grab + model + drawing), model ms =
                the page's session.run time (median of the frames seen)
    detect      Segmenter.segment_image (TensorFlow)           } bench_export.py's
    tflite      LiteRT Interpreter (XNNPACK)                   } worker: 1000 /
    onnx        onnxruntime (Python), the page's .onnx file    } median latency

The model is the weights' ONNX export exactly as `phone serve` caches it
(phone.serve.cached_onnx_export: verified, the classifier's dense conv as a
Gemm); --plain also runs the page on the plain export for comparison.
WebGPU: the page uses WASM only; whether this chromium offers WebGPU at all
is reported (headless without a GPU it does not).

    python benchmarks/bench_browser.py --json benchmarks/results/browser.json \
        --screenshot docs/browser.png
"""
import argparse
import os
import sys
import tempfile
import threading
import time

import _common as C
import bench_export as BE
from phone.web.testing import headless_chromium, page_state, wait_for_page, write_y4m

SCRIPT = os.path.abspath(__file__)
SHIPPED = os.path.join(C.ROOT, "phone", "models", "mask_rcnn_phone.h5")
SCREENSHOT_FRAME = os.path.join("datasets", "phone", "val", "C_01_08_000.png")


# ------------------------------------------------------------------ worker
def export_worker(spec):
    """The served ONNX (and a plain one, a TFLite) of the weights."""
    C.quiet_tf()
    C.set_tf_threads(spec["threads"])
    from phone.export import export_model
    from phone.model import PhoneModel
    from phone.serve import cached_onnx_export
    model = PhoneModel(spec["weights"], say=False)
    t = time.perf_counter()
    path, info = cached_onnx_export(model, cache_root=os.path.join(spec["dir"], "cache"),
                                    say=lambda m: None)
    out = {"onnx": {"path": path, "bytes": info["bytes"], "min_iou": info["min_iou"],
                    "convs_as_gemm": info["convs_as_gemm"],
                    "export_s": round(time.perf_counter() - t, 1)}}
    seg = model.segmenter(1)
    for fmt, name in (("tflite", "model.tflite"), ("plain", "plain.onnx")):
        if not spec[fmt]:
            continue
        dest = os.path.join(spec["dir"], name)
        report = export_model(seg, "onnx" if fmt == "plain" else fmt, dest, quiet=True)
        out[fmt] = {"path": dest, "bytes": report["bytes"],
                    "min_iou": report["verification"]["min_iou"]}
    return out


# ------------------------------------------------------------------ browser
def page_run(driver, url, seconds, warmup=3):
    """Start the camera on the page at ``url``, skip ``warmup`` frames, then
    count frames for ``seconds``. Returns a result row (fps, model ms)."""
    t0 = time.perf_counter()
    driver.get(url)
    data = wait_for_page(driver, lambda d: d.get("state") in ("ready", "error"))
    if data["state"] == "error":
        raise C.BenchError(f"page: {data.get('error')}")
    load_s = time.perf_counter() - t0
    driver.find_element("id", "camera").click()
    data = wait_for_page(driver, lambda d: int(d.get("frames", 0)) >= warmup or d.get("state") == "error")
    if data.get("state") == "error":
        raise C.BenchError(f"page: {data.get('error')}")
    start_frames, start = int(data["frames"]), time.perf_counter()
    seen, ms = start_frames, []
    while time.perf_counter() - start < seconds:
        data = page_state(driver)
        if int(data["frames"]) != seen:
            seen = int(data["frames"])
            ms.append(float(data["ms"]) / 1000.0)
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    driver.find_element("id", "camera").click()
    wait_for_page(driver, lambda d: d.get("state") in ("stopped", "error"))
    stats = C.summarize(ms)
    return {"fps": (seen - start_frames) / elapsed, "median_ms": stats["median_ms"],
            "p90_ms": stats["p90_ms"], "first_call_s": round(load_s, 2),
            "frames": seen - start_frames, "threads": int(data.get("threads", 0)),
            "input": f"{data.get('width')}x{data.get('height')}"}


def webgpu_status(driver):
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "if (!navigator.gpu) { done('no navigator.gpu'); return; }"
        "navigator.gpu.requestAdapter().then(a => done(a ? 'adapter available' : 'no adapter'),"
        " e => done('requestAdapter failed: ' + e));")


def take_screenshot(server, path, seconds=3.0):
    """The page's camera view, as PNG at ``path``: the fake camera shows the
    bundled frame val/C_01_08_000 enlarged to 256 px (as in the bundled
    clip), so the picture does not depend on when it is taken."""
    import cv2
    from phone.imageio import read_image, write_bytes_atomic
    frame = cv2.resize(read_image(os.path.join(C.ROOT, SCREENSHOT_FRAME)), (256, 256),
                       interpolation=cv2.INTER_CUBIC)
    with tempfile.TemporaryDirectory(prefix="bench_browser_") as tmp:
        driver = headless_chromium(write_y4m([frame] * 10, os.path.join(tmp, "frame.y4m"), fps=10),
                          size=(1000, 760))
        try:
            driver.get(server.url)
            wait_for_page(driver, lambda d: d.get("state") in ("ready", "error"))
            driver.find_element("id", "camera").click()
            wait_for_page(driver, lambda d: int(d.get("frames", 0)) >= 3)
            time.sleep(seconds)
            driver.find_element("id", "camera").click()
            wait_for_page(driver, lambda d: d.get("state") in ("stopped", "error"))
            write_bytes_atomic(path, driver.get_screenshot_as_png())
        finally:
            driver.quit()
    return path


# ------------------------------------------------------------------ main
def print_table(report, out=sys.stdout):
    cols = [("runtime", "runtime"), ("where", "where"), ("threads", "threads"),
            ("input", "input"), ("model ms", "median_ms"), ("p90 ms", "p90_ms"),
            ("fps", "fps"), ("first call s", "first_call_s")]
    print(C.table(report["results"], cols), file=out)
    for n in report["notes"]:
        print(f"note: {n}", file=out)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=SHIPPED, help="the .h5 (default: the shipped model)")
    p.add_argument("--page-threads", default="1,2,4",
                   help="WASM thread counts of the page (?threads=N)")
    p.add_argument("--threads", type=int, default=2, help="threads of the Python runtimes")
    p.add_argument("--seconds", type=float, default=12.0, help="page measuring window")
    C.add_frame_timing_options(p, repeats=40, warmup=3, frames=8)
    p.add_argument("--webcam", action="store_true",
                   help="also the page on chromium's 640x480 test pattern (webcam size)")
    p.add_argument("--plain", action="store_true",
                   help="also the page on the plain ONNX export (no Gemm rewrite)")
    p.add_argument("--no-python", action="store_true", help="only the page")
    p.add_argument("--screenshot", metavar="PNG", help="save the page on the bundled clip")
    C.add_report_options(p)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if C.ran_as_worker(args, export_worker):
        return 0
    from phone.serve import make_server
    machine = C.machine_info()
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="bench_browser_") as tmp:
        print(f"[{time.strftime('%H:%M:%S')}] exporting ...", file=sys.stderr, flush=True)
        made = C.run_worker(SCRIPT, {"kind": "export", "weights": args.weights, "dir": tmp,
                                     "threads": args.threads, "plain": args.plain,
                                     "tflite": not args.no_python,
                                     "label": "export"}, timeout=3600)
        onnx = made["onnx"]
        base = {"config": "phone-scratch", "threads": args.threads, "min_confidence": None,
                "weights": args.weights, "frames": args.frames, "size": 128,
                "repeats": args.repeats, "warmup": args.warmup, "kind": "run"}
        if not args.no_python:
            for runtime, path in (("detect", None), ("tflite", made["tflite"]["path"]),
                                  ("onnx", onnx["path"])):
                print(f"[{time.strftime('%H:%M:%S')}] {runtime} ...", file=sys.stderr, flush=True)
                try:
                    res = C.run_worker(BE.SCRIPT, dict(base, runtime=runtime, path=path,
                                                       label=runtime), timeout=3600)
                except C.BenchError as e:
                    notes.append(str(e))
                    continue
                rows.append({"runtime": {"detect": "detect() (TensorFlow)",
                                         "tflite": "LiteRT", "onnx": "ONNX Runtime"}[runtime],
                             "where": "python", "threads": args.threads, "input": "128x128",
                             "median_ms": res["median_ms"], "p90_ms": res["p90_ms"],
                             "fps": res["fps"], "first_call_s": res["first_call_s"]})
        frames = BE._frames(args.frames, 128)
        y4m = write_y4m(frames, os.path.join(tmp, "frames.y4m"))
        servers = {"served": make_server(onnx["path"], info={"bytes": onnx["bytes"]}, port=0)}
        if args.plain:
            servers["plain"] = make_server(made["plain"]["path"], port=0)
        threads = [threading.Thread(target=s.serve_forever, daemon=True)
                   for s in servers.values()]
        for t in threads:
            t.start()
        runs = [("served", n, y4m) for n in C.parse_list(args.page_threads, int)]
        runs += [("served", 0, None)] if args.webcam else []
        runs += [("plain", 0, y4m)] if args.plain else []
        driver, current, version, gpu = None, "unset", None, None
        try:
            for which, n, source in runs:
                if source != current:
                    if driver:
                        driver.quit()
                    driver, current = headless_chromium(source), source
                    version = driver.capabilities.get("browserVersion")
                    gpu = gpu or webgpu_status(driver)
                label = f"page wasm{' (plain export)' if which == 'plain' else ''}"
                print(f"[{time.strftime('%H:%M:%S')}] {label}, threads {n or 'default'}, "
                      f"{'y4m' if source else '640x480 pattern'} ...", file=sys.stderr, flush=True)
                query = f"?threads={n}" if n else ""
                res = page_run(driver, servers[which].url + query, args.seconds)
                rows.append(dict(res, runtime=label, where="chromium"))
            if args.screenshot:
                take_screenshot(servers["served"], args.screenshot)
        finally:
            if driver:
                driver.quit()
            for s in servers.values():
                s.shutdown()
                s.server_close()
    notes.append(f"chromium {version} headless, onnxruntime-web WASM (SIMD); WebGPU: {gpu} "
                 f"(the page does not use it)")
    notes.append("python rows: 1000 / median latency (bench_export.py's worker); page rows: "
                 "frames finished per second, camera grab and drawing included")
    report = {"benchmark": "browser", "machine": machine, "loadavg_after": C.loadavg(),
              "settings": {"weights": os.path.relpath(args.weights, C.ROOT),
                           "seconds": args.seconds, "repeats": args.repeats,
                           "python_threads": args.threads, "frames": args.frames,
                           "onnx_bytes": onnx["bytes"], "onnx_min_iou": onnx["min_iou"],
                           "convs_as_gemm": onnx["convs_as_gemm"], "chromium": version,
                           "webgpu": gpu},
              "results": rows, "notes": notes}
    print_table(report)
    if args.json:
        C.write_json(args.json, report)
    return 0 if rows or args.screenshot else 1


if __name__ == "__main__":
    sys.exit(main())
