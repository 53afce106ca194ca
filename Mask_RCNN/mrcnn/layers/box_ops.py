"""Box and image-meta operations on TensorFlow tensors (graph code).

These mirror the numpy reference functions in ``mrcnn.core`` and are tested
against them. All boxes are ``(y1, x1, y2, x2)``.

Shape shorthand:
    N       number of boxes
    B       batch size
    M       IMAGE_META_SIZE = 1 + 3 + 3 + 4 + 1 + NUM_CLASSES
"""
import tensorflow as tf


def log2_graph(x):
    """log2 of a float tensor (TF has no tf.math.log2)."""
    return tf.math.log(x) / tf.math.log(2.0)


# Largest log-scale a delta may apply (torchvision's bbox_xform_clip,
# log(1000 / 16)): a box may grow 62.5x at most. Untrained or diverging heads
# can emit huge log(dh), whose exp overflows to inf and poisons the loss with
# NaN; a trained model never gets near it.
BBOX_XFORM_CLIP = 4.135166556742356


def apply_box_deltas_graph(boxes, deltas):
    """Applies deltas to boxes.

    boxes: [N, (y1, x1, y2, x2)] boxes to update
    deltas: [N, (dy, dx, log(dh), log(dw))] refinements to apply; log(dh) and
        log(dw) are capped at BBOX_XFORM_CLIP.
    Returns: [N, (y1, x1, y2, x2)]
    """
    height = boxes[..., 2] - boxes[..., 0]
    width = boxes[..., 3] - boxes[..., 1]
    center_y = boxes[..., 0] + 0.5 * height
    center_x = boxes[..., 1] + 0.5 * width
    center_y += deltas[..., 0] * height
    center_x += deltas[..., 1] * width
    height *= tf.exp(tf.minimum(deltas[..., 2], BBOX_XFORM_CLIP))
    width *= tf.exp(tf.minimum(deltas[..., 3], BBOX_XFORM_CLIP))
    y1 = center_y - 0.5 * height
    x1 = center_x - 0.5 * width
    return tf.stack([y1, x1, y1 + height, x1 + width], axis=-1,
                    name="apply_box_deltas_out")


def clip_boxes_graph(boxes, window):
    """Clips boxes to a window.

    boxes: [N, (y1, x1, y2, x2)]
    window: [4] in the form y1, x1, y2, x2
    Returns: [N, (y1, x1, y2, x2)]
    """
    wy1, wx1, wy2, wx2 = tf.unstack(tf.cast(window, boxes.dtype))
    y1, x1, y2, x2 = tf.unstack(boxes, axis=-1)
    y1 = tf.maximum(tf.minimum(y1, wy2), wy1)
    x1 = tf.maximum(tf.minimum(x1, wx2), wx1)
    y2 = tf.maximum(tf.minimum(y2, wy2), wy1)
    x2 = tf.maximum(tf.minimum(x2, wx2), wx1)
    clipped = tf.stack([y1, x1, y2, x2], axis=-1, name="clipped_boxes")
    return clipped


def nms_graph(boxes, scores, max_output_size, iou_threshold):
    """tf.image.non_max_suppression's selected indices [M], M <= max_output_size.

    Runs NonMaxSuppressionV4 padded to max_output_size and keeps its
    valid_outputs first indices: the same indices in TensorFlow, and the op
    that the TFLite converter maps to its NON_MAX_SUPPRESSION_V4 builtin (the
    unpadded op's TFLite lowering sometimes returns one index too many).
    """
    selected, valid = tf.raw_ops.NonMaxSuppressionV4(
        boxes=boxes, scores=scores, max_output_size=max_output_size,
        iou_threshold=iou_threshold, score_threshold=float("-inf"),
        pad_to_max_output_size=True)
    return selected[:valid]


def box_refinement_graph(box, gt_box):
    """Deltas that turn ``box`` into ``gt_box``.

    box, gt_box: [N, (y1, x1, y2, x2)]
    Returns: [N, (dy, dx, log(dh), log(dw))]
    """
    box = tf.cast(box, tf.float32)
    gt_box = tf.cast(gt_box, tf.float32)
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
    dh = tf.math.log(gt_height / height)
    dw = tf.math.log(gt_width / width)
    return tf.stack([dy, dx, dh, dw], axis=1)


def overlaps_graph(boxes1, boxes2):
    """IoU between two sets of boxes.

    boxes1: [N1, (y1, x1, y2, x2)], boxes2: [N2, (y1, x1, y2, x2)]
    Returns: [N1, N2]
    """
    b1 = boxes1[:, None, :]
    b2 = boxes2[None, :, :]
    y1 = tf.maximum(b1[..., 0], b2[..., 0])
    x1 = tf.maximum(b1[..., 1], b2[..., 1])
    y2 = tf.minimum(b1[..., 2], b2[..., 2])
    x2 = tf.minimum(b1[..., 3], b2[..., 3])
    intersection = tf.maximum(x2 - x1, 0) * tf.maximum(y2 - y1, 0)
    area1 = (b1[..., 2] - b1[..., 0]) * (b1[..., 3] - b1[..., 1])
    area2 = (b2[..., 2] - b2[..., 0]) * (b2[..., 3] - b2[..., 1])
    union = area1 + area2 - intersection
    return intersection / union


def trim_zeros_graph(boxes, name="trim_zeros"):
    """Removes all-zero rows (padding) from a box tensor.

    boxes: [N, 4]
    Returns: (boxes [N', 4], non_zeros [N] bool)
    """
    non_zeros = tf.cast(tf.reduce_sum(tf.abs(boxes), axis=1), tf.bool)
    boxes = tf.boolean_mask(boxes, non_zeros, name=name)
    return boxes, non_zeros


def batch_pack_graph(x, counts, num_rows=None):
    """Takes the first counts[i] rows of x[i] for each i and concatenates them.

    x: [B, N, ...], counts: [B] int
    Returns: [sum(counts), ...]
    """
    n = tf.shape(x)[1]
    valid = tf.range(n)[None, :] < tf.cast(counts, tf.int32)[:, None]
    return tf.boolean_mask(x, valid)


def norm_boxes_graph(boxes, shape):
    """Pixel boxes to normalised coordinates (y2, x2 inclusive, as Matterport).

    boxes: [..., (y1, x1, y2, x2)] in pixels
    shape: [..., (height, width)] in pixels
    Returns: [..., (y1, x1, y2, x2)] in normalised coordinates
    """
    h, w = tf.split(tf.cast(shape, tf.float32), 2, axis=-1)
    scale = tf.concat([h, w, h, w], axis=-1) - tf.constant(1.0)
    shift = tf.constant([0.0, 0.0, 1.0, 1.0])
    return tf.divide(tf.cast(boxes, tf.float32) - shift, scale)


def denorm_boxes_graph(boxes, shape):
    """Normalised boxes to pixel coordinates (inverse of norm_boxes_graph).

    Returns: [..., (y1, x1, y2, x2)] int32 pixels
    """
    h, w = tf.split(tf.cast(shape, tf.float32), 2, axis=-1)
    scale = tf.concat([h, w, h, w], axis=-1) - tf.constant(1.0)
    shift = tf.constant([0.0, 0.0, 1.0, 1.0])
    return tf.cast(tf.round(tf.multiply(boxes, scale) + shift), tf.int32)


def parse_image_meta_graph(meta):
    """Splits image_meta tensors into their components.

    meta: [B, M]
    Returns a dict of tensors: image_id [B], original_image_shape [B, 3],
    image_shape [B, 3], window [B, 4] (pixels), scale [B],
    active_class_ids [B, NUM_CLASSES].
    """
    return {
        "image_id": meta[:, 0],
        "original_image_shape": meta[:, 1:4],
        "image_shape": meta[:, 4:7],
        "window": meta[:, 7:11],
        "scale": meta[:, 11],
        "active_class_ids": meta[:, 12:],
    }


def smooth_l1_loss(y_true, y_pred):
    """Smooth-L1 (Huber with delta 1) loss, elementwise. Same shape as inputs."""
    diff = tf.abs(y_true - y_pred)
    less_than_one = tf.cast(tf.less(diff, 1.0), tf.float32)
    return (less_than_one * 0.5 * diff ** 2) + (1 - less_than_one) * (diff - 0.5)
