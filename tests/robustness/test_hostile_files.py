"""Hostile files: degenerate image sizes, broken images, broken weights
files, empty videos, through the library and the ``phone`` CLI.

Every case ends either with a correct result or with a one-line
``phone ...: error: FILE: problem`` and a non-zero exit; never a traceback.
Where exact mask pixels are asserted, MaskRCNN.detect is replaced by a fixed
detector so the expected mask is known independently of the network.
"""
import os

import numpy as np
import pytest

from mrcnn.core.images import resize_image, resize_mask


# ----------------------------------------------------------------- resizing
@pytest.mark.parametrize("h,w", [(1, 5000), (5000, 1), (3, 5000), (1, 1)])
def test_resize_image_keeps_thin_images_one_pixel_thick(h, w):
    """1 x 5000 scaled to fit 64 px would be round(1 * 64/5000) = 0 rows:
    skimage then fails deep inside. At least one row/column is kept."""
    image = np.full((h, w, 3), 200, np.uint8)
    out, window, scale, padding, _ = resize_image(image, min_dim=64, max_dim=64, mode="square")
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    y1, x1, y2, x2 = window
    exp_h = max(1, round(h * scale))
    exp_w = max(1, round(w * scale))
    assert (y2 - y1, x2 - x1) == (exp_h, exp_w)
    assert min(exp_h, exp_w) >= 1 and max(exp_h, exp_w) == 64
    # the window holds the (constant) image, the padding is zero
    assert (out[y1:y2, x1:x2] == 200).all()
    assert out.sum() == 200 * 3 * exp_h * exp_w
    assert padding[0] == (y1, 64 - y2) and padding[1] == (x1, 64 - x2)

    mask = np.ones((h, w, 2), bool)
    mask[..., 1] = False
    m = resize_mask(mask, scale, padding)
    assert m.shape == (64, 64, 2)
    assert m[y1:y2, x1:x2, 0].all() and m[..., 0].sum() == exp_h * exp_w
    assert not m[..., 1].any()
    # masks without instances get the same size
    assert resize_mask(np.zeros((h, w, 0), bool), scale, padding).shape == (64, 64, 0)


def test_resize_unchanged_for_ordinary_sizes():
    """Matterport's round(h * scale) is kept where it is not 0."""
    image = np.zeros((100, 250, 3), np.uint8)
    out, window, scale, _, _ = resize_image(image, min_dim=64, max_dim=64, mode="square")
    assert scale == pytest.approx(64 / 250)
    assert window == (19, 0, 19 + round(100 * 64 / 250), 64)
