"""The package layout of mrcnn-phone (its metadata and dependencies are in
pyproject.toml).

Installs the `mrcnn` package (from Mask_RCNN/) and the `phone` package with
its package data: the shipped phone model (phone/models/) and the bundled
CORe50 frames with their VIA polygons (datasets/phone: train/, val/, more/,
installed as phone/data), so that `phone segment` and `phone demo` work from
a plain `pip install .` with no checkout.

Beside the packages the wheel carries `mrcnn_imgaug_compat.pth`: Python runs
it at start-up, so imgaug 0.4 imports under NumPy 2 even when it is imported
before mrcnn (Matterport's coco.py does); MRCNN_IMGAUG_COMPAT=0 turns it off.

The `phone serve` page (phone/web) gets its onnxruntime-web files at build
time: phone/web/assets.py runs `npm ci` (package-lock.json) where needed and
copies the two files the page loads into the build (one line when npm is
missing); `make venv` does the same into the checkout for the editable
install.
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py


class build_py_with_pth(build_py):
    """build_py that also writes the imgaug start-up file at the top of the
    build (site-packages once installed) and copies the serve page's
    onnxruntime-web files into phone/web/vendor of the build."""

    def run(self):
        super().run()
        import importlib.util
        here = os.path.dirname(os.path.abspath(__file__))
        spec = importlib.util.spec_from_file_location(
            "mrcnn_imgaug_compat", os.path.join(here, "Mask_RCNN", "mrcnn_imgaug_compat.py"))
        compat = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(compat)
        with open(os.path.join(self.build_lib, compat.PTH_NAME), "w") as f:
            f.write(compat.PTH_LINE)
        if not getattr(self, "editable_mode", False):   # editable: make venv vendors
            spec = importlib.util.spec_from_file_location(
                "phone_web_assets", os.path.join(here, "phone", "web", "assets.py"))
            assets = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(assets)
            assets.vendor_ort(os.path.join(self.build_lib, "phone", "web", "vendor"), root=here)


setup(
    packages=[
        "mrcnn", "mrcnn.core", "mrcnn.layers", "mrcnn.data",
        "phone", "phone.commands", "phone.models", "phone.data", "phone.web",
    ],
    py_modules=["mrcnn_imgaug_compat"],
    package_dir={"": "Mask_RCNN", "mrcnn": "Mask_RCNN/mrcnn", "phone": "phone",
                 "phone.data": "datasets/phone"},
    package_data={"phone.models": ["*.h5", "*.md"],
                  "phone.web": ["index.html", "app.js", "style.css"],
                  "phone.data": ["*.json", "train/*.png", "train/*.json",
                                 "val/*.png", "val/*.json", "more/*.png", "more/*.json"]},
    include_package_data=False,
    cmdclass={"build_py": build_py_with_pth},
)
