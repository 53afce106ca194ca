"""``phone evaluate``: mask IoU and AP against VIA ground truth
(library: phone.evaluate)."""
import os

from phone.commands._args import add_inference_options, add_model_options, segmenter_from_args
from phone.errors import CommandError

__all__ = ["add_parser", "run"]


def add_parser(sub):
    import phone.paths as paths
    e = sub.add_parser("evaluate", help="mask IoU and mAP against VIA ground truth",
                       description="Per-image and mean mask IoU (union of phone masks), "
                                   "AP@0.5 and AP@[0.5:0.95] on a dataset subset.")
    e.add_argument("--dataset", default=paths.bundled_dataset_dir(), metavar="DIR",
                   help="dataset folder (default: %(default)s)")
    e.add_argument("--subset", default="val", help="sub-folder to evaluate (default: %(default)s)")
    e.add_argument("--via", metavar="FILE",
                   help="annotation file (default: SUBSET/via_region_data.json)")
    e.add_argument("--out", default=".", metavar="DIR",
                   help="where evaluation.json goes (default: the current folder)")
    e.add_argument("--json", metavar="PATH", help="JSON report path (default: OUT/evaluation.json)")
    add_model_options(e)
    add_inference_options(e)
    e.set_defaults(run=run)
    return e


def run(args):
    from phone.evaluate import evaluation_report, format_table, load_eval_dataset, write_json
    dataset = load_eval_dataset(args.dataset, args.subset, via_file=args.via)
    json_path = args.json or os.path.join(args.out, "evaluation.json")
    if os.path.isdir(json_path):
        raise CommandError(f"{json_path}: --json is a folder")
    seg, weights_path, class_map = segmenter_from_args(args, args.batch_size or 1)
    report = evaluation_report(seg, dataset, weights_path, args.dataset, args.subset,
                               class_map=class_map, coco_class=args.coco_class, quiet=args.quiet)
    print(format_table(report))
    write_json(report, json_path)
    print(f"Wrote {json_path}")
    return 0
