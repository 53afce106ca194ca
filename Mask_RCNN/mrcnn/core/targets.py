"""Training targets in NumPy: RPN anchor labels/deltas and (for inspection
and the external-ROI path) detection-head targets.

Shapes:
    anchors       [num_anchors, (y1, x1, y2, x2)] pixels
    gt_class_ids  [num_gt] int (negative = crowd box)
    gt_boxes      [num_gt, (y1, x1, y2, x2)] pixels
    gt_masks      [height, width, num_gt] bool (or mini masks)
    rpn_match     [num_anchors] int32: 1 positive, -1 negative, 0 neutral
    rpn_bbox      [RPN_TRAIN_ANCHORS_PER_IMAGE, (dy, dx, log(dh), log(dw))]
    rpn_rois      [num_rois, (y1, x1, y2, x2)] pixels
"""
import numpy as np

from mrcnn.core.boxes import box_refinement, compute_iou, compute_overlaps
from mrcnn.core.images import resize

__all__ = ["build_rpn_targets", "build_detection_targets"]


def _choice(rng, a, size, replace):
    if rng is None:
        return np.random.choice(a, size, replace=replace)
    return rng.choice(a, size, replace=replace)


def build_rpn_targets(image_shape, anchors, gt_class_ids, gt_boxes, config,
                      rng=None):
    """Label anchors and compute their box deltas.

    An anchor is positive if IoU >= 0.7 with some gt box or if it is the
    (tied) best anchor of a gt box; negative if IoU < 0.3 with every gt box
    and it does not touch a crowd box (IoU >= 0.001); else neutral.
    Positives are capped at RPN_TRAIN_ANCHORS_PER_IMAGE // 2 and negatives
    fill the rest, by random subsampling.  (Unlike Matterport, a gt box that
    overlaps no anchor at all does not turn every non-overlapping anchor
    positive.)

    image_shape: [height, width(, channels)] (unused, kept for the API);
    anchors: [num_anchors, 4]; gt_class_ids: [num_gt]; gt_boxes: [num_gt, 4];
    config: Config; rng: optional np.random.Generator.
    Returns rpn_match [num_anchors] int32 and
    rpn_bbox [RPN_TRAIN_ANCHORS_PER_IMAGE, 4] float32 (deltas of positive
    anchors, in rpn_match order, divided by RPN_BBOX_STD_DEV; zero padded).
    """
    anchors = np.asarray(anchors)
    gt_class_ids = np.asarray(gt_class_ids)
    gt_boxes = np.asarray(gt_boxes)
    n_train = int(config.RPN_TRAIN_ANCHORS_PER_IMAGE)
    rpn_match = np.zeros([anchors.shape[0]], dtype=np.int32)
    rpn_bbox = np.zeros((n_train, 4), dtype=np.float32)

    # Crowd boxes (negative class ids): anchors touching them are never
    # negatives, and they are not matched.
    crowd_ix = np.where(gt_class_ids < 0)[0]
    if crowd_ix.shape[0] > 0:
        non_crowd_ix = np.where(gt_class_ids > 0)[0]
        crowd_boxes = gt_boxes[crowd_ix]
        gt_class_ids = gt_class_ids[non_crowd_ix]
        gt_boxes = gt_boxes[non_crowd_ix]
        crowd_iou_max = np.amax(compute_overlaps(anchors, crowd_boxes), axis=1)
        no_crowd_bool = crowd_iou_max < 0.001
    else:
        no_crowd_bool = np.ones([anchors.shape[0]], dtype=bool)

    if gt_boxes.shape[0] == 0:
        rpn_match[no_crowd_bool] = -1
        anchor_iou_argmax = np.zeros([anchors.shape[0]], dtype=np.int64)
    else:
        overlaps = compute_overlaps(anchors, gt_boxes)
        anchor_iou_argmax = np.argmax(overlaps, axis=1)
        anchor_iou_max = overlaps[np.arange(overlaps.shape[0]), anchor_iou_argmax]
        rpn_match[(anchor_iou_max < 0.3) & no_crowd_bool] = -1
        # Each gt box gets its best anchor(s) (ties all count).
        gt_max = np.max(overlaps, axis=0)
        hit = (overlaps == gt_max[None, :]) & (gt_max[None, :] > 0)
        gt_iou_argmax = np.where(hit)[0]
        rpn_match[gt_iou_argmax] = 1
        rpn_match[anchor_iou_max >= 0.7] = 1

    # Balance positives and negatives.
    ids = np.where(rpn_match == 1)[0]
    extra = len(ids) - (n_train // 2)
    if extra > 0:
        rpn_match[_choice(rng, ids, extra, False)] = 0
    ids = np.where(rpn_match == -1)[0]
    extra = len(ids) - (n_train - np.sum(rpn_match == 1))
    if extra > 0:
        rpn_match[_choice(rng, ids, extra, False)] = 0

    # Deltas of the positive anchors to their matched gt boxes.
    ids = np.where(rpn_match == 1)[0]
    if len(ids):
        gt = gt_boxes[anchor_iou_argmax[ids]].astype(np.float64)
        a = anchors[ids].astype(np.float64)
        gt_h = gt[:, 2] - gt[:, 0]
        gt_w = gt[:, 3] - gt[:, 1]
        gt_cy = gt[:, 0] + 0.5 * gt_h
        gt_cx = gt[:, 1] + 0.5 * gt_w
        a_h = a[:, 2] - a[:, 0]
        a_w = a[:, 3] - a[:, 1]
        a_cy = a[:, 0] + 0.5 * a_h
        a_cx = a[:, 1] + 0.5 * a_w
        d = np.stack([(gt_cy - a_cy) / a_h, (gt_cx - a_cx) / a_w,
                      np.log(gt_h / a_h), np.log(gt_w / a_w)], axis=1)
        d /= np.asarray(config.RPN_BBOX_STD_DEV, dtype=np.float64)
        rpn_bbox[:len(ids)] = d
    return rpn_match, rpn_bbox


def build_detection_targets(rpn_rois, gt_class_ids, gt_boxes, gt_masks, config,
                            rng=None):
    """Detection-head targets for a set of ROIs (NumPy twin of
    DetectionTargetLayer, used with externally generated ROIs).

    rpn_rois: [N, (y1, x1, y2, x2)] int pixels; gt_class_ids: [num_gt] int;
    gt_boxes: [num_gt, 4] int; gt_masks: [height, width, num_gt] bool (mini
    masks when USE_MINI_MASK); config: Config; rng: np.random.Generator.
    Returns:
        rois: [TRAIN_ROIS_PER_IMAGE, (y1, x1, y2, x2)]
        class_ids: [TRAIN_ROIS_PER_IMAGE] int32 (0 = background)
        bboxes: [TRAIN_ROIS_PER_IMAGE, NUM_CLASSES, (dy, dx, log(dh), log(dw))]
            float32, divided by BBOX_STD_DEV, only at the target class
        masks: [TRAIN_ROIS_PER_IMAGE, MASK_SHAPE[0], MASK_SHAPE[1], NUM_CLASSES]
            float32, only at the target class
    """
    rpn_rois = np.asarray(rpn_rois).astype(np.int32)
    gt_class_ids = np.asarray(gt_class_ids).astype(np.int32)
    gt_boxes = np.asarray(gt_boxes).astype(np.int32)
    gt_masks = np.asarray(gt_masks).astype(bool)
    n_rois = int(config.TRAIN_ROIS_PER_IMAGE)

    instance_ids = np.where(gt_class_ids > 0)[0]
    if instance_ids.shape[0] == 0:
        raise ValueError("build_detection_targets: image has no instance "
                         "with a positive class id")
    gt_class_ids = gt_class_ids[instance_ids]
    gt_boxes = gt_boxes[instance_ids]
    gt_masks = gt_masks[:, :, instance_ids]

    roi_area = (rpn_rois[:, 2] - rpn_rois[:, 0]) * (rpn_rois[:, 3] - rpn_rois[:, 1])
    gt_area = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
    overlaps = np.zeros((rpn_rois.shape[0], gt_boxes.shape[0]))
    for i in range(overlaps.shape[1]):
        overlaps[:, i] = compute_iou(gt_boxes[i], rpn_rois, gt_area[i], roi_area)

    roi_iou_argmax = np.argmax(overlaps, axis=1)
    roi_iou_max = overlaps[np.arange(overlaps.shape[0]), roi_iou_argmax]
    roi_gt_boxes_all = gt_boxes[roi_iou_argmax]
    roi_gt_class_ids_all = gt_class_ids[roi_iou_argmax]

    fg_ids = np.where(roi_iou_max > 0.5)[0]
    bg_ids = np.where(roi_iou_max < 0.5)[0]

    fg_count = int(n_rois * config.ROI_POSITIVE_RATIO)
    if fg_ids.shape[0] > fg_count:
        keep_fg_ids = _choice(rng, fg_ids, fg_count, False)
    else:
        keep_fg_ids = fg_ids
    remaining = n_rois - keep_fg_ids.shape[0]
    if bg_ids.shape[0] > remaining:
        keep_bg_ids = _choice(rng, bg_ids, remaining, False)
    else:
        keep_bg_ids = bg_ids
    keep = np.concatenate([keep_fg_ids, keep_bg_ids]).astype(np.int64)
    remaining = n_rois - keep.shape[0]
    if remaining > 0:
        if keep.shape[0] == 0:
            raise ValueError("build_detection_targets: no usable ROI (none is "
                             "clearly foreground or background)")
        # Repeat kept ROIs (background ones when there are any).
        pool = keep_bg_ids if keep_bg_ids.shape[0] else keep
        keep = np.concatenate([keep, _choice(rng, pool, remaining, True)])

    # Background ROIs get no box and class 0.
    roi_gt_boxes_all[keep_bg_ids, :] = 0
    roi_gt_class_ids_all[keep_bg_ids] = 0

    rois = rpn_rois[keep]
    roi_gt_boxes = roi_gt_boxes_all[keep]
    roi_gt_class_ids = roi_gt_class_ids_all[keep].astype(np.int32)
    roi_gt_assignment = roi_iou_argmax[keep]

    bboxes = np.zeros((n_rois, config.NUM_CLASSES, 4), dtype=np.float32)
    pos_ids = np.where(roi_gt_class_ids > 0)[0]
    bboxes[pos_ids, roi_gt_class_ids[pos_ids]] = box_refinement(
        rois[pos_ids], roi_gt_boxes[pos_ids, :4])
    bboxes /= np.asarray(config.BBOX_STD_DEV, dtype=np.float32)

    masks = np.zeros((n_rois, config.MASK_SHAPE[0], config.MASK_SHAPE[1],
                      config.NUM_CLASSES), dtype=np.float32)
    image_hw = tuple(int(s) for s in config.IMAGE_SHAPE[:2])
    for i in pos_ids:
        class_id = roi_gt_class_ids[i]
        gt_id = roi_gt_assignment[i]
        class_mask = gt_masks[:, :, gt_id]
        if config.USE_MINI_MASK:
            placeholder = np.zeros(image_hw, dtype=bool)
            gy1, gx1, gy2, gx2 = gt_boxes[gt_id]
            if gy2 > gy1 and gx2 > gx1:
                placeholder[gy1:gy2, gx1:gx2] = np.round(
                    resize(class_mask.astype(np.float32),
                           (gy2 - gy1, gx2 - gx1))).astype(bool)
            class_mask = placeholder
        y1, x1, y2, x2 = rois[i].astype(np.int32)
        m = class_mask[max(y1, 0):y2, max(x1, 0):x2]
        if m.size == 0:
            continue
        masks[i, :, :, class_id] = resize(m.astype(np.float32),
                                          tuple(config.MASK_SHAPE))
    return rois, roi_gt_class_ids, bboxes, masks
