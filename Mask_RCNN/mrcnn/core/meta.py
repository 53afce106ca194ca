"""Image meta vectors and image molding.

Shapes:
    image_meta  [IMAGE_META_SIZE] = [image_id (1), original_image_shape (3),
                image_shape (3), window (4, (y1, x1, y2, x2) pixels of the
                real image inside the padded one), scale (1),
                active_class_ids (NUM_CLASSES)]
    batched meta  [batch, IMAGE_META_SIZE]
    images  [batch, height, width, channels] (or one image [H, W, C])
"""
import numpy as np

__all__ = ["compose_image_meta", "parse_image_meta", "mold_image",
           "unmold_image"]


def compose_image_meta(image_id, original_image_shape, image_shape,
                       window, scale, active_class_ids):
    """Pack image attributes into one 1-D array.

    image_id: int; original_image_shape: [H, W, C] before resizing;
    image_shape: [H, W, C] after resizing and padding;
    window: (y1, x1, y2, x2) of the real image in the padded one;
    scale: resize factor; active_class_ids: [NUM_CLASSES] 1 for classes of
    the image's dataset source.
    Returns [1 + 3 + 3 + 4 + 1 + NUM_CLASSES] float64.
    """
    return np.array(
        [image_id] +
        list(original_image_shape) +
        list(image_shape) +
        list(window) +
        [scale] +
        list(active_class_ids), dtype=np.float64)


def parse_image_meta(meta):
    """Unpack meta arrays made by compose_image_meta.

    meta: [batch, IMAGE_META_SIZE] (a single [IMAGE_META_SIZE] also works and
    gives un-batched values).
    Returns dict: image_id [batch] int32, original_image_shape [batch, 3]
    int32, image_shape [batch, 3] int32, window [batch, 4] int32,
    scale [batch] float32, active_class_ids [batch, NUM_CLASSES] int32.
    """
    meta = np.asarray(meta)
    single = meta.ndim == 1
    m = np.atleast_2d(meta)
    out = {
        "image_id": m[:, 0].astype(np.int32),
        "original_image_shape": m[:, 1:4].astype(np.int32),
        "image_shape": m[:, 4:7].astype(np.int32),
        "window": m[:, 7:11].astype(np.int32),
        "scale": m[:, 11].astype(np.float32),
        "active_class_ids": m[:, 12:].astype(np.int32),
    }
    if single:
        out = {k: v[0] for k, v in out.items()}
    return out


def mold_image(images, config):
    """RGB uint8 images -> float32 network input (MEAN_PIXEL subtracted).

    images: [..., H, W, C]; config: Config.  Returns the same shape, float32.
    """
    return np.asarray(images).astype(np.float32) - \
        np.asarray(config.MEAN_PIXEL, dtype=np.float32)


def unmold_image(normalized_images, config):
    """Inverse of mold_image: add MEAN_PIXEL back, return uint8 (rounded and
    clipped to 0..255, so float error cannot turn 100 into 99)."""
    x = np.asarray(normalized_images, dtype=np.float32) + \
        np.asarray(config.MEAN_PIXEL, dtype=np.float32)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)
