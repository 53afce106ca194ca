"""PyramidROIAlign: crops and resizes ROIs from the right FPN level.

Shape shorthand:
    B batch, N boxes per image, C channels (TOP_DOWN_PYRAMID_SIZE)
    boxes:      [B, N, (y1, x1, y2, x2)] normalised
    image_meta: [B, IMAGE_META_SIZE]
    P2..P5:     [B, h_k, w_k, C]
    output:     [B, N, pool_h, pool_w, C]

Level assignment follows the FPN paper, eq. 1, with Matterport's 224-pixel
canonical size: k = min(5, max(2, 4 + round(log2(sqrt(h * w) / (224 /
sqrt(image_area)))))), h and w normalised. Sampling is
tf.image.crop_and_resize (bilinear), as in Matterport; inside
``crop_and_resize_kernel(crop_and_resize_gather)`` the same sampling is
traced from gathers instead (for TFLite, which has no CropAndResize).

One difference from Matterport: box coordinates within EDGE_MARGIN of 1.0
become ``1 - EDGE_MARGIN`` before cropping. The last sample of a box that reaches
the far edge (y2 or x2 = 1.0, common when the image fills the molded
frame) lands exactly on the feature map's last row or column, where
crop_and_resize switches to its extrapolation value (0) if float rounding
puts it a hair outside. Which side it falls on depended on the kernel
library (oneDNN or Eigen convolutions upstream, XNNPACK in TFLite): on
the shipped phone model it moved a detection's score from 0.72 to 0.77 and
its mask by 6 %. This moves such a sample by at most 2e-5 of the map
inside it (a relative change of about 1e-5 in its value); boxes that
really reach outside the map (beyond the margin) still sample 0 there.
"""
import contextlib

import keras
import tensorflow as tf

from .box_ops import log2_graph, parse_image_meta_graph
from .misc import Float32Layer

#: Box coordinates within this of 1.0 become 1 - EDGE_MARGIN (see above).
EDGE_MARGIN = 1e-5


def pull_in_far_edge(boxes):
    """boxes [..., 4] normalised, with every coordinate within EDGE_MARGIN
    of 1.0 set to 1 - EDGE_MARGIN (so a crop never extrapolates a sample
    on the far edge through rounding)."""
    near = tf.abs(boxes - 1.0) <= EDGE_MARGIN
    return tf.where(near, tf.ones_like(boxes) - EDGE_MARGIN, boxes)


def roi_levels_graph(boxes, image_shape):
    """FPN level (2..5) of each box.

    boxes: [B, N, 4] normalised; image_shape: [3] (molded image shape)
    Returns: [B, N] int32
    """
    y1, x1, y2, x2 = tf.split(boxes, 4, axis=2)
    h = y2 - y1
    w = x2 - x1
    image_area = tf.cast(image_shape[0] * image_shape[1], tf.float32)
    roi_level = log2_graph(tf.sqrt(h * w) / (224.0 / tf.sqrt(image_area)))
    roi_level = tf.minimum(5, tf.maximum(
        2, 4 + tf.cast(tf.round(roi_level), tf.int32)))
    return tf.squeeze(roi_level, 2)


def crop_and_resize_gather(image, boxes, box_indices, crop_size):
    """tf.image.crop_and_resize (bilinear, extrapolation value 0) from
    gathers and arithmetic only, for runtimes without a CropAndResize kernel
    (TFLite builtins). Same sampling grid and interpolation formula as
    TensorFlow's kernel.

    image: [B, h, w, C]; boxes: [N, (y1, x1, y2, x2)] normalised;
    box_indices: [N] int32; crop_size: (ch, cw) Python ints.
    Returns [N, ch, cw, C] float32.
    """
    ch, cw = int(crop_size[0]), int(crop_size[1])
    shape = tf.shape(image)
    h, w = shape[1], shape[2]
    hf, wf = tf.cast(h - 1, tf.float32), tf.cast(w - 1, tf.float32)
    y1, x1, y2, x2 = (boxes[:, k:k + 1] for k in range(4))         # [N, 1]

    def grid(lo, hi, extent, steps):
        i = tf.cast(tf.range(steps), tf.float32)[None, :]
        if steps > 1:
            return lo * extent + i * ((hi - lo) * extent / (steps - 1))
        return 0.5 * (lo + hi) * extent + 0.0 * i

    in_y = grid(y1, y2, hf, ch)                                  # [N, ch]
    in_x = grid(x1, x2, wf, cw)                                  # [N, cw]
    ok_y = tf.logical_and(in_y >= 0.0, in_y <= hf)
    ok_x = tf.logical_and(in_x >= 0.0, in_x <= wf)
    top, left = tf.floor(in_y), tf.floor(in_x)
    bottom, right = tf.math.ceil(in_y), tf.math.ceil(in_x)
    y_lerp, x_lerp = in_y - top, in_x - left

    def idx(v, n):
        return tf.clip_by_value(tf.cast(v, tf.int32), 0, n - 1)

    t, b = idx(top, h), idx(bottom, h)
    l, r = idx(left, w), idx(right, w)
    n = tf.shape(boxes)[0]
    bi = tf.broadcast_to(box_indices[:, None, None], [n, ch, cw])

    def at(yy, xx):  # [N, ch], [N, cw] -> [N, ch, cw, C]
        yy = tf.broadcast_to(yy[:, :, None], [n, ch, cw])
        xx = tf.broadcast_to(xx[:, None, :], [n, ch, cw])
        return tf.gather_nd(image, tf.stack([bi, yy, xx], axis=-1))

    xl = x_lerp[:, None, :, None]
    top_v = at(t, l) + (at(t, r) - at(t, l)) * xl
    bottom_v = at(b, l) + (at(b, r) - at(b, l)) * xl
    out = top_v + (bottom_v - top_v) * y_lerp[:, :, None, None]
    inside = tf.logical_and(ok_y[:, :, None], ok_x[:, None, :])[..., None]
    return tf.where(inside, out, tf.zeros_like(out))


_CROP_KERNEL = [tf.image.crop_and_resize]


@contextlib.contextmanager
def crop_and_resize_kernel(fn):
    """Layers traced inside this context crop with ``fn`` (same signature
    as tf.image.crop_and_resize, e.g. crop_and_resize_gather) instead of
    TensorFlow's op; already traced graphs are not affected."""
    previous = _CROP_KERNEL[0]
    _CROP_KERNEL[0] = fn
    try:
        yield
    finally:
        _CROP_KERNEL[0] = previous


@keras.saving.register_keras_serializable(package="mrcnn")
class PyramidROIAlign(Float32Layer):
    """ROI pooling on multiple levels of the feature pyramid.

    pool_shape: (pool_height, pool_width) of the output regions.
    Inputs: [boxes, image_meta, P2, P3, P4, P5]
    Returns: [B, num_boxes, pool_height, pool_width, channels]
    """

    def __init__(self, pool_shape, **kwargs):
        super().__init__(**kwargs)
        self.pool_shape = tuple(int(v) for v in pool_shape)

    def call(self, inputs):
        boxes = inputs[0]
        image_meta = inputs[1]
        feature_maps = inputs[2:]
        image_shape = parse_image_meta_graph(image_meta)["image_shape"][0]
        roi_level = roi_levels_graph(boxes, image_shape)

        pooled = []
        box_to_level = []
        for i, level in enumerate(range(2, 6)):
            ix = tf.where(tf.equal(roi_level, level))
            level_boxes = tf.gather_nd(boxes, ix)
            box_indices = tf.cast(ix[:, 0], tf.int32)
            box_to_level.append(ix)
            # Box coordinates are not trained through the crop.
            level_boxes = tf.stop_gradient(pull_in_far_edge(level_boxes))
            box_indices = tf.stop_gradient(box_indices)
            pooled.append(_CROP_KERNEL[0](
                feature_maps[i], level_boxes, box_indices, self.pool_shape))

        pooled = tf.concat(pooled, axis=0)
        box_to_level = tf.concat(box_to_level, axis=0)
        # Restore the original order: sort by (batch, box index).
        sorting_tensor = box_to_level[:, 0] * 100000 + box_to_level[:, 1]
        order = tf.argsort(sorting_tensor, stable=True)
        pooled = tf.gather(pooled, order)
        shape = tf.concat([tf.shape(boxes)[:2], tf.shape(pooled)[1:]], axis=0)
        out = tf.reshape(pooled, shape)
        channels = feature_maps[0].shape[-1]
        out.set_shape([None, boxes.shape[1], self.pool_shape[0],
                       self.pool_shape[1], channels])
        return out

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][1]) + self.pool_shape + (
            input_shape[2][-1],)

    def get_config(self):
        config = super().get_config()
        config["pool_shape"] = list(self.pool_shape)
        return config
