"""The five Mask R-CNN losses (Matterport's graph functions) and a Keras
layer that computes them inside the training model.

Shape shorthand:
    B batch, A anchors, T TRAIN_ROIS_PER_IMAGE, K NUM_CLASSES
    rpn_match:        [B, A, 1] int, 1 positive, -1 negative, 0 neutral
    rpn_class_logits: [B, A, 2]
    rpn_target_bbox:  [B, RPN_TRAIN_ANCHORS_PER_IMAGE, 4] (positives first)
    rpn_bbox:         [B, A, 4]
    target_class_ids: [B, T]; pred_class_logits: [B, T, K]
    active_class_ids: [B, K] 1 for classes of the image's dataset
    target_bbox:      [B, T, 4]; pred_bbox: [B, T, K, 4]
    target_masks:     [B, T, h, w]; pred_masks: [B, T, h, w, K]
Every loss is a scalar; an empty selection gives 0, not NaN.
"""
import keras
import tensorflow as tf

from .box_ops import smooth_l1_loss
from .misc import Float32Layer


def _mean_or_zero(x):
    return tf.cond(tf.size(x) > 0, lambda: tf.reduce_mean(x),
                   lambda: tf.constant(0.0))


def rpn_class_loss_graph(rpn_match, rpn_class_logits):
    """RPN anchor classifier loss (cross-entropy over non-neutral anchors)."""
    rpn_match = tf.squeeze(rpn_match, -1)
    anchor_class = tf.cast(tf.equal(rpn_match, 1), tf.int32)
    indices = tf.where(tf.not_equal(rpn_match, 0))
    rpn_class_logits = tf.gather_nd(rpn_class_logits, indices)
    anchor_class = tf.gather_nd(anchor_class, indices)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=anchor_class, logits=rpn_class_logits)
    return _mean_or_zero(loss)


def rpn_bbox_loss_graph(config, target_bbox, rpn_match, rpn_bbox):
    """RPN bounding box loss (smooth L1 over positive anchors).

    target_bbox holds each image's positive-anchor deltas first, in anchor
    order; the i-th positive anchor of an image pairs with its i-th row.
    ``config`` is accepted for Matterport compatibility and not needed.
    """
    rpn_match = tf.squeeze(rpn_match, -1)
    positive = tf.cast(tf.equal(rpn_match, 1), tf.int32)
    indices = tf.where(positive > 0)
    rpn_bbox = tf.gather_nd(rpn_bbox, indices)
    # Rank of each positive anchor among its image's positives.
    rank = tf.gather_nd(tf.cumsum(positive, axis=1) - 1, indices)
    rows = tf.stack([tf.cast(indices[:, 0], tf.int32), rank], axis=1)
    target_bbox = tf.gather_nd(target_bbox, rows)
    loss = smooth_l1_loss(target_bbox, rpn_bbox)
    return _mean_or_zero(loss)


def mrcnn_class_loss_graph(target_class_ids, pred_class_logits,
                           active_class_ids):
    """Classifier loss; predictions of classes not in the image's dataset
    are not penalised (Matterport's masking by active_class_ids)."""
    target_class_ids = tf.cast(target_class_ids, tf.int64)
    pred_class_ids = tf.argmax(pred_class_logits, axis=2)
    pred_active = tf.gather(tf.cast(active_class_ids[0], tf.float32),
                            pred_class_ids)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=target_class_ids, logits=pred_class_logits)
    loss = loss * pred_active
    return tf.math.divide_no_nan(tf.reduce_sum(loss),
                                 tf.reduce_sum(pred_active))


def mrcnn_bbox_loss_graph(target_bbox, target_class_ids, pred_bbox):
    """Box refinement loss over positive ROIs, using the gt class's deltas."""
    target_class_ids = tf.reshape(tf.cast(target_class_ids, tf.int64), (-1,))
    target_bbox = tf.reshape(target_bbox, (-1, 4))
    num_classes = tf.shape(pred_bbox)[2]
    pred_bbox = tf.reshape(pred_bbox, (-1, num_classes, 4))
    positive_roi_ix = tf.where(target_class_ids > 0)[:, 0]
    positive_roi_class_ids = tf.gather(target_class_ids, positive_roi_ix)
    indices = tf.stack([positive_roi_ix, positive_roi_class_ids], axis=1)
    target_bbox = tf.gather(target_bbox, positive_roi_ix)
    pred_bbox = tf.gather_nd(pred_bbox, indices)
    return _mean_or_zero(smooth_l1_loss(target_bbox, pred_bbox))


def mrcnn_mask_loss_graph(target_masks, target_class_ids, pred_masks):
    """Mask binary cross-entropy over positive ROIs, on the gt class's mask."""
    target_class_ids = tf.reshape(tf.cast(target_class_ids, tf.int64), (-1,))
    mask_shape = tf.shape(target_masks)
    target_masks = tf.reshape(target_masks, (-1, mask_shape[2], mask_shape[3]))
    pred_shape = tf.shape(pred_masks)
    pred_masks = tf.reshape(pred_masks, (-1, pred_shape[2], pred_shape[3],
                                         pred_shape[4]))
    pred_masks = tf.transpose(pred_masks, [0, 3, 1, 2])
    positive_ix = tf.where(target_class_ids > 0)[:, 0]
    positive_class_ids = tf.gather(target_class_ids, positive_ix)
    indices = tf.stack([positive_ix, positive_class_ids], axis=1)
    y_true = tf.gather(target_masks, positive_ix)
    y_pred = tf.gather_nd(pred_masks, indices)
    loss = keras.losses.binary_crossentropy(y_true[..., None], y_pred[..., None])
    return _mean_or_zero(loss)


LOSS_NAMES = ("rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss",
              "mrcnn_bbox_loss", "mrcnn_mask_loss")


@keras.saving.register_keras_serializable(package="mrcnn")
class LossLayer(Float32Layer):
    """Computes one of the five losses as a model output (a scalar per batch,
    shaped [1] so Keras can concatenate it across replicas).

    loss: one of LOSS_NAMES. The layer name is usually the loss name.
    """

    def __init__(self, loss, **kwargs):
        super().__init__(**kwargs)
        if loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSS_NAMES}")
        self.loss = loss

    def call(self, inputs):
        fn = {
            "rpn_class_loss": lambda a: rpn_class_loss_graph(*a),
            "rpn_bbox_loss": lambda a: rpn_bbox_loss_graph(None, *a),
            "mrcnn_class_loss": lambda a: mrcnn_class_loss_graph(*a),
            "mrcnn_bbox_loss": lambda a: mrcnn_bbox_loss_graph(*a),
            "mrcnn_mask_loss": lambda a: mrcnn_mask_loss_graph(*a),
        }[self.loss]
        return tf.reshape(fn(inputs), [1])

    def compute_output_shape(self, input_shape):
        return (1,)

    def get_config(self):
        config = super().get_config()
        config["loss"] = self.loss
        return config
