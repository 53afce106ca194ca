"""DetectionLayer: classifier head outputs -> final detections.

Shape shorthand:
    B batch, N ROIs per image, K NUM_CLASSES, D DETECTION_MAX_INSTANCES
    rois:        [B, N, (y1, x1, y2, x2)] normalised
    mrcnn_class: [B, N, K] class probabilities
    mrcnn_bbox:  [B, N, K, (dy, dx, log(dh), log(dw))]
    image_meta:  [B, IMAGE_META_SIZE]
    detections:  [B, D, (y1, x1, y2, x2, class_id, score)] normalised,
                 zero padded, sorted by score (descending)
"""
import functools

import keras
import numpy as np
import tensorflow as tf

from .box_ops import (apply_box_deltas_graph, clip_boxes_graph, nms_graph,
                      norm_boxes_graph, parse_image_meta_graph)
from .misc import Float32Layer, config_value


def refine_detections_graph(rois, probs, deltas, window, config=None, *,
                            bbox_std_dev=None, min_confidence=None,
                            max_instances=None, nms_threshold=None):
    """Detections for one image (Matterport's refine_detections_graph).

    Each ROI takes its top class; its box is refined with that class's
    deltas and clipped to the image window. ROIs of the background class or
    below ``min_confidence`` are dropped, per-class NMS runs, and the best
    ``max_instances`` by score are kept.

    Per-class NMS is one NMS over boxes shifted apart by class id: boxes of
    different classes can then never overlap, so the survivors are exactly
    those of a per-class NMS, and the greedy order (descending score) yields
    the same top ``max_instances``.

    rois: [N, (y1, x1, y2, x2)] normalised; probs: [N, K];
    deltas: [N, K, (dy, dx, log(dh), log(dw))]; window: [(y1, x1, y2, x2)]
    normalised.
    config: a Config (Matterport's call); the keyword settings override it
        (BBOX_STD_DEV, DETECTION_MIN_CONFIDENCE, DETECTION_MAX_INSTANCES,
        DETECTION_NMS_THRESHOLD; Matterport's defaults without either).
    Returns: [max_instances, (y1, x1, y2, x2, class_id, score)]
    """
    bbox_std_dev = config_value(config, "BBOX_STD_DEV", bbox_std_dev,
                                [0.1, 0.1, 0.2, 0.2])
    min_confidence = float(config_value(
        config, "DETECTION_MIN_CONFIDENCE", min_confidence, 0.7))
    max_instances = int(config_value(
        config, "DETECTION_MAX_INSTANCES", max_instances, 100))
    nms_threshold = float(config_value(
        config, "DETECTION_NMS_THRESHOLD", nms_threshold, 0.3))
    class_ids = tf.argmax(probs, axis=1, output_type=tf.int32)
    indices = tf.stack([tf.range(tf.shape(probs)[0]), class_ids], axis=1)
    class_scores = tf.gather_nd(probs, indices)
    deltas_specific = tf.gather_nd(deltas, indices)
    refined_rois = apply_box_deltas_graph(
        rois, deltas_specific * np.array(bbox_std_dev, np.float32))
    refined_rois = clip_boxes_graph(refined_rois, window)

    keep = class_ids > 0
    if min_confidence:
        keep = tf.logical_and(keep, class_scores >= min_confidence)
    keep = tf.where(keep)[:, 0]

    pre_rois = tf.gather(refined_rois, keep)
    pre_scores = tf.gather(class_scores, keep)
    pre_class = tf.gather(class_ids, keep)
    # Normalised boxes live in [0, 1]: an offset of 2 per class separates them.
    offsets = tf.cast(pre_class, tf.float32)[:, None] * 2.0
    nms_keep = nms_graph(pre_rois + offsets, pre_scores, max_instances,
                         nms_threshold)
    keep = tf.gather(keep, nms_keep)

    detections = tf.concat([
        tf.gather(refined_rois, keep),
        tf.cast(tf.gather(class_ids, keep), tf.float32)[:, None],
        tf.gather(class_scores, keep)[:, None]], axis=1)
    gap = max_instances - tf.shape(detections)[0]
    detections = tf.pad(detections, [(0, gap), (0, 0)], "CONSTANT")
    return tf.reshape(detections, [max_instances, 6])


@keras.saving.register_keras_serializable(package="mrcnn")
class DetectionLayer(Float32Layer):
    """Takes classified proposal boxes and their bounding box deltas and
    returns the final detection boxes (Matterport's DetectionLayer).

    Inputs: [rois, mrcnn_class, mrcnn_bbox, image_meta]
    Returns: [B, max_instances, (y1, x1, y2, x2, class_id, score)]
    """

    def __init__(self, config=None, bbox_std_dev=None, min_confidence=None,
                 max_instances=None, nms_threshold=None, **kwargs):
        super().__init__(**kwargs)

        pick = functools.partial(config_value, config)

        self.bbox_std_dev = [float(v) for v in pick(
            "BBOX_STD_DEV", bbox_std_dev, [0.1, 0.1, 0.2, 0.2])]
        self.min_confidence = float(pick(
            "DETECTION_MIN_CONFIDENCE", min_confidence, 0.7))
        self.max_instances = int(pick(
            "DETECTION_MAX_INSTANCES", max_instances, 100))
        self.nms_threshold = float(pick(
            "DETECTION_NMS_THRESHOLD", nms_threshold, 0.3))

    def call(self, inputs):
        rois, mrcnn_class, mrcnn_bbox, image_meta = inputs
        m = parse_image_meta_graph(image_meta)
        image_shape = m["image_shape"][0]
        window = norm_boxes_graph(m["window"], image_shape[:2])

        def one(args):
            r, p, d, w = args
            return refine_detections_graph(
                r, p, d, w, bbox_std_dev=self.bbox_std_dev,
                min_confidence=self.min_confidence,
                max_instances=self.max_instances,
                nms_threshold=self.nms_threshold)

        return tf.map_fn(one, (rois, mrcnn_class, mrcnn_bbox, window),
                         fn_output_signature=tf.TensorSpec(
                             [self.max_instances, 6], tf.float32))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.max_instances, 6)

    def get_config(self):
        config = super().get_config()
        config.update(bbox_std_dev=self.bbox_std_dev,
                      min_confidence=self.min_confidence,
                      max_instances=self.max_instances,
                      nms_threshold=self.nms_threshold)
        return config
