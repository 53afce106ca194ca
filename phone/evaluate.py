"""Evaluate a phone segmenter against VIA ground truth.

Per image:
    mask_iou   IoU of the union of the predicted phone masks with the union of
               the ground-truth masks (1.0 when both are empty)
    ap50       VOC-style AP at mask IoU 0.5 (mrcnn.utils.compute_ap)
    ap50_95    mean AP over IoU 0.5:0.05:0.95 (mrcnn.utils.compute_ap_range)
AP is undefined (None) for an image without ground truth; the means skip it.
Over the whole set, COCO-style mask AP (pycocotools COCOeval, iouType "segm":
AP@[.5:.95], AP50, AP75; phone.cocoeval), the number users compare with
detectron2 and torchvision, beside Matterport's compute_ap means.

Report (JSON)::

    {"dataset": ..., "subset": ..., "weights": ..., "num_images": N,
     "images": [{"image", "path", "gt_instances", "pred_instances",
                 "mask_iou", "ap50", "ap50_95"}, ...],
     "mean": {"mask_iou", "map50", "map50_95"},
     "coco": {"mask_ap", "mask_ap50", "mask_ap75"}}
"""
import os
import sys

import numpy as np

from phone.errors import CommandError
from phone.imageio import write_json_atomic

__all__ = ["evaluate_image", "evaluate_dataset", "format_table", "write_json",
           "load_eval_dataset", "evaluation_report"]


def _f(x):
    return None if x is None else float(x)


def evaluate_image(gt_masks, gt_class_ids, result, class_map=None, bw=None):
    """Metrics of one image.

    gt_masks: [H, W, G] bool; gt_class_ids: [G] int (ids <= 0, e.g. COCO
        crowd regions, are ignored).
    result: detect() dict (rois [N, 4], class_ids [N], scores [N], masks [H, W, N]),
        already filtered to the phone detections.
    class_map: {predicted class id: dataset class id} (e.g. {68: 1} for the
        raw COCO model); ids not in it are kept as they are.
    bw: the predicted union mask [H, W] (default: union of result masks).
    Returns dict(gt_instances, pred_instances, mask_iou, ap50, ap50_95).
    """
    from mrcnn import utils
    gt_masks = np.asarray(gt_masks).astype(bool)
    gt_class_ids = np.asarray(gt_class_ids).reshape(-1)
    keep = gt_class_ids > 0
    gt_masks, gt_class_ids = gt_masks[:, :, keep], gt_class_ids[keep].astype(np.int32)
    h, w = gt_masks.shape[:2]

    pred_masks = np.asarray(result["masks"]).astype(bool)
    if pred_masks.ndim != 3 or pred_masks.shape[2] == 0:
        pred_masks = np.zeros((h, w, 0), bool)
    if pred_masks.shape[:2] != (h, w):
        raise ValueError(f"predicted masks are {pred_masks.shape[0]}x{pred_masks.shape[1]} but "
                         f"the ground truth is {h}x{w}")
    pred_ids = np.asarray(result["class_ids"]).reshape(-1).astype(np.int32)
    if class_map:
        pred_ids = np.array([class_map.get(int(c), int(c)) for c in pred_ids], np.int32)
    pred_scores = np.asarray(result["scores"]).reshape(-1).astype(np.float32)
    pred_boxes = np.asarray(result["rois"]).reshape(-1, 4)

    gt_union = gt_masks.any(axis=2)
    pred_union = (np.asarray(bw) > 0) if bw is not None else pred_masks.any(axis=2)
    iou = utils.mask_iou(pred_union, gt_union)

    if gt_class_ids.shape[0] == 0:
        ap50 = ap50_95 = None
    elif pred_ids.shape[0] == 0:
        ap50 = ap50_95 = 0.0
    else:
        gt_boxes = utils.extract_bboxes(gt_masks)
        ap50, _, _, _ = utils.compute_ap(gt_boxes, gt_class_ids, gt_masks, pred_boxes,
                                         pred_ids, pred_scores, pred_masks, iou_threshold=0.5)
        ap50_95 = utils.compute_ap_range(gt_boxes, gt_class_ids, gt_masks, pred_boxes,
                                         pred_ids, pred_scores, pred_masks, verbose=0)
    return {"gt_instances": int(gt_class_ids.shape[0]), "pred_instances": int(pred_ids.shape[0]),
            "mask_iou": float(iou), "ap50": _f(ap50), "ap50_95": _f(ap50_95)}


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def evaluate_dataset(segmenter, dataset, class_map=None, quiet=True):
    """Run the segmenter over every image of a prepared dataset.

    segmenter: phone.segment.Segmenter (batches to its BATCH_SIZE).
    dataset: prepared mrcnn.utils.Dataset (e.g. PhoneDataset).
    Returns the report dict (see module docstring) without the run details.
    """
    from tqdm import tqdm

    from phone.cocoeval import CocoMaskEvaluator
    ids = list(dataset.image_ids)
    rows = []
    coco = CocoMaskEvaluator()
    bs = max(1, int(segmenter.batch_size))
    with tqdm(total=len(ids), unit="img", disable=quiet, file=sys.stderr) as bar:
        for start in range(0, len(ids), bs):
            chunk = ids[start:start + bs]
            images = [dataset.load_image(i) for i in chunk]
            for image_id, image, (bw, r) in zip(chunk, images, segmenter.segment_images(images)):
                gt_masks, gt_ids = dataset.load_mask(image_id)
                row = {"image": os.path.basename(str(dataset.image_reference(image_id))),
                       "path": str(dataset.image_reference(image_id))}
                row.update(evaluate_image(gt_masks, gt_ids, r, class_map=class_map, bw=bw))
                rows.append(row)
                keep = np.asarray(gt_ids).reshape(-1) > 0          # crowd regions aside
                ids_pred = np.asarray(r["class_ids"]).reshape(-1)
                if class_map:
                    ids_pred = np.array([class_map.get(int(c), int(c)) for c in ids_pred])
                coco.add(np.asarray(gt_masks)[:, :, keep], np.asarray(gt_ids).reshape(-1)[keep],
                         dict(r, class_ids=ids_pred))
                bar.update(1)
    stats = coco.summarize()
    return {"num_images": len(rows), "images": rows,
            "mean": {"mask_iou": _mean(r["mask_iou"] for r in rows),
                     "map50": _mean(r["ap50"] for r in rows),
                     "map50_95": _mean(r["ap50_95"] for r in rows)},
            "coco": {"mask_ap": stats["ap"], "mask_ap50": stats["ap50"],
                     "mask_ap75": stats["ap75"]}}


def _fmt(v, width):
    return ("-" if v is None else f"{v:.3f}").rjust(width)


def format_table(report):
    """The report as a text table: one row per image and a mean row."""
    rows = report["images"]
    name_w = max([len("image")] + [len(r["image"]) for r in rows] + [len("mean")])
    head = (f"{'image'.ljust(name_w)}  {'gt':>3}  {'pred':>4}  {'mask IoU':>8}  "
            f"{'AP@0.5':>7}  {'AP@[.5:.95]':>11}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['image'].ljust(name_w)}  {r['gt_instances']:>3}  {r['pred_instances']:>4}  "
                     f"{_fmt(r['mask_iou'], 8)}  {_fmt(r['ap50'], 7)}  {_fmt(r['ap50_95'], 11)}")
    m = report["mean"]
    lines.append("-" * len(head))
    lines.append(f"{'mean'.ljust(name_w)}  {'':>3}  {'':>4}  {_fmt(m['mask_iou'], 8)}  "
                 f"{_fmt(m['map50'], 7)}  {_fmt(m['map50_95'], 11)}")
    c = report.get("coco")
    if c:
        lines.append(f"COCO mask AP (pycocotools, segm): AP {_fmt(c['mask_ap'], 5).strip()}  "
                     f"AP50 {_fmt(c['mask_ap50'], 5).strip()}  AP75 {_fmt(c['mask_ap75'], 5).strip()}")
    return "\n".join(lines)


def write_json(report, path):
    """Write the report as JSON, atomically. Returns the path."""
    return write_json_atomic(path, report)


def load_eval_dataset(dataset_dir, subset="val", via_file=None):
    """The prepared PhoneDataset to evaluate on: dataset_dir/subset with its
    via_region_data.json (or ``via_file``). Raises CommandError /
    PhoneDataError naming the folder or file."""
    from phone.dataset import PhoneDataset
    if not os.path.isdir(dataset_dir):
        raise CommandError(f"{dataset_dir}: no such dataset folder (--dataset)")
    dataset = PhoneDataset()
    dataset.load_phone(dataset_dir, subset, via_file=via_file)
    dataset.prepare()
    if dataset.num_images == 0:
        raise CommandError(f"{os.path.join(dataset_dir, subset or '')}: no annotated images "
                           f"to evaluate")
    return dataset


def evaluation_report(segmenter, dataset, weights_path, dataset_dir, subset, class_map=None,
                      coco_class=None, quiet=True):
    """evaluate_dataset plus what was evaluated (dataset, weights, config,
    score threshold): the report ``phone evaluate`` prints and writes."""
    report = evaluate_dataset(segmenter, dataset, class_map=class_map, quiet=quiet)
    full = {"dataset": os.path.abspath(dataset_dir), "subset": subset,
            "weights": weights_path, "config": type(segmenter.config).__name__,
            "score_threshold": _f(segmenter.score if segmenter.score is not None
                                  else segmenter.config.DETECTION_MIN_CONFIDENCE),
            "coco_class": coco_class}
    full.update(report)
    return full
