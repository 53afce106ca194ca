"""Box/class head and mask head of Mask R-CNN (Matterport names).

Shape shorthand:
    B batch, N ROIs per image, K NUM_CLASSES, C pyramid channels
    rois:              [B, N, (y1, x1, y2, x2)] normalised
    mrcnn_class_logits:[B, N, K]
    mrcnn_class:       [B, N, K] probabilities
    mrcnn_bbox:        [B, N, K, (dy, dx, log(dh), log(dw))]
    mrcnn_mask:        [B, N, 2*MASK_POOL_SIZE, 2*MASK_POOL_SIZE, K] sigmoid
"""
import keras
import tensorflow as tf
from keras import layers as KL

from .norm import make_norm
from .roi_align import PyramidROIAlign


@keras.saving.register_keras_serializable(package="mrcnn")
class TimeDistributed(keras.layers.Wrapper):
    """Applies a layer to every ROI: [B, N, ...] -> [B * N, ...] -> layer ->
    [B, N, ...].

    Plays the role of keras.layers.TimeDistributed in Matterport's heads
    (the wrapper carries the layer name, e.g. ``mrcnn_class_conv1``) but folds
    the ROI axis into the batch, so the inner layer runs once over all ROIs.
    The inner layer's weights are the wrapper's weights.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None,) + tuple(input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None):
        inner_shape = list(inputs.shape[2:])
        if any(d is None for d in inner_shape):
            inner = tf.concat([[-1], tf.shape(inputs)[2:]], axis=0)
        else:
            inner = [-1] + inner_shape
        x = tf.reshape(inputs, inner)
        y = self.layer(x, training=training)
        out_inner = list(y.shape[1:])
        if any(d is None for d in out_inner):
            out_inner = tf.unstack(tf.shape(y)[1:])
        lead = tf.shape(inputs)[:2]
        y = tf.reshape(y, [lead[0], lead[1]] + out_inner)
        return y

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape(
            (None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])


@keras.saving.register_keras_serializable(package="mrcnn")
class SqueezeSpatial(keras.layers.Layer):
    """[B, N, 1, 1, C] -> [B, N, C] (Matterport's ``pool_squeeze``)."""

    def call(self, x):
        return tf.squeeze(tf.squeeze(x, 3), 2)

    def compute_output_shape(self, s):
        return (s[0], s[1], s[4])


@keras.saving.register_keras_serializable(package="mrcnn")
class ReshapeBBox(keras.layers.Layer):
    """[B, N, K*4] -> [B, N, K, 4] (Matterport's ``mrcnn_bbox``)."""

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)

    def call(self, x):
        s = tf.shape(x)
        return tf.reshape(x, [s[0], s[1], self.num_classes, 4])

    def compute_output_shape(self, s):
        return (s[0], s[1], self.num_classes, 4)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


def fpn_classifier_graph(rois, feature_maps, image_meta, pool_size,
                         num_classes, train_bn=True, fc_layers_size=1024,
                         norm="batch", groups=32):
    """Builds the classifier and box regressor head.

    rois: [B, N, 4]; feature_maps: [P2, P3, P4, P5]
    Returns: mrcnn_class_logits [B, N, K], mrcnn_probs [B, N, K],
             mrcnn_bbox [B, N, K, 4]
    """
    x = PyramidROIAlign([pool_size, pool_size], name="roi_align_classifier")(
        [rois, image_meta] + feature_maps)
    # Two 1024 FC layers, implemented as convs as in Matterport.
    x = TimeDistributed(KL.Conv2D(fc_layers_size, (pool_size, pool_size),
                                  padding="valid"), name="mrcnn_class_conv1")(x)
    x = TimeDistributed(make_norm(norm, "bn", train_bn, groups),
                        name="mrcnn_class_bn1")(x)
    x = KL.Activation("relu")(x)
    x = TimeDistributed(KL.Conv2D(fc_layers_size, (1, 1)),
                        name="mrcnn_class_conv2")(x)
    x = TimeDistributed(make_norm(norm, "bn", train_bn, groups),
                        name="mrcnn_class_bn2")(x)
    x = KL.Activation("relu")(x)
    shared = SqueezeSpatial(name="pool_squeeze")(x)

    mrcnn_class_logits = TimeDistributed(KL.Dense(num_classes),
                                         name="mrcnn_class_logits")(shared)
    # Outputs in float32 under a mixed dtype policy (Config.MIXED_PRECISION).
    mrcnn_probs = KL.Activation("softmax", name="mrcnn_class", dtype="float32")(
        mrcnn_class_logits)
    x = TimeDistributed(KL.Dense(num_classes * 4, activation="linear"),
                        name="mrcnn_bbox_fc")(shared)
    mrcnn_bbox = ReshapeBBox(num_classes, name="mrcnn_bbox", dtype="float32")(x)
    return mrcnn_class_logits, mrcnn_probs, mrcnn_bbox


def build_fpn_mask_graph(rois, feature_maps, image_meta, pool_size,
                         num_classes, train_bn=True, norm="batch", groups=32,
                         channels=256):
    """Builds the mask head.

    channels: width of the 3x3 convs and the deconv (256 in Matterport).

    rois: [B, N, 4]; feature_maps: [P2, P3, P4, P5]
    Returns: masks [B, N, 2*pool_size, 2*pool_size, K]
    """
    x = PyramidROIAlign([pool_size, pool_size], name="roi_align_mask")(
        [rois, image_meta] + feature_maps)
    for i in range(1, 5):
        x = TimeDistributed(KL.Conv2D(channels, (3, 3), padding="same"),
                            name=f"mrcnn_mask_conv{i}")(x)
        x = TimeDistributed(make_norm(norm, "bn", train_bn, groups),
                            name=f"mrcnn_mask_bn{i}")(x)
        x = KL.Activation("relu")(x)
    x = TimeDistributed(KL.Conv2DTranspose(channels, (2, 2), strides=2,
                                           activation="relu"),
                        name="mrcnn_mask_deconv")(x)
    x = TimeDistributed(KL.Conv2D(num_classes, (1, 1), strides=1,
                                  activation="sigmoid", dtype="float32"),
                        name="mrcnn_mask", dtype="float32")(x)
    return x
