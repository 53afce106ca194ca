"""Per-image detection metrics (VOC-style AP, matched by mask IoU).

Shapes:
    gt_boxes    [num_gt, (y1, x1, y2, x2)]    (all-zero rows = padding)
    gt_class_ids [num_gt] int
    gt_masks    [height, width, num_gt] bool
    pred_boxes  [num_pred, (y1, x1, y2, x2)]
    pred_class_ids [num_pred], pred_scores [num_pred]
    pred_masks  [height, width, num_pred]
    overlaps    [num_pred, num_gt] mask IoU (predictions sorted by score)
"""
import numpy as np

from mrcnn.core.boxes import compute_overlaps, compute_overlaps_masks, trim_zeros

__all__ = ["compute_matches", "compute_ap", "compute_ap_range",
           "compute_recall", "mask_iou"]


def mask_iou(pred_mask, gt_mask):
    """IoU of two [height, width] binary masks; 1.0 when both are empty."""
    a = np.asarray(pred_mask).astype(bool)
    b = np.asarray(gt_mask).astype(bool)
    if a.shape != b.shape:
        raise ValueError("mask_iou: masks differ in shape: %s vs %s"
                         % (a.shape, b.shape))
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum()) / float(union)


def compute_matches(gt_boxes, gt_class_ids, gt_masks,
                    pred_boxes, pred_class_ids, pred_scores, pred_masks,
                    iou_threshold=0.5, score_threshold=0.0):
    """Greedy matching of predictions (by descending score) to ground truth.

    A prediction matches the unmatched gt of the same class with the highest
    mask IoU, if that IoU >= iou_threshold.  Candidate gts with IoU below
    score_threshold are not considered.
    Returns:
        gt_match: [num_gt] index of the matched prediction, or -1.
        pred_match: [num_pred] index of the matched gt, or -1 (predictions in
            score order).
        overlaps: [num_pred, num_gt] mask IoU.
    """
    gt_boxes = trim_zeros(np.asarray(gt_boxes))
    gt_masks = np.asarray(gt_masks)[..., :gt_boxes.shape[0]]
    gt_class_ids = np.asarray(gt_class_ids)
    pred_boxes = trim_zeros(np.asarray(pred_boxes))
    pred_scores = np.asarray(pred_scores)[:pred_boxes.shape[0]]
    indices = np.argsort(pred_scores)[::-1]
    pred_boxes = pred_boxes[indices]
    pred_class_ids = np.asarray(pred_class_ids)[indices]
    pred_scores = pred_scores[indices]
    pred_masks = np.asarray(pred_masks)[..., indices]

    overlaps = compute_overlaps_masks(pred_masks, gt_masks)

    pred_match = -1 * np.ones([pred_boxes.shape[0]])
    gt_match = -1 * np.ones([gt_boxes.shape[0]])
    for i in range(len(pred_boxes)):
        sorted_ixs = np.argsort(overlaps[i])[::-1]
        low = np.where(overlaps[i, sorted_ixs] < score_threshold)[0]
        if low.size > 0:
            sorted_ixs = sorted_ixs[:low[0]]
        for j in sorted_ixs:
            if gt_match[j] > -1:
                continue
            if overlaps[i, j] < iou_threshold:
                break
            if pred_class_ids[i] == gt_class_ids[j]:
                gt_match[j] = i
                pred_match[i] = j
                break
    return gt_match, pred_match, overlaps


def compute_ap(gt_boxes, gt_class_ids, gt_masks,
               pred_boxes, pred_class_ids, pred_scores, pred_masks,
               iou_threshold=0.5):
    """Average precision of one image at one IoU threshold (VOC style:
    area under the monotone precision envelope).

    Returns: mAP (float), precisions [num_pred + 2], recalls [num_pred + 2],
    overlaps [num_pred, num_gt].  With no ground truth, recall is taken as 0,
    so AP is 0.
    """
    gt_match, pred_match, overlaps = compute_matches(
        gt_boxes, gt_class_ids, gt_masks,
        pred_boxes, pred_class_ids, pred_scores, pred_masks, iou_threshold)
    hits = np.cumsum(pred_match > -1)
    precisions = hits / (np.arange(len(pred_match)) + 1)
    if len(gt_match):
        recalls = hits.astype(np.float32) / len(gt_match)
    else:
        recalls = np.zeros(len(pred_match), dtype=np.float32)
    precisions = np.concatenate([[0], precisions, [0]])
    recalls = np.concatenate([[0], recalls, [1]])
    for i in range(len(precisions) - 2, -1, -1):
        precisions[i] = np.maximum(precisions[i], precisions[i + 1])
    indices = np.where(recalls[:-1] != recalls[1:])[0] + 1
    mAP = np.sum((recalls[indices] - recalls[indices - 1]) * precisions[indices])
    return mAP, precisions, recalls, overlaps


def compute_ap_range(gt_box, gt_class_id, gt_mask,
                     pred_box, pred_class_id, pred_score, pred_mask,
                     iou_thresholds=None, verbose=1):
    """Mean of compute_ap over IoU thresholds (default 0.5:0.05:0.95)."""
    if iou_thresholds is None:
        iou_thresholds = np.arange(0.5, 1.0, 0.05)
    AP = []
    for t in iou_thresholds:
        ap, _, _, _ = compute_ap(gt_box, gt_class_id, gt_mask,
                                 pred_box, pred_class_id, pred_score, pred_mask,
                                 iou_threshold=t)
        if verbose:
            print("AP @{:.2f}:\t {:.3f}".format(t, ap))
        AP.append(ap)
    AP = np.array(AP).mean()
    if verbose:
        print("AP @{:.2f}-{:.2f}:\t {:.3f}".format(
            iou_thresholds[0], iou_thresholds[-1], AP))
    return AP


def compute_recall(pred_boxes, gt_boxes, iou):
    """Box recall at one IoU threshold.

    pred_boxes: [N, (y1, x1, y2, x2)]; gt_boxes: [M, (y1, x1, y2, x2)].
    Returns (recall, positive_ids): fraction of gt boxes that are the best
    match of some prediction with IoU >= iou, and the indices of those
    predictions.
    """
    pred_boxes = np.asarray(pred_boxes)
    gt_boxes = np.asarray(gt_boxes)
    if gt_boxes.shape[0] == 0 or pred_boxes.shape[0] == 0:
        return 0.0, np.zeros([0], dtype=np.int64)
    overlaps = compute_overlaps(pred_boxes, gt_boxes)
    iou_max = np.max(overlaps, axis=1)
    iou_argmax = np.argmax(overlaps, axis=1)
    positive_ids = np.where(iou_max >= iou)[0]
    matched_gt_boxes = iou_argmax[positive_ids]
    recall = len(set(matched_gt_boxes)) / gt_boxes.shape[0]
    return recall, positive_ids
