"""Display and visualisation functions, with Matterport's ``mrcnn.visualize`` API.

Differences from Matterport's module (all additive, call sites stay valid):

* Every plotting function returns the matplotlib ``Figure`` it drew on.
  ``plt.show()`` is called only when the function created its own figure
  *and* matplotlib is in interactive mode, so scripts and tests never block.
  In a Jupyter cell that ends with the call the figure is shown once, as
  with Matterport's (which returned None): the returned Figure does not show
  itself again in the cell that drew it; in a later cell it shows as usual.
* The module never selects a matplotlib backend; it imports fine with no
  display (matplotlib falls back to Agg, or set ``MPLBACKEND=Agg``).
* ``random_colors`` takes an optional ``seed`` for reproducible colours.
* ``display_table`` returns the table as plain text (and shows it as HTML
  inside an IPython kernel, printing it elsewhere).
* ``display_weight_stats`` returns the table rows it displayed.
  Like the figures, neither return value is shown a second time when a
  notebook cell ends with the call.
* Two helpers that need no matplotlib: ``draw_instances_image`` (numpy/cv2
  overlay render for PNGs and video) and ``mask_to_bw``.

Image conventions follow Matterport: images are RGB ``[height, width, 3]``,
boxes are pixel ``(y1, x1, y2, x2)`` and instance masks are
``[height, width, num_instances]``.
"""

import colorsys
import html
import itertools
import random
import sys

import cv2
import numpy as np
import matplotlib.pyplot as plt
from matplotlib import lines, patches
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from skimage.measure import find_contours

# The matplotlib-free part (numpy / OpenCV overlays, black-and-white masks,
# input checks) lives in mrcnn.render; these names are part of this module's API.
from .render import (VisualizeError, _check_image, _check_instances, _rgb,  # noqa: F401
                     draw_instances_image, mask_to_bw)

__all__ = [
    "VisualizeError",
    "display_images", "random_colors", "apply_mask", "display_instances",
    "display_differences", "draw_rois", "draw_box", "display_top_masks",
    "plot_precision_recall", "plot_overlaps", "draw_boxes", "display_table",
    "display_weight_stats", "draw_instances_image", "mask_to_bw",
]


############################################################
#  Internal helpers
############################################################

def _maybe_show(created):
    """Call plt.show() only for figures we created, and only when interactive."""
    if created and plt.isinteractive():
        plt.show()


def _execution_count():
    """The number of the notebook cell running now; None outside a kernel."""
    if not _in_ipython_kernel():
        return None
    from IPython import get_ipython
    return get_ipython().execution_count


def _repeats_this_cell(result):
    """True when IPython's displayhook (a cell's Out[]) is about to show a
    result that the running cell has shown already; explicit display()
    calls, such as the inline backend's at the cell's end, and later cells
    show it."""
    if getattr(result, "_mrcnn_cell", None) != _execution_count():
        return False
    from IPython.core.displayhook import DisplayHook
    frame = sys._getframe(1)
    while frame is not None:
        if isinstance(frame.f_locals.get("self"), DisplayHook):
            return True
        frame = frame.f_back
    return False


class _NotebookFigure(Figure):
    """A Figure drawn by this module inside a notebook cell. The cell shows
    it already (plt.show(), or the inline backend at the cell's end), so as
    the cell's Out[] it shows nothing; displayed in any other way, or in a
    later cell, it shows as a PNG like any Figure."""

    def _ipython_display_(self):
        if _repeats_this_cell(self):
            return
        import io
        import IPython.display
        buf = io.BytesIO()
        self.canvas.print_figure(buf, format="png", bbox_inches="tight")
        IPython.display.display(IPython.display.Image(data=buf.getvalue()))


class _TableRows(list):
    """display_weight_stats' rows: a list that is not shown again as the Out[]
    of the cell that displayed it."""

    def _ipython_display_(self):
        if not _repeats_this_cell(self):
            display_table(self)


class _TableText(str):
    """display_table's text: a str that is not shown again as the Out[] of
    the cell that displayed it."""

    def _ipython_display_(self):
        if not _repeats_this_cell(self):
            print(self)


def _shown_once(result):
    """Mark a returned Figure / table as already shown by the running
    notebook cell (a no-op outside IPython kernels)."""
    cell = _execution_count()
    if cell is None:
        return result
    if type(result) is Figure:
        result.__class__ = _NotebookFigure
    if isinstance(result, (_NotebookFigure, _TableRows, _TableText)):
        result._mrcnn_cell = cell
    return result


def _mask_outline_patches(mask, color):
    """Polygon patches tracing a binary mask [height, width].

    The mask is padded by one pixel so that masks touching the image edge
    still give closed contours (as Matterport did).
    """
    padded = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), dtype=np.uint8)
    padded[1:-1, 1:-1] = mask.astype(bool)
    out = []
    for verts in find_contours(padded, 0.5):
        # Remove the padding offset and flip (y, x) -> (x, y).
        verts = np.fliplr(verts) - 1
        out.append(Polygon(verts, facecolor="none", edgecolor=color))
    return out


def _utils_fn(name):
    """A function of mrcnn.utils, imported lazily (keeps this module light)."""
    from mrcnn import utils  # lazy on purpose
    return getattr(utils, name)


############################################################
#  Visualization
############################################################

def display_images(images, titles=None, cols=4, cmap=None, norm=None,
                   interpolation=None):
    """Display the given set of images, optionally with titles.

    images: list or array of image tensors in HWC format.
    titles: optional. A list of titles to display with each image.
    cols: number of images per row
    cmap: Optional. Color map to use. For example, "Blues".
    norm: Optional. A Normalize instance to map values to colors.
    interpolation: Optional. Image interpolation to use for display.

    Returns the matplotlib Figure (one axes per image).
    """
    images = list(images)
    titles = list(titles) if titles is not None else [""] * len(images)
    cols = max(1, int(cols))
    rows = max(1, -(-len(images) // cols))
    fig = plt.figure(figsize=(14, max(1, 14 * rows // cols)))
    for i, (image, title) in enumerate(zip(images, titles), start=1):
        ax = fig.add_subplot(rows, cols, i)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        ax.imshow(np.asarray(image).astype(np.uint8), cmap=cmap, norm=norm,
                  interpolation=interpolation)
    _maybe_show(True)
    return _shown_once(fig)


def random_colors(N, bright=True, seed=None):
    """Generate N visually distinct colours, in random order.

    Colours are evenly spaced hues in HSV space converted to RGB.
    Returns a list of N (r, g, b) tuples of floats in [0, 1].
    seed: optional. None shuffles with Python's global `random` (as
        Matterport did); an int gives a reproducible order.
    """
    brightness = 1.0 if bright else 0.7
    colors = [colorsys.hsv_to_rgb(i / N, 1, brightness) for i in range(N)]
    if seed is None:
        random.shuffle(colors)
    else:
        random.Random(seed).shuffle(colors)
    return colors


def apply_mask(image, mask, color, alpha=0.5, inplace=True):
    """Blend a colour into the image where mask == 1.

    image: [height, width, 3] array (any numeric dtype).
    mask: [height, width] binary mask (bool or 0/1).
    color: (r, g, b) floats in [0, 1].
    alpha: opacity of the colour.

    Inside the mask each channel becomes
    ``image * (1 - alpha) + alpha * color * 255`` (cast back to the image
    dtype, i.e. truncated for integer images); other pixels are unchanged.
    Like Matterport's version this modifies `image` in place and returns it;
    pass ``inplace=False`` to get a new array and leave `image` untouched.
    """
    if not isinstance(image, np.ndarray):
        raise VisualizeError("image: expected a numpy array, got {}".format(
            type(image).__name__))
    _check_image(image)
    mask = np.asarray(mask)
    if mask.shape != image.shape[:2]:
        raise VisualizeError(
            "mask: shape {} does not match image size {}".format(
                mask.shape, image.shape[:2]))
    if not inplace:
        image = image.copy()
    color = _rgb(color)
    on = mask == 1
    for c in range(3):
        image[:, :, c] = np.where(on,
                                  image[:, :, c] * (1 - alpha) + alpha * color[c] * 255,
                                  image[:, :, c])
    return image


def display_instances(image, boxes, masks, class_ids, class_names,
                      scores=None, title="",
                      figsize=(16, 16), ax=None,
                      show_mask=True, show_bbox=True,
                      colors=None, captions=None):
    """Draw instances (masks, mask outlines, boxes and captions) over an image.

    image: [height, width, 3] RGB image.
    boxes: [num_instance, (y1, x1, y2, x2)] in image coordinates.
    masks: [height, width, num_instances]
    class_ids: [num_instances]
    class_names: list of class names of the dataset
    scores: (optional) confidence scores for each box
    title: (optional) Figure title
    figsize: (optional) the size of the figure (used when ax is None)
    ax: (optional) matplotlib Axes to draw on
    show_mask, show_bbox: To show masks and bounding boxes or not
    colors: (optional) a list of colours to use with each object
    captions: (optional) A list of strings to use as captions for each object

    Instances whose box is all zeros are skipped (lost in cropping).
    Returns the matplotlib Figure.
    """
    image = _check_image(image)
    boxes, masks, class_ids, N = _check_instances(image, boxes, masks, class_ids)
    if not N:
        print("\n*** No instances to display *** \n")

    created = ax is None
    if created:
        fig, ax = plt.subplots(1, figsize=figsize)
    else:
        fig = ax.figure

    if colors is None or len(colors) == 0:
        colors = random_colors(N)

    # Show area outside image boundaries.
    height, width = image.shape[:2]
    ax.set_ylim(height + 10, -10)
    ax.set_xlim(-10, width + 10)
    ax.axis("off")
    ax.set_title(title)

    masked_image = image[:, :, :3].astype(np.uint32).copy()
    for i in range(N):
        color = colors[i]
        if not np.any(boxes[i][:4]):
            # No box: likely lost in image cropping.
            continue
        y1, x1, y2, x2 = boxes[i][:4]
        if show_bbox:
            ax.add_patch(patches.Rectangle(
                (x1, y1), x2 - x1, y2 - y1, linewidth=2, alpha=0.7,
                linestyle="dashed", edgecolor=color, facecolor="none"))

        if not captions:
            class_id = int(class_ids[i])
            score = scores[i] if scores is not None else None
            label = class_names[class_id]
            caption = "{} {:.3f}".format(label, score) if score else label
        else:
            caption = captions[i]
        ax.text(x1, y1 + 8, caption, color="w", size=11, backgroundcolor="none")

        mask = masks[:, :, i]
        if show_mask:
            masked_image = apply_mask(masked_image, mask, color)
        for p in _mask_outline_patches(mask, color):
            ax.add_patch(p)
    ax.imshow(masked_image.astype(np.uint8))
    _maybe_show(created)
    return _shown_once(fig)


def display_differences(image,
                        gt_box, gt_class_id, gt_mask,
                        pred_box, pred_class_id, pred_score, pred_mask,
                        class_names, title="", ax=None,
                        show_mask=True, show_box=True,
                        iou_threshold=0.5, score_threshold=0.5):
    """Display ground truth (green) and predictions (red) on the same image.

    gt_box: [N, (y1, x1, y2, x2)], gt_class_id: [N], gt_mask: [height, width, N]
    pred_box: [M, (y1, x1, y2, x2)], pred_class_id: [M], pred_score: [M],
    pred_mask: [height, width, M]
    Prediction captions read "score / IoU" (IoU with the matched GT, else the
    best IoU). Predictions are sorted by descending score first, so captions
    line up with the matching computed by ``mrcnn.utils.compute_matches``.
    Returns the matplotlib Figure.
    """
    image = _check_image(image)
    gt_box, gt_mask, gt_class_id, _ = _check_instances(image, gt_box, gt_mask, gt_class_id)
    pred_box, pred_mask, pred_class_id, _ = _check_instances(
        image, pred_box, pred_mask, pred_class_id)
    pred_score = np.asarray(pred_score, dtype=np.float64).reshape(-1)
    if pred_score.shape[0] != pred_box.shape[0]:
        raise VisualizeError("pred_score: {} entries for {} boxes".format(
            pred_score.shape[0], pred_box.shape[0]))
    if gt_mask is None:
        gt_mask = np.zeros(image.shape[:2] + (0,), bool)
    if pred_mask is None:
        pred_mask = np.zeros(image.shape[:2] + (0,), bool)
    # Sort predictions by score (stable), as compute_matches does internally.
    order = np.argsort(-pred_score, kind="stable")
    pred_box, pred_class_id = pred_box[order], pred_class_id[order]
    pred_score, pred_mask = pred_score[order], pred_mask[..., order]

    compute_matches = _utils_fn("compute_matches")
    gt_match, pred_match, overlaps = compute_matches(
        gt_box, gt_class_id, gt_mask,
        pred_box, pred_class_id, pred_score, pred_mask,
        iou_threshold=iou_threshold, score_threshold=score_threshold)
    overlaps = np.asarray(overlaps)
    # Ground truth = green. Predictions = red.
    colors = [(0, 1, 0, .8)] * len(gt_match) + [(1, 0, 0, 1)] * len(pred_match)
    n_gt, n_pred = len(gt_match), len(pred_match)
    class_ids = np.concatenate([gt_class_id[:n_gt], pred_class_id[:n_pred]])
    scores = np.concatenate([np.zeros([n_gt]), pred_score[:n_pred]])
    boxes = np.concatenate([gt_box[:n_gt, :4], pred_box[:n_pred, :4]]).reshape(-1, 4)
    masks = np.concatenate([gt_mask[..., :n_gt], pred_mask[..., :n_pred]], axis=-1)

    def best_iou(i):
        if pred_match[i] > -1:
            return overlaps[i, int(pred_match[i])]
        return overlaps[i].max() if overlaps.shape[1] else 0.0

    captions = [""] * n_gt + ["{:.2f} / {:.2f}".format(pred_score[i], best_iou(i))
                              for i in range(n_pred)]
    title = title or ("Ground Truth and Detections\n"
                      " GT=green, pred=red, captions: score/IoU")
    return display_instances(
        image, boxes, masks, class_ids, class_names, scores, ax=ax,
        show_bbox=show_box, show_mask=show_mask,
        colors=colors, captions=captions, title=title)


def draw_rois(image, rois, refined_rois, mask, class_ids, class_names, limit=10):
    """Draw ROIs (dashed), their refinements (solid) and positive ROI masks.

    image: [height, width, 3]
    rois: [N, (y1, x1, y2, x2)] in image coordinates.
    refined_rois: [N, 4] the same ROIs refined to fit objects better.
    mask: [N, mask_height, mask_width] per-ROI mask of its class (float).
    class_ids: [N] class id per ROI (0 = background / negative).
    limit: at most this many ROIs are drawn (chosen at random).
    Prints positive/negative counts. Returns the matplotlib Figure.
    """
    image = _check_image(image)
    rois = np.asarray(rois)
    refined_rois = np.asarray(refined_rois)
    class_ids = np.asarray(class_ids).reshape(-1)
    if rois.shape[0] != class_ids.shape[0]:
        raise VisualizeError("class_ids: {} entries for {} rois".format(
            class_ids.shape[0], rois.shape[0]))
    masked_image = image.copy()

    ids = np.arange(rois.shape[0], dtype=np.int32)
    if ids.shape[0] > limit:
        ids = np.random.choice(ids, limit, replace=False)

    fig, ax = plt.subplots(1, figsize=(12, 12))
    if rois.shape[0] > limit:
        ax.set_title("Showing {} random ROIs out of {}".format(len(ids), rois.shape[0]))
    else:
        ax.set_title("{} ROIs".format(len(ids)))
    ax.set_ylim(image.shape[0] + 20, -20)
    ax.set_xlim(-50, image.shape[1] + 20)
    ax.axis("off")

    unmold_mask = _utils_fn("unmold_mask")
    for id_ in ids:
        color = np.random.rand(3)
        class_id = int(class_ids[id_])
        y1, x1, y2, x2 = rois[id_][:4]
        ax.add_patch(patches.Rectangle(
            (x1, y1), x2 - x1, y2 - y1, linewidth=2,
            edgecolor=color if class_id else "gray",
            facecolor="none", linestyle="dashed"))
        if class_id:
            ry1, rx1, ry2, rx2 = refined_rois[id_][:4]
            ax.add_patch(patches.Rectangle(
                (rx1, ry1), rx2 - rx1, ry2 - ry1, linewidth=2,
                edgecolor=color, facecolor="none"))
            # Connect the top-left corners of the ROI and its refinement.
            ax.add_line(lines.Line2D([x1, rx1], [y1, ry1], color=color))
            ax.text(rx1, ry1 + 8, "{}".format(class_names[class_id]),
                    color="w", size=11, backgroundcolor="none")
            m = unmold_mask(mask[id_], rois[id_][:4].astype(np.int32), image.shape)
            masked_image = apply_mask(masked_image, m, color)
    ax.imshow(masked_image)

    n_pos = int(np.sum(class_ids > 0))
    n_neg = int(np.sum(class_ids == 0))
    print("Positive ROIs: ", n_pos)
    print("Negative ROIs: ", n_neg)
    print("Positive Ratio: {:.2f}".format(n_pos / class_ids.shape[0]
                                           if class_ids.shape[0] else 0.0))
    _maybe_show(True)
    return _shown_once(fig)


def draw_box(image, box, color):
    """Draw a 2-pixel wide box outline on the image array, in place.

    image: [height, width, 3] array (contiguous, e.g. uint8).
    box: (y1, x1, y2, x2) in pixels.
    color: list of 3 int values for RGB.
    Returns the image.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3:
        raise VisualizeError("image: expected a [height, width, 3] array")
    y1, x1, y2, x2 = [int(round(float(v))) for v in box[:4]]
    color = tuple(float(c) for c in color)
    if image.flags["C_CONTIGUOUS"] and image.flags["WRITEABLE"]:
        cv2.rectangle(image, (x1, y1), (x2, y2), color=color, thickness=2)
        return image
    drawn = cv2.rectangle(np.ascontiguousarray(image), (x1, y1), (x2, y2),
                          color=color, thickness=2)
    image[...] = drawn
    return image


def display_top_masks(image, mask, class_ids, class_names, limit=4):
    """Display the image and the masks of its `limit` most prominent classes.

    mask: [height, width, num_instances]; class_ids: [num_instances].
    Classes are ranked by total mask area. Each class panel shows its
    instances labelled 1..k. Returns the matplotlib Figure (limit + 1 axes).
    """
    image = _check_image(image)
    mask = np.asarray(mask)
    class_ids = np.asarray(class_ids).reshape(-1)
    if mask.ndim != 3 or mask.shape[2] != class_ids.shape[0]:
        raise VisualizeError("mask: expected [height, width, {}], got shape {}".format(
            class_ids.shape[0], mask.shape))
    to_display = [image]
    titles = ["H x W={}x{}".format(image.shape[0], image.shape[1])]
    unique_class_ids = np.unique(class_ids)
    mask_area = [np.sum(mask[:, :, np.where(class_ids == i)[0]])
                 for i in unique_class_ids]
    top_ids = [v[0] for v in sorted(zip(unique_class_ids, mask_area),
                                    key=lambda r: r[1], reverse=True) if v[1] > 0]
    for i in range(limit):
        class_id = top_ids[i] if i < len(top_ids) else -1
        m = mask[:, :, np.where(class_ids == class_id)[0]].astype(np.int64)
        m = np.sum(m * np.arange(1, m.shape[-1] + 1), -1)
        to_display.append(m)
        titles.append(class_names[class_id] if class_id != -1 else "-")
    return display_images(to_display, titles=titles, cols=limit + 1, cmap="Blues_r")


def plot_precision_recall(AP, precisions, recalls):
    """Draw the precision-recall curve.

    AP: Average precision at IoU >= 0.5
    precisions: list of precision values
    recalls: list of recall values
    Returns the matplotlib Figure (one axes, one line).
    """
    fig, ax = plt.subplots(1)
    ax.set_title("Precision-Recall Curve. AP@50 = {:.3f}".format(AP))
    ax.set_ylim(0, 1.1)
    ax.set_xlim(0, 1.1)
    ax.plot(recalls, precisions)
    _maybe_show(True)
    return _shown_once(fig)


def plot_overlaps(gt_class_ids, pred_class_ids, pred_scores,
                  overlaps, class_names, threshold=0.5):
    """Draw a grid showing how ground truth objects are classified.

    gt_class_ids: [N] int. Ground truth class IDs (0 = padding, dropped)
    pred_class_ids: [M] int. Predicted class IDs (0 = padding, dropped)
    pred_scores: [M] float. The probability scores of predicted classes
    overlaps: [pred_boxes, gt_boxes] IoU overlaps of predictions and GT boxes.
    class_names: list of all class names in the dataset
    threshold: Float. The IoU above which a cell reads "match" or "wrong".
    Returns the matplotlib Figure (one text per overlaps cell).
    """
    gt_class_ids = np.asarray(gt_class_ids).reshape(-1)
    pred_class_ids = np.asarray(pred_class_ids).reshape(-1)
    gt_class_ids = gt_class_ids[gt_class_ids != 0]
    pred_class_ids = pred_class_ids[pred_class_ids != 0]
    overlaps = np.asarray(overlaps, dtype=np.float64)
    if overlaps.ndim != 2 or overlaps.shape[0] > len(pred_class_ids) \
            or overlaps.shape[1] > len(gt_class_ids):
        raise VisualizeError(
            "overlaps: shape {} does not fit {} predictions x {} ground truth".format(
                overlaps.shape, len(pred_class_ids), len(gt_class_ids)))

    fig, ax = plt.subplots(1, figsize=(12, 10))
    ax.imshow(overlaps, interpolation="nearest", cmap=plt.cm.Blues)
    ax.set_yticks(np.arange(len(pred_class_ids)))
    ax.set_yticklabels(["{} ({:.2f})".format(class_names[int(id_)], pred_scores[i])
                        for i, id_ in enumerate(pred_class_ids)])
    ax.set_xticks(np.arange(len(gt_class_ids)))
    ax.set_xticklabels([class_names[int(id_)] for id_ in gt_class_ids], rotation=90)

    thresh = overlaps.max() / 2. if overlaps.size else 0.0
    for i, j in itertools.product(range(overlaps.shape[0]), range(overlaps.shape[1])):
        text = ""
        if overlaps[i, j] > threshold:
            text = "match" if gt_class_ids[j] == pred_class_ids[i] else "wrong"
        color = ("white" if overlaps[i, j] > thresh
                 else "black" if overlaps[i, j] > 0
                 else "grey")
        ax.text(j, i, "{:.3f}\n{}".format(overlaps[i, j], text),
                horizontalalignment="center", verticalalignment="center",
                fontsize=9, color=color)
    fig.tight_layout()
    ax.set_xlabel("Ground Truth")
    ax.set_ylabel("Predictions")
    _maybe_show(True)
    return _shown_once(fig)


def draw_boxes(image, boxes=None, refined_boxes=None,
               masks=None, captions=None, visibilities=None,
               title="", ax=None):
    """Draw bounding boxes and segmentation masks with different customizations.

    boxes: [N, (y1, x1, y2, x2, class_id)] in image coordinates.
    refined_boxes: Like boxes, but draw with solid lines to show
        that they're the result of refining 'boxes'.
    masks: [height, width, N]
    captions: List of N titles to display on each box
    visibilities: (optional) List of values of 0, 1, or 2. Determine how
        prominent each bounding box should be.
    title: An optional title to show over the image
    ax: (optional) Matplotlib axis to draw on.
    Returns the matplotlib Figure.
    """
    image = _check_image(image)
    if boxes is None and refined_boxes is None:
        raise VisualizeError("draw_boxes: give boxes or refined_boxes")
    boxes = None if boxes is None else np.asarray(boxes)
    refined_boxes = None if refined_boxes is None else np.asarray(refined_boxes)
    N = boxes.shape[0] if boxes is not None else refined_boxes.shape[0]
    if masks is not None:
        masks = np.asarray(masks)
        if masks.ndim != 3 or masks.shape[2] != N or masks.shape[:2] != image.shape[:2]:
            raise VisualizeError("masks: expected [{}, {}, {}], got shape {}".format(
                image.shape[0], image.shape[1], N, masks.shape))

    created = ax is None
    if created:
        fig, ax = plt.subplots(1, figsize=(12, 12))
    else:
        fig = ax.figure

    colors = random_colors(N)
    margin = image.shape[0] // 10
    ax.set_ylim(image.shape[0] + margin, -margin)
    ax.set_xlim(-margin, image.shape[1] + margin)
    ax.axis("off")
    ax.set_title(title)

    masked_image = image[:, :, :3].astype(np.uint32).copy()
    for i in range(N):
        visibility = visibilities[i] if visibilities is not None else 1
        if visibility == 0:
            color, style, alpha = "gray", "dotted", 0.5
        elif visibility == 1:
            color, style, alpha = colors[i], "dotted", 1
        else:
            color, style, alpha = colors[i], "solid", 1

        if boxes is not None:
            if not np.any(boxes[i][:4]):
                # No box: likely lost in cropping.
                continue
            y1, x1, y2, x2 = boxes[i][:4]
            ax.add_patch(patches.Rectangle(
                (x1, y1), x2 - x1, y2 - y1, linewidth=2, alpha=alpha,
                linestyle=style, edgecolor=color, facecolor="none"))

        if refined_boxes is not None and visibility > 0:
            ry1, rx1, ry2, rx2 = refined_boxes[i][:4].astype(np.int32)
            ax.add_patch(patches.Rectangle(
                (rx1, ry1), rx2 - rx1, ry2 - ry1, linewidth=2,
                edgecolor=color, facecolor="none"))
            if boxes is not None:
                ax.add_line(lines.Line2D([x1, rx1], [y1, ry1], color=color))

        if captions is not None:
            if refined_boxes is not None:
                ry1, rx1, ry2, rx2 = refined_boxes[i][:4].astype(np.int32)
                y1, x1 = ry1, rx1
            ax.text(x1, y1, captions[i], size=11, verticalalignment="top",
                    color="w", backgroundcolor="none",
                    bbox={"facecolor": color, "alpha": 0.5,
                          "pad": 2, "edgecolor": "none"})

        if masks is not None:
            mask = masks[:, :, i]
            masked_image = apply_mask(masked_image, mask, color)
            for p in _mask_outline_patches(mask, color):
                ax.add_patch(p)
    ax.imshow(masked_image.astype(np.uint8))
    _maybe_show(created)
    return _shown_once(fig)


def _in_ipython_kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def display_table(table):
    """Display values in a table format.

    table: an iterable of rows, and each row is an iterable of values.
    Returns the table as plain text: one line per row, columns left-aligned
    and separated by two spaces. Inside an IPython kernel the table is shown
    as HTML (as Matterport did); elsewhere the text is printed.
    """
    rows = [[str(col) for col in row] for row in table]
    ncols = max((len(r) for r in rows), default=0)
    widths = [max((len(r[c]) for r in rows if c < len(r)), default=0)
              for c in range(ncols)]
    text = "\n".join(
        "  ".join(col.ljust(widths[c]) for c, col in enumerate(r)).rstrip()
        for r in rows)
    if _in_ipython_kernel():
        import IPython.display
        body = "".join(
            "<tr>" + "".join("<td>{}</td>".format(html.escape(c)) for c in r) + "</tr>"
            for r in rows)
        IPython.display.display(IPython.display.HTML("<table>" + body + "</table>"))
    else:
        print(text)
    return _shown_once(_TableText(text))


def _trainable_layers(model):
    """Layers with weights, looking inside TimeDistributed wrappers
    (Matterport's MaskRCNN.get_trainable_layers)."""
    if hasattr(model, "get_trainable_layers"):
        return list(model.get_trainable_layers())
    keras_model = getattr(model, "keras_model", model)
    if not hasattr(keras_model, "layers"):
        raise VisualizeError(
            "display_weight_stats: expected an object with .keras_model "
            "(a Keras model), got {}".format(type(model).__name__))
    out = []
    for layer in keras_model.layers:
        while layer.__class__.__name__ == "TimeDistributed" and hasattr(layer, "layer"):
            layer = layer.layer
        if layer.get_weights():
            out.append(layer)
    return out


def display_weight_stats(model):
    """Scan all the weights in the model and display stats about each weight.

    model: a MaskRCNN (or any object with `.keras_model`, or a Keras model).
    Columns: WEIGHT NAME, SHAPE, MIN, MAX, STD. Names get "*** dead?" when
    all values are equal (except the bias of a Conv2D layer) and
    "*** Overflow?" when |min| or |max| exceeds 1000.
    Returns the table: a list of rows (header first), each a list of strings.
    """
    table = [["WEIGHT NAME", "SHAPE", "MIN", "MAX", "STD"]]
    for layer in _trainable_layers(model):
        weight_values = layer.get_weights()
        weight_vars = layer.weights
        for i, w in enumerate(weight_values):
            w = np.asarray(w)
            var = weight_vars[i]
            name = getattr(var, "path", None) or var.name
            alert = ""
            if w.size == 0:
                wmin = wmax = wstd = float("nan")
            else:
                wmin, wmax, wstd = float(w.min()), float(w.max()), float(w.std())
                if wmin == wmax and not (layer.__class__.__name__ == "Conv2D" and i == 1):
                    alert += " *** dead?"
                if abs(wmin) > 1000 or abs(wmax) > 1000:
                    alert += " *** Overflow?"
            table.append([
                name + alert,
                str(w.shape),
                "{:+9.4f}".format(wmin),
                "{:+10.4f}".format(wmax),
                "{:+9.4f}".format(wstd),
            ])
    display_table(table)
    return _shown_once(_TableRows(table))
