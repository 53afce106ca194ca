"""Image file I/O for the phone package.

``read_image`` always returns RGB ``uint8 [H, W, 3]`` whatever is on disk
(greyscale, grey+alpha, RGB, RGBA, 8 or 16 bit), which is what
``mrcnn.utils.Dataset.load_image`` promises. Files are read with
``np.fromfile`` + ``cv2.imdecode`` so that non-ASCII paths work on every OS
(``cv2.imread`` fails on them on Windows).

Note: like Matterport's ``skimage.io.imread``, the EXIF orientation tag is
*not* applied; pixels come back in stored order.
"""
import os
import struct
import tempfile

import cv2
import numpy as np

from mrcnn.core.fileio import current_umask, set_new_file_mode  # noqa: F401 (re-exported)
from phone.errors import ImageReadError

__all__ = ["read_image", "write_png_atomic", "write_bytes_atomic", "write_json_atomic",
           "image_size", "to_rgb_uint8"]

_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _read_bytes(path):
    """Return the file's bytes as a uint8 array, or raise ImageReadError."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageReadError(f"{path}: no such image file")
    if os.path.isdir(path):
        raise ImageReadError(f"{path}: is a directory, not an image file")
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read image file ({e.strerror or e})") from None
    if buf.size == 0:
        raise ImageReadError(f"{path}: empty image file (0 bytes)")
    return buf


def _check_complete(path, buf):
    """Catch truncated PNG/JPEG files that OpenCV would decode partially.

    libjpeg decodes a cut-off JPEG with only a warning (the missing rows come
    back grey), so the end markers are checked explicitly.
    """
    head = buf[:8].tobytes()
    tail = buf[-64:].tobytes()
    if head.startswith(_PNG_SIG):
        if b"IEND" not in tail:
            raise ImageReadError(f"{path}: truncated PNG file (no IEND chunk)")
    elif head.startswith(b"\xff\xd8"):
        # EOI marker FFD9; some writers append padding after it.
        if b"\xff\xd9" not in tail:
            raise ImageReadError(f"{path}: truncated JPEG file (no end-of-image marker)")


def to_rgb_uint8(img, path="<array>"):
    """Convert a decoded OpenCV array to RGB uint8 [H, W, 3].

    img: [H, W], [H, W, 1], [H, W, 2] (grey + alpha), [H, W, 3] (BGR) or
        [H, W, 4] (BGRA); uint8, uint16 or float (0..1).
    Alpha is composited on black (colour * alpha / max). 16-bit values are
    scaled to 8 bits by ``>> 8``.
    """
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
        raise ImageReadError(f"{path}: unsupported image shape {img.shape}")
    if img.dtype == np.uint8:
        maxval = 255
    elif img.dtype == np.uint16:
        maxval = 65535
    elif np.issubdtype(img.dtype, np.floating):
        img = np.clip(np.nan_to_num(img.astype(np.float64)), 0.0, 1.0)
        img = np.round(img * 255.0).astype(np.uint8)
        maxval = 255
    else:
        raise ImageReadError(f"{path}: unsupported pixel type {img.dtype}")

    channels = img.shape[2]
    if channels in (2, 4):
        colour, alpha = img[:, :, :-1], img[:, :, -1:]
        wide = np.uint64 if maxval == 65535 else np.uint32
        # Round to nearest: (c * a + max/2) // max.
        img = ((colour.astype(wide) * alpha.astype(wide) + maxval // 2) // maxval)
        img = img.astype(np.uint16 if maxval == 65535 else np.uint8)
        channels -= 1
    if maxval == 65535:
        img = (img >> 8).astype(np.uint8)
    if channels == 1:
        img = np.repeat(img, 3, axis=2)
    else:
        img = img[:, :, ::-1]  # BGR -> RGB
    return np.ascontiguousarray(img, dtype=np.uint8)


def read_image(path):
    """Read an image file as RGB uint8.

    path: str or PathLike (non-ASCII names are fine).
    Returns: [H, W, 3] uint8, RGB. Greyscale is expanded to 3 channels,
    alpha is composited on black, 16-bit is scaled to 8-bit (``>> 8``).
    Raises ImageReadError (naming the path) for a missing, empty, truncated
    or undecodable file.
    """
    path = os.fspath(path)
    buf = _read_bytes(path)
    _check_complete(path, buf)
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageReadError(f"{path}: not a readable image (unknown format or corrupt data)")
    return to_rgb_uint8(img, path)


def _encode_png(path, array):
    arr = np.asarray(array)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: PNG needs uint8, uint16 or bool pixels, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[:, :, ::-1]          # RGB -> BGR for OpenCV
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, [2, 1, 0, 3]]  # RGBA -> BGRA
    elif arr.ndim != 2:
        raise ValueError(f"{path}: PNG needs [H, W], [H, W, 3] or [H, W, 4], got shape {arr.shape}")
    ok, enc = cv2.imencode(".png", np.ascontiguousarray(arr))
    if not ok:
        raise ValueError(f"{path}: PNG encoding failed")
    return enc.tobytes()


def write_png_atomic(path, array):
    """Write a PNG atomically (temp file in the same directory + os.replace).

    path: destination (parent directories are created).
    array: [H, W] single channel (uint8/uint16; bool is written as 0/255),
        [H, W, 3] RGB or [H, W, 4] RGBA.
    Readers never see a half-written file; a failed write leaves no temp file.
    """
    path = os.fspath(path)
    data = _encode_png(path, array)
    write_bytes_atomic(path, data)
    return path


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` via a temp file + os.replace.
    The file gets ordinary permissions (see :func:`set_new_file_mode`)."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        set_new_file_mode(tmp, path)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_json_atomic(path, data, indent=2):
    """Write ``data`` as UTF-8 JSON (with a final newline), atomically.
    Returns the path."""
    import json
    text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf8"))


def _png_size(head):
    # Signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4).
    if len(head) >= 24 and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return h, w
    return None


def _jpeg_size(f):
    f.seek(2)
    while True:
        b = f.read(1)
        while b and b != b"\xff":
            b = f.read(1)
        while b == b"\xff":
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue  # standalone markers
        seglen = f.read(2)
        if len(seglen) < 2:
            return None
        (n,) = struct.unpack(">H", seglen)
        # SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            data = f.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            return h, w
        f.seek(n - 2, os.SEEK_CUR)


def image_size(path):
    """Return ``(height, width)`` of an image file.

    PNG and JPEG sizes come from the file header without decoding pixels;
    other formats are decoded. Raises ImageReadError for missing/bad files.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageReadError(f"{path}: no such image file")
    if os.path.getsize(path) == 0:
        raise ImageReadError(f"{path}: empty image file (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(32)
        size = None
        if head.startswith(_PNG_SIG):
            size = _png_size(head)
        elif head.startswith(b"\xff\xd8"):
            size = _jpeg_size(f)
    if size is not None and size[0] > 0 and size[1] > 0:
        return int(size[0]), int(size[1])
    h, w = read_image(path).shape[:2]
    return h, w
