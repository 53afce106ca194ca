"""``phone export``: write a deployable SavedModel / TFLite / ONNX file of a
phone segmenter, verified against ``phone segment`` before it is renamed
into place; ``--verify`` re-checks an existing export on your own frames.

    phone export --weights W.h5 --format onnx --out phone.onnx
    phone export --weights coco.h5 --coco-class "cell phone" --format saved_model --out phone_sm
    phone export --verify phone.onnx --weights W.h5 --verify-images a.png b.png
"""
import os
import sys

from phone.commands._args import add_filter_options, add_model_options, segmenter_from_args
from phone.errors import CommandError
from phone.export import FORMATS

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Adds the ``export`` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "export", help="export a segmenter as SavedModel, TFLite or ONNX (image in, mask out)",
        description="Export the whole segmenter (resize, network, mask pasting) as one graph: "
                    "input image uint8 [H, W, 3], outputs mask uint8 [H, W] (0/255), boxes, "
                    "scores, class_ids, instance_masks. The export is verified against "
                    "'phone segment' on the verification frames before it is written.")
    add_model_options(p)
    add_filter_options(p)
    p.add_argument("--format", choices=tuple(FORMATS),
                   help="; ".join(f"{name}: {f.summary}" for name, f in FORMATS.items())
                   + " (default: from --out's suffix)")
    p.add_argument("--out", metavar="PATH", help="where to write the export")
    p.add_argument("--input-size", metavar="N|HxW",
                   help="TFLite input size (default: the config's IMAGE_MIN_DIM, square)")
    p.add_argument("--verify-images", nargs="+", metavar="IMAGE",
                   help="frames to verify on (default: the bundled CORe50 frames + 4 synthetic)")
    p.add_argument("--min-iou", type=float, default=0.99, metavar="IOU",
                   help="smallest mask IoU with 'phone segment' that passes (default 0.99)")
    p.add_argument("--verify", metavar="EXPORT",
                   help="do not export: compare an existing export (folder, .tflite, .onnx) "
                        "with --weights on --verify-images and print the IoU of each frame")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(run=run)
    return p


def _parse_size(text):
    parts = str(text).lower().split("x")
    try:
        values = [int(v) for v in parts]
    except ValueError:
        values = []
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise CommandError(f"--input-size {text!r}: expected N or HxW (positive integers)")
    return tuple(values)


def _read_images(paths):
    from phone.imageio import read_image
    out = []
    for path in paths:
        if not os.path.isfile(path):
            raise CommandError(f"{path}: no such image file (--verify-images)")
        out.append((path, read_image(path)))   # bad file: ImageReadError, one line
    return out


def _print_frames(verification, stream):
    for f in verification["frames"]:
        print(f"  {f['name']}: mask IoU {f['iou']:.4f}, {f['instances']} instance(s) "
              f"(phone segment: {f['reference_instances']})", file=stream)


def run(args):
    """``phone export``: 0 when the export is written (or, with --verify,
    matches), 1 when it does not match ``phone segment``."""
    import phone.export as ex
    if args.verify:
        if not os.path.exists(args.verify):
            raise CommandError(f"{args.verify}: no such export (--verify)")
        try:
            ex.detect_format(args.verify)
        except ex.ExportError as e:
            raise CommandError(str(e)) from None
    else:
        if not args.out:
            raise CommandError("--out is required (or --verify EXPORT)")
        fmt = args.format or ex.format_for_path(args.out)
        try:
            ex.check_destination(fmt, args.out)
        except ex.ExportError as e:
            raise CommandError(str(e)) from None
    size = _parse_size(args.input_size) if args.input_size else None
    images = _read_images(args.verify_images) if args.verify_images else None
    seg, _, _ = segmenter_from_args(args, 1)
    if images is None:
        images = ex.default_verify_images(seg.config)

    if args.verify:
        try:
            report = ex.verify_export(args.verify, seg, images, min_iou=args.min_iou)
        except ex.ExportError as e:
            raise CommandError(str(e), 1) from None
        _print_frames(report, sys.stdout)
        print(f"{args.verify}: {'matches' if report['ok'] else 'DOES NOT match'} "
              f"phone segment (lowest mask IoU {report['min_iou']:.4f})")
        _write_json(args.json, report)
        return 0 if report["ok"] else 1

    try:
        report = ex.export_model(seg, fmt, args.out, input_size=size, verify_images=images,
                                 min_iou=args.min_iou, quiet=args.quiet)
    except ex.ExportError as e:
        raise CommandError(str(e), 1) from None
    if not args.quiet:
        _print_frames(report["verification"], sys.stderr)
    shape = "x".join(name if v is None else str(v) for name, v in zip("HW", report["input_shape"][:2]))
    extra = ""
    if fmt == "tflite":
        ops = report.get("select_tf_ops") or []
        extra = f"; Select TF ops: {', '.join(ops) if ops else 'none'}"
    print(f"{args.out}: {fmt}, {report['bytes'] / 1e6:.1f} MB, input uint8 [{shape}x3]{extra}; "
          f"verified on {len(report['verification']['frames'])} frames (lowest mask IoU "
          f"{report['verification']['min_iou']:.4f})")
    _write_json(args.json, report)
    return 0


def _write_json(path, report):
    if path:
        from phone.imageio import write_json_atomic
        write_json_atomic(path, report)
