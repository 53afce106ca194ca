"""Installs the `mrcnn` package (from Mask_RCNN/) and the `phone` package."""
from setuptools import setup

setup(
    name="mrcnn-phone",
    version="0.1.0",
    description="Matterport's Mask R-CNN API on TensorFlow 2.21 + Keras 3, "
                "and a CORe50 mobile-phone segmenter built on it",
    packages=[
        "mrcnn", "mrcnn.core", "mrcnn.layers", "mrcnn.data",
        "phone", "phone.commands",
    ],
    package_dir={"mrcnn": "Mask_RCNN/mrcnn", "phone": "phone"},
    python_requires=">=3.10",
    entry_points={"console_scripts": ["phone=phone.cli:main"]},
    extras_require={
        "bench": ["torch", "torchvision"],
        # phone export: ONNX conversion + runtimes (SavedModel needs nothing more)
        "export": ["tf2onnx>=1.17", "onnx>=1.17", "onnxruntime>=1.20", "ai-edge-litert>=2.0"],
    },
)
