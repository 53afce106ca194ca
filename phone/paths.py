"""Where the phone toolkit finds and puts things.

From a source checkout (the folder that holds ``setup.py``, ``phone/`` and
``Mask_RCNN/``), logs and outputs go into the checkout, as in Matterport's
samples (``<repo>/logs``). From an installed package (``pip install .``) they
go into the current folder (``./logs``, ``./outputs``), never into
site-packages. Downloads (COCO weights, CORe50) go to the user cache of
:mod:`mrcnn.core.download` (``$MRCNN_HOME``), never into the package.

    checkout_root()        the checkout, or None for an installed package
    default_logs_dir()     <repo>/logs or ./logs
    default_outputs_dir()  $PHONE_OUTPUTS, else <repo>/outputs or ./outputs
    demo_model_path()      what ``make demo`` / ``phone demo`` writes
    bundled_dataset_dir()  the 4 bundled CORe50 frames with VIA polygons
    shipped_model_path()   the phone model that ships inside the package
"""
import os

__all__ = ["PACKAGE_DIR", "checkout_root", "default_logs_dir", "default_outputs_dir",
           "demo_model_path", "bundled_dataset_dir", "shipped_model_path", "SHIPPED_MODEL_NAME",
           "OUTPUTS_ENV"]

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
SHIPPED_MODEL_NAME = "mask_rcnn_phone.h5"


def checkout_root():
    """The source checkout this package runs from, or None when installed."""
    root = os.path.dirname(PACKAGE_DIR)
    if (os.path.isfile(os.path.join(root, "setup.py"))
            and os.path.isdir(os.path.join(root, "Mask_RCNN", "mrcnn"))):
        return root
    return None


def _base():
    return checkout_root() or os.getcwd()


def default_logs_dir():
    """Matterport's ``logs`` folder: <repo>/logs in a checkout, else ./logs."""
    return os.path.join(_base(), "logs")


#: environment variable that moves the outputs folder (demo model, masks)
OUTPUTS_ENV = "PHONE_OUTPUTS"


def default_outputs_dir():
    """$PHONE_OUTPUTS if set, else <repo>/outputs in a checkout, else ./outputs."""
    env = os.environ.get(OUTPUTS_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(_base(), "outputs")


def demo_model_path(outputs_dir=None):
    """The model ``phone demo`` trains: OUTPUTS/demo/mask_rcnn_phone.h5."""
    return os.path.join(outputs_dir or default_outputs_dir(), "demo", "mask_rcnn_phone.h5")


def bundled_dataset_dir():
    """The bundled real CORe50 frames (train/ and val/ with VIA files):
    datasets/phone in a checkout, phone/data in an installed package."""
    root = checkout_root()
    if root is not None:
        return os.path.join(root, "datasets", "phone")
    return os.path.join(PACKAGE_DIR, "data")


def shipped_model_path():
    """The phone model that ships with the package (phone/models/)."""
    return os.path.join(PACKAGE_DIR, "models", SHIPPED_MODEL_NAME)
