"""Mini-masks and mask pasting.

Shapes:
    bbox       [N, (y1, x1, y2, x2)] pixels, y2/x2 exclusive
    mask       [height, width, N] bool, full image size
    mini_mask  [mini_h, mini_w, N] bool, each mask resized to its box
    net masks  [N, mask_h, mask_w] float in 0..1 (e.g. 28x28 head output)
"""
import numpy as np

from mrcnn.core.images import resize

__all__ = ["minimize_mask", "expand_mask", "unmold_mask",
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


def paste_masks(masks, boxes, image_shape):
    """unmold_mask for many detections at once.

    masks: [N, mask_h, mask_w] float in 0..1; boxes: [N, (y1, x1, y2, x2)]
    pixels; image_shape: [height, width(, channels)].
    Returns [height, width, N] bool (same result as stacking unmold_mask).
    """
    masks = np.asarray(masks, dtype=np.float32)
    boxes = np.asarray(boxes)
    H, W = int(image_shape[0]), int(image_shape[1])
    n = masks.shape[0]
    out = np.zeros((H, W, n), dtype=bool)
    for i in range(n):
        y1, x1, y2, x2 = [int(v) for v in boxes[i][:4]]
        if y2 <= y1 or x2 <= x1:
            continue
        m = resize(masks[i], (y2 - y1, x2 - x1)) >= 0.5
        cy1, cx1 = max(y1, 0), max(x1, 0)
        cy2, cx2 = min(y2, H), min(x2, W)
        if cy2 <= cy1 or cx2 <= cx1:
            continue
        out[cy1:cy2, cx1:cx2, i] = m[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1]
    return out
