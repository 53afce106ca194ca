"""COCO-style mask AP through ``pycocotools.cocoeval.COCOeval``.

The number users compare with detectron2 and torchvision: AP averaged over
IoU thresholds 0.50:0.05:0.95 and 101 recall points, plus AP50, AP75, the
small / medium / large breakdown and average recall, computed on instance
masks (``iouType="segm"``). Ground truth and detections are held in memory
(no JSON files); masks are run-length encoded with ``pycocotools.mask``.

Usage (one call per image, then summarize)::

    ev = CocoMaskEvaluator()
    for image_id in dataset.image_ids:
        gt_masks, gt_class_ids = dataset.load_mask(image_id)   # [H, W, N], [N]
        r = model.detect([dataset.load_image(image_id)])[0]     # masks [H, W, M], scores, class_ids
        ev.add(gt_masks, gt_class_ids, r)
    stats = ev.summarize()    # {"ap": .., "ap50": .., "ap75": .., ..., "ar100": ..}

or ``coco_mask_ap(gt_masks_list, det_masks_list, det_scores_list)``.

A metric is None where COCOeval has nothing to average (it reports -1),
e.g. AP of a set with no ground-truth instance.
"""
import contextlib
import io

import numpy as np

__all__ = ["CocoMaskEvaluator", "coco_mask_ap", "STAT_NAMES"]

#: names of COCOeval.stats, in its order
STAT_NAMES = ("ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large",
              "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large")


def _rle(mask):
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return rle


def _as_stack(masks, height=None, width=None):
    """[H, W, N] bool from an [H, W, N] array, an [H, W] array or a list of [H, W]."""
    if isinstance(masks, (list, tuple)):
        if not masks:
            return np.zeros((height or 0, width or 0, 0), bool)
        masks = np.stack([np.asarray(m) for m in masks], axis=-1)
    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[..., None]
    if masks.ndim != 3:
        raise ValueError(f"masks must be [H, W, N], got shape {masks.shape}")
    return masks.astype(bool)


class CocoMaskEvaluator:
    """Collects ground truth and detections image by image; ``summarize()``
    runs COCOeval (segm) over all of them.

    max_dets: COCOeval's maxDets (AP uses the last one).
    """

    def __init__(self, max_dets=(1, 10, 100)):
        self.max_dets = [int(m) for m in max_dets]
        self.images, self.gt, self.dets = [], [], []
        self.categories = set()

    def add(self, gt_masks, gt_class_ids, result, image_id=None):
        """One image.

        gt_masks: bool [H, W, N]; gt_class_ids: int [N] (> 0).
        result: detect()-style dict with masks [H, W, M], scores [M] and
            optionally class_ids [M] (default: all 1).
        Returns the image id used.
        """
        gt = _as_stack(gt_masks)
        h, w = gt.shape[:2]
        det = _as_stack(result["masks"], h, w)
        scores = np.asarray(result["scores"], dtype=np.float64).reshape(-1)
        class_ids = result.get("class_ids")
        class_ids = (np.ones(len(scores), int) if class_ids is None
                     else np.asarray(class_ids).reshape(-1).astype(int))
        gt_class_ids = np.asarray(gt_class_ids).reshape(-1).astype(int)
        if det.shape[2] != len(scores) or len(class_ids) != len(scores):
            raise ValueError(f"detections: {det.shape[2]} masks, {len(scores)} scores, "
                             f"{len(class_ids)} class ids")
        if gt.shape[2] != len(gt_class_ids):
            raise ValueError(f"ground truth: {gt.shape[2]} masks, {len(gt_class_ids)} class ids")
        if det.shape[2] and det.shape[:2] != (h, w):
            raise ValueError(f"detection masks {det.shape[:2]} differ from ground truth {(h, w)}")
        image_id = len(self.images) + 1 if image_id is None else int(image_id)
        self.images.append({"id": image_id, "height": int(h), "width": int(w)})
        from pycocotools import mask as mask_utils
        for k in range(gt.shape[2]):
            rle = _rle(gt[..., k])
            self.gt.append({"id": len(self.gt) + 1, "image_id": image_id,
                            "category_id": int(gt_class_ids[k]), "segmentation": rle,
                            "area": float(mask_utils.area(rle)),
                            "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                            "iscrowd": 0})
            self.categories.add(int(gt_class_ids[k]))
        for k in range(det.shape[2]):
            self.dets.append({"image_id": image_id, "category_id": int(class_ids[k]),
                              "segmentation": _rle(det[..., k]), "score": float(scores[k])})
            self.categories.add(int(class_ids[k]))
        return image_id

    def summarize(self):
        """Runs COCOeval; returns {name: value or None} for STAT_NAMES plus
        num_images, num_gt, num_detections. COCOeval's printed table is
        swallowed."""
        out = {name: None for name in STAT_NAMES}
        out.update(num_images=len(self.images), num_gt=len(self.gt), num_detections=len(self.dets))
        if not self.gt:
            return out
        if not self.dets:   # COCO.loadRes cannot take an empty list; nothing found
            out.update({name: 0.0 for name in STAT_NAMES if name in
                        ("ap", "ap50", "ap75", "ar1", "ar10", "ar100")})
            return out
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = {"images": list(self.images), "annotations": list(self.gt),
                               "categories": [{"id": c, "name": str(c)} for c in sorted(self.categories)]}
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes([dict(d) for d in self.dets])
            ev = COCOeval(coco_gt, coco_dt, iouType="segm")
            ev.params.maxDets = list(self.max_dets)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        for name, value in zip(STAT_NAMES, ev.stats):
            out[name] = None if value < 0 else float(value)
        return out


def coco_mask_ap(gt_masks, det_masks, det_scores, gt_class_ids=None, det_class_ids=None):
    """COCO mask AP over a list of images.

    gt_masks: list (one per image) of bool [H, W, N]; det_masks: list of
    bool [H, W, M]; det_scores: list of [M]; class ids default to 1.
    Returns CocoMaskEvaluator.summarize()'s dict.
    """
    if not len(gt_masks) == len(det_masks) == len(det_scores):
        raise ValueError(f"{len(gt_masks)} ground-truth images, {len(det_masks)} detection "
                         f"masks, {len(det_scores)} score lists")
    ev = CocoMaskEvaluator()
    for i, (g, d, s) in enumerate(zip(gt_masks, det_masks, det_scores)):
        g = _as_stack(g)
        gids = np.ones(g.shape[2], int) if gt_class_ids is None else gt_class_ids[i]
        r = {"masks": d, "scores": s}
        if det_class_ids is not None:
            r["class_ids"] = det_class_ids[i]
        ev.add(g, gids, r)
    return ev.summarize()
