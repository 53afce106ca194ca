"""Option types and option groups shared by the command modules."""
import argparse

__all__ = ["score", "at_least", "positive_int", "positive_float", "add_model_options",
           "add_inference_options", "segmenter_from_args", "LAYER_CHOICES", "PRECISION_CHOICES", "WEIGHTS_METAVAR"]

LAYER_CHOICES = ("heads", "3+", "4+", "5+", "all")
PRECISION_CHOICES = ("float32", "auto", "mixed_bfloat16", "mixed_float16")
WEIGHTS_METAVAR = "PATH|last|coco|shipped|imagenet"

_DEFAULT_MODEL_HELP = ("the model file: a .h5 path, last (newest checkpoint in --logs), shipped "
                       "(the model that comes with phone) or coco (with --coco-class); default: "
                       "the newest model you trained (--logs or make demo), else the shipped one")


def score(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid score {text!r}: expected a number in [0, 1]")
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"score {v} outside [0, 1]")
    return v


def at_least(cast, low, strict=False):
    """An argparse type: ``cast(text)`` (int or float) that is >= low (> low
    with ``strict``), else a one-line usage error."""
    what = "integer" if cast is int else "number"

    def parse(text):
        try:
            v = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}")
        if v < low or (strict and v == low):
            raise argparse.ArgumentTypeError(f"{v} must be {'>' if strict else '>='} {low:g}")
        return v
    return parse


positive_int = at_least(int, 1)
positive_float = at_least(float, 0, strict=True)


def add_model_options(p, weights_default=None, weights_help=_DEFAULT_MODEL_HELP):
    """--weights, --logs, --config, --image-size, --precision, --debug."""
    import phone.paths as paths
    p.add_argument("--weights", default=weights_default, metavar=WEIGHTS_METAVAR,
                   help=weights_help)
    p.add_argument("--logs", default=paths.default_logs_dir(), metavar="DIR",
                   help="logs and checkpoints folder (default: %(default)s)")
    p.add_argument("--config", metavar="MODULE:CLASS",
                   help="use this mrcnn Config subclass instead of the configuration stored in "
                        "(or read from) the weights file (e.g. myconf.py:MyConfig)")
    p.add_argument("--image-size", type=positive_int, metavar="N",
                   help="frame side the config is made for (e.g. 350 for the full-size "
                        "CORe50 release; default: the config's, 128)")
    p.add_argument("--precision", choices=PRECISION_CHOICES,
                   help="Config.MIXED_PRECISION: auto = mixed_float16 on a GPU; on a CPU the "
                        "faster of float32 and mixed_bfloat16, measured once per machine "
                        "(default: the config's)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the Python traceback on errors")


def add_filter_options(p):
    """--score, --coco-class: which detections count (every command that
    builds a segmenter)."""
    p.add_argument("--score", type=score, metavar="S",
                   help="minimum detection confidence (default: the config's "
                        "DETECTION_MIN_CONFIDENCE)")
    p.add_argument("--coco-class", metavar="NAME",
                   help='segment this class with the raw COCO model, no fine-tuning '
                        '(e.g. "cell phone"); --weights defaults to coco')


def add_inference_options(p, batch=True):
    """--score, --coco-class, --one-phone, --batch-size, --quiet."""
    add_filter_options(p)
    p.add_argument("--one-phone", action="store_true",
                   help="keep only the highest-scoring detection of each frame (one phone per "
                        "frame, as in CORe50); default: every detection above --score")
    if batch:
        p.add_argument("--batch-size", type=positive_int, metavar="N",
                       help="images per detect() call (default: 1 for --image, 4 otherwise)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def segmenter_from_args(args, batch_size, score=None):
    """phone.model.build_segmenter (a phone.PhoneModel and its segmenter)
    with the model options of ``args``: the one place the commands read them.
    ``score``: the threshold when the command's option has another name
    (annotate's --min-score). Returns (segmenter, path, class_map)."""
    from phone.model import build_segmenter
    return build_segmenter(weights=args.weights, config_spec=args.config,
                           coco_class=getattr(args, "coco_class", None), logs_dir=args.logs,
                           image_size=args.image_size, batch_size=batch_size,
                           score=score if score is not None else getattr(args, "score", None),
                           precision=args.precision,
                           say=None if not getattr(args, "quiet", False) else (lambda m: None),
                           one_per_frame=getattr(args, "one_phone", False))
