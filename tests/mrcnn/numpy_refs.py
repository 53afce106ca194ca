"""Independent NumPy reference implementations of Mask R-CNN graph ops.

Used only by tests (tests/mrcnn/test_graph_ops.py) to check the TensorFlow
graph code in ``mrcnn.layers`` against plain loops. Written from the
documented behaviour of TF's crop_and_resize and Matterport's graph
functions, not from the product code.
"""
import numpy as np

from mrcnn.core.boxes import apply_box_deltas, non_max_suppression, norm_boxes


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


__all__ = ["crop_and_resize", "roi_level_values", "roi_levels",
           "pyramid_roi_align", "propose", "refine_detections",
           "detection_window", "softmax_cross_entropy", "smooth_l1",
           "binary_cross_entropy"]
