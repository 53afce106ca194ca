"""ProposalLayer: RPN outputs -> refined, NMS-filtered proposals.

Shape shorthand:
    B batch, A total anchors, P proposal_count
    rpn_probs:  [B, A, (bg prob, fg prob)]
    rpn_bbox:   [B, A, (dy, dx, log(dh), log(dw))]
    anchors:    [B, A, (y1, x1, y2, x2)] normalised
    proposals:  [B, P, (y1, x1, y2, x2)] normalised, zero-padded
"""
import keras
import numpy as np
import tensorflow as tf

from .box_ops import apply_box_deltas_graph, clip_boxes_graph, nms_graph
from .misc import Float32Layer


def _from_config(config, name, value, default):
    """Explicit argument > config attribute > default."""
    if value is not None:
        return value
    if config is not None:
        return getattr(config, name)
    return default


def propose_single(scores, deltas, anchors, proposal_count, nms_threshold,
                   pre_nms_limit):
    """Proposals for one image.

    scores: [A] foreground probability; deltas: [A, 4] (already multiplied
    by RPN_BBOX_STD_DEV); anchors: [A, 4].
    Returns: [proposal_count, 4] zero-padded, in descending score order.
    """
    k = tf.minimum(pre_nms_limit, tf.shape(anchors)[0])
    ix = tf.nn.top_k(scores, k, sorted=True).indices
    scores = tf.gather(scores, ix)
    deltas = tf.gather(deltas, ix)
    anchors = tf.gather(anchors, ix)
    boxes = apply_box_deltas_graph(anchors, deltas)
    boxes = clip_boxes_graph(boxes, tf.constant([0.0, 0.0, 1.0, 1.0]))
    keep = nms_graph(boxes, scores, proposal_count, nms_threshold)
    proposals = tf.gather(boxes, keep)
    padding = tf.maximum(proposal_count - tf.shape(proposals)[0], 0)
    proposals = tf.pad(proposals, [(0, padding), (0, 0)])
    return tf.reshape(proposals, [proposal_count, 4])


@keras.saving.register_keras_serializable(package="mrcnn")
class ProposalLayer(Float32Layer):
    """Picks the top anchors by foreground score, applies the RPN box deltas,
    clips to the image and runs NMS (Matterport's ProposalLayer).

    Inputs: [rpn_probs [B, A, 2], rpn_bbox [B, A, 4], anchors [B, A, 4]]
    Returns: proposals [B, proposal_count, (y1, x1, y2, x2)] normalised.

    proposal_count: proposals kept per image after NMS.
    nms_threshold: IoU threshold of the NMS.
    rpn_bbox_std_dev: the std devs the RPN deltas were divided by.
    pre_nms_limit: top anchors (by score) kept before NMS.
    config: optional Matterport Config supplying the two last values.
    """

    def __init__(self, proposal_count, nms_threshold, config=None,
                 rpn_bbox_std_dev=None, pre_nms_limit=None, **kwargs):
        super().__init__(**kwargs)
        self.proposal_count = int(proposal_count)
        self.nms_threshold = float(nms_threshold)
        self.rpn_bbox_std_dev = [float(v) for v in _from_config(
            config, "RPN_BBOX_STD_DEV", rpn_bbox_std_dev, [0.1, 0.1, 0.2, 0.2])]
        self.pre_nms_limit = int(_from_config(
            config, "PRE_NMS_LIMIT", pre_nms_limit, 6000))

    def call(self, inputs):
        rpn_probs, rpn_bbox, anchors = inputs
        scores = rpn_probs[:, :, 1]
        deltas = rpn_bbox * np.reshape(self.rpn_bbox_std_dev, [1, 1, 4]).astype(
            np.float32)

        def one(args):
            s, d, a = args
            return propose_single(s, d, a, self.proposal_count,
                                  self.nms_threshold, self.pre_nms_limit)

        return tf.map_fn(one, (scores, deltas, anchors),
                         fn_output_signature=tf.TensorSpec(
                             [self.proposal_count, 4], tf.float32))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.proposal_count, 4)

    def get_config(self):
        config = super().get_config()
        config.update(proposal_count=self.proposal_count,
                      nms_threshold=self.nms_threshold,
                      rpn_bbox_std_dev=self.rpn_bbox_std_dev,
                      pre_nms_limit=self.pre_nms_limit)
        return config
