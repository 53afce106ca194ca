"""Matplotlib-free rendering: instance overlays for PNGs and video (numpy +
OpenCV) and black-and-white phone masks, with the input checks they share
with mrcnn.visualize (which re-exports everything here: Matterport's
``visualize`` API stays whole). Importing this module does not import
pyplot, so command-line tools that write overlays start faster.

Image conventions follow Matterport: images are RGB ``[height, width, 3]``,
boxes are pixel ``(y1, x1, y2, x2)`` and instance masks are
``[height, width, num_instances]``.
"""
import colorsys

import cv2
import numpy as np

__all__ = ["VisualizeError", "draw_instances_image", "mask_to_bw"]


class VisualizeError(ValueError):
    """Bad input to a visualisation function (one-line message)."""


def _check_image(image, name="image"):
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] < 3:
        raise VisualizeError(
            "{}: expected an RGB image [height, width, 3], got shape {}".format(
                name, image.shape))
    return image


def _check_instances(image, boxes, masks, class_ids, masks_required=True):
    """Validate Matterport-style instance arrays; returns (boxes, masks, class_ids, N)."""
    boxes = np.zeros((0, 4), np.int32) if boxes is None else np.asarray(boxes)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or (boxes.shape[0] and boxes.shape[1] < 4):
        raise VisualizeError(
            "boxes: expected [num_instances, (y1, x1, y2, x2)], got shape {}".format(
                boxes.shape))
    n = boxes.shape[0]
    class_ids = (np.zeros((0,), np.int32) if class_ids is None
                 else np.asarray(class_ids).reshape(-1))
    if class_ids.shape[0] != n:
        raise VisualizeError(
            "class_ids: {} entries for {} boxes".format(class_ids.shape[0], n))
    if masks is None:
        if masks_required and n:
            raise VisualizeError("masks: required, got None")
        return boxes, None, class_ids, n
    masks = np.asarray(masks)
    if masks.ndim == 2 and n == 1:
        masks = masks[:, :, None]
    if masks.ndim != 3 or masks.shape[2] != n:
        raise VisualizeError(
            "masks: expected [height, width, {}], got shape {}".format(n, masks.shape))
    if n and masks.shape[:2] != image.shape[:2]:
        raise VisualizeError(
            "masks: size {} does not match image size {}".format(
                masks.shape[:2], image.shape[:2]))
    return boxes, masks, class_ids, n


def _rgb(color):
    """Any matplotlib colour (name, RGB or RGBA tuple in [0, 1]) -> RGB floats."""
    from matplotlib import colors as mcolors   # colour names only; no pyplot
    return mcolors.to_rgb(color)


def _class_color(class_id):
    """A stable bright RGB colour (floats in [0, 1]) for a class id."""
    hue = (int(class_id) * 0.618033988749895) % 1.0
    return colorsys.hsv_to_rgb(hue, 1.0, 1.0)


def _color_255(color):
    """Colour given as floats in [0, 1] (or ints in [0, 255]) -> 3 floats in [0, 255]."""
    if isinstance(color, str):
        return np.array(_rgb(color)) * 255.0
    c = np.asarray(color, dtype=np.float64).reshape(-1)[:3]
    if c.shape[0] != 3:
        raise VisualizeError("colors: expected (r, g, b) entries, got {!r}".format(color))
    return c if c.max() > 1.0 else c * 255.0


def draw_instances_image(image, boxes, masks, class_ids, class_names,
                         scores=None, colors=None, show_bbox=True, alpha=0.5):
    """Render instances onto a copy of the image with numpy + OpenCV only.

    image: [height, width, 3] RGB (uint8, or values in 0..255).
    boxes: [N, (y1, x1, y2, x2)] pixel boxes.
    masks: [height, width, N] instance masks (nonzero = inside).
    class_ids: [N]; class_names: list indexed by class id.
    scores: (optional) [N] confidences; captions read "name 0.97".
    colors: (optional) N colours, (r, g, b) floats in [0, 1] or ints in
        [0, 255]. Default: one stable colour per class id, so colours do not
        flicker between video frames.
    show_bbox: draw box outlines (2 px) and captions.
    alpha: mask opacity; inside a mask a pixel becomes
        image * (1 - alpha) + alpha * color * 255 (instances applied in order).

    Captions are drawn on a filled label of the instance colour just above the
    box's top-left corner (inside the box when there is no room above).
    Instances with an all-zero box get their mask but no box or caption.
    Returns a new uint8 RGB image [height, width, 3]; the input is untouched.
    """
    image = _check_image(image)
    boxes, masks, class_ids, N = _check_instances(image, boxes, masks, class_ids)
    if scores is not None:
        scores = np.asarray(scores).reshape(-1)
        if scores.shape[0] != N:
            raise VisualizeError("scores: {} entries for {} instances".format(
                scores.shape[0], N))
    if colors is not None and len(colors) < N:
        raise VisualizeError("colors: {} entries for {} instances".format(len(colors), N))
    base = image[:, :, :3]
    out = np.clip(base, 0, 255).astype(np.uint8) if base.dtype != np.uint8 else base.copy()
    if N == 0:
        return np.ascontiguousarray(out)

    cols = [_color_255(colors[i]) if colors is not None
            else np.array(_class_color(class_ids[i])) * 255.0 for i in range(N)]

    # Masks: blend in float, then round once.
    work = out.astype(np.float32)
    for i in range(N):
        m = masks[:, :, i] != 0
        if m.any():
            work[m] = work[m] * (1.0 - alpha) + alpha * cols[i].astype(np.float32)
    out = np.ascontiguousarray(np.clip(np.rint(work), 0, 255).astype(np.uint8))

    if not show_bbox:
        return out
    h, w = out.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.4, min(h, w) / 800.0)
    thick = 1 if scale < 1.0 else 2
    for i in range(N):
        if not np.any(boxes[i][:4]):
            continue
        y1, x1, y2, x2 = [int(round(float(v))) for v in boxes[i][:4]]
        color = tuple(float(c) for c in cols[i])
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness=2)
        class_id = int(class_ids[i])
        label = (class_names[class_id] if 0 <= class_id < len(class_names)
                 else str(class_id))
        caption = label if scores is None else "{} {:.2f}".format(label, float(scores[i]))
        (tw, th), base_line = cv2.getTextSize(caption, font, scale, thick)
        top = y1 - th - base_line - 2
        if top < 0:  # no room above: put the label inside the box
            top = y1 + 2
        bottom = top + th + base_line + 2
        cv2.rectangle(out, (x1, top), (x1 + tw + 2, bottom), color, thickness=-1)
        luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
        text_color = (0, 0, 0) if luminance > 150 else (255, 255, 255)
        cv2.putText(out, caption, (x1 + 1, bottom - base_line - 1), font, scale,
                    text_color, thick, cv2.LINE_AA)
    return out


def mask_to_bw(masks, class_ids=None, keep_class_ids=None):
    """Union of instance masks as a black/white image.

    masks: [height, width, N] instance masks (bool or 0/1), or one [height, width] mask.
    class_ids: (optional) [N] class id of each instance.
    keep_class_ids: (optional) iterable of class ids to keep; needs class_ids.
        None keeps every instance.
    Returns uint8 [height, width]: 255 where any kept instance is set, else 0
    (all black when N == 0 or nothing is kept).
    """
    masks = np.asarray(masks)
    if masks.ndim == 2:
        masks = masks[:, :, None]
    if masks.ndim != 3:
        raise VisualizeError(
            "masks: expected [height, width, N], got shape {}".format(masks.shape))
    n = masks.shape[2]
    keep = np.ones(n, dtype=bool)
    if keep_class_ids is not None:
        if class_ids is None:
            raise VisualizeError("mask_to_bw: keep_class_ids needs class_ids")
        class_ids = np.asarray(class_ids).reshape(-1)
        if class_ids.shape[0] != n:
            raise VisualizeError("class_ids: {} entries for {} masks".format(
                class_ids.shape[0], n))
        keep = np.isin(class_ids, np.asarray(list(keep_class_ids)))
    if n == 0 or not keep.any():
        return np.zeros(masks.shape[:2], dtype=np.uint8)
    union = np.any(masks[:, :, keep] != 0, axis=2)
    return np.where(union, 255, 0).astype(np.uint8)
