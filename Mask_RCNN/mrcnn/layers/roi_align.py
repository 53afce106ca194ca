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
tf.image.crop_and_resize (bilinear), as in Matterport.
"""
import keras
import tensorflow as tf

from .box_ops import log2_graph, parse_image_meta_graph
from .misc import Float32Layer


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
            level_boxes = tf.stop_gradient(level_boxes)
            box_indices = tf.stop_gradient(box_indices)
            pooled.append(tf.image.crop_and_resize(
                feature_maps[i], level_boxes, box_indices, self.pool_shape,
                method="bilinear"))

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
