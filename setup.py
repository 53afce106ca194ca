"""Installs the `mrcnn` package (from Mask_RCNN/) and the `phone` package.

Package data of phone: the shipped phone model (phone/models/) and the four
bundled CORe50 frames with their VIA polygons (train/, val/, more/) (datasets/phone, installed as
phone/data), so that `phone segment` and `phone demo` work from a plain
`pip install .` with no checkout.
"""
from setuptools import setup

setup(
    name="mrcnn-phone",
    version="0.1.0",
    description="Matterport's Mask R-CNN API on TensorFlow 2.21 + Keras 3, "
                "and a CORe50 mobile-phone segmenter built on it",
    packages=[
        "mrcnn", "mrcnn.core", "mrcnn.layers", "mrcnn.data",
        "phone", "phone.commands", "phone.models", "phone.data",
    ],
    # mrcnn_imgaug_compat: lets imgaug 0.4 import under NumPy 2 (see its
    # docstring); `make venv` also installs its start-up .pth file.
    py_modules=["mrcnn_imgaug_compat"],
    package_dir={"": "Mask_RCNN", "mrcnn": "Mask_RCNN/mrcnn", "phone": "phone",
                 "phone.data": "datasets/phone"},
    package_data={"phone.models": ["*.h5", "*.md"],
                  "phone.data": ["*.json", "train/*.png", "train/*.json",
                                 "val/*.png", "val/*.json", "more/*.png", "more/*.json"]},
    include_package_data=False,
    python_requires=">=3.10",
    entry_points={"console_scripts": ["phone=phone.cli:main"]},
    extras_require={
        "bench": ["torch", "torchvision"],
        # phone export: ONNX conversion + runtimes (SavedModel needs nothing more)
        "export": ["tf2onnx>=1.17", "onnx>=1.17", "onnxruntime>=1.20", "ai-edge-litert>=2.0"],
    },
)
