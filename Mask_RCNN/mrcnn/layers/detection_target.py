"""DetectionTargetLayer: samples ROIs and builds the head training targets.

Shape shorthand (per batch of B images):
    P  proposals per image (POST_NMS_ROIS_TRAINING), G gt slots (MAX_GT_INSTANCES)
    T  TRAIN_ROIS_PER_IMAGE, mh x mw MASK_SHAPE
    proposals:     [B, P, (y1, x1, y2, x2)] normalised, zero padded
    gt_class_ids:  [B, G] int (negative ids are crowd boxes)
    gt_boxes:      [B, G, (y1, x1, y2, x2)] normalised
    gt_masks:      [B, height, width, G] bool (mini or full masks)
    rois:          [B, T, (y1, x1, y2, x2)] normalised
    target_class_ids: [B, T] int32
    target_bbox:   [B, T, (dy, dx, log(dh), log(dw))] divided by BBOX_STD_DEV
    target_mask:   [B, T, mh, mw] float32 in {0, 1}
"""
import functools

import keras
import numpy as np
import tensorflow as tf

from .box_ops import box_refinement_graph, overlaps_graph, trim_zeros_graph
from ..config import ROI_SAMPLING_RULES
from .misc import Float32Layer, config_value


def check_roi_sampling(rule):
    """``rule`` if it is one of ROI_SAMPLING_RULES, else ValueError."""
    if rule not in ROI_SAMPLING_RULES:
        raise ValueError("ROI_SAMPLING must be one of %s, got %r"
                         % (", ".join(ROI_SAMPLING_RULES), rule))
    return rule


def detection_targets_graph(proposals, gt_class_ids, gt_boxes, gt_masks,
                            config=None, *, train_rois_per_image=None,
                            roi_positive_ratio=None, bbox_std_dev=None,
                            mask_shape=None, use_mini_mask=None,
                            roi_sampling=None):
    """Targets for one image (Matterport's detection_targets_graph).

    Positive ROIs have IoU >= 0.5 with a non-crowd gt box; negatives have
    IoU < 0.5 with all of them and < 0.001 with every crowd box. At most
    T * roi_positive_ratio positives are sampled at random, then negatives:
    roi_sampling "ratio" (Matterport's rule) takes P / roi_positive_ratio - P
    of them, so that positives make up roi_positive_ratio and an image with
    no positive ROI gives no ROI at all; "fill" (torchvision's and
    detectron2's rule) takes T - P of them, so every image with proposals
    trains the classifier, an image without any object included. Output is
    zero padded.

    proposals: [P, (y1, x1, y2, x2)] normalised, zero padded
    gt_class_ids: [G] int; gt_boxes: [G, (y1, x1, y2, x2)] normalised
    gt_masks: [height, width, G] (mini or full masks)
    config: a Config (Matterport's call); the keyword settings override it
        (TRAIN_ROIS_PER_IMAGE, ROI_POSITIVE_RATIO, BBOX_STD_DEV, MASK_SHAPE,
        USE_MINI_MASK, ROI_SAMPLING; Matterport's defaults without either).
    Returns: rois [T, 4], class_ids [T] int32, deltas [T, 4],
        masks [T, MASK_SHAPE[0], MASK_SHAPE[1]] with T = TRAIN_ROIS_PER_IMAGE.
    """
    train_rois_per_image = int(config_value(
        config, "TRAIN_ROIS_PER_IMAGE", train_rois_per_image, 200))
    roi_positive_ratio = float(config_value(
        config, "ROI_POSITIVE_RATIO", roi_positive_ratio, 0.33))
    bbox_std_dev = config_value(config, "BBOX_STD_DEV", bbox_std_dev,
                                [0.1, 0.1, 0.2, 0.2])
    mask_shape = [int(v) for v in config_value(config, "MASK_SHAPE",
                                               mask_shape, [28, 28])]
    use_mini_mask = bool(config_value(config, "USE_MINI_MASK", use_mini_mask,
                                      True))
    roi_sampling = check_roi_sampling(config_value(
        config, "ROI_SAMPLING", roi_sampling, "ratio"))
    proposals, _ = trim_zeros_graph(proposals, name="trim_proposals")
    gt_boxes, non_zeros = trim_zeros_graph(gt_boxes, name="trim_gt_boxes")
    gt_class_ids = tf.boolean_mask(gt_class_ids, non_zeros)
    gt_masks = tf.boolean_mask(gt_masks, non_zeros, axis=2)

    # Crowd boxes (negative class ids) only rule out negatives.
    crowd_ix = tf.where(gt_class_ids < 0)[:, 0]
    non_crowd_ix = tf.where(gt_class_ids > 0)[:, 0]
    crowd_boxes = tf.gather(gt_boxes, crowd_ix)
    gt_class_ids = tf.gather(gt_class_ids, non_crowd_ix)
    gt_boxes = tf.gather(gt_boxes, non_crowd_ix)
    gt_masks = tf.gather(gt_masks, non_crowd_ix, axis=2)

    overlaps = overlaps_graph(proposals, gt_boxes)
    crowd_overlaps = overlaps_graph(proposals, crowd_boxes)
    crowd_iou_max = tf.reduce_max(tf.concat(
        [crowd_overlaps, tf.zeros([tf.shape(proposals)[0], 1])], axis=1), axis=1)
    no_crowd_bool = crowd_iou_max < 0.001

    roi_iou_max = tf.reduce_max(tf.concat(
        [overlaps, tf.zeros([tf.shape(proposals)[0], 1])], axis=1), axis=1)
    positive_indices = tf.where(roi_iou_max >= 0.5)[:, 0]
    negative_indices = tf.where(
        tf.logical_and(roi_iou_max < 0.5, no_crowd_bool))[:, 0]

    positive_count = int(train_rois_per_image * roi_positive_ratio)
    positive_indices = tf.random.shuffle(positive_indices)[:positive_count]
    positive_count = tf.shape(positive_indices)[0]
    if roi_sampling == "fill":
        negative_count = train_rois_per_image - positive_count
    else:
        r = 1.0 / roi_positive_ratio
        negative_count = tf.cast(r * tf.cast(positive_count, tf.float32),
                                 tf.int32) - positive_count
    negative_indices = tf.random.shuffle(negative_indices)[:negative_count]

    positive_rois = tf.gather(proposals, positive_indices)
    negative_rois = tf.gather(proposals, negative_indices)

    positive_overlaps = tf.gather(overlaps, positive_indices)
    roi_gt_box_assignment = tf.cond(
        tf.greater(tf.shape(positive_overlaps)[1], 0),
        lambda: tf.argmax(positive_overlaps, axis=1),
        lambda: tf.zeros([0], tf.int64))
    roi_gt_boxes = tf.gather(gt_boxes, roi_gt_box_assignment)
    roi_gt_class_ids = tf.gather(gt_class_ids, roi_gt_box_assignment)

    deltas = box_refinement_graph(positive_rois, roi_gt_boxes)
    deltas /= np.array(bbox_std_dev, np.float32)

    # Masks: [G, h, w, 1] -> pick each positive ROI's gt mask.
    transposed_masks = tf.expand_dims(tf.transpose(gt_masks, [2, 0, 1]), -1)
    roi_masks = tf.gather(transposed_masks, roi_gt_box_assignment)

    boxes = positive_rois
    if use_mini_mask:
        # Mini masks are crops of the gt box: express the ROI in its frame.
        y1, x1, y2, x2 = tf.split(positive_rois, 4, axis=1)
        gt_y1, gt_x1, gt_y2, gt_x2 = tf.split(roi_gt_boxes, 4, axis=1)
        gt_h = gt_y2 - gt_y1
        gt_w = gt_x2 - gt_x1
        y1 = (y1 - gt_y1) / gt_h
        x1 = (x1 - gt_x1) / gt_w
        y2 = (y2 - gt_y1) / gt_h
        x2 = (x2 - gt_x1) / gt_w
        boxes = tf.concat([y1, x1, y2, x2], 1)
    box_ids = tf.range(0, tf.shape(roi_masks)[0])
    masks = tf.image.crop_and_resize(tf.cast(roi_masks, tf.float32), boxes,
                                     box_ids, mask_shape)
    masks = tf.round(tf.squeeze(masks, axis=3))

    rois = tf.concat([positive_rois, negative_rois], axis=0)
    n_neg = tf.shape(negative_rois)[0]
    pad = tf.maximum(train_rois_per_image - tf.shape(rois)[0], 0)
    rois = tf.pad(rois, [(0, pad), (0, 0)])
    roi_gt_class_ids = tf.pad(roi_gt_class_ids, [(0, n_neg + pad)])
    deltas = tf.pad(deltas, [(0, n_neg + pad), (0, 0)])
    masks = tf.pad(masks, [[0, n_neg + pad], (0, 0), (0, 0)])
    t = train_rois_per_image
    return (tf.reshape(rois, [t, 4]),
            tf.reshape(tf.cast(roi_gt_class_ids, tf.int32), [t]),
            tf.reshape(deltas, [t, 4]),
            tf.reshape(masks, [t, mask_shape[0], mask_shape[1]]))


@keras.saving.register_keras_serializable(package="mrcnn")
class DetectionTargetLayer(Float32Layer):
    """Subsamples proposals and generates target class ids, box refinements
    and masks for each (Matterport's DetectionTargetLayer).

    Inputs: [proposals, gt_class_ids, gt_boxes, gt_masks]
    Returns: [rois, target_class_ids, target_bbox, target_mask]
    """

    def __init__(self, config=None, train_rois_per_image=None,
                 roi_positive_ratio=None, bbox_std_dev=None, mask_shape=None,
                 use_mini_mask=None, roi_sampling=None, **kwargs):
        super().__init__(**kwargs)

        pick = functools.partial(config_value, config)
        self.train_rois_per_image = int(pick(
            "TRAIN_ROIS_PER_IMAGE", train_rois_per_image, 200))
        self.roi_positive_ratio = float(pick(
            "ROI_POSITIVE_RATIO", roi_positive_ratio, 0.33))
        self.bbox_std_dev = [float(v) for v in pick(
            "BBOX_STD_DEV", bbox_std_dev, [0.1, 0.1, 0.2, 0.2])]
        self.mask_shape = [int(v) for v in pick("MASK_SHAPE", mask_shape,
                                                [28, 28])]
        self.use_mini_mask = bool(pick("USE_MINI_MASK", use_mini_mask, True))
        self.roi_sampling = check_roi_sampling(
            pick("ROI_SAMPLING", roi_sampling, "ratio"))

    def call(self, inputs):
        proposals, gt_class_ids, gt_boxes, gt_masks = inputs
        t = self.train_rois_per_image
        mh, mw = self.mask_shape

        def one(args):
            return detection_targets_graph(
                *args, train_rois_per_image=t,
                roi_positive_ratio=self.roi_positive_ratio,
                bbox_std_dev=self.bbox_std_dev, mask_shape=self.mask_shape,
                use_mini_mask=self.use_mini_mask,
                roi_sampling=self.roi_sampling)

        return tf.map_fn(
            one, (proposals, gt_class_ids, gt_boxes, gt_masks),
            fn_output_signature=(tf.TensorSpec([t, 4], tf.float32),
                                 tf.TensorSpec([t], tf.int32),
                                 tf.TensorSpec([t, 4], tf.float32),
                                 tf.TensorSpec([t, mh, mw], tf.float32)))

    def compute_output_shape(self, input_shape):
        b = input_shape[0][0]
        t = self.train_rois_per_image
        return [(b, t, 4), (b, t), (b, t, 4), (b, t) + tuple(self.mask_shape)]

    def get_config(self):
        config = super().get_config()
        config.update(train_rois_per_image=self.train_rois_per_image,
                      roi_positive_ratio=self.roi_positive_ratio,
                      bbox_std_dev=self.bbox_std_dev,
                      mask_shape=self.mask_shape,
                      use_mini_mask=self.use_mini_mask,
                      roi_sampling=self.roi_sampling)
        return config
