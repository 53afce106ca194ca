"""Matterport's `mrcnn.utils` names, re-exported from mrcnn.core.

Old code keeps working::

    from mrcnn import utils
    image, window, scale, padding, crop = utils.resize_image(image, ...)

Importing this module does not import TensorFlow; only batch_slice and the
graph function box_refinement_graph (Matterport kept it here; it lives in
mrcnn.layers.box_ops, loaded on first use) need it.
"""
from mrcnn.core.anchors import (compute_backbone_shapes,  # noqa: F401
                                generate_anchors, generate_pyramid_anchors,
                                get_anchors_normalized)
from mrcnn.core.boxes import (apply_box_deltas, box_refinement,  # noqa: F401
                              compute_iou, compute_overlaps,
                              compute_overlaps_masks, denorm_boxes,
                              extract_bboxes, non_max_suppression, norm_boxes,
                              trim_zeros)
from mrcnn.core.dataset import Dataset, ImageLoadError  # noqa: F401
from mrcnn.core.download import (COCO_MODEL_SIZE, COCO_MODEL_URL,  # noqa: F401
                                 WeightsDownloadError,
                                 download_trained_weights,
                                 get_imagenet_weights)
from mrcnn.core.images import resize, resize_image, resize_mask  # noqa: F401
from mrcnn.core.masks import (expand_mask, minimize_mask,  # noqa: F401
                              mold_mask, paste_masks, unmold_mask)
from mrcnn.core.meta import (compose_image_meta, mold_image,  # noqa: F401
                             parse_image_meta, unmold_image)
from mrcnn.core.metrics import (compute_ap, compute_ap_range,  # noqa: F401
                                compute_matches, compute_recall, mask_iou)
from mrcnn.core.targets import (build_detection_targets,  # noqa: F401
                                build_rpn_targets)


def batch_slice(inputs, graph_fn, batch_size, names=None):
    """Run `graph_fn` on each batch item and stack the results (TensorFlow).

    inputs: a tensor or list of tensors, each [batch, ...].
    graph_fn: takes one slice of each input, returns a tensor or a
        list/tuple of tensors.
    batch_size: number of items to slice (the batch dimension).
    names: optional names for the stacked outputs.
    Returns one stacked tensor [batch, ...] or a list of them.
    """
    import tensorflow as tf  # lazy: keep `import mrcnn.utils` cheap

    if not isinstance(inputs, list):
        inputs = [inputs]
    outputs = []
    for i in range(batch_size):
        output_slice = graph_fn(*[x[i] for x in inputs])
        if not isinstance(output_slice, (tuple, list)):
            output_slice = [output_slice]
        outputs.append(output_slice)
    outputs = list(zip(*outputs))
    if names is None:
        names = [None] * len(outputs)
    result = [tf.stack(o, axis=0, name=n) for o, n in zip(outputs, names)]
    if len(result) == 1:
        result = result[0]
    return result


def __getattr__(name):
    """Matterport's graph helper in utils, loaded lazily (TensorFlow)."""
    if name == "box_refinement_graph":
        from mrcnn.layers.box_ops import box_refinement_graph
        return box_refinement_graph
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
