#!/usr/bin/env python3
"""Matterport balloon-style entry point::

    cd phone
    python phone.py train --dataset=../datasets/phone --weights=coco
    python phone.py segment --weights=last --image=<file> --out=<dir>

Run as a script from inside phone/, Python puts phone/ itself first on
sys.path, so ``import phone`` would import *this file* instead of the
package. The path is fixed before anything is imported: phone/ is removed
and the repository root (and Mask_RCNN/, for ``import mrcnn`` without an
install) go first.
"""
import os
import sys

if __name__ == "__main__":
    _HERE = os.path.dirname(os.path.realpath(__file__))
    _ROOT = os.path.dirname(_HERE)
    sys.path[:] = [p for p in sys.path
                   if os.path.realpath(p or os.getcwd()) != _HERE]
    for _p in (os.path.join(_ROOT, "Mask_RCNN"), _ROOT):
        if os.path.isdir(_p) and _p not in sys.path:
            sys.path.insert(0, _p)
    _mod = sys.modules.get("phone")
    if _mod is not None and not hasattr(_mod, "__path__"):
        del sys.modules["phone"]  # this file, imported under the package's name

    from phone.cli import main

    sys.exit(main())
