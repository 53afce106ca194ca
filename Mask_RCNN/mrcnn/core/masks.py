"""Mini-masks and mask pasting.

Shapes:
    bbox       [N, (y1, x1, y2, x2)] pixels, y2/x2 exclusive
    mask       [height, width, N] bool, full image size
    mini_mask  [mini_h, mini_w, N] bool, each mask resized to its box
    net masks  [N, mask_h, mask_w] float in 0..1 (e.g. 28x28 head output)
"""
import numpy as np

from mrcnn.core.images import resize, resize_image, resize_mask

__all__ = ["minimize_mask", "expand_mask", "unmold_mask", "mold_mask",
           "paste_masks"]


def minimize_mask(bbox, mask, mini_shape):
    """Crop each mask to its box and resize it to mini_shape (saves memory).

    bbox: [N, (y1, x1, y2, x2)]; mask: [height, width, N];
    mini_shape: (mini_h, mini_w).
    Returns [mini_h, mini_w, N] bool.  A box of zero area raises ValueError.
    """
    mini_shape = tuple(int(s) for s in mini_shape)
    mini_mask = np.zeros(mini_shape + (mask.shape[-1],), dtype=bool)
    for i in range(mask.shape[-1]):
        y1, x1, y2, x2 = [int(v) for v in bbox[i][:4]]
        m = mask[y1:y2, x1:x2, i].astype(np.float32)
        if m.size == 0:
            raise ValueError("minimize_mask: instance %d has a bounding box of "
                             "zero area %s" % (i, (y1, x1, y2, x2)))
        m = resize(m, mini_shape)
        mini_mask[:, :, i] = np.around(m).astype(bool)
    return mini_mask


def expand_mask(bbox, mini_mask, image_shape):
    """Inverse of minimize_mask: paste mini masks back at full size.

    bbox: [N, (y1, x1, y2, x2)]; mini_mask: [mini_h, mini_w, N];
    image_shape: [height, width(, channels)].
    Returns [height, width, N] bool.
    """
    mask = np.zeros(tuple(int(s) for s in image_shape[:2]) + (mini_mask.shape[-1],),
                    dtype=bool)
    for i in range(mask.shape[-1]):
        y1, x1, y2, x2 = [int(v) for v in bbox[i][:4]]
        h, w = y2 - y1, x2 - x1
        if h <= 0 or w <= 0:
            continue
        m = resize(mini_mask[:, :, i].astype(np.float32), (h, w))
        mask[y1:y2, x1:x2, i] = np.around(m).astype(bool)
    return mask


def unmold_mask(mask, bbox, image_shape):
    """Turn a network mask into a full-size binary mask.

    mask: [mask_h, mask_w] float in 0..1 (e.g. 28x28);
    bbox: (y1, x1, y2, x2) pixels where the mask goes;
    image_shape: [height, width(, channels)].
    Returns [height, width] bool (mask resized bilinearly to the box,
    thresholded at 0.5; parts of the box outside the image are dropped).
    """
    threshold = 0.5
    H, W = int(image_shape[0]), int(image_shape[1])
    full_mask = np.zeros((H, W), dtype=bool)
    y1, x1, y2, x2 = [int(v) for v in bbox[:4]]
    if y2 <= y1 or x2 <= x1:
        return full_mask
    m = resize(np.asarray(mask, dtype=np.float32), (y2 - y1, x2 - x1))
    m = m >= threshold
    # Clip the box to the image.
    cy1, cx1 = max(y1, 0), max(x1, 0)
    cy2, cx2 = min(y2, H), min(x2, W)
    if cy2 <= cy1 or cx2 <= cx1:
        return full_mask
    full_mask[cy1:cy2, cx1:cx2] = m[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1]
    return full_mask


def mold_mask(mask, config):
    """Resize full-image instance masks exactly as MaskRCNN.mold_inputs
    resizes their image (config.IMAGE_RESIZE_MODE, IMAGE_MIN_DIM,
    IMAGE_MAX_DIM, IMAGE_MIN_SCALE), so they line up with the molded image.

    Matterport's utils declared mold_mask(mask, config) but left it empty (a
    TODO returning None); this is what its name promises.

    mask: [height, width, N] (bool or 0/1).
    Returns [molded_height, molded_width, N] bool.
    Raises ValueError for IMAGE_RESIZE_MODE "crop" (a random crop must be
    shared with the image: use load_image_gt).
    """
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise ValueError("mold_mask: mask must be [height, width, N], got "
                         "shape %s" % (mask.shape,))
    if config.IMAGE_RESIZE_MODE == "crop":
        raise ValueError('mold_mask: IMAGE_RESIZE_MODE "crop" picks a random '
                         "crop per image; use load_image_gt, which crops the "
                         "image and its masks together")
    _, _, scale, padding, crop = resize_image(
        np.zeros(mask.shape[:2] + (1,), np.uint8),
        min_dim=config.IMAGE_MIN_DIM, min_scale=config.IMAGE_MIN_SCALE,
        max_dim=config.IMAGE_MAX_DIM, mode=config.IMAGE_RESIZE_MODE)
    return resize_mask(mask.astype(bool), scale, padding, crop).astype(bool)


def _linear_taps(n_in, n_out):
    """Taps of 1-D linear resampling from n_in to n_out samples, as
    skimage.transform.resize(order=1, mode="constant", cval=0,
    anti_aliasing=False) does it (scipy.ndimage.zoom, grid_mode=True,
    "grid-constant"): output sample j reads input position
    p = (j + 0.5) * n_in / n_out - 0.5, i.e. (1 - t) * x[floor(p)] +
    t * x[floor(p) + 1] with t = p - floor(p), where samples outside the
    input are zeros.

    Returns (ix [n_out] int, t [n_out] float32): ix = floor(p) + 1 indexes
    the input zero-padded by one sample on each side; cached per size pair.
    """
    key = (int(n_in), int(n_out))
    taps = _TAPS_CACHE.get(key)
    if taps is None:
        pos = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        lo = np.floor(pos)
        taps = (lo.astype(np.intp) + 1, (pos - lo).astype(np.float32))
        for a in taps:
            a.setflags(write=False)
        if len(_TAPS_CACHE) > 4096:
            _TAPS_CACHE.clear()
        _TAPS_CACHE[key] = taps
    return taps


_TAPS_CACHE = {}


def _linear_weights(n_in, n_out):
    """The taps of _linear_taps as a dense [n_out, n_in] float32 matrix
    (taps falling on the zero padding dropped)."""
    ix, t = _linear_taps(n_in, n_out)
    full = np.zeros((n_out, n_in + 2), dtype=np.float32)
    rows = np.arange(n_out)
    np.add.at(full, (rows, ix), 1.0 - t)
    np.add.at(full, (rows, ix + 1), t)
    return full[:, 1:-1]


def paste_masks(masks, boxes, image_shape, threshold=0.5):
    """unmold_mask for many detections at once (fast path of detect()).

    masks: [N, mask_h, mask_w] float in 0..1; boxes: [N, (y1, x1, y2, x2)]
    pixels; image_shape: [height, width(, channels)].
    Returns [height, width, N] bool (C-contiguous, as stacking unmold_mask).

    Each mask is resampled to its box separably with skimage's bilinear taps
    (see _linear_taps): rows first on the small mask, then columns, only for
    the rows and columns of the box inside the image, in float32 NumPy
    element-wise operations (no BLAS, whose thread pool is slow for these
    small products on a busy CPU), then thresholded. skimage's
    ``clip=True`` is reproduced: a mask whose minimum is >= threshold fills
    its box, one whose maximum is below it stays empty. The result equals
    stacking unmold_mask() except where a resampled value lies within float32
    rounding (~1e-6) of the threshold, since skimage interpolates in float64
    (tests/mrcnn/test_masks_paste.py checks this on random masks and boxes).
    """
    masks = np.asarray(masks, dtype=np.float32)
    boxes = np.asarray(boxes)
    H, W = int(image_shape[0]), int(image_shape[1])
    n = masks.shape[0]
    out = np.zeros((H, W, n), dtype=bool)
    if n == 0:
        return out
    mh, mw = masks.shape[1], masks.shape[2]
    b = np.asarray(boxes[:, :4]).astype(np.int64)
    clipped = np.stack([np.maximum(b[:, 0], 0), np.maximum(b[:, 1], 0),
                        np.minimum(b[:, 2], H), np.minimum(b[:, 3], W)], axis=1)
    ok = ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1]) &
          (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1]))
    flat = masks.reshape(n, -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    padded = np.zeros((n, mh + 2, mw + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = masks
    for i in np.flatnonzero(ok & (hi >= threshold)):
        y1, x1, y2, x2 = b[i]
        cy1, cx1, cy2, cx2 = clipped[i]
        if lo[i] >= threshold:        # clip=True lifts everything to >= lo
            out[cy1:cy2, cx1:cx2, i] = True
            continue
        iy, ty = _linear_taps(mh, y2 - y1)
        ix, tx = _linear_taps(mw, x2 - x1)
        iy, ty = iy[cy1 - y1:cy2 - y1], ty[cy1 - y1:cy2 - y1, None]
        ix, tx = ix[cx1 - x1:cx2 - x1], tx[cx1 - x1:cx2 - x1]
        p = padded[i]
        rows = np.zeros((len(iy), mw + 2), dtype=np.float32)
        rows[:, 1:-1] = p[iy, 1:-1] * (1.0 - ty) + p[iy + 1, 1:-1] * ty
        val = rows[:, ix]
        val *= 1.0 - tx
        right = rows[:, ix + 1]
        right *= tx
        val += right
        out[cy1:cy2, cx1:cx2, i] = val >= threshold
    return out
