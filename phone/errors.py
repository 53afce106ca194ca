"""Exception types for bad input data.

Every message is one line that names the file (and, where it applies, the
image and region index) and says what is wrong, e.g.::

    AnnotationError: train/via_region_data.json: image 'a.png' region 2:
    all_points_x has 5 values but all_points_y has 4

All three derive from :class:`ValueError`, so callers that already catch
``ValueError`` keep working.
"""


class PhoneDataError(ValueError):
    """Bad input data (annotation file, image file, dataset layout)."""


class AnnotationError(PhoneDataError):
    """An annotation file (VIA / COCO JSON) is malformed or inconsistent."""


class ImageReadError(PhoneDataError):
    """An image file is missing, empty, truncated or not an image."""


class PhoneDataWarning(UserWarning):
    """Suspicious but usable input (clipped coordinates, ignored point regions...)."""


class ExportError(Exception):
    """An export (SavedModel, TFLite, ONNX) that cannot be written, loaded
    or that does not match detect() (phone/export.py)."""
