"""Small graph layers that replace Matterport's Lambda layers.

Keras 3 cannot serialise Lambdas that close over tensors or config values;
each of these takes explicit arguments and implements get_config.
"""
import keras
import numpy as np
import tensorflow as tf

from .box_ops import norm_boxes_graph, parse_image_meta_graph


def config_value(config, name, value, default):
    """A layer setting: the explicit value, else the Config attribute, else
    the default (Matterport's Config value)."""
    if value is not None:
        return value
    if config is not None:
        return getattr(config, name)
    return default


@keras.saving.register_keras_serializable(package="mrcnn")
class Float32Layer(keras.layers.Layer):
    """Base of the layers that work on boxes, scores, anchors, image metas
    and losses (proposals, ROI align, detection targets, detections, losses).

    They compute in float32 whatever the global Keras dtype policy
    (Config.MIXED_PRECISION builds the convolutions under "mixed_float16"
    or "mixed_bfloat16"): Keras casts their floating inputs to float32, so
    box arithmetic, NMS and crop_and_resize never see half-precision
    coordinates. An explicit ``dtype=`` argument still wins.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)


@keras.saving.register_keras_serializable(package="mrcnn")
class NormBoxes(Float32Layer):
    """Pixel gt boxes -> normalised, using the image tensor's height/width.

    Inputs: [boxes [B, N, 4] pixels, image [B, H, W, C]]
    Returns: [B, N, 4] normalised
    """

    def call(self, inputs):
        boxes, image = inputs
        return norm_boxes_graph(boxes, tf.shape(image)[1:3])

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="mrcnn")
class ActiveClassIds(Float32Layer):
    """image_meta [B, M] -> active_class_ids [B, NUM_CLASSES]."""

    def call(self, image_meta):
        return parse_image_meta_graph(image_meta)["active_class_ids"]

    def compute_output_shape(self, s):
        return (s[0], s[1] - 12)


@keras.saving.register_keras_serializable(package="mrcnn")
class ConstantAnchors(Float32Layer):
    """Broadcasts a fixed anchor array to the batch (training graph).

    anchors: [A, 4] normalised anchors for the training image size (a nested
        list or array; stored in the layer config, not as weights).
    Input: any tensor with the batch as first dimension (the image).
    Returns: [B, A, 4]
    """

    def __init__(self, anchors, **kwargs):
        super().__init__(**kwargs)
        self.anchors = np.asarray(anchors, dtype=np.float32)

    def call(self, image):
        b = tf.shape(image)[0]
        a = tf.constant(self.anchors)
        return tf.broadcast_to(a[None], [b, a.shape[0], 4])

    def compute_output_shape(self, s):
        return (s[0], self.anchors.shape[0], 4)

    def get_config(self):
        config = super().get_config()
        config["anchors"] = self.anchors.tolist()
        return config


@keras.saving.register_keras_serializable(package="mrcnn")
class SliceLastAxis(Float32Layer):
    """x[..., start:stop] (e.g. boxes out of detections)."""

    def __init__(self, start, stop, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[..., self.start:self.stop]

    def compute_output_shape(self, s):
        return tuple(s[:-1]) + (self.stop - self.start,)

    def get_config(self):
        config = super().get_config()
        config.update(start=self.start, stop=self.stop)
        return config


@keras.saving.register_keras_serializable(package="mrcnn")
class Identity(Float32Layer):
    """Names a tensor (Matterport's ``output_rois``)."""

    def call(self, x):
        return tf.identity(x)

    def compute_output_shape(self, s):
        return s


@keras.saving.register_keras_serializable(package="mrcnn")
class SliceROIs(Float32Layer):
    """x[:, :count]: the first ``count`` ROIs of each image, for any tensor
    [B, N, ...] (float or integer; e.g. the positive ROIs, which
    DetectionTargetLayer puts first)."""

    def __init__(self, count, **kwargs):
        super().__init__(**kwargs)
        self.count = int(count)

    def call(self, x):
        return x[:, :self.count]

    def compute_output_shape(self, s):
        n = self.count if s[1] is None else min(int(s[1]), self.count)
        return (s[0], n) + tuple(s[2:])

    def get_config(self):
        config = super().get_config()
        config["count"] = self.count
        return config
