"""Installs the `mrcnn` package (from Mask_RCNN/) and the `phone` package."""
from setuptools import setup

setup(
    name="mrcnn-phone",
    version="0.1.0",
    description="Matterport's Mask R-CNN API on TensorFlow 2.21 + Keras 3, "
                "and a CORe50 mobile-phone segmenter built on it",
    packages=[
        "mrcnn", "mrcnn.core", "mrcnn.layers", "mrcnn.data",
        "phone",
    ],
    # mrcnn_imgaug_compat: lets imgaug 0.4 import under NumPy 2 (see its
    # docstring); `make venv` also installs its start-up .pth file.
    py_modules=["mrcnn_imgaug_compat"],
    package_dir={"": "Mask_RCNN", "mrcnn": "Mask_RCNN/mrcnn", "phone": "phone"},
    python_requires=">=3.10",
    entry_points={"console_scripts": ["phone=phone.cli:main"]},
    extras_require={"bench": ["torch", "torchvision"]},
)
