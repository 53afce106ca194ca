"""``phone serve``: the segmenter in the browser. Exports (or reuses a
cached, verified) ONNX model of --weights and serves a page that runs it
with onnxruntime-web: webcam -> overlay + black/white mask with fps, or an
image -> its mask as PNG.

    phone serve                       # the default model, http://127.0.0.1:8000/
    phone serve --weights last --port 8080
"""
from phone.commands._args import add_filter_options, add_model_options, positive_int
from phone.errors import CommandError

__all__ = ["add_parser", "run"]


def _port(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        import argparse
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 0-65535 (0: any free)")
    return value


def add_parser(subparsers):
    """Adds the ``serve`` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "serve", help="segment phones in the browser: webcam or image, model run by the page",
        description="Serve a page that segments the phone in the browser (onnxruntime-web, "
                    "WASM; no data leaves the browser): webcam -> overlay and black/white mask "
                    "side by side with fps, or a chosen / dropped image -> its mask as PNG. "
                    "The model is the ONNX export of --weights (the same masks as 'phone "
                    "segment'), made once per weights file and cached in the user cache. "
                    "Automation: /?image=URL segments that image and sets data-phone-pixels "
                    "and data-ms (or data-error) on <body>. Ctrl-C stops the server.")
    add_model_options(p)
    add_filter_options(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s; browsers allow the camera "
                        "only on localhost or https)")
    p.add_argument("--port", type=_port, default=8000,
                   help="port to listen on (default: %(default)s; 0: any free port)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="WASM threads the page uses (default: one per core, at most 4; the "
                        "page's ?threads=N overrides)")
    p.add_argument("--reexport", action="store_true",
                   help="export again even when a cached export of these weights exists")
    p.add_argument("--log", action="store_true", help="print one line per HTTP request")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(run=run)
    return p


def run(args):
    """``phone serve``: serves until Ctrl-C (exit 0); 2 when the address or
    the model cannot be used, 1 when the export does not match."""
    import sys

    import phone.serve as sv
    from phone.errors import ExportError, ServeError
    from phone.model import PhoneModel

    def say(message):
        if not args.quiet:
            print(message, file=sys.stderr)

    try:
        # bind first: a taken port is reported at once, not after the export
        server = sv.make_server(host=args.host, port=args.port,
                                threads=args.threads or sv.DEFAULT_WASM_THREADS,
                                log=(lambda m: print(m, file=sys.stderr)) if args.log else None)
    except ServeError as e:
        raise CommandError(str(e)) from None
    try:
        try:
            sv.check_page_files()
        except ServeError as e:
            raise CommandError(str(e)) from None
        model = PhoneModel(args.weights, config=args.config, coco_class=args.coco_class,
                           precision=args.precision, logs_dir=args.logs,
                           say=say if not args.quiet else False)
        try:
            path, info = sv.cached_onnx_export(model, score=args.score,
                                               image_size=args.image_size, say=say,
                                               refresh=args.reexport)
        except ExportError as e:
            raise CommandError(str(e), 1) from None
        server.set_model(path, info)
        print(f"phone serve: {server.url}  (Ctrl-C stops)", file=sys.stderr, flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            say("note: other machines reach the page over plain http, where browsers allow no "
                "camera (images still work); use localhost or an https proxy for the webcam")
        sv.serve_until_interrupted(server)
    finally:
        server.server_close()
    return 0
