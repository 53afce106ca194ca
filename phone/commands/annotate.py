"""``phone annotate``: pre-annotate a folder of frames as a VIA 2.x project.

    phone annotate --weights W.h5 --dir FRAMES --out FRAMES/via_project.json [--review 20]

Thin command: reads the arguments, builds the Segmenter (the weights
policy of every command: --weights as for segment, default the newest model
you trained, else the shipped one) and calls
:func:`phone.annotate.annotate_folder` with plain values. Exit status 0, or
1 when some frames could not be read (they are listed; run again to retry
them). Bad arguments raise CommandError (one line, exit 2); bad input
(weights that are not a phone model, a project of another folder) raises
PhoneDataError / WeightsError, reported in one line by ``phone.commands``.
"""
import os
import sys

from phone.commands._args import add_model_options, at_least, positive_int, score, segmenter_from_args
from phone.errors import CommandError

__all__ = ["add_parser", "run"]


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
    p.add_argument("--dir", required=True, metavar="FRAMES",
                   help="folder of frames (searched recursively; png/jpg/jpeg/bmp)")
    p.add_argument("--out", required=True, metavar="PROJECT.json",
                   help="the VIA project file to write or complete")
    p.add_argument("--base-path", metavar="PATH|URL",
                   help="VIA's default path for the frames (a folder or URL prefix); filenames "
                        "are then relative to --dir (default: relative to --out's folder)")
    p.add_argument("--min-score", type=score, default=DEFAULT_MIN_SCORE, metavar="S",
                   help="keep detections with at least this score (default: %(default)s)")
    p.add_argument("--max-vertices", type=at_least(int, 3), default=DEFAULT_MAX_VERTICES,
                   metavar="N", help="at most N vertices per polygon (default: %(default)s)")
    p.add_argument("--tolerance", type=at_least(float, 0), default=DEFAULT_TOLERANCE,
                   metavar="PX", help="polygon simplification tolerance in pixels "
                                      "(default: %(default)s)")
    p.add_argument("--review", type=at_least(int, 0), default=0, metavar="N",
                   help="also write the N frames the model is least sure about to "
                        "OUT_review.txt and a contact sheet OUT_review.png")
    p.add_argument("--checkpoint-every", type=positive_int, default=DEFAULT_CHECKPOINT_EVERY,
                   metavar="N", help="rewrite the project every N frames (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=4, metavar="N",
                   help="frames per detect() call (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_model_options(p)
    p.set_defaults(run=run)
    return p


def run(args):
    """``phone annotate``: returns the exit status (0 ok, 1 some frames failed)."""
    from phone.annotate import annotate_folder, check_output
    if not os.path.isdir(args.dir):
        raise CommandError(f"{args.dir}: no such folder (--dir)")
    if os.path.isdir(args.out):
        raise CommandError(f"{args.out}: is a folder; --out must be a .json file")
    if not args.out.lower().endswith(".json"):
        raise CommandError(f"{args.out}: --out must be a .json file (VIA project)")
    check_output(args.dir, args.out, args.base_path)   # bad project: fail before the model build
    seg, path, _ = segmenter_from_args(args, args.batch_size, score=args.min_score)
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
