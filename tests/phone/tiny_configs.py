"""Tiny inference configs shared by the phone tests (64 px, few ROIs, small
heads: a model builds in seconds), and their ``--config`` specs."""
import pathlib

from phone.config import PhoneInferenceConfig

THIS = pathlib.Path(__file__).resolve()


class TinyInferenceConfig(PhoneInferenceConfig):
    """Smallest useful graph: 64 px input, few ROIs, small heads."""
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 64
    RPN_ANCHOR_SCALES = (4, 8, 16, 32, 64)
    PRE_NMS_LIMIT = 200
    POST_NMS_ROIS_INFERENCE = 20
    FPN_CLASSIF_FC_LAYERS_SIZE = 64
    TOP_DOWN_PYRAMID_SIZE = 32
    DETECTION_MIN_CONFIDENCE = 0.0
    DETECTION_MAX_INSTANCES = 5


class TinyCocoConfig(TinyInferenceConfig):
    """81 classes, like mask_rcnn_coco.h5."""
    NAME = "coco"
    NUM_CLASSES = 81


TINY = f"{THIS}:TinyInferenceConfig"
TINY_COCO = f"{THIS}:TinyCocoConfig"
