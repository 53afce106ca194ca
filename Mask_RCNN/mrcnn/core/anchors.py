"""Anchor generation for the FPN levels.

Shapes:
    anchors  [N, (y1, x1, y2, x2)]  pixel coordinates (float)
    backbone shapes  [levels, (height, width)]  feature-map size per stride
Order (as in Matterport): level by level; inside a level, row by row, column by
column, and for each cell one anchor per ratio in RPN_ANCHOR_RATIOS order.
"""
import math

import numpy as np

from mrcnn.core.boxes import norm_boxes

__all__ = ["generate_anchors", "generate_pyramid_anchors",
           "compute_backbone_shapes", "get_anchors_normalized"]


def generate_anchors(scales, ratios, shape, feature_stride, anchor_stride):
    """Anchors of one feature map.

    scales: 1-D array of anchor sides in pixels (e.g. [32, 64, 128]).
    ratios: 1-D array of width/height ratios (e.g. [0.5, 1, 2]).
    shape: [height, width] of the feature map.
    feature_stride: stride of the feature map relative to the image (pixels).
    anchor_stride: place anchors at every `anchor_stride`-th cell.
    Returns [cells * len(scales) * len(ratios), (y1, x1, y2, x2)] float64.
    """
    scales, ratios = np.meshgrid(np.array(scales), np.array(ratios))
    scales = scales.flatten()
    ratios = ratios.flatten()
    heights = scales / np.sqrt(ratios)
    widths = scales * np.sqrt(ratios)
    # Anchor centres: the top-left corner of each cell, in image pixels.
    shifts_y = np.arange(0, shape[0], anchor_stride) * feature_stride
    shifts_x = np.arange(0, shape[1], anchor_stride) * feature_stride
    shifts_x, shifts_y = np.meshgrid(shifts_x, shifts_y)
    box_widths, box_centers_x = np.meshgrid(widths, shifts_x)
    box_heights, box_centers_y = np.meshgrid(heights, shifts_y)
    centers = np.stack([box_centers_y, box_centers_x], axis=2).reshape([-1, 2])
    sizes = np.stack([box_heights, box_widths], axis=2).reshape([-1, 2])
    return np.concatenate([centers - 0.5 * sizes, centers + 0.5 * sizes], axis=1)


def generate_pyramid_anchors(scales, ratios, feature_shapes, feature_strides,
                             anchor_stride):
    """Anchors of all pyramid levels, one scale per level.

    scales: [levels] anchor sides; ratios: width/height ratios;
    feature_shapes: [levels, (height, width)]; feature_strides: [levels].
    Returns [N, (y1, x1, y2, x2)] float64, level after level.
    """
    anchors = []
    for i in range(len(scales)):
        anchors.append(generate_anchors(scales[i], ratios, feature_shapes[i],
                                        feature_strides[i], anchor_stride))
    return np.concatenate(anchors, axis=0)


def compute_backbone_shapes(config, image_shape):
    """Feature-map sizes of the backbone levels.

    config: Config; image_shape: [height, width(, channels)].
    Returns [levels, (height, width)] int array (ceil(size / stride)), or
    config.COMPUTE_BACKBONE_SHAPE(image_shape) for a callable BACKBONE.
    """
    if callable(config.BACKBONE):
        return config.COMPUTE_BACKBONE_SHAPE(image_shape)
    if config.BACKBONE not in ("resnet50", "resnet101"):
        raise ValueError("BACKBONE must be 'resnet50', 'resnet101' or a "
                         "callable, got %r" % (config.BACKBONE,))
    return np.array(
        [[int(math.ceil(image_shape[0] / stride)),
          int(math.ceil(image_shape[1] / stride))]
         for stride in config.BACKBONE_STRIDES])


_ANCHOR_CACHE = {}


def get_anchors_normalized(config, image_shape):
    """Normalised pyramid anchors for an input of `image_shape`.

    config: Config; image_shape: [height, width(, channels)].
    Returns [N, (y1, x1, y2, x2)] float32 normalised (see norm_boxes); the
    array is cached per shape and anchor settings and is read-only.
    """
    backbone_shapes = compute_backbone_shapes(config, image_shape)
    key = (int(image_shape[0]), int(image_shape[1]),
           tuple(np.ravel(config.RPN_ANCHOR_SCALES).tolist()),
           tuple(np.ravel(config.RPN_ANCHOR_RATIOS).tolist()),
           tuple(np.ravel(config.BACKBONE_STRIDES).tolist()),
           int(config.RPN_ANCHOR_STRIDE),
           tuple(np.ravel(backbone_shapes).tolist()))
    a = _ANCHOR_CACHE.get(key)
    if a is None:
        pixel = generate_pyramid_anchors(
            config.RPN_ANCHOR_SCALES, config.RPN_ANCHOR_RATIOS, backbone_shapes,
            config.BACKBONE_STRIDES, config.RPN_ANCHOR_STRIDE)
        a = norm_boxes(pixel, image_shape[:2])
        a.setflags(write=False)
        _ANCHOR_CACHE[key] = a
    return a
