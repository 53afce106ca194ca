"""Mask R-CNN with Matterport's API, on TensorFlow 2 + Keras 3 + NumPy 2.

Public facades, as in Matterport's package:
    mrcnn.config.Config, mrcnn.utils, mrcnn.model.MaskRCNN, mrcnn.visualize
"""
import os

# TensorFlow's C++ layer logs a grappler cost-estimator warning for every
# CropAndResize op it plans (harmless, dozens per trace). Keep C++ logging at
# errors unless the user chose a level; must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
