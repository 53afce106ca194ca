"""The ``phone`` command line: thin command modules over the phone library.

Each ``phone/commands/<name>.py`` has ``add_parser(subparsers)`` (its
options) and ``run(args) -> exit status`` (reads the options and calls
library functions with plain values). Nothing below this package sees an
argparse Namespace.

Three ways to run it, all the same parser::

    cd phone && python phone.py train --dataset=../datasets/phone --weights=coco
    python -m phone segment --dir=frames/ --out=masks/
    phone evaluate --weights=logs/phone20250101T1200/mask_rcnn_phone_0030.h5

Exit status: 0 success; 1 some inputs failed (reported, the rest processed)
or the run failed; 2 bad arguments or unusable input (missing weights,
dataset, image...); 130 interrupted. Errors are one line on stderr naming the
file and the problem; ``--debug`` shows the Python traceback instead.

Importing this package is cheap (no TensorFlow): ``--help`` is instant and
the commands import the model code only when they run.
"""
import argparse
import os
import sys

from phone import __version__
from phone.commands import annotate, demo, evaluate, export, realtime, segment, serve, train
from phone.errors import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError,
                          one_line)

__all__ = ["main", "build_parser", "COMMANDS"]

#: the command modules, in the order --help lists them
COMMANDS = (train, segment, evaluate, realtime, demo, export, annotate, serve)


def build_parser():
    """The argparse parser of the ``phone`` command."""
    parser = argparse.ArgumentParser(
        prog="phone",
        description="Segment the mobile phone in CORe50 frames with Mask R-CNN "
                    "(RGB frame in, black/white mask out).",
        epilog="Examples:\n"
               "  phone segment --image=frame.png --out=masks   (the newest model you trained,\n"
               "                                                  else the shipped one)\n"
               "  phone train --dataset=datasets/phone --weights=coco\n"
               "  phone segment --weights=last --dir=core50_128x128 --out=masks\n"
               "  phone segment --coco-class 'cell phone' --image=frame.png\n"
               "  phone evaluate --dataset=datasets/phone --subset=val\n"
               "  phone realtime --source 0\n"
               "  phone realtime --source clip.mp4 --no-display --out out.mp4\n"
               "  phone serve                                    (the model in your browser)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback on errors")
    parser.add_argument("--version", action="version", version=f"phone {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def _known_errors():
    """Exception types that mean bad input (exit 2, one line)."""
    from phone.errors import PhoneDataError, WeightsError
    types = [PhoneDataError, WeightsError]
    try:
        from mrcnn.core.download import DownloadError
        from mrcnn.weights import WeightsFileError
        types += [WeightsFileError, DownloadError]
    except ImportError:  # mrcnn missing: reported by the command itself
        pass
    return tuple(types)


def _report(prog, message):
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Run the ``phone`` command. argv: list of arguments (default
    sys.argv[1:]). Returns the exit status (never raises, except with
    --debug)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False)) or os.environ.get("PHONE_DEBUG") == "1"
    prog = f"phone {args.command}"

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        known = _known_errors()
        status = args.run(args)
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
        _report(prog, f"{type(e).__name__}: {one_line(e, limit=300)} "
                      f"(run with --debug for the traceback)")
        return EXIT_FAILED
