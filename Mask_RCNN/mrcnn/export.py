"""Image in, masks out: all of MaskRCNN.detect() as one TensorFlow graph.

detect() molds images, builds anchors and unmolds detections in NumPy around
the compiled network. For deployment (SavedModel, TFLite, ONNX) every step
has to be inside the graph; this module builds that graph from a MaskRCNN in
inference mode, reusing the model's own compiled inference function
(MaskRCNN._inference_fn: backbone -> detections -> each detection's own
class mask, with the anchors of the molded shape as a constant).

Shape shorthand:
    H, W      the input image's height and width (any, or fixed for TFLite)
    S         IMAGE_MAX_DIM: the molded image is [1, S, S, 3] ("square" mode)
    D         DETECTION_MAX_INSTANCES; N kept detections (N <= D)
    mh, mw    MASK_SHAPE (28 x 28)
    image     [H, W, 3] uint8 RGB
    mask      [H, W] uint8, 255 on any kept instance, else 0
    boxes     [N, (y1, x1, y2, x2)] int32 pixels of the image, y2/x2 exclusive
    scores    [N] float32;  class_ids [N] int32
    instance_masks [N, H, W] uint8 0/255

Steps and the NumPy code each one mirrors:
    resize_image (core.images, "square" mode): skimage's bilinear resampling
        (order 1, no anti-aliasing, zeros outside), clip to the input range,
        truncation to uint8, then zero padding to S x S;
    mold_image / compose_image_meta (core.meta);
    the network (MaskRCNN._inference_fn's graph);
    MaskRCNN.unmold_detections: window shift/scale, denorm_boxes, boxes of
        zero area dropped;
    the Segmenter's filter (score >= threshold, kept class ids);
    paste_masks (core.masks): each mask resampled to its box with the same
        taps, thresholded at 0.5, skimage's clip rule (a mask whose minimum
        is >= 0.5 fills its box).
Differences from detect() come only from float32 rounding (detect() resizes
and places boxes in float64): a resampled value within ~1e-6 of a threshold
or a box coordinate within ~1e-6 of .5 may land on the other side. Frames
that need resizing (not the config's size) may differ by one grey level on
a few per cent of pixels (skimage's float64 sums land just below an integer
and truncate); frames of the config's size are not resampled at all.
"""
import numpy as np
import tensorflow as tf

from .layers.roi_align import crop_and_resize_gather, crop_and_resize_kernel

__all__ = ["OUTPUT_NAMES", "DetectionPipeline", "linear_resample_weights",
           "resize_image_graph", "paste_masks_graph", "unmold_detections_graph"]

#: the outputs of DetectionPipeline, in this order
OUTPUT_NAMES = ("mask", "boxes", "scores", "class_ids", "instance_masks")

_MASK_THRESHOLD = 0.5


def linear_resample_weights(n_in, n_out, start=None, length=None):
    """Dense weights of skimage-style bilinear resampling along one axis.

    n_in, n_out: int32 scalars (tensors or ints): samples before and after.
    start, length: optional int32 [N] tensors: output rows [start, start +
        length) of an axis of ``n_out`` samples receive the resampled signal
        (resampled to ``length`` samples); other rows are zero. Without them
        the whole axis is resampled to n_out samples (returns [n_out, n_in]).
    Output sample j reads position p = (j + 0.5) * n_in / m - 0.5 (m the
    resampled length) as (1 - t) x[floor(p)] + t x[floor(p) + 1] with
    t = p - floor(p) and zeros outside the input, as
    mrcnn.core.masks._linear_taps.
    Returns [N, n_out, n_in] float32 (or [n_out, n_in]).
    """
    n_in = tf.cast(n_in, tf.int32)
    j = tf.cast(tf.range(n_out), tf.float32)
    if start is None:
        m = tf.cast(n_out, tf.float32)
        rel = j
    else:
        m = tf.cast(length, tf.float32)[:, None]                  # [N, 1]
        rel = j[None, :] - tf.cast(start, tf.float32)[:, None]    # [N, n_out]
    pos = (rel + 0.5) * (tf.cast(n_in, tf.float32) / tf.maximum(m, 1.0)) - 0.5
    lo = tf.floor(pos)
    t = pos - lo
    ix = tf.cast(lo, tf.int32) + 1        # index into the input padded by one
    weights = (tf.one_hot(ix, n_in + 2) * (1.0 - t)[..., None]
               + tf.one_hot(ix + 1, n_in + 2) * t[..., None])
    weights = weights[..., 1:-1]
    if start is not None:
        inside = tf.logical_and(rel >= 0.0, rel < m)
        weights = weights * tf.cast(inside, tf.float32)[..., None]
    return weights


def _square_resize_numbers(h, w, config):
    """resize_image's scale and output size in "square" mode, for float32
    scalar tensors h, w. Returns (scale, new_h, new_w) (sizes int32)."""
    scale = tf.constant(1.0, tf.float32)
    if config.IMAGE_MIN_DIM:
        scale = tf.maximum(1.0, float(config.IMAGE_MIN_DIM) / tf.minimum(h, w))
    if config.IMAGE_MIN_SCALE:
        scale = tf.maximum(scale, float(config.IMAGE_MIN_SCALE))
    image_max = tf.maximum(h, w)
    max_dim = float(config.IMAGE_MAX_DIM)
    scale = tf.where(tf.round(image_max * scale) > max_dim, max_dim / image_max, scale)
    new_h = tf.maximum(1, tf.cast(tf.round(h * scale), tf.int32))
    new_w = tf.maximum(1, tf.cast(tf.round(w * scale), tf.int32))
    return scale, new_h, new_w


def resize_image_graph(image, config):
    """resize_image(image, ..., mode="square") in the graph.

    image: [H, W, 3] uint8. Returns (resized [S, S, 3] uint8, window [4]
    float32 (y1, x1, y2, x2) pixels, scale float32 scalar).
    When H and W are static and the scale is 1, no resampling op is built.
    """
    if config.IMAGE_RESIZE_MODE != "square":
        raise ValueError(f"export supports IMAGE_RESIZE_MODE 'square' only (a fixed "
                         f"molded size), got {config.IMAGE_RESIZE_MODE!r}")
    side = int(config.IMAGE_MAX_DIM)
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    scale, new_h, new_w = _square_resize_numbers(hf, wf, config)
    static = image.shape[0] is not None and image.shape[1] is not None
    if static and _static_scale(image.shape[0], image.shape[1], config) == 1:
        resized = image
        new_h, new_w = h, w
    else:
        # skimage.transform.resize(order=1, preserve_range=True,
        # anti_aliasing=False, clip=True) then .astype(uint8)
        wy = linear_resample_weights(h, new_h)          # [new_h, H]
        wx = linear_resample_weights(w, new_w)          # [new_w, W]
        x = tf.cast(image, tf.float32)
        x = tf.einsum("yh,hwc->ywc", wy, x)
        x = tf.einsum("xw,ywc->yxc", wx, x)
        # the range in float32: TFLite's builtin REDUCE_MIN / REDUCE_MAX take no uint8
        lo = tf.reduce_min(tf.cast(image, tf.float32))
        hi = tf.reduce_max(tf.cast(image, tf.float32))
        clipped = tf.clip_by_value(x, lo, hi)
        # skimage keeps exact zeros (cval) when cval lies outside [lo, hi]
        clipped = tf.where(tf.logical_and(tf.equal(x, 0.0), lo > 0.0), 0.0, clipped)
        resized = tf.cast(tf.floor(clipped), tf.uint8)
    top = (side - new_h) // 2
    left = (side - new_w) // 2
    padded = tf.pad(resized, [[top, side - new_h - top], [left, side - new_w - left], [0, 0]])
    padded = tf.ensure_shape(padded, [side, side, 3])
    window = tf.cast(tf.stack([top, left, top + new_h, left + new_w]), tf.float32)
    return padded, window, scale


def _static_scale(h, w, config):
    """resize_image's scale for a static size (Python, float64)."""
    scale = 1
    if config.IMAGE_MIN_DIM:
        scale = max(1, config.IMAGE_MIN_DIM / min(h, w))
    if config.IMAGE_MIN_SCALE and scale < config.IMAGE_MIN_SCALE:
        scale = config.IMAGE_MIN_SCALE
    if round(max(h, w) * scale) > config.IMAGE_MAX_DIM:
        scale = config.IMAGE_MAX_DIM / max(h, w)
    return scale


def unmold_detections_graph(detections, window, molded_side, image_hw):
    """MaskRCNN.unmold_detections' box arithmetic in the graph.

    detections: [D, (y1, x1, y2, x2, class_id, score)] normalised, zero
        padded after the last detection; window: [4] pixels of the molded
        image; molded_side: S; image_hw: [2] int32 (H, W).
    Returns (boxes [D, 4] int32 pixels, class_ids [D] int32, scores [D],
    valid [D] bool: a detection before the padding whose box has area > 0).
    """
    class_ids = tf.cast(detections[:, 4], tf.int32)
    # rows before the first zero class id (DetectionLayer packs them first);
    # no cumprod: TFLite has no builtin for it
    rows = tf.range(tf.shape(class_ids)[0])
    first_zero = tf.reduce_min(tf.where(class_ids == 0, rows, tf.shape(class_ids)[0]))
    valid = rows < first_zero
    s = float(molded_side - 1)
    wy1, wx1 = window[0] / s, window[1] / s
    wy2, wx2 = (window[2] - 1.0) / s, (window[3] - 1.0) / s
    wh = tf.maximum(wy2 - wy1, 1.0 / s)
    ww = tf.maximum(wx2 - wx1, 1.0 / s)
    shift = tf.stack([wy1, wx1, wy1, wx1])
    scale = tf.stack([wh, ww, wh, ww])
    boxes = (detections[:, :4] - shift) / scale
    hw = tf.cast(image_hw, tf.float32)
    denorm = tf.stack([hw[0] - 1.0, hw[1] - 1.0, hw[0] - 1.0, hw[1] - 1.0])
    boxes = tf.cast(tf.round(boxes * denorm + tf.constant([0.0, 0.0, 1.0, 1.0])), tf.int32)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    valid = tf.logical_and(valid, area > 0)
    return boxes, class_ids, detections[:, 5], valid


def paste_masks_graph(masks, boxes, height, width, threshold=_MASK_THRESHOLD):
    """paste_masks in the graph.

    masks: [N, mh, mw] float32 in 0..1; boxes: [N, (y1, x1, y2, x2)] int32
    pixels (may reach outside the image); height, width: int32 scalars.
    Returns [N, height, width] bool.
    """
    mh, mw = tf.shape(masks)[1], tf.shape(masks)[2]
    y1, x1, y2, x2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    ry = linear_resample_weights(mh, height, start=y1, length=y2 - y1)   # [N, H, mh]
    rx = linear_resample_weights(mw, width, start=x1, length=x2 - x1)    # [N, W, mw]
    val = tf.matmul(tf.matmul(ry, masks), rx, transpose_b=True)          # [N, H, W]
    rows = tf.range(height)[None, :]
    cols = tf.range(width)[None, :]
    in_y = tf.logical_and(rows >= y1[:, None], rows < y2[:, None])       # [N, H]
    in_x = tf.logical_and(cols >= x1[:, None], cols < x2[:, None])       # [N, W]
    in_box = tf.logical_and(in_y[:, :, None], in_x[:, None, :])
    # skimage's clip=True: a mask whose minimum is >= threshold fills its box
    full = tf.reduce_min(masks, axis=[1, 2]) >= threshold
    on = tf.logical_or(val >= threshold, full[:, None, None])
    return tf.logical_and(on, in_box)


class DetectionPipeline(tf.Module):
    """The whole detect() pipeline for one image as a tf.Module.

    model: a MaskRCNN in inference mode with BATCH_SIZE 1, float32
        (MIXED_PRECISION None), IMAGE_RESIZE_MODE "square".
    score: keep detections with score >= score (None: all that the model's
        DETECTION_MIN_CONFIDENCE let through).
    keep_class_ids: class ids to keep (None: every class).
    input_shape: None for any [H, W, 3] (SavedModel, ONNX), or (H, W) for a
        fixed input size (TFLite).
    builtin_ops: trace ROI align's crops from gathers
        (layers.roi_align.crop_and_resize_gather) instead of CropAndResize,
        which TFLite only has as a Select TF op (same values).

    ``pipeline(image)`` (image [H, W, 3] uint8) returns a dict of
    OUTPUT_NAMES (see the module docstring); ``pipeline.serve`` is the
    tf.function (one input signature: ``image``); the model's variables are
    tracked, so tf.saved_model.save(pipeline, ...) saves them.
    """

    def __init__(self, model, score=None, keep_class_ids=None, input_shape=None,
                 builtin_ops=False):
        super().__init__(name="mask_rcnn_pipeline")
        config = model.config
        if model.mode != "inference":
            raise ValueError("export needs a MaskRCNN in inference mode")
        if int(config.BATCH_SIZE) != 1:
            raise ValueError(f"export needs a model built with BATCH_SIZE 1, "
                             f"got {config.BATCH_SIZE}")
        if getattr(model, "mixed_precision", None):
            raise ValueError(f"export needs a float32 model, this one was built "
                             f"under {model.mixed_precision!r}")
        if config.IMAGE_RESIZE_MODE != "square":
            raise ValueError(f"export supports IMAGE_RESIZE_MODE 'square' only, got "
                             f"{config.IMAGE_RESIZE_MODE!r}")
        self.config = config
        self.score = None if score is None else float(score)
        self.keep_class_ids = (None if keep_class_ids is None
                               else sorted({int(c) for c in keep_class_ids}))
        self.side = int(config.IMAGE_MAX_DIM)
        self.builtin_ops = bool(builtin_ops)
        self.input_shape = None if input_shape is None else tuple(int(v) for v in input_shape)
        # tracked: the SavedModel holds the network's variables
        self.keras_model = model.keras_model
        self._network = model._inference_fn((1, self.side, self.side, 3))["plain"]
        # NumPy, so the traced graph holds it as a constant (no capture)
        self._mean = np.asarray(config.MEAN_PIXEL, np.float32).reshape(1, 1, 3)
        h, w = self.input_shape if self.input_shape else (None, None)
        spec = tf.TensorSpec([h, w, 3], tf.uint8, name="image")
        self.serve = tf.function(self.__call__, input_signature=[spec], autograph=False)

    def __call__(self, image):
        if not self.builtin_ops:
            return self._pipeline(image)
        with crop_and_resize_kernel(crop_and_resize_gather):
            return self._pipeline(image)

    def _pipeline(self, image):
        config = self.config
        image = tf.convert_to_tensor(image)
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        molded, window, scale = resize_image_graph(image, config)
        molded = (tf.cast(molded, tf.float32) - self._mean)[None]
        meta = tf.concat([
            tf.zeros([1]),                                         # image_id
            tf.cast(tf.stack([height, width, 3]), tf.float32),     # original shape
            tf.constant([self.side, self.side, 3], tf.float32),     # molded shape
            window, tf.reshape(scale, [1]),
            tf.zeros([int(config.NUM_CLASSES)])], axis=0)[None]
        detections, masks = self._network(molded, meta)
        boxes, class_ids, scores, keep = unmold_detections_graph(
            detections[0], window, self.side, tf.stack([height, width]))
        if self.score is not None:
            keep = tf.logical_and(keep, scores >= self.score)
        if self.keep_class_ids is not None:
            wanted = tf.reduce_any(tf.equal(class_ids[:, None],
                                            tf.constant(self.keep_class_ids, tf.int32)[None]),
                                   axis=1)
            keep = tf.logical_and(keep, wanted)
        idx = tf.reshape(tf.where(keep), [-1])
        boxes = tf.gather(boxes, idx)
        class_ids = tf.gather(class_ids, idx)
        scores = tf.gather(scores, idx)
        instance = paste_masks_graph(tf.gather(masks[0], idx), boxes, height, width)
        union = tf.reduce_any(instance, axis=0)
        # int32 arithmetic: TFLite has no builtin uint8 multiplication
        to_u8 = lambda b: tf.cast(tf.cast(b, tf.int32) * 255, tf.uint8)  # noqa: E731
        return {"mask": to_u8(union), "boxes": boxes, "scores": scores,
                "class_ids": class_ids, "instance_masks": to_u8(instance)}
