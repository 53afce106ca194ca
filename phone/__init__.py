"""Segment the mobile phone in CORe50 frames with Mask R-CNN.

Importing :mod:`phone` is cheap: it does not import TensorFlow. The data side
(:mod:`phone.errors`, :mod:`phone.imageio`, :mod:`phone.via`,
:mod:`phone.coco_json`) needs only NumPy/OpenCV/scikit-image;
:mod:`phone.config` and :mod:`phone.dataset` import ``mrcnn.config`` /
``mrcnn.utils`` (still no TensorFlow graph code); the model and CLI modules
import TensorFlow when they are imported themselves.

    from phone import PhoneModel
    m = PhoneModel("shipped")
    bw, r = m.segment(rgb)      # bw: [H, W] uint8 0/255
"""
from phone.errors import AnnotationError, ImageReadError, PhoneDataError, PhoneDataWarning

__version__ = "0.1.0"

__all__ = ["PhoneModel", "PhoneDataError", "AnnotationError", "ImageReadError",
           "PhoneDataWarning", "__version__"]


def __getattr__(name):
    # PhoneModel imports TensorFlow only when it builds a model; the name is
    # resolved lazily so that `import phone` stays cheap.
    if name == "PhoneModel":
        from phone.model import PhoneModel
        return PhoneModel
    raise AttributeError(f"module 'phone' has no attribute {name!r}")
