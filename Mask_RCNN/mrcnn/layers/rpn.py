"""Region Proposal Network: one small conv head shared over P2..P6.

Shape shorthand (A = anchors per location = len(RPN_ANCHOR_RATIOS),
feature map [B, h, w, D], s = RPN_ANCHOR_STRIDE):
    rpn_class_logits: [B, h*w*A/s^2, 2]   (BG/FG logits)
    rpn_probs:        [B, h*w*A/s^2, 2]
    rpn_bbox:         [B, h*w*A/s^2, (dy, dx, log(dh), log(dw))]
"""
import keras
from keras import layers as KL


def rpn_graph(feature_map, anchors_per_location, anchor_stride):
    """Builds the RPN head on one feature map.

    Returns: [rpn_class_logits, rpn_probs, rpn_bbox]
    """
    shared = KL.Conv2D(512, (3, 3), padding="same", activation="relu",
                       strides=anchor_stride,
                       name="rpn_conv_shared")(feature_map)
    x = KL.Conv2D(2 * anchors_per_location, (1, 1), padding="valid",
                  activation="linear", name="rpn_class_raw")(shared)
    rpn_class_logits = KL.Reshape((-1, 2))(x)
    # float32 under a mixed dtype policy (Config.MIXED_PRECISION)
    rpn_probs = KL.Activation("softmax", name="rpn_class_xxx",
                              dtype="float32")(rpn_class_logits)
    x = KL.Conv2D(anchors_per_location * 4, (1, 1), padding="valid",
                  activation="linear", name="rpn_bbox_pred")(shared)
    rpn_bbox = KL.Reshape((-1, 4), dtype="float32")(x)
    return [rpn_class_logits, rpn_probs, rpn_bbox]


def build_rpn_model(anchor_stride, anchors_per_location, depth):
    """Builds the RPN as a Keras model named ``rpn_model``, so its weights are
    shared over the pyramid levels and stored in one h5 group, as in
    mask_rcnn_coco.h5.

    depth: channels of the feature maps (TOP_DOWN_PYRAMID_SIZE).
    """
    input_feature_map = keras.Input(shape=[None, None, depth],
                                    name="input_rpn_feature_map")
    outputs = rpn_graph(input_feature_map, anchors_per_location, anchor_stride)
    return keras.Model([input_feature_map], outputs, name="rpn_model")
