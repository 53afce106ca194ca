"""Image and mask resizing (Matterport's resize_image / resize_mask).

Shapes:
    image   [height, width, channels] any dtype (kept)
    mask    [height, width, num_instances] bool
    window  (y1, x1, y2, x2)  the resized image inside the padded one, pixels
    padding [(top, bottom), (left, right), (0, 0)]
    crop    (y, x, height, width) or None
"""
import random
import warnings

import numpy as np
import scipy.ndimage
import skimage.transform

__all__ = ["as_rgb", "resize", "resize_image", "resize_mask"]

RESIZE_MODES = ("none", "square", "pad64", "crop")


def as_rgb(image):
    """An image as [H, W, 3]: grey [H, W] repeated into 3 channels, RGBA
    [H, W, 4] without its alpha. Raises ValueError (one line) for any other
    shape or an empty image."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if (image.ndim != 3 or image.shape[2] not in (3, 4)
            or image.shape[0] < 1 or image.shape[1] < 1):
        raise ValueError(f"expected an [H, W, 3] RGB image, got shape {image.shape}")
    return image[:, :, :3]


def resize(image, output_shape, order=1, mode="constant", cval=0, clip=True,
           preserve_range=False, anti_aliasing=False, anti_aliasing_sigma=None):
    """skimage.transform.resize with Matterport's defaults (no anti-aliasing).

    Bool input is resized as float32 0/1 (skimage refuses bool with order>0);
    the result is then float.
    """
    image = np.asarray(image)
    if image.dtype == np.bool_:
        image = image.astype(np.float32)
    return skimage.transform.resize(
        image, output_shape, order=order, mode=mode, cval=cval, clip=clip,
        preserve_range=preserve_range, anti_aliasing=anti_aliasing,
        anti_aliasing_sigma=anti_aliasing_sigma)


def _scaled_shape(h, w, scale):
    """(round(h * scale), round(w * scale)), each at least 1 pixel: a very
    thin image (1 x 5000 scaled to fit 64) keeps one row instead of becoming
    empty. Equal to Matterport's size whenever that is not 0."""
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_image(image, min_dim=None, max_dim=None, min_scale=None,
                 mode="square", rng=None):
    """Resize an image keeping its aspect ratio.

    image: [height, width, channels].
    min_dim: scale up so the short side is at least this (never down).
    max_dim: ("square") the long side is at most this after scaling.
    min_scale: scale at least by this factor.
    mode:
        none   - return the image unchanged.
        square - resize, then zero-pad to [max_dim, max_dim].
        pad64  - resize (min_dim, min_scale), then pad height and width up to
                 multiples of 64 (min_dim must be a multiple of 64).
        crop   - resize (min_dim, min_scale), then take a random
                 min_dim x min_dim crop.
    rng: optional np.random.Generator for the crop position (default: the
        `random` module, as Matterport).
    Returns: image (same dtype), window (y1, x1, y2, x2), scale (float or 1),
    padding [(top, bottom), (left, right), (0, 0)], crop (y, x, h, w) or None.
    """
    if mode not in RESIZE_MODES:
        raise ValueError("resize_image: mode must be one of %s, got %r"
                         % (RESIZE_MODES, mode))
    image = np.asarray(image)
    image_dtype = image.dtype
    h, w = image.shape[:2]
    window = (0, 0, h, w)
    scale = 1
    padding = [(0, 0), (0, 0), (0, 0)]
    crop = None

    if mode == "none":
        return image, window, scale, padding, crop

    if min_dim:
        scale = max(1, min_dim / min(h, w))
    if min_scale and scale < min_scale:
        scale = min_scale
    if max_dim and mode == "square":
        image_max = max(h, w)
        if round(image_max * scale) > max_dim:
            scale = max_dim / image_max

    if scale != 1:
        image = resize(image, _scaled_shape(h, w, scale), preserve_range=True)

    if mode == "square":
        if not max_dim:
            raise ValueError("resize_image: mode 'square' needs max_dim")
        h, w = image.shape[:2]
        top_pad = (max_dim - h) // 2
        bottom_pad = max_dim - h - top_pad
        left_pad = (max_dim - w) // 2
        right_pad = max_dim - w - left_pad
        padding = [(top_pad, bottom_pad), (left_pad, right_pad), (0, 0)]
        image = np.pad(image, padding[:image.ndim], mode="constant",
                       constant_values=0)
        window = (top_pad, left_pad, h + top_pad, w + left_pad)
    elif mode == "pad64":
        h, w = image.shape[:2]
        if not min_dim or min_dim % 64 != 0:
            raise ValueError("resize_image: mode 'pad64' needs min_dim to be a "
                             "multiple of 64, got %r" % (min_dim,))
        if h % 64 > 0:
            max_h = h - (h % 64) + 64
            top_pad = (max_h - h) // 2
            bottom_pad = max_h - h - top_pad
        else:
            top_pad = bottom_pad = 0
        if w % 64 > 0:
            max_w = w - (w % 64) + 64
            left_pad = (max_w - w) // 2
            right_pad = max_w - w - left_pad
        else:
            left_pad = right_pad = 0
        padding = [(top_pad, bottom_pad), (left_pad, right_pad), (0, 0)]
        image = np.pad(image, padding[:image.ndim], mode="constant",
                       constant_values=0)
        window = (top_pad, left_pad, h + top_pad, w + left_pad)
    elif mode == "crop":
        if not min_dim:
            raise ValueError("resize_image: mode 'crop' needs min_dim")
        h, w = image.shape[:2]
        if rng is None:
            y = random.randint(0, (h - min_dim))
            x = random.randint(0, (w - min_dim))
        else:
            y = int(rng.integers(0, h - min_dim + 1))
            x = int(rng.integers(0, w - min_dim + 1))
        crop = (y, x, min_dim, min_dim)
        image = image[y:y + min_dim, x:x + min_dim]
        window = (0, 0, min_dim, min_dim)
    return image.astype(image_dtype), window, scale, padding, crop


def resize_mask(mask, scale, padding, crop=None):
    """Resize instance masks with the numbers resize_image returned.

    mask: [height, width, num_instances] bool (or 0/1).
    scale, padding, crop: from resize_image.
    Nearest-neighbour zoom (scipy.ndimage.zoom, order=0, as Matterport), so
    the output size round(h * scale) matches the resized image.
    Returns [new_height, new_width, num_instances] bool.
    """
    mask = np.asarray(mask)
    as_u8 = mask.astype(np.uint8) if mask.dtype != np.uint8 else mask
    if scale != 1:
        h, w = mask.shape[:2]
        out_h, out_w = _scaled_shape(h, w, scale)
        if mask.shape[-1] == 0 or mask.size == 0:
            as_u8 = np.zeros((out_h, out_w, mask.shape[-1]), dtype=np.uint8)
        else:
            # scipy's output size is round(n * zoom); an axis that would
            # vanish gets the zoom that keeps it 1 pixel (as resize_image).
            zoom_h = scale if round(h * scale) == out_h else out_h / h
            zoom_w = scale if round(w * scale) == out_w else out_w / w
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                as_u8 = scipy.ndimage.zoom(as_u8, zoom=[zoom_h, zoom_w, 1], order=0)
    if crop is not None:
        y, x, h, w = crop
        as_u8 = as_u8[y:y + h, x:x + w]
    else:
        as_u8 = np.pad(as_u8, padding, mode="constant", constant_values=0)
    return as_u8 > 0
