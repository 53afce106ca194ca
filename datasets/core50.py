#!/usr/bin/env python3
"""CORe50 download and phone-frame preparation.

A thin script over :mod:`phone.core50`::

    python datasets/core50.py download --root DIR [--size 128]
    python datasets/core50.py prepare  --root DIR [--size 128] [--stride 1] [--via FILE ...]
"""
import sys

import _bootstrap  # noqa: F401  (source checkout without install)

from phone.core50 import main

if __name__ == "__main__":
    sys.exit(main())
