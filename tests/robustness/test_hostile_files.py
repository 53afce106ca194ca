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


# ----------------------------------------------------------------- weights files
def _write_keras2_h5(path, layers):
    """A minimal file in the mask_rcnn_coco.h5 layout: {layer: {weight_name: array}}."""
    import h5py
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        for name, weights in layers.items():
            g = f.create_group(name)
            g.attrs["weight_names"] = np.array([w.encode() for w in weights])
            for w, value in weights.items():
                g.create_dataset(w, data=value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_a_damaged_file(tmp_path, bad):
    from mrcnn.weights import WeightsFileError, read_weights_h5
    kernel = np.ones((3, 3, 3, 4), np.float32)
    kernel[1, 2, 0, 3] = bad
    path = tmp_path / "w.h5"
    _write_keras2_h5(path, {"conv1": {"conv1/kernel:0": kernel,
                                      "conv1/bias:0": np.zeros(4, np.float32)}})
    with pytest.raises(WeightsFileError) as e:
        read_weights_h5(str(path))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path))
    assert "'conv1'" in msg and "conv1/kernel:0" in msg and "1 NaN/infinite" in msg
    # the same file with finite values reads back exactly
    kernel[1, 2, 0, 3] = 7.0
    _write_keras2_h5(path, {"conv1": {"conv1/kernel:0": kernel,
                                      "conv1/bias:0": np.zeros(4, np.float32)}})
    got = read_weights_h5(str(path))
    np.testing.assert_array_equal(got["conv1"][0][1], kernel)
