"""Exception types for bad input data.

Every message is one line that names the file (and, where it applies, the
image and region index) and says what is wrong, e.g.::

    AnnotationError: train/via_region_data.json: image 'a.png' region 2:
    all_points_x has 5 values but all_points_y has 4

The data errors and :class:`WeightsError` derive from :class:`ValueError`,
so callers that already catch ``ValueError`` keep working.
:class:`CommandError` is what the command layer (``phone.commands``) raises
for a bad argument; library code raises the specific types above.
"""


class PhoneDataError(ValueError):
    """Bad input data (annotation file, image file, dataset layout)."""


class AnnotationError(PhoneDataError):
    """An annotation file (VIA / COCO JSON) is malformed or inconsistent."""


class ImageReadError(PhoneDataError):
    """An image file is missing, empty, truncated or not an image."""


class PhoneDataWarning(UserWarning):
    """Suspicious but usable input (clipped coordinates, ignored point regions...)."""


class WeightsError(ValueError):
    """A weights argument or file that cannot be used (missing, unreadable,
    another architecture or class count)."""


#: exit statuses of the ``phone`` commands
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A problem the user can fix (bad argument, missing file): reported by
    the command layer as one line, exit status ``exit_code``."""

    def __init__(self, message, exit_code=EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def one_line(e, limit=None):
    """An error (or message) folded onto one line; with ``limit``, cut to that
    many characters (TensorFlow op errors run to pages of graph detail)."""
    text = str(e).strip() or type(e).__name__
    text = " ".join(text.split())
    if limit and len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


class ExportError(Exception):
    """An export (SavedModel, TFLite, ONNX) that cannot be written, loaded
    or that does not match detect() (phone/export.py)."""


class ServeError(Exception):
    """``phone serve`` cannot start: the port is taken, the address cannot
    be used, the page's runtime files are missing (phone/serve.py)."""
