"""The ``phone`` command line: train, segment, evaluate (and demo).

Three ways to run it, all the same parser::

    cd phone && python phone.py train --dataset=../datasets/phone --weights=coco
    python -m phone segment --weights=last --dir=frames/ --out=masks/
    phone evaluate --weights=logs/phone20250101T1200/mask_rcnn_phone_0030.h5

Exit status: 0 success; 1 some inputs failed (reported, the rest processed)
or the run failed; 2 bad arguments or unusable input (missing weights,
dataset, image...); 130 interrupted. Errors are one line on stderr naming the
file and the problem; ``--debug`` shows the Python traceback instead.

Importing this module is cheap (no TensorFlow): ``--help`` is instant and
the commands import the model code only when they run.
"""
import argparse
import importlib
import importlib.util
import os
import sys

__all__ = ["main", "build_parser", "CommandError", "load_config_class",
           "derive_config", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "DEFAULT_LOGS_DIR"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Matterport's balloon sample keeps logs in <repo>/logs
DEFAULT_LOGS_DIR = os.path.join(_REPO, "logs")
DEFAULT_DATASET_DIR = os.path.join(_REPO, "datasets", "phone")
LAYER_CHOICES = ("heads", "3+", "4+", "5+", "all")


class CommandError(Exception):
    """A problem the user can fix (bad argument, missing file): reported as one
    line, exit status ``exit_code``."""

    def __init__(self, message, exit_code=EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


# --------------------------------------------------------------- config helpers
def load_config_class(spec):
    """Import a Config subclass from ``"package.module:ClassName"`` or
    ``"path/to/file.py:ClassName"``. Raises CommandError."""
    if ":" not in spec:
        raise CommandError(f"--config {spec!r}: expected MODULE:CLASS or FILE.py:CLASS")
    where, name = spec.rsplit(":", 1)
    try:
        if where.endswith(".py") or os.path.sep in where or "/" in where:
            path = os.path.abspath(where)
            if not os.path.isfile(path):
                raise CommandError(f"{where}: no such config file (--config)")
            mod_name = "_phone_config_" + os.path.splitext(os.path.basename(path))[0]
            mod_spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[mod_name] = module
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except CommandError:
        raise
    except Exception as e:  # the user's file: report its error on one line
        raise CommandError(f"--config {spec}: cannot import {where}: "
                           f"{type(e).__name__}: {_one_line(e)}") from None
    cls = getattr(module, name, None)
    if cls is None:
        raise CommandError(f"--config {spec}: {where} has no {name!r}")
    if not isinstance(cls, type):
        raise CommandError(f"--config {spec}: {name!r} is not a class")
    return cls


def derive_config(config, **overrides):
    """A new config instance like ``config`` with some attributes changed.

    Matterport configs compute BATCH_SIZE, IMAGE_SHAPE and IMAGE_META_SIZE in
    ``__init__``, so overrides go into a subclass that is instantiated again.
    Attributes set on the instance after construction are carried over.
    """
    computed = {"BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE"}
    attrs = {k: v for k, v in vars(config).items() if k.isupper() and k not in computed}
    attrs.update({k: v for k, v in overrides.items() if v is not None})
    base = type(config)
    sub = type(base.__name__, (base,), dict(attrs, __doc__=base.__doc__,
                                            __module__=base.__module__))
    return sub()


def _one_line(e, limit=None):
    """An error message folded onto one line; with ``limit``, cut to that many
    characters (TensorFlow op errors run to pages of graph detail)."""
    text = str(e).strip() or type(e).__name__
    text = " ".join(text.split())
    if limit and len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


# --------------------------------------------------------------- parser
def _score(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid score {text!r}: expected a number in [0, 1]")
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"score {v} outside [0, 1]")
    return v


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}")
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} must be >= 1")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}")
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{v} must be > 0")
    return v


def _add_common(p, weights_default, weights_help):
    p.add_argument("--weights", default=weights_default, metavar="coco|last|imagenet|PATH",
                   help=weights_help)
    p.add_argument("--logs", default=DEFAULT_LOGS_DIR, metavar="DIR",
                   help="logs and checkpoints folder (default: %(default)s)")
    p.add_argument("--config", metavar="MODULE:CLASS",
                   help="use this mrcnn Config subclass instead of the phone default "
                        "(e.g. myconf.py:MyConfig)")
    p.add_argument("--image-size", type=_positive_int, metavar="N",
                   help="frame side the config is made for (e.g. 350 for the full-size "
                        "CORe50 release; default: the config's, 128)")
    p.add_argument("--precision", choices=("float32", "auto", "mixed_bfloat16", "mixed_float16"),
                   help="Config.MIXED_PRECISION: auto = mixed_float16 on a GPU, mixed_bfloat16 "
                        "on a CPU with AVX512_BF16/AMX (~1.8x faster there), else float32 "
                        "(default: the config's)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the Python traceback on errors")


def _add_inference(p):
    p.add_argument("--score", type=_score, metavar="S",
                   help="minimum detection confidence (default: the config's "
                        "DETECTION_MIN_CONFIDENCE, 0.7)")
    p.add_argument("--coco-class", metavar="NAME",
                   help='segment this class with the raw COCO model, no fine-tuning '
                        '(e.g. "cell phone"); --weights defaults to coco')
    p.add_argument("--batch-size", type=_positive_int, metavar="N",
                   help="images per detect() call (default: 1 for --image, 4 otherwise)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser():
    """The argparse parser of the ``phone`` command."""
    parser = argparse.ArgumentParser(
        prog="phone",
        description="Segment the mobile phone in CORe50 frames with Mask R-CNN "
                    "(RGB frame in, black/white mask out).",
        epilog="Examples:\n"
               "  phone train --dataset=datasets/phone --weights=coco\n"
               "  phone segment --weights=last --dir=core50_128x128 --out=masks\n"
               "  phone segment --coco-class 'cell phone' --image=frame.png\n"
               "  phone evaluate --weights=last --dataset=datasets/phone --subset=val\n"
               "  phone realtime --source 0\n"
               "  phone realtime --source clip.mp4 --no-display --out out.mp4",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback on errors")
    from phone import __version__
    parser.add_argument("--version", action="version", version=f"phone {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # train -----------------------------------------------------------------
    t = sub.add_parser("train", help="fine-tune Mask R-CNN on VIA-annotated phone frames",
                       description="Fine-tune Mask R-CNN on dataset/train, validating on "
                                   "dataset/val (Matterport's balloon recipe).")
    t.add_argument("--dataset", default=DEFAULT_DATASET_DIR, metavar="DIR",
                   help="folder with train/ and val/ (images + via_region_data.json); "
                        "default: %(default)s")
    _add_common(t, "coco", "starting weights: coco (downloaded if needed, class layers "
                           "re-initialised), last (resume), imagenet, or a .h5 path "
                           "(default: coco)")
    t.add_argument("--epochs", type=_positive_int, default=30,
                   help="train up to this epoch in total (default: %(default)s)")
    t.add_argument("--layers", choices=LAYER_CHOICES, default="heads",
                   help="layers to train (default: %(default)s)")
    t.add_argument("--lr", type=_positive_float, metavar="LR",
                   help="learning rate (default: the config's LEARNING_RATE, 0.001)")
    t.add_argument("--steps-per-epoch", type=_positive_int, metavar="N",
                   help="training steps per epoch (default: the config's, 100)")
    t.add_argument("--augment", action="store_true",
                   help="augment training images (flips, small affine, colour)")

    # segment ---------------------------------------------------------------
    s = sub.add_parser("segment", help="write phone masks for images, a folder or a video",
                       description="For each input NAME writes NAME_mask.png (single channel, "
                                   "0/255, the input's size, union of the phone instances) "
                                   "and NAME_overlay.png (or NAME_splash.png).")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", metavar="PATH", help="one image file")
    src.add_argument("--dir", metavar="DIR",
                     help="a folder of images (searched recursively; png/jpg/jpeg/bmp); "
                          "images whose mask exists in --out are skipped (resume)")
    src.add_argument("--video", metavar="PATH", help="a video file (frame masks NAME_000123_mask.png)")
    s.add_argument("--out", default=".", metavar="DIR",
                   help="output folder (default: the current folder)")
    _add_common(s, None, "trained weights: last (default; coco with --coco-class), coco, "
                         "or a .h5 path")
    _add_inference(s)
    look = s.add_mutually_exclusive_group()
    look.add_argument("--splash", action="store_true",
                      help="write NAME_splash.png (grey background, phone in colour) "
                           "instead of the overlay")
    look.add_argument("--no-overlay", action="store_true", help="write the masks only")
    s.add_argument("--out-video", metavar="FILE.mp4",
                   help="with --video: also write an overlay (or --splash) video")

    # evaluate --------------------------------------------------------------
    e = sub.add_parser("evaluate", help="mask IoU and mAP against VIA ground truth",
                       description="Per-image and mean mask IoU (union of phone masks), "
                                   "AP@0.5 and AP@[0.5:0.95] on a dataset subset.")
    e.add_argument("--dataset", default=DEFAULT_DATASET_DIR, metavar="DIR",
                   help="dataset folder (default: %(default)s)")
    e.add_argument("--subset", default="val", help="sub-folder to evaluate (default: %(default)s)")
    e.add_argument("--via", metavar="FILE",
                   help="annotation file (default: SUBSET/via_region_data.json)")
    e.add_argument("--out", default=".", metavar="DIR",
                   help="where evaluation.json goes (default: the current folder)")
    e.add_argument("--json", metavar="PATH", help="JSON report path (default: OUT/evaluation.json)")
    _add_common(e, None, "trained weights: last (default; coco with --coco-class), coco, "
                         "or a .h5 path")
    _add_inference(e)

    # realtime --------------------------------------------------------------
    r = sub.add_parser("realtime", help="live phone segmentation from a camera or a video file",
                       description="Read a camera (index 0, 1, ...) or a video file, run the phone "
                                   "model on the newest frame (older frames are dropped when the "
                                   "model is slower), draw the mask overlay with FPS and latency, "
                                   "and show it in a window (q quits) or write it with --out.")
    r.add_argument("--source", default="0", metavar="CAMERA|VIDEO",
                   help="camera index or video file (default: camera %(default)s)")
    r.add_argument("--no-display", action="store_true",
                   help="no window (headless): use with --out to record the overlay video")
    r.add_argument("--out", metavar="FILE.mp4", help="also write the overlay video here")
    r.add_argument("--every-frame", action="store_true",
                   help="process every frame instead of dropping stale ones (for files)")
    r.add_argument("--max-frames", type=_positive_int, metavar="N",
                   help="stop after N processed frames")
    r.add_argument("--camera-timeout", type=_positive_float, default=5.0, metavar="S",
                   help="give up on a camera that does not answer within S seconds "
                        "(default: %(default)s)")
    _add_common(r, None, "trained weights: last (default: the newest checkpoint in --logs, "
                         "else the demo model outputs/demo/mask_rcnn_phone.h5), coco (with "
                         "--coco-class), or a .h5 path")
    r.add_argument("--score", type=_score, metavar="S",
                   help="minimum detection confidence (default: the config's)")
    r.add_argument("--coco-class", metavar="NAME",
                   help='show this class of the raw COCO model (e.g. "cell phone")')
    r.add_argument("--quiet", action="store_true", help="no status lines")

    # demo ------------------------------------------------------------------
    sub.add_parser("demo", help="end-to-end demo on the bundled data (phone.demo)",
                   description="Runs phone.demo.main(args); extra arguments are passed on "
                               "in args.argv.", add_help=True)
    return parser


# --------------------------------------------------------------- commands
def _cmd_train(args):
    from phone import train
    return train.run(args)


def _cmd_segment(args):
    from phone import segment
    return segment.run(args)


def _cmd_evaluate(args):
    from phone import evaluate
    return evaluate.run(args)


def _cmd_realtime(args):
    from phone import realtime
    return realtime.run(args)


def _demo_available():
    try:
        return importlib.util.find_spec("phone.demo") is not None
    except (ImportError, ValueError):
        return False


def _cmd_demo(args):
    if not _demo_available():
        raise CommandError("the demo is not available in this installation (phone/demo.py "
                           "is missing)")
    demo = importlib.import_module("phone.demo")
    return demo.main(args)


_COMMANDS = {"train": _cmd_train, "segment": _cmd_segment,
             "evaluate": _cmd_evaluate, "demo": _cmd_demo, "realtime": _cmd_realtime}


def _ensure_mrcnn_importable():
    """Running from a source checkout without ``pip install -e .``: put
    <repo>/Mask_RCNN on sys.path so ``import mrcnn`` works."""
    if importlib.util.find_spec("mrcnn") is None:
        candidate = os.path.join(_REPO, "Mask_RCNN")
        if os.path.isdir(os.path.join(candidate, "mrcnn")):
            sys.path.insert(0, candidate)


def _known_errors():
    """Exception types that mean bad input (exit 2, one line)."""
    from phone.errors import PhoneDataError
    from phone.weights import WeightsError
    types = [PhoneDataError, WeightsError]
    try:
        from mrcnn.weights import WeightsFileError
        types.append(WeightsFileError)
    except ImportError:
        pass
    try:
        from mrcnn.core.download import WeightsDownloadError
        types.append(WeightsDownloadError)
    except ImportError:
        pass
    return tuple(types)


def _report(prog, message):
    print(f"{prog}: error: {_one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Run the ``phone`` command. argv: list of arguments (default
    sys.argv[1:]). Returns the exit status (never raises, except with
    --debug)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and getattr(args, "command", None) != "demo":
            parser.parse_args(argv)  # reports the unknown arguments, exits 2
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.argv = extra
    debug = bool(getattr(args, "debug", False)) or os.environ.get("PHONE_DEBUG") == "1"
    prog = f"phone {args.command}"

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _ensure_mrcnn_importable()
    try:
        known = _known_errors()
        status = _COMMANDS[args.command](args)
        return EXIT_OK if status is None else int(status)
    except CommandError as e:
        if debug:
            raise
        _report(prog, e.message)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        if debug:
            raise
        if isinstance(e, known):
            _report(prog, str(e))
            return EXIT_USAGE
        if isinstance(e, MemoryError):
            _report(prog, "out of memory; try a smaller --batch-size")
            return EXIT_FAILED
        if isinstance(e, FloatingPointError):
            _report(prog, str(e))
            return EXIT_FAILED
        _report(prog, f"{type(e).__name__}: {_one_line(e, limit=300)} "
                      f"(run with --debug for the traceback)")
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
