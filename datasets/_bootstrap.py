"""Lets the scripts in datasets/ run from a source checkout with no install.

``python datasets/synthetic.py`` puts datasets/ first on sys.path, so this
module is importable as ``_bootstrap``; importing it adds the repository root
and Mask_RCNN/ when the ``phone`` / ``mrcnn`` packages are not installed.
Installed packages (``pip install .`` or ``make venv``) need none of it.
"""
import importlib.util
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

for _name, _folder in (("phone", REPO), ("mrcnn", os.path.join(REPO, "Mask_RCNN"))):
    if importlib.util.find_spec(_name) is None and _folder not in sys.path:
        sys.path.insert(0, _folder)
