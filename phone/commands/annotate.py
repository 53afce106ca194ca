"""``phone annotate``: pre-annotate a folder of frames as a VIA 2.x project.

    phone annotate --weights W.h5 --dir FRAMES --out FRAMES/via_project.json [--review 20]

Thin command: reads the arguments, builds the Segmenter and calls
:func:`phone.annotate.annotate_folder` with plain values. Exit status 0, or
1 when some frames could not be read (they are listed; run again to retry
them). Bad arguments raise CommandError (one line, exit 2); bad input
(weights that are not a phone model, a project of another folder) raises
PhoneDataError / WeightsError, reported in one line by ``phone.cli``.
"""
import argparse
import os
import sys

__all__ = ["add_parser", "run", "build_segmenter"]


def _command_error():
    try:
        from phone.errors import CommandError
    except ImportError:   # before the lead moves it to phone/errors.py
        from phone.cli import CommandError
    return CommandError


def _score(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid score {text!r}: expected a number in [0, 1]")
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"score {v} outside [0, 1]")
    return v


def _int_at_least(low):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {text!r}")
        if v < low:
            raise argparse.ArgumentTypeError(f"{v} must be >= {low}")
        return v
    return parse


def _non_negative_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}")
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"{v} must be >= 0")
    return v


def add_parser(subparsers):
    """Add the ``annotate`` sub-command to an argparse subparsers object."""
    from phone.annotate import (DEFAULT_CHECKPOINT_EVERY, DEFAULT_MAX_VERTICES,
                                DEFAULT_MIN_SCORE, DEFAULT_TOLERANCE)
    p = subparsers.add_parser(
        "annotate", help="pre-annotate frames with the model as a VIA 2.x project to correct",
        description="Run the model on every frame of --dir and write a VGG Image Annotator "
                    "(VIA 2.x) project: one polygon per detected phone, with its score and the "
                    "model's name as region attributes. Open it in VIA, correct it, and train "
                    "on it. Frames already in --out are skipped (resume); the project is "
                    "rewritten atomically as the run goes.")
    p.add_argument("--weights", required=True, metavar="PATH.h5",
                   help="trained phone model weights (.h5)")
    p.add_argument("--dir", required=True, metavar="FRAMES",
                   help="folder of frames (searched recursively; png/jpg/jpeg/bmp)")
    p.add_argument("--out", required=True, metavar="PROJECT.json",
                   help="the VIA project file to write or complete")
    p.add_argument("--base-path", metavar="PATH|URL",
                   help="VIA's default path for the frames (a folder or URL prefix); filenames "
                        "are then relative to --dir (default: relative to --out's folder)")
    p.add_argument("--min-score", type=_score, default=DEFAULT_MIN_SCORE, metavar="S",
                   help="keep detections with at least this score (default: %(default)s)")
    p.add_argument("--max-vertices", type=_int_at_least(3), default=DEFAULT_MAX_VERTICES,
                   metavar="N", help="at most N vertices per polygon (default: %(default)s)")
    p.add_argument("--tolerance", type=_non_negative_float, default=DEFAULT_TOLERANCE,
                   metavar="PX", help="polygon simplification tolerance in pixels "
                                      "(default: %(default)s)")
    p.add_argument("--review", type=_int_at_least(0), default=0, metavar="N",
                   help="also write the N frames the model is least sure about to "
                        "OUT_review.txt and a contact sheet OUT_review.png")
    p.add_argument("--checkpoint-every", type=_int_at_least(1), default=DEFAULT_CHECKPOINT_EVERY,
                   metavar="N", help="rewrite the project every N frames (default: %(default)s)")
    p.add_argument("--config", metavar="MODULE:CLASS",
                   help="the model's inference Config (default: phone.config:PhoneInferenceConfig; "
                        "the from-scratch demo model: phone.config:PhoneScratchInferenceConfig)")
    p.add_argument("--batch-size", type=_int_at_least(1), default=4, metavar="N",
                   help="frames per detect() call (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the Python traceback on errors")
    return p


def build_segmenter(weights, config_spec=None, min_score=None, batch_size=1, quiet=False):
    """(Segmenter, weights path) for a .h5 phone model, from plain values.

    The file is checked (exists, Keras weights, a head of the config's class
    count) before the model is built; a file that does not fill every layer
    of the model raises WeightsError (one line).
    """
    from phone.cli import derive_config, load_config_class
    from phone.segment import Segmenter, check_weights_for_config
    from phone.weights import resolve_weights
    if config_spec:
        cls = load_config_class(config_spec)
    else:
        from phone.config import PhoneInferenceConfig
        cls = PhoneInferenceConfig
    overrides = {"GPU_COUNT": 1, "IMAGES_PER_GPU": int(batch_size)}
    if min_score is not None:
        overrides["DETECTION_MIN_CONFIDENCE"] = float(min_score)
    config = derive_config(cls(), **overrides)
    path, _kind = resolve_weights(weights, download=False, verbose=0)
    check_weights_for_config(path, config)
    if not quiet:
        print(f"Weights: {path}", file=sys.stderr)
    from mrcnn.weights import WeightsFileError
    from phone.weights import WeightsError
    try:
        return Segmenter(config=config, weights=path, score=min_score), path
    except WeightsFileError as e:
        detail = str(e).split("; to fine-tune")[0]
        detail = detail[len(path) + 2:] if detail.startswith(path + ": ") else detail
        raise WeightsError(f"{path}: not a phone model for {type(config).__name__} (BACKBONE "
                           f"{config.BACKBONE if isinstance(config.BACKBONE, str) else type(config.BACKBONE).__name__}"
                           f"): {detail}; pass the --config it was trained with (e.g. "
                           f"phone.config:PhoneScratchInferenceConfig)") from None


def run(args):
    """``phone annotate``: returns the exit status (0 ok, 1 some frames failed)."""
    CommandError = _command_error()
    from phone.annotate import annotate_folder
    if not os.path.isdir(args.dir):
        raise CommandError(f"{args.dir}: no such folder (--dir)")
    if os.path.isdir(args.out):
        raise CommandError(f"{args.out}: is a folder; --out must be a .json file")
    if not args.out.lower().endswith(".json"):
        raise CommandError(f"{args.out}: --out must be a .json file (VIA project)")
    from phone.annotate import check_output
    check_output(args.dir, args.out, args.base_path)   # bad project: fail before the model build
    seg, path = build_segmenter(args.weights, args.config, args.min_score,
                                args.batch_size, args.quiet)
    try:
        summary = annotate_folder(
            seg, args.dir, args.out, base_path=args.base_path, min_score=args.min_score,
            max_vertices=args.max_vertices, tolerance=args.tolerance, review=args.review,
            model_name=os.path.basename(path), checkpoint_every=args.checkpoint_every,
            quiet=args.quiet)
    except KeyboardInterrupt:
        print(f"Interrupted: {args.out} holds every frame finished so far; run the same "
              f"command again to resume", file=sys.stderr)
        raise
    print(f"Done: {summary.line()}; project {args.out}")
    if summary.review_files:
        print(f"Review first: {summary.review_files[0]} (contact sheet {summary.review_files[1]})")
    if summary.failed:
        print(f"{len(summary.failed)} frame(s) could not be read (not added; run again to "
              f"retry):", file=sys.stderr)
        for _, msg in summary.failed[:20]:
            print(f"  {msg}", file=sys.stderr)
        if len(summary.failed) > 20:
            print(f"  ... and {len(summary.failed) - 20} more", file=sys.stderr)
        return 1
    return 0
