"""Mask R-CNN with Matterport's API, on TensorFlow 2 + Keras 3 + NumPy 2.

Public facades, as in Matterport's package:
    mrcnn.config.Config, mrcnn.utils, mrcnn.model.MaskRCNN, mrcnn.visualize
"""
__version__ = "0.1.0"
