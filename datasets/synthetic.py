#!/usr/bin/env python3
"""Generate synthetic CORe50-like phone frames with VIA polygons.

A thin script over :mod:`phone.synthetic` (the generator lives in the
installable package)::

    python datasets/synthetic.py --out DIR --n 200 --size 128 --seed 0 \\
        [--paste-from datasets/phone/train/via_region_data.json] [--negatives 0.1]
"""
import sys

import _bootstrap  # noqa: F401  (source checkout without install)

from phone.synthetic import main

if __name__ == "__main__":
    sys.exit(main())
