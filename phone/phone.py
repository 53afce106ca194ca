#!/usr/bin/env python3
"""Matterport balloon-style entry point::

    cd phone
    python phone.py train --dataset=../datasets/phone --weights=coco
    python phone.py segment --weights=last --image=<file> --out=<dir>

The same as the ``phone`` command (phone.commands); _script.py sets up
sys.path for a checkout used without ``pip install``.
"""
import sys

if __name__ == "__main__":
    import _script

    sys.exit(_script.run_command())
