"""Matterport's ``mrcnn.model`` namespace, as an import facade.

Old code keeps working unchanged::

    import mrcnn.model as modellib
    model = modellib.MaskRCNN(mode="inference", config=config, model_dir=LOGS)

The implementation is split by role: layers/ (graph code: backbone, fpn,
rpn, proposal, roi_align, detection_target, detection, heads, losses),
data/ (load_image_gt, data_generator), core/ (numpy reference code),
training.py, weights.py and mask_rcnn.py (the MaskRCNN class).
"""
from .core.anchors import compute_backbone_shapes  # noqa: F401
from .core.meta import (compose_image_meta, mold_image,  # noqa: F401
                        parse_image_meta, unmold_image)
from .core.targets import build_detection_targets, build_rpn_targets  # noqa: F401
from .data.generator import (data_generator, generate_random_rois,  # noqa: F401
                             load_image_gt)
from .layers.backbone import conv_block, identity_block, resnet_graph  # noqa: F401
from .layers.box_ops import (apply_box_deltas_graph, batch_pack_graph,  # noqa: F401
                             box_refinement_graph, clip_boxes_graph,
                             denorm_boxes_graph, log2_graph, norm_boxes_graph,
                             overlaps_graph, parse_image_meta_graph,
                             smooth_l1_loss, trim_zeros_graph)
from .layers.detection import DetectionLayer, refine_detections_graph  # noqa: F401
from .layers.detection_target import (DetectionTargetLayer,  # noqa: F401
                                      detection_targets_graph)
from .layers.fpn import fpn_graph  # noqa: F401
from .layers.heads import (TimeDistributed, build_fpn_mask_graph,  # noqa: F401
                           fpn_classifier_graph)
from .layers.losses import (mrcnn_bbox_loss_graph, mrcnn_class_loss_graph,  # noqa: F401
                            mrcnn_mask_loss_graph, rpn_bbox_loss_graph,
                            rpn_class_loss_graph)
from .layers.norm import BatchNorm  # noqa: F401
from .layers.proposal import ProposalLayer  # noqa: F401
from .layers.roi_align import PyramidROIAlign  # noqa: F401
from .layers.rpn import build_rpn_model, rpn_graph  # noqa: F401
from .mask_rcnn import MaskRCNN, log  # noqa: F401
from .training import LAYER_REGEX  # noqa: F401
from .weights import WeightsFileError  # noqa: F401
