import numpy as np
import pytest

from mrcnn.core.boxes import extract_bboxes
from mrcnn.core.images import resize_image, resize_mask


def _img(h, w, dtype=np.uint8):
    rng = np.random.default_rng(0)
    return rng.integers(1, 255, (h, w, 3)).astype(dtype)


def test_square_no_upscale_100x200():
    img = _img(100, 200)
    out, window, scale, padding, crop = resize_image(img, max_dim=256, mode="square")
    # scale 1; pad (256-100)//2 = 78 rows top, 78 bottom; (256-200)//2 = 28 cols
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert window == (78, 28, 178, 228)
    assert scale == 1
    assert padding == [(78, 78), (28, 28), (0, 0)]
    assert crop is None
    assert np.array_equal(out[78:178, 28:228], img)
    assert out[:78].max() == 0 and out[:, :28].max() == 0


def test_square_min_dim_upscale_100x200():
    img = _img(100, 200)
    out, window, scale, padding, crop = resize_image(
        img, min_dim=128, max_dim=256, mode="square")
    # scale = 128/100 = 1.28 -> 128 x 256; pad 64 rows top and bottom
    assert scale == pytest.approx(1.28)
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert window == (64, 0, 192, 256)
    assert padding == [(64, 64), (0, 0), (0, 0)]


def test_square_downscale_limited_by_max_dim():
    img = _img(400, 800)
    out, window, scale, padding, _ = resize_image(img, min_dim=300, max_dim=256,
                                                  mode="square")
    # min_dim wants 300/400 -> scale 1 (never down) but 800 > 256 -> 256/800
    assert scale == pytest.approx(0.32)
    assert window == (64, 0, 192, 256)


def test_pad64_and_none():
    img = _img(100, 200)
    out, window, scale, padding, _ = resize_image(img, min_dim=64, mode="pad64")
    assert out.shape == (128, 256, 3)
    assert window == (14, 28, 114, 228)
    assert padding == [(14, 14), (28, 28), (0, 0)]
    out, window, scale, padding, crop = resize_image(img, mode="none")
    assert out is img and window == (0, 0, 100, 200) and scale == 1


def test_crop_mode_with_rng():
    img = _img(300, 400)
    out, window, scale, padding, crop = resize_image(
        img, min_dim=128, mode="crop", rng=np.random.default_rng(3))
    y, x, h, w = crop
    assert (h, w) == (128, 128) and window == (0, 0, 128, 128)
    assert np.array_equal(out, img[y:y + 128, x:x + 128])
    m = np.zeros((300, 400, 1), bool)
    m[y + 10:y + 20, x + 5:x + 15, 0] = True
    mm = resize_mask(m, scale, padding, crop)
    assert mm.shape == (128, 128, 1)
    assert extract_bboxes(mm).tolist() == [[10, 5, 20, 15]]


def test_float_dtype_preserved_and_bad_mode():
    img = _img(50, 60, np.float32) / 255.0
    out, *_ = resize_image(img.astype(np.float32), min_dim=64, max_dim=128)
    assert out.dtype == np.float32
    with pytest.raises(ValueError):
        resize_image(img, mode="stretch")


def test_resize_mask_matches_image():
    img = _img(100, 200)
    m = np.zeros((100, 200, 2), bool)
    m[10:30, 20:60, 0] = True
    m[50:100, 100:200, 1] = True
    out, window, scale, padding, crop = resize_image(img, min_dim=128, max_dim=256)
    mm = resize_mask(m, scale, padding, crop)
    assert mm.dtype == np.bool_ and mm.shape == (256, 256, 2)
    b = extract_bboxes(mm)
    # box scaled by 1.28 and shifted by the 64-row top padding (+-1 px)
    expect = np.array([[10 * 1.28 + 64, 20 * 1.28, 30 * 1.28 + 64, 60 * 1.28],
                       [50 * 1.28 + 64, 100 * 1.28, 100 * 1.28 + 64, 200 * 1.28]])
    assert np.abs(b - expect).max() <= 1.5
    # nothing in the padding
    assert not mm[:64].any() and not mm[192:].any()
    # empty instance list keeps its shape
    e = resize_mask(np.zeros((100, 200, 0), bool), scale, padding)
    assert e.shape == (256, 256, 0)
