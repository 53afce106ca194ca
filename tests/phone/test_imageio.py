"""phone.imageio: conversions to RGB uint8 (checked pixel by pixel), errors, atomic writes."""
import os

import cv2
import numpy as np
import pytest

from phone.errors import ImageReadError, PhoneDataError
from phone.imageio import image_size, read_image, write_png_atomic


def _cv2_write(path, arr, ext=".png", params=()):
    ok, enc = cv2.imencode(ext, arr, list(params))
    assert ok
    enc.tofile(str(path))
    return path


def test_bgr_file_comes_back_rgb(tmp_path):
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255          # pure red in OpenCV's BGR order
    bgr[0, 0] = (10, 20, 30)   # B=10 G=20 R=30
    img = read_image(_cv2_write(tmp_path / "red.png", bgr))
    assert img.dtype == np.uint8 and img.shape == (4, 5, 3)
    assert tuple(img[1, 1]) == (255, 0, 0)
    assert tuple(img[0, 0]) == (30, 20, 10)


def test_grey_expanded_to_three_channels(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    img = read_image(_cv2_write(tmp_path / "g.png", grey))
    assert img.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], grey)


def test_rgba_composited_on_black(tmp_path):
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[0, 0] = (50, 100, 200, 128)   # half transparent
    bgra[0, 1] = (50, 100, 200, 255)   # opaque
    bgra[1, 0] = (50, 100, 200, 0)     # fully transparent -> black
    img = read_image(_cv2_write(tmp_path / "a.png", bgra))
    assert img.shape == (2, 2, 3)
    # RGB = (200, 100, 50) * 128/255, rounded: 100.39, 50.2, 25.1
    assert tuple(img[0, 0]) == (100, 50, 25)
    assert tuple(img[0, 1]) == (200, 100, 50)
    assert tuple(img[1, 0]) == (0, 0, 0)


def test_16bit_scaled_to_8bit(tmp_path):
    bgr16 = np.zeros((2, 3, 3), np.uint16)
    bgr16[0, 0] = (0x0100, 0x8000, 0xFFFF)   # B, G, R
    bgr16[1, 2] = (0x00FF, 0x12AB, 0x3456)
    img = read_image(_cv2_write(tmp_path / "d.png", bgr16))
    assert img.dtype == np.uint8
    assert tuple(img[0, 0]) == (0xFF, 0x80, 0x01)
    assert tuple(img[1, 2]) == (0x34, 0x12, 0x00)


def test_16bit_grey(tmp_path):
    g = np.array([[0, 256, 65535]], np.uint16)
    img = read_image(_cv2_write(tmp_path / "g16.png", g))
    np.testing.assert_array_equal(img[0, :, 1], [0, 1, 255])


def test_unicode_path(tmp_path):
    rgb = np.full((3, 3, 3), 7, np.uint8)
    p = tmp_path / "téléphone 电话.png"
    write_png_atomic(p, rgb)
    np.testing.assert_array_equal(read_image(p), rgb)
    assert image_size(p) == (3, 3)


@pytest.mark.parametrize("case", ["missing", "empty", "text", "truncated_png", "truncated_jpg", "dir"])
def test_bad_files_raise_naming_the_path(tmp_path, case):
    p = tmp_path / f"bad_{case}.png"
    good = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    if case == "empty":
        p.write_bytes(b"")
    elif case == "text":
        p.write_text("this is not an image\n")
    elif case == "truncated_png":
        data = cv2.imencode(".png", good)[1].tobytes()
        p.write_bytes(data[: len(data) // 2])
    elif case == "truncated_jpg":
        p = tmp_path / "bad.jpg"
        data = cv2.imencode(".jpg", good)[1].tobytes()
        p.write_bytes(data[: len(data) // 2])
    elif case == "dir":
        p.mkdir()
    with pytest.raises(ImageReadError) as ei:
        read_image(p)
    msg = str(ei.value)
    assert str(p) in msg and "\n" not in msg
    assert isinstance(ei.value, PhoneDataError) and isinstance(ei.value, ValueError)


def test_write_png_atomic_roundtrip_and_no_temp_left(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    mask = rng.random((5, 7)) > 0.5
    write_png_atomic(tmp_path / "sub" / "rgb.png", rgb)
    write_png_atomic(tmp_path / "sub" / "mask.png", mask)
    np.testing.assert_array_equal(read_image(tmp_path / "sub" / "rgb.png"), rgb)
    m = cv2.imdecode(np.fromfile(str(tmp_path / "sub" / "mask.png"), np.uint8), cv2.IMREAD_UNCHANGED)
    assert m.ndim == 2
    np.testing.assert_array_equal(m, mask.astype(np.uint8) * 255)
    assert sorted(os.listdir(tmp_path / "sub")) == ["mask.png", "rgb.png"]


def test_write_png_atomic_failure_leaves_old_file(tmp_path):
    p = tmp_path / "x.png"
    write_png_atomic(p, np.zeros((2, 2), np.uint8))
    before = p.read_bytes()
    with pytest.raises(ValueError):
        write_png_atomic(p, np.zeros((2, 2), np.float32))
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["x.png"]


def test_image_size_from_headers(tmp_path):
    a = np.zeros((37, 53, 3), np.uint8)
    assert image_size(_cv2_write(tmp_path / "a.png", a)) == (37, 53)
    assert image_size(_cv2_write(tmp_path / "a.jpg", a, ".jpg")) == (37, 53)
    assert image_size(_cv2_write(tmp_path / "a.bmp", a, ".bmp")) == (37, 53)
    with pytest.raises(ImageReadError, match="no such image file"):
        image_size(tmp_path / "nope.png")
