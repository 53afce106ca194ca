"""Mask R-CNN with Matterport's API, on TensorFlow 2 + Keras 3 + NumPy 2.

Public facades, as in Matterport's package:
    mrcnn.config.Config, mrcnn.utils, mrcnn.model.MaskRCNN, mrcnn.visualize
"""
import os

# TensorFlow's C++ layer logs a grappler cost-estimator warning for every
# CropAndResize op it plans (harmless, dozens per trace). Keep C++ logging at
# errors unless the user chose a level; must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# imgaug 0.4 needs np.sctypes, which NumPy 2 removed: restore it (NumPy 1.x
# content) when imgaug gets imported after mrcnn. `make venv` also installs a
# start-up hook for the other order. MRCNN_IMGAUG_COMPAT=0 turns both off.
try:
    import mrcnn_imgaug_compat as _imgaug_compat
except ImportError:  # mrcnn copied without its sibling module
    pass
else:
    _imgaug_compat.install_hook()

__version__ = "0.1.0"
