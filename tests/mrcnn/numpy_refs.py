"""Independent NumPy reference implementations of Mask R-CNN graph ops.

Used only by tests (tests/mrcnn/test_graph_ops.py) to check the TensorFlow
graph code in ``mrcnn.layers`` against plain loops. Written from the
documented behaviour of TF's crop_and_resize and Matterport's graph
functions, not from the product code: this module imports nothing from
``mrcnn`` (box deltas, NMS and box normalisation are re-derived below, one
box at a time).
"""
import math

import numpy as np


def apply_box_deltas(boxes, deltas):
    """Refine boxes one at a time: centre moves by (dy*h, dx*w), size scales
    by (exp(dh), exp(dw)).

    boxes: [N, (y1, x1, y2, x2)]; deltas: [N, (dy, dx, log(dh), log(dw))].
    Returns: [N, 4] float64
    """
    out = np.zeros((len(boxes), 4))
    for i, ((y1, x1, y2, x2), (dy, dx, dh, dw)) in enumerate(zip(
            np.asarray(boxes, np.float64), np.asarray(deltas, np.float64))):
        h, w = y2 - y1, x2 - x1
        cy, cx = y1 + h / 2 + dy * h, x1 + w / 2 + dx * w
        h, w = h * math.exp(dh), w * math.exp(dw)
        out[i] = (cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2)
    return out


def box_iou(a, b):
    """IoU of two (y1, x1, y2, x2) boxes; 0 when either is empty."""
    ih = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def non_max_suppression(boxes, scores, threshold):
    """Greedy NMS as tf.image.non_max_suppression documents it: visit boxes
    by decreasing score (ties: lower index first) and keep one whose IoU with
    every kept box is <= threshold.

    Returns: list of kept indices, best score first.
    """
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    kept = []
    for i in order:
        if all(box_iou(boxes[i], boxes[k]) <= threshold for k in kept):
            kept.append(i)
    return np.array(kept, dtype=np.int64)


def box_refinement(box, gt_box):
    """Deltas (dy, dx, log(dh), log(dw)) that turn each box into its gt box
    (the inverse of apply_box_deltas), one pair at a time. Returns [N, 4]."""
    out = np.zeros((len(box), 4))
    for i, (b, g) in enumerate(zip(np.asarray(box, np.float64),
                                   np.asarray(gt_box, np.float64))):
        h, w = b[2] - b[0], b[3] - b[1]
        gh, gw = g[2] - g[0], g[3] - g[1]
        out[i] = ((g[0] + gh / 2 - b[0] - h / 2) / h,
                  (g[1] + gw / 2 - b[1] - w / 2) / w,
                  math.log(gh / h), math.log(gw / w))
    return out


def overlaps(boxes1, boxes2):
    """[N1, N2] IoU matrix by a double loop over box_iou."""
    return np.array([[box_iou(a, b) for b in boxes2] for a in boxes1]).reshape(
        len(boxes1), len(boxes2))


def norm_boxes(boxes, shape):
    """Pixel boxes (y2, x2 exclusive) -> normalised boxes where 0..1 spans
    pixel 0..H-1 (y2, x2 inclusive): (y1/(H-1), x1/(W-1), (y2-1)/(H-1),
    (x2-1)/(W-1)).
    """
    h, w = float(shape[0]) - 1.0, float(shape[1]) - 1.0
    return np.array([[y1 / h, x1 / w, (y2 - 1) / h, (x2 - 1) / w]
                     for y1, x1, y2, x2 in np.asarray(boxes, np.float64)])


def denorm_boxes(boxes, shape):
    """Inverse of norm_boxes, rounded to whole pixels (y2, x2 exclusive)."""
    h, w = float(shape[0]) - 1.0, float(shape[1]) - 1.0
    return np.array([[round(y1 * h), round(x1 * w), round(y2 * h) + 1, round(x2 * w) + 1]
                     for y1, x1, y2, x2 in np.asarray(boxes, np.float64)], dtype=np.int64)


def crop_and_resize(image, boxes, crop_size, extrapolation_value=0.0):
    """tf.image.crop_and_resize (bilinear) for one image.

    image: [height, width, channels]
    boxes: [N, (y1, x1, y2, x2)] normalised (0..1 spans pixel 0..H-1)
    crop_size: (crop_height, crop_width)
    Returns: [N, crop_height, crop_width, channels] float64
    """
    image = np.asarray(image, np.float64)
    hf, wf, c = image.shape
    ch, cw = crop_size
    out = np.zeros((len(boxes), ch, cw, c))
    for n, (y1, x1, y2, x2) in enumerate(np.asarray(boxes, np.float64)):
        if ch > 1:
            ys = y1 * (hf - 1) + np.arange(ch) * (y2 - y1) * (hf - 1) / (ch - 1)
        else:
            ys = np.array([0.5 * (y1 + y2) * (hf - 1)])
        if cw > 1:
            xs = x1 * (wf - 1) + np.arange(cw) * (x2 - x1) * (wf - 1) / (cw - 1)
        else:
            xs = np.array([0.5 * (x1 + x2) * (wf - 1)])
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                if y < 0 or y > hf - 1 or x < 0 or x > wf - 1:
                    out[n, i, j] = extrapolation_value
                    continue
                y0, x0 = int(np.floor(y)), int(np.floor(x))
                yb, xb = int(np.ceil(y)), int(np.ceil(x))
                dy, dx = y - y0, x - x0
                top = image[y0, x0] + (image[y0, xb] - image[y0, x0]) * dx
                bottom = image[yb, x0] + (image[yb, xb] - image[yb, x0]) * dx
                out[n, i, j] = top + (bottom - top) * dy
    return out


def roi_level_values(boxes, image_shape):
    """Unrounded FPN level argument log2(sqrt(h*w) / (224 / sqrt(H*W))).

    boxes: [..., (y1, x1, y2, x2)] normalised; image_shape: (H, W, ...).
    Returns: [...] float64
    """
    boxes = np.asarray(boxes, np.float64)
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    area = float(image_shape[0]) * float(image_shape[1])
    return np.log2(np.sqrt(h * w) / (224.0 / np.sqrt(area)))


def roi_levels(boxes, image_shape):
    """Matterport's FPN level (2..5) of each box, round half to even.

    Returns: [...] int
    """
    v = roi_level_values(boxes, image_shape)
    return np.minimum(5, np.maximum(2, 4 + np.round(v).astype(int)))


def pyramid_roi_align(boxes, image_shape, feature_maps, pool_shape):
    """PyramidROIAlign by loops.

    boxes: [B, N, 4] normalised; image_shape: molded (H, W, C);
    feature_maps: [P2, P3, P4, P5], each [B, h, w, C]; pool_shape: (ph, pw).
    Returns: [B, N, ph, pw, C] in input box order.
    """
    boxes = np.asarray(boxes, np.float64)
    levels = roi_levels(boxes, image_shape)
    b, n = boxes.shape[:2]
    c = feature_maps[0].shape[-1]
    out = np.zeros((b, n, pool_shape[0], pool_shape[1], c))
    for i in range(b):
        for j in range(n):
            fmap = feature_maps[levels[i, j] - 2][i]
            out[i, j] = crop_and_resize(fmap, boxes[i, j][None], pool_shape)[0]
    return out


def propose(probs, deltas, anchors, proposal_count, nms_threshold,
            std_dev, pre_nms_limit):
    """ProposalLayer for a batch.

    probs: [B, A, 2]; deltas: [B, A, 4]; anchors: [B, A, 4].
    Returns: [B, proposal_count, 4] zero padded, best score first.
    """
    out = np.zeros((probs.shape[0], proposal_count, 4), np.float32)
    for b in range(probs.shape[0]):
        scores = probs[b, :, 1]
        k = min(pre_nms_limit, anchors.shape[1])
        ix = np.argsort(-scores, kind="stable")[:k]
        boxes = apply_box_deltas(anchors[b, ix],
                                 deltas[b, ix] * np.asarray(std_dev))
        boxes = np.clip(boxes, 0.0, 1.0)
        keep = non_max_suppression(boxes, scores[ix], nms_threshold)
        keep = keep[:proposal_count]
        out[b, :len(keep)] = boxes[keep]
    return out


def refine_detections(rois, probs, deltas, window, std_dev, min_confidence,
                      max_instances, nms_threshold):
    """Matterport's refine_detections for one image, with a literal loop
    over classes for the NMS.

    rois: [N, 4]; probs: [N, K]; deltas: [N, K, 4]; window: [4] normalised.
    Returns: [max_instances, (y1, x1, y2, x2, class_id, score)] zero padded.
    """
    n = rois.shape[0]
    class_ids = np.argmax(probs, axis=1)
    scores = probs[np.arange(n), class_ids]
    specific = deltas[np.arange(n), class_ids] * np.asarray(std_dev)
    refined = apply_box_deltas(rois, specific)
    wy1, wx1, wy2, wx2 = window
    refined = np.stack([np.clip(refined[:, 0], wy1, wy2),
                        np.clip(refined[:, 1], wx1, wx2),
                        np.clip(refined[:, 2], wy1, wy2),
                        np.clip(refined[:, 3], wx1, wx2)], axis=1)
    keep = np.where((class_ids > 0) & (scores >= min_confidence))[0]
    kept = []
    for c in np.unique(class_ids[keep]):
        ixs = keep[class_ids[keep] == c]
        k = non_max_suppression(refined[ixs], scores[ixs], nms_threshold)
        kept.extend(ixs[k[:max_instances]].tolist())
    kept = np.array(kept, dtype=np.int64)
    kept = kept[np.argsort(-scores[kept], kind="stable")][:max_instances]
    out = np.zeros((max_instances, 6), np.float32)
    out[:len(kept), :4] = refined[kept]
    out[:len(kept), 4] = class_ids[kept]
    out[:len(kept), 5] = scores[kept]
    return out


def detection_window(image_meta_window, image_shape):
    """Pixel window -> normalised window, as DetectionLayer does."""
    return norm_boxes(np.asarray(image_meta_window)[None], image_shape[:2])[0]


def softmax_cross_entropy(logits, labels):
    """Per-row sparse softmax cross entropy. logits [N, K], labels [N]."""
    logits = np.asarray(logits, np.float64)
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return lse - logits[np.arange(len(labels)), labels]


def smooth_l1(y_true, y_pred):
    """Elementwise smooth-L1 with delta 1."""
    d = np.abs(np.asarray(y_true, np.float64) - np.asarray(y_pred, np.float64))
    return np.where(d < 1.0, 0.5 * d ** 2, d - 0.5)


def binary_cross_entropy(y_true, y_pred, eps=1e-7):
    """Elementwise binary cross entropy on probabilities (clipped as Keras)."""
    p = np.clip(np.asarray(y_pred, np.float64), eps, 1 - eps)
    y = np.asarray(y_true, np.float64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


__all__ = ["apply_box_deltas", "box_refinement", "box_iou", "overlaps",
           "non_max_suppression", "norm_boxes", "denorm_boxes",
           "crop_and_resize", "roi_level_values", "roi_levels",
           "pyramid_roi_align", "propose", "refine_detections",
           "detection_window", "softmax_cross_entropy", "smooth_l1",
           "binary_cross_entropy"]


def pyramid_anchors(scales, ratios, feature_shapes, feature_strides, anchor_stride):
    """Matterport's anchor pyramid, one box at a time: level i has one
    scale (scales[i]); for every cell (y, x) of its feature map, stepping
    anchor_stride, and every ratio (width / height), a box of area scale**2
    centred on (y * stride, x * stride). Order: level, row, column, ratio.
    Returns [N, (y1, x1, y2, x2)] pixel coordinates."""
    boxes = []
    for scale, shape, stride in zip(scales, feature_shapes, feature_strides):
        for y in range(0, int(shape[0]), anchor_stride):
            for x in range(0, int(shape[1]), anchor_stride):
                for ratio in ratios:
                    h = scale / math.sqrt(ratio)
                    w = scale * math.sqrt(ratio)
                    cy, cx = y * stride, x * stride
                    boxes.append([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2])
    return np.array(boxes, np.float64)


def parse_image_meta(meta):
    """Matterport's image meta layout, [batch, 12 + NUM_CLASSES]: image_id,
    original_image_shape (3), image_shape (3), window (y1, x1, y2, x2) in
    pixels, scale, active_class_ids (NUM_CLASSES)."""
    meta = np.asarray(meta)
    return {"image_id": meta[:, 0], "original_image_shape": meta[:, 1:4],
            "image_shape": meta[:, 4:7], "window": meta[:, 7:11], "scale": meta[:, 11],
            "active_class_ids": meta[:, 12:]}


def unmold_mask(mask, box, image_shape):
    """Matterport's utils.unmold_mask written with skimage directly: the
    [h, w] float mask resized bilinearly (order 1, constant mode, clipped,
    no anti-aliasing) onto the box's pixels, thresholded at 0.5, parts of
    the box outside the image dropped. Returns [H, W] bool."""
    import skimage.transform
    H, W = int(image_shape[0]), int(image_shape[1])
    y1, x1, y2, x2 = [int(v) for v in box[:4]]
    out = np.zeros((H, W), bool)
    if y2 <= y1 or x2 <= x1:
        return out
    m = skimage.transform.resize(np.asarray(mask, np.float64), (y2 - y1, x2 - x1), order=1,
                                 mode="constant", cval=0, clip=True, preserve_range=False,
                                 anti_aliasing=False) >= 0.5
    for yy in range(max(y1, 0), min(y2, H)):
        for xx in range(max(x1, 0), min(x2, W)):
            out[yy, xx] = m[yy - y1, xx - x1]
    return out
