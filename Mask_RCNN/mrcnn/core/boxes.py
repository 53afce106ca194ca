"""Bounding-box arithmetic in NumPy (reference code for the graph versions).

Shapes and conventions:
    boxes   [N, (y1, x1, y2, x2)]  pixel coordinates, y2/x2 exclusive
    deltas  [N, (dy, dx, log(dh), log(dw))]  box-refinement targets
    masks   [height, width, N]  bool, one channel per instance
    normalised boxes: [N, (y1, x1, y2, x2)] in 0..1 where y2/x2 are inclusive
        (pixel (0, 0, H, W) <-> (0, 0, 1, 1)); see norm_boxes.
"""
import numpy as np

__all__ = ["extract_bboxes", "compute_iou", "compute_overlaps",
           "compute_overlaps_masks", "non_max_suppression", "apply_box_deltas",
           "box_refinement", "norm_boxes", "denorm_boxes", "trim_zeros"]


def extract_bboxes(mask):
    """Tight boxes around instance masks.

    mask: [height, width, num_instances] (bool or 0/1).
    Returns: [num_instances, (y1, x1, y2, x2)] int32; all zeros for an empty
    mask (y2, x2 exclusive).
    """
    mask = np.asarray(mask)
    n = mask.shape[-1]
    boxes = np.zeros([n, 4], dtype=np.int32)
    for i in range(n):
        m = mask[:, :, i]
        xs = np.where(np.any(m, axis=0))[0]
        ys = np.where(np.any(m, axis=1))[0]
        if xs.shape[0]:
            boxes[i] = [ys[0], xs[0], ys[-1] + 1, xs[-1] + 1]
    return boxes


def compute_iou(box, boxes, box_area, boxes_area):
    """IoU of one box against many.

    box: [(y1, x1, y2, x2)]; boxes: [N, (y1, x1, y2, x2)];
    box_area: float; boxes_area: [N].  Returns [N] IoU.
    (Areas are passed in so callers can compute them once.)
    """
    y1 = np.maximum(box[0], boxes[:, 0])
    y2 = np.minimum(box[2], boxes[:, 2])
    x1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[3], boxes[:, 3])
    intersection = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = box_area + boxes_area[:] - intersection[:]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)
    return iou


def compute_overlaps(boxes1, boxes2):
    """IoU matrix of two box sets.

    boxes1: [N1, (y1, x1, y2, x2)]; boxes2: [N2, (y1, x1, y2, x2)].
    Returns [N1, N2] float IoU.
    """
    boxes1 = np.asarray(boxes1)
    boxes2 = np.asarray(boxes2)
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    overlaps = np.zeros((boxes1.shape[0], boxes2.shape[0]))
    for i in range(overlaps.shape[1]):
        overlaps[:, i] = compute_iou(boxes2[i], boxes1, area2[i], area1)
    return overlaps


def compute_overlaps_masks(masks1, masks2):
    """IoU matrix of two mask sets.

    masks1: [height, width, N1]; masks2: [height, width, N2] (bool or
    float, thresholded at 0.5).  Returns [N1, N2] float32 IoU; a pair whose
    union is empty scores 0.
    """
    masks1 = np.asarray(masks1)
    masks2 = np.asarray(masks2)
    if masks1.shape[-1] == 0 or masks2.shape[-1] == 0:
        return np.zeros((masks1.shape[-1], masks2.shape[-1]))
    m1 = np.reshape(masks1 > .5, (-1, masks1.shape[-1])).astype(np.float32)
    m2 = np.reshape(masks2 > .5, (-1, masks2.shape[-1])).astype(np.float32)
    area1 = np.sum(m1, axis=0)
    area2 = np.sum(m2, axis=0)
    intersections = np.dot(m1.T, m2)
    union = area1[:, None] + area2[None, :] - intersections
    return np.where(union > 0, intersections / np.maximum(union, 1e-12), 0.0)


def non_max_suppression(boxes, scores, threshold):
    """Greedy non-maximum suppression.

    boxes: [N, (y1, x1, y2, x2)]; scores: [N]; threshold: IoU above which a
    lower-scored box is dropped.
    Returns the int32 indices of the kept boxes, highest score first.
    """
    boxes = np.asarray(boxes)
    scores = np.asarray(scores)
    if boxes.shape[0] == 0:
        return np.zeros([0], dtype=np.int32)
    if boxes.dtype.kind != "f":
        boxes = boxes.astype(np.float32)
    y1, x1, y2, x2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (y2 - y1) * (x2 - x1)
    # Highest score first; equal scores in index order (a stable sort), the
    # order tf.image.non_max_suppression uses, so the NumPy and graph
    # proposals agree even when scores tie (float32 probabilities near 1
    # often do). Matterport's argsort()[::-1] left ties in arbitrary order.
    ixs = np.argsort(-scores.astype(np.float64), kind="stable")
    pick = []
    while len(ixs) > 0:
        i = ixs[0]
        pick.append(i)
        iou = compute_iou(boxes[i], boxes[ixs[1:]], area[i], area[ixs[1:]])
        # +1: iou is relative to ixs[1:]
        remove = np.where(iou > threshold)[0] + 1
        ixs = np.delete(ixs, np.concatenate([[0], remove]).astype(np.int64))
    return np.array(pick, dtype=np.int32)


def apply_box_deltas(boxes, deltas):
    """Apply refinement deltas to boxes.

    boxes: [N, (y1, x1, y2, x2)]; deltas: [N, (dy, dx, log(dh), log(dw))]
    (already multiplied by the std devs).  Returns [N, 4] float32.
    """
    boxes = np.asarray(boxes).astype(np.float32)
    deltas = np.asarray(deltas)
    height = boxes[:, 2] - boxes[:, 0]
    width = boxes[:, 3] - boxes[:, 1]
    center_y = boxes[:, 0] + 0.5 * height
    center_x = boxes[:, 1] + 0.5 * width
    center_y = center_y + deltas[:, 0] * height
    center_x = center_x + deltas[:, 1] * width
    height = height * np.exp(deltas[:, 2])
    width = width * np.exp(deltas[:, 3])
    y1 = center_y - 0.5 * height
    x1 = center_x - 0.5 * width
    y2 = y1 + height
    x2 = x1 + width
    return np.stack([y1, x1, y2, x2], axis=1).astype(np.float32)


def box_refinement(box, gt_box):
    """Deltas that turn `box` into `gt_box`.

    box, gt_box: [N, (y1, x1, y2, x2)] (y2, x2 exclusive).
    Returns [N, (dy, dx, log(dh), log(dw))] float32.
    """
    box = np.asarray(box).astype(np.float32)
    gt_box = np.asarray(gt_box).astype(np.float32)
    height = box[:, 2] - box[:, 0]
    width = box[:, 3] - box[:, 1]
    center_y = box[:, 0] + 0.5 * height
    center_x = box[:, 1] + 0.5 * width
    gt_height = gt_box[:, 2] - gt_box[:, 0]
    gt_width = gt_box[:, 3] - gt_box[:, 1]
    gt_center_y = gt_box[:, 0] + 0.5 * gt_height
    gt_center_x = gt_box[:, 1] + 0.5 * gt_width
    dy = (gt_center_y - center_y) / height
    dx = (gt_center_x - center_x) / width
    dh = np.log(gt_height / height)
    dw = np.log(gt_width / width)
    return np.stack([dy, dx, dh, dw], axis=1)


def norm_boxes(boxes, shape):
    """Pixel boxes -> normalised boxes.

    boxes: [N, (y1, x1, y2, x2)] pixels; shape: (height, width).
    Returns [N, (y1, x1, y2, x2)] float32 where (y2, x2) become inclusive.
    """
    h, w = shape[0], shape[1]
    scale = np.array([h - 1, w - 1, h - 1, w - 1])
    shift = np.array([0, 0, 1, 1])
    return np.divide((np.asarray(boxes) - shift), scale).astype(np.float32)


def denorm_boxes(boxes, shape):
    """Normalised boxes -> pixel boxes (inverse of norm_boxes).

    boxes: [N, (y1, x1, y2, x2)] normalised; shape: (height, width).
    Returns [N, (y1, x1, y2, x2)] int32 pixels, y2/x2 exclusive.
    """
    h, w = shape[0], shape[1]
    scale = np.array([h - 1, w - 1, h - 1, w - 1])
    shift = np.array([0, 0, 1, 1])
    return np.around(np.multiply(np.asarray(boxes), scale) + shift).astype(np.int32)


def trim_zeros(x):
    """Drop all-zero rows (padding) from a 2-D array.

    x: [rows, columns].  Returns [kept_rows, columns].
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError("trim_zeros expects a 2-D array, got shape %s"
                         % (x.shape,))
    return x[~np.all(x == 0, axis=1)]
