"""The phone segmenter in the browser: a cached, verified ONNX export of a
weights file and a small HTTP server (the standard library's
ThreadingHTTPServer) for the page that runs it with onnxruntime-web (WASM).

    from phone.model import PhoneModel
    from phone.serve import cached_onnx_export, make_server, serve_until_interrupted
    model = PhoneModel("shipped")
    path, info = cached_onnx_export(model)       # exported once per weights file
    server = make_server(path, info=info, port=8000)
    serve_until_interrupted(server)              # Ctrl-C stops it

The export is phone.export's ONNX graph (``phone export --format onnx``):
uint8 RGB [H, W, 3] in, any size; resizing, the score threshold and the
mask rule are inside, so the page's mask is ``phone segment``'s. It is
cached under the user cache (mrcnn.core.download.cache_dir(), i.e.
$MRCNN_HOME or ~/.cache/mrcnn)::

    serve/<sha256 of the weights file>/phone-<settings>.onnx   the model
    serve/<sha256 of the weights file>/phone-<settings>.json   what it is

<settings> is a short hash of what else shapes the graph (the inference
config, the score threshold, the COCO class filter, the phone version and
the ONNX opset). export_model verifies the graph against the segmenter and
renames it into place only then; the .json is written (atomically) after
it, and a cached model is reused only when its .json names the same weights
hash and settings and the model file's own hash.

The server's routes: ``/`` the page (phone/web), ``/vendor/*`` the
onnxruntime-web files (phone.web.assets.ORT_FILES, served .wasm as
application/wasm), ``/model.onnx``, ``/info.json`` (what the page shows
and its thread default), ``/samples.json`` and ``/samples/<subset>/<frame>``
(the bundled CORe50 frames). Every response carries COOP/COEP headers, so
the page is cross-origin isolated and may use WASM threads.
"""
import errno
import http.server
import json
import os
import socket
import sys
import time
import urllib.parse

from phone.errors import ServeError, one_line
from phone.web.assets import ORT_FILES, VENDOR_DIR, WEB_DIR, missing_vendor_files

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "DEFAULT_WASM_THREADS", "export_settings",
           "cache_paths", "dense_convs_as_gemm", "cached_onnx_export", "check_page_files", "make_server",
           "PhoneServer", "serve_until_interrupted", "CONTENT_TYPES"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: onnxruntime-web WASM threads the page uses unless ?threads=N says
#: otherwise; 0: one per core, at most 4 (threads measured faster than one
#: thread even on 2 busy cores: docs/browser.md, benchmarks/bench_browser.py)
DEFAULT_WASM_THREADS = 0

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
#: the page's own files (phone/web)
PAGE_FILES = ("index.html", "app.js", "style.css")


def _say_stderr(message):
    print(message, file=sys.stderr)


# ------------------------------------------------------------------ the export
def export_settings(model, score=None, image_size=None):
    """What shapes the exported graph besides the weights: a JSON-safe dict
    (the inference config as phone segment builds it, the score threshold,
    the class filter, the phone version and ONNX opset). ``model``: a
    phone.model.PhoneModel. No TensorFlow."""
    from phone import __version__
    from phone.config import inference_config
    from phone.export import ONNX_OPSET
    config = inference_config(model.config, batch_size=1, score=score, image_size=image_size)
    values = config.to_json_dict()
    values.pop("MIXED_PRECISION", None)   # exports always compute in float32
    keep = model.keep_class_ids
    settings = {"phone": __version__, "format": "onnx", "opset": ONNX_OPSET,
                "config": type(config).__name__, "config_values": values,
                "score": score, "keep_class_ids": list(keep) if keep else None}
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def cache_paths(weights_sha256, settings, cache_root=None):
    """(model path, info path) of the cached export for a weights hash and
    export_settings(); cache_root default: cache_dir()/serve."""
    import hashlib
    if cache_root is None:
        from mrcnn.core.download import cache_dir
        cache_root = os.path.join(cache_dir(), "serve")
    tag = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    folder = os.path.join(cache_root, weights_sha256)
    return os.path.join(folder, f"phone-{tag}.onnx"), os.path.join(folder, f"phone-{tag}.json")


def _cached_info(model_path, info_path, weights_sha256, settings):
    """The info dict of a usable cached export, else None."""
    from mrcnn.core.fileio import file_sha256
    try:
        with open(info_path, encoding="utf-8") as f:
            info = json.load(f)
        if (info.get("weights_sha256") != weights_sha256 or info.get("settings") != settings
                or os.path.getsize(model_path) != info.get("bytes")):
            return None
        if file_sha256(model_path) != info.get("onnx_sha256"):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    return info


def cached_onnx_export(model, score=None, image_size=None, cache_root=None, say=None,
                       refresh=False):
    """The ONNX export of a phone.model.PhoneModel, from the cache when a
    verified one of the same weights file (sha256) and settings is there,
    else exported now (phone.export.export_model: verified against the
    segmenter, written to a temp file and renamed) and cached.

    Returns (path of the .onnx, info dict: weights, weights_sha256,
    settings, bytes, onnx_sha256, exported, min_iou, frames, cached).
    refresh: export again even when a cached one is there.
    Raises ExportError (one line) when the export fails or does not match.
    """
    from mrcnn.core.fileio import file_sha256
    from phone.imageio import write_json_atomic
    say = say or _say_stderr
    sha = file_sha256(model.path)
    settings = export_settings(model, score=score, image_size=image_size)
    model_path, info_path = cache_paths(sha, settings, cache_root)
    info = None if refresh else _cached_info(model_path, info_path, sha, settings)
    if info is not None:
        say(f"Model: {model_path} (cached ONNX export of {os.path.basename(model.path)})")
        return model_path, dict(info, cached=True)
    say(f"Exporting {os.path.basename(model.path)} to ONNX (once per weights file; cached in "
        f"{os.path.dirname(model_path)}) ...")
    from phone.export import export_model
    t0 = time.perf_counter()
    segmenter = model.segmenter(1, score=score, image_size=image_size)
    os.makedirs(os.path.dirname(model_path), exist_ok=True)
    report = export_model(segmenter, "onnx", model_path, quiet=True)
    gemm, check = _browser_graph(model_path, segmenter, say)
    verification = check or report["verification"]
    info = {"weights": os.path.abspath(model.path), "weights_sha256": sha,
            "settings": settings, "convs_as_gemm": gemm, "bytes": os.path.getsize(model_path),
            "onnx_sha256": file_sha256(model_path),
            "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "min_iou": verification["min_iou"], "frames": len(verification["frames"])}
    write_json_atomic(info_path, info)
    say(f"Model: {model_path} ({info['bytes'] / 1e6:.1f} MB, verified on {info['frames']} "
        f"frames, lowest mask IoU {info['min_iou']:.4f}; {time.perf_counter() - t0:.0f} s)")
    return model_path, dict(info, cached=False)


def _used_names(graph):
    """Every value name a node of ``graph`` (or of its subgraphs) reads."""
    names = set()
    for node in graph.node:
        names.update(node.input)
        for attr in node.attribute:
            for sub in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
                names |= _used_names(sub)
    return names


def dense_convs_as_gemm(src, dst):
    """Write ``src`` (an ONNX file) to ``dst`` with every top-level Conv whose
    kernel covers its whole input (Matterport's classifier head: a 7x7
    "fully connected" conv over the pooled ROIs) replaced by Flatten -> Gemm
    -> Unsqueeze, the same product. onnxruntime-web's WASM Conv runs that
    layer as one matrix-vector product per ROI, about half the page's
    frame time; as one Gemm it takes a few ms. Returns the number of
    convolutions rewritten (0: ``dst`` is not written)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper, shape_inference
    model = onnx.load(src)
    inferred = shape_inference.infer_shapes(model).graph
    shapes = {}
    for info in list(inferred.value_info) + list(inferred.input) + list(inferred.output):
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    weights = {init.name: init for init in model.graph.initializer}
    nodes, done = [], 0
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        x = shapes.get(node.input[0]) if node.op_type == "Conv" else None
        w = (numpy_helper.to_array(weights[node.input[1]])
             if x and node.input[1] in weights else None)
        if (w is None or w.ndim != 4 or len(x) != 4 or x[2:] != list(w.shape[2:])
                or w.shape[2] * w.shape[3] == 1 or attrs.get("group", 1) != 1
                or any(attrs.get("pads", [0])) or any(d != 1 for d in attrs.get("dilations", [1]))
                or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID")):
            nodes.append(node)
            continue
        base = f"{node.name or node.output[0]}/as_gemm"
        model.graph.initializer.extend([
            numpy_helper.from_array(w.reshape(w.shape[0], -1), f"{base}/weights"),
            numpy_helper.from_array(np.array([2, 3], np.int64), f"{base}/axes")])
        gemm_in = [f"{base}/flat", f"{base}/weights"] + list(node.input[2:3])
        nodes += [helper.make_node("Flatten", [node.input[0]], [f"{base}/flat"], axis=1,
                                   name=f"{base}/flatten"),
                  helper.make_node("Gemm", gemm_in, [f"{base}/gemm"], transB=1,
                                   name=f"{base}/gemm"),
                  helper.make_node("Unsqueeze", [f"{base}/gemm", f"{base}/axes"],
                                   list(node.output), name=f"{base}/unsqueeze")]
        done += 1
    if not done:
        return 0
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = _used_names(model.graph) | {o.name for o in model.graph.output}
    kept = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return done


def _browser_graph(model_path, segmenter, say):
    """Replace the verified export at model_path by its dense_convs_as_gemm
    form when that is verified against the segmenter too (temp file +
    rename); otherwise keep it. Returns (convs rewritten, verification or
    None)."""
    import tempfile
    from mrcnn.core.fileio import set_new_file_mode
    from phone.export import default_verify_images, verify_export
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(model_path), suffix=".onnx",
                               prefix="." + os.path.basename(model_path) + ".tmp-")
    os.close(fd)
    try:
        try:
            done = dense_convs_as_gemm(model_path, tmp)
        except Exception as e:   # a graph the rewrite does not understand
            say(f"note: no Gemm form of the export ({one_line(e, 200)}); serving the plain export")
            return 0, None
        if not done:
            return 0, None
        check = verify_export(tmp, segmenter, default_verify_images(segmenter.config),
                              fmt="onnx")
        if not check["ok"]:
            say(f"note: the Gemm form of the export does not match ({check['problem']}); "
                f"serving the plain export")
            return 0, None
        set_new_file_mode(tmp, model_path)
        os.replace(tmp, model_path)
        return done, check
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ------------------------------------------------------------------ the server
def check_page_files(web_dir=WEB_DIR, vendor_dir=VENDOR_DIR):
    """ServeError (one line) when the page or its onnxruntime-web files are
    missing (a package built without npm)."""
    missing = [os.path.join(web_dir, n) for n in PAGE_FILES
               if not os.path.isfile(os.path.join(web_dir, n))]
    missing += [os.path.join(vendor_dir, n) for n in missing_vendor_files(vendor_dir)]
    if missing:
        raise ServeError(f"{missing[0]}: missing{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}; "
                         f"the page's onnxruntime-web files are copied at build time by npm: "
                         f"run 'make venv' in a checkout, or reinstall with npm on the PATH")


def _sample_files(samples_dir):
    """{"subset/name.png": path} of the frames under samples_dir/*/."""
    found = {}
    if samples_dir and os.path.isdir(samples_dir):
        for sub in sorted(os.listdir(samples_dir)):
            folder = os.path.join(samples_dir, sub)
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if os.path.splitext(name)[1].lower() in (".png", ".jpg", ".jpeg"):
                    found[f"{sub}/{name}"] = os.path.join(folder, name)
    return found


class PhoneServer(http.server.ThreadingHTTPServer):
    """The ``phone serve`` HTTP server. model_path: the .onnx it serves
    (None while it is being exported: /model.onnx answers 503); info: the
    cached_onnx_export info dict (for /info.json)."""

    daemon_threads = True

    def __init__(self, address, model_path=None, info=None, web_dir=WEB_DIR,
                 vendor_dir=VENDOR_DIR, samples_dir=None, threads=DEFAULT_WASM_THREADS,
                 log=None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.model_path, self.info = model_path, dict(info or {})
        self.web_dir, self.vendor_dir = web_dir, vendor_dir
        self.samples = _sample_files(samples_dir)
        self.threads = int(threads or 0)
        self.log = log
        super().__init__(address, _Handler)

    @property
    def url(self):
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def set_model(self, model_path, info=None):
        self.model_path, self.info = model_path, dict(info or {})

    def page_info(self):
        """The JSON of /info.json."""
        info = self.info
        return {"weights": os.path.basename(info.get("weights", "")) or None,
                "weights_sha256": info.get("weights_sha256"),
                "onnx_bytes": info.get("bytes"), "min_iou": info.get("min_iou"),
                "verified_frames": info.get("frames"),
                "score": (info.get("settings") or {}).get("score"),
                "threads": self.threads, "ready": self.model_path is not None}


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "phone-serve"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        if self.server.log:
            self.server.log("%s - %s" % (self.address_string(), format % args))

    def do_GET(self):
        self._respond(body=True)

    def do_HEAD(self):
        self._respond(body=False)

    # ---------------------------------------------------------------- routes
    def _route(self, path):
        """(status, content type, file path or bytes)."""
        srv = self.server
        if path in ("/", "/index.html"):
            return 200, None, os.path.join(srv.web_dir, "index.html")
        name = path.lstrip("/")
        if name in PAGE_FILES:
            return 200, None, os.path.join(srv.web_dir, name)
        if path.startswith("/vendor/") and path[len("/vendor/"):] in ORT_FILES:
            return 200, None, os.path.join(srv.vendor_dir, path[len("/vendor/"):])
        if path == "/model.onnx":
            if srv.model_path is None:
                return 503, "text/plain; charset=utf-8", (
                    b"the model is still being exported: reload the page in a minute")
            return 200, None, srv.model_path
        if path == "/info.json":
            return 200, "application/json", json.dumps(srv.page_info()).encode()
        if path == "/samples.json":
            return 200, "application/json", json.dumps(sorted(srv.samples)).encode()
        if path.startswith("/samples/") and path[len("/samples/"):] in srv.samples:
            return 200, None, srv.samples[path[len("/samples/"):]]
        if path == "/favicon.ico":
            return 204, None, b""
        return 404, "text/plain; charset=utf-8", f"{path}: not found".encode()

    def _respond(self, body):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        status, ctype, content = self._route(path)
        if isinstance(content, str):   # a file
            try:
                with open(content, "rb") as f:
                    data = f.read()
            except OSError:
                status, ctype = 404, "text/plain; charset=utf-8"
                what = ("the exported model" if content == self.server.model_path
                        else "the page file")
                data = (f"{path}: {what} {content} is missing"
                        + (" (removed from the cache?): restart phone serve to export it again"
                           if what == "the exported model" else "")).encode()
            else:
                ctype = CONTENT_TYPES.get(os.path.splitext(content)[1].lower(),
                                          "application/octet-stream")
        else:
            data = content
        try:
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            # cross-origin isolation: SharedArrayBuffer, i.e. WASM threads
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            self.end_headers()
            if body and status != 204:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def make_server(model_path=None, info=None, host=DEFAULT_HOST, port=DEFAULT_PORT,
                samples_dir=None, threads=DEFAULT_WASM_THREADS, web_dir=WEB_DIR,
                vendor_dir=VENDOR_DIR, log=None):
    """A PhoneServer bound to host:port (port 0: a free one; see
    ``server.url``). samples_dir: frames offered on the page (default: the
    bundled CORe50 frames). log: callable for one line per request (default:
    none). Raises ServeError (one line) when the address cannot be used."""
    if samples_dir is None:
        import phone.paths as paths
        samples_dir = paths.bundled_dataset_dir()
    try:
        return PhoneServer((host, int(port)), model_path=model_path, info=info,
                           web_dir=web_dir, vendor_dir=vendor_dir, samples_dir=samples_dir,
                           threads=threads, log=log)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ServeError(f"{host}:{port}: port already in use (another phone serve? "
                             f"pick another with --port)") from None
        if e.errno == errno.EACCES:
            raise ServeError(f"{host}:{port}: permission denied (ports below 1024 need root; "
                             f"pick another with --port)") from None
        reason = e.strerror or str(e)
        raise ServeError(f"{host}:{port}: cannot listen there ({reason})") from None


def serve_until_interrupted(server, say=None):
    """Serve until Ctrl-C (KeyboardInterrupt), then close the socket and
    return (threads serving a request are daemon threads)."""
    say = say or _say_stderr
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        say("phone serve: stopped")
    finally:
        server.server_close()
