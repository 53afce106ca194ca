"""Model-assisted annotation: pre-annotate frames as a VIA 2.x project.

The loop: the model draws the first polygons, a person corrects them in the
VGG Image Annotator (VIA 2.x), the corrected project goes back into training
(``PhoneDataset.load_phone(..., via_file=[original, corrected])``).

Library use::

    from phone.annotate import annotate_folder
    summary = annotate_folder(segmenter, "frames/", "frames/via_project.json",
                              min_score=0.5, max_vertices=40, review=20)
    print(summary.line())

What is written (``out_json``, a VIA 2.x project file as VIA's "Save
project" writes it: ``_via_settings``, ``_via_img_metadata``,
``_via_attributes``, ``_via_data_format_version``, ``_via_image_id_list``):

* one entry per readable frame of ``frames_dir`` (searched recursively,
  png/jpg/jpeg/bmp), keyed ``filename + byte size`` as VIA keys them, in
  file-name order; frames without a detection are listed with no regions;
* one ``polygon`` region per detection with score >= ``min_score``, best
  first: the outer contour of the detection's mask simplified with
  ``tolerance`` pixels, at most ``max_vertices`` vertices
  (``phone.via.mask_to_polygon``); a mask in several pieces (a phone cut by a
  finger) stays one region, its pieces joined by zero-width bridges; holes
  and pieces under 2 % of the largest are not kept;
* region attributes ``name`` (the class, ``phone``), ``score`` (the
  detection score, 3 decimals, as text) and ``model`` (the model's name,
  e.g. the weights file name), declared as VIA text attributes so they show
  in VIA's attribute editor. A region without ``score`` was drawn by a
  person;
* image filenames relative to the project file's folder, or, with
  ``base_path``, relative to ``frames_dir`` with ``base_path`` stored as
  VIA's default path (``_via_settings.core.default_filepath``, the prefix
  VIA puts before every filename: a folder or a URL where the frames are
  served). Read it back with ``phone.via.load_via(out_json)`` (or
  ``images_dir=frames_dir`` with a base path).

Resumable and safe to interrupt: frames already in the project (by
filename) are skipped, so a corrected project is never overwritten; the
project is rewritten atomically (temp file + rename) every
``checkpoint_every`` frames, at the end, and when the run is interrupted, so a
kill at any moment leaves the previous complete version.

Bad input, one line each (:class:`phone.errors.PhoneDataError`): a
``frames_dir`` that is not a folder or holds no image; an existing
``out_json`` that is not a VIA 2.x project, or that lists images from
another folder (nothing is overwritten). Unreadable frames are reported one
line each, skipped (not added, so a later run tries them again) and listed
in the summary.

Which frames to check first (``review=N``): every frame of the project gets
a doubt value from its regions: ``1 - lowest model score`` (regions drawn by
a person count as sure), + 0.5 when two regions overlap (mask IoU >= 0.1),
+ 0.25 when a region touches the frame edge; a frame with no region at all
gets 1.0 ("no phone detected"). The N most doubtful frames go to
``<out>_review.txt`` (rank, doubt, filename, reasons) and a PNG contact sheet
``<out>_review.png`` with their regions drawn over them.
"""
import math
import os
import sys
import warnings

import numpy as np

from phone.errors import AnnotationError, PhoneDataError, PhoneDataWarning, one_line
from phone.imageio import image_size, read_image, write_bytes_atomic, write_png_atomic
from phone.via import (VIA2_FORMAT_VERSION, json_number, mask_to_polygon, parse_via, rasterize_region, read_json,
                       via2_project, via2_settings, via2_text_attribute, write_via_json)

__all__ = ["annotate_folder", "check_output", "AnnotateSummary", "ReviewItem", "frame_regions",
           "review_project", "draw_regions", "contact_sheet", "review_paths", "region_score",
           "DEFAULT_MIN_SCORE", "DEFAULT_MAX_VERTICES", "DEFAULT_TOLERANCE",
           "DEFAULT_CHECKPOINT_EVERY", "NAME_KEY", "SCORE_KEY", "MODEL_KEY"]

DEFAULT_MIN_SCORE = 0.5
#: "a few dozen" vertices: enough for a phone outline, few enough to drag in VIA
DEFAULT_MAX_VERTICES = 40
#: Douglas-Peucker tolerance in pixels
DEFAULT_TOLERANCE = 0.5
#: frames between two rewrites of the project file
DEFAULT_CHECKPOINT_EVERY = 50

NAME_KEY = "name"
SCORE_KEY = "score"
MODEL_KEY = "model"

#: overlap (mask IoU) from which two regions of a frame count as a doubt
OVERLAP_IOU = 0.1


class AnnotateSummary:
    """What an ``annotate_folder`` run did.

    total: frames found; done: annotated in this run; skipped: already in the
    project; failed: [(path, one-line message)]; regions: regions written in
    this run; empty: frames annotated in this run with no region; dropped:
    detections >= min_score that gave no polygon (a sliver);
    review: [ReviewItem] (with review=N); review_files: paths written for it.
    """

    def __init__(self, out_json, total=0):
        self.out_json = out_json
        self.total = total
        self.done = 0
        self.skipped = 0
        self.failed = []
        self.regions = 0
        self.empty = 0
        self.dropped = 0
        self.review = []
        self.review_files = []

    def line(self):
        return (f"{self.done} frames annotated ({self.regions} regions, {self.empty} frames "
                f"without a phone), {self.skipped} skipped (already in the project), "
                f"{len(self.failed)} failed of {self.total}")

    def __repr__(self):
        return f"AnnotateSummary({self.line()})"


class ReviewItem:
    """One frame of the review list: rank (1 = most doubtful), doubt, the
    project filename, the image path, the reasons (list of str) and its
    regions (ViaRegion list, for drawing)."""

    def __init__(self, filename, path, doubt, reasons, regions=()):
        self.rank = 0
        self.filename = filename
        self.path = path
        self.doubt = float(doubt)
        self.reasons = list(reasons)
        self.regions = list(regions)

    def __repr__(self):
        return f"ReviewItem({self.rank}, {self.filename!r}, {self.doubt:.3f}, {self.reasons})"


# ------------------------------------------------------------------ regions
def frame_regions(result, min_score=DEFAULT_MIN_SCORE, max_vertices=DEFAULT_MAX_VERTICES,
                  tolerance=DEFAULT_TOLERANCE, model_name="", class_name="phone"):
    """VIA 2.x regions of one frame's detections.

    result: detect() dict (masks [H, W, N] bool, scores [N]).
    Returns (regions, dropped): a list of VIA region dicts (polygon
    shape_attributes, region_attributes name / score / model), best score
    first, for the detections with score >= min_score; dropped counts those
    whose mask gave no polygon.
    """
    masks = np.asarray(result["masks"])
    scores = np.asarray(result["scores"], np.float64).reshape(-1)
    regions, dropped = [], 0
    if masks.ndim != 3:
        return regions, dropped
    for i in np.argsort(-scores, kind="stable"):
        if min_score is not None and scores[i] < float(min_score):
            continue
        pts = mask_to_polygon(masks[:, :, i], tolerance=tolerance, max_vertices=max_vertices,
                              all_pieces=True)
        if pts is None:
            dropped += 1
            continue
        regions.append({
            "shape_attributes": {"name": "polygon",
                                 "all_points_x": [json_number(v) for v in pts[:, 0]],
                                 "all_points_y": [json_number(v) for v in pts[:, 1]]},
            "region_attributes": {NAME_KEY: class_name, SCORE_KEY: f"{scores[i]:.3f}",
                                  MODEL_KEY: str(model_name)},
        })
    return regions, dropped


def region_score(attributes):
    """The model score stored in a region's attributes, or None (drawn by a
    person, or not a number)."""
    value = (attributes or {}).get(SCORE_KEY)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _region_attribute_defs(model_name):
    return {
        NAME_KEY: via2_text_attribute("class of the object", "phone"),
        SCORE_KEY: via2_text_attribute("detection score of the model (empty: drawn by a person)"),
        MODEL_KEY: via2_text_attribute(f"model that drew the region (e.g. {model_name})"
                                       if model_name else "model that drew the region"),
    }


# ------------------------------------------------------------------ paths
def review_paths(out_json):
    """(list path, contact sheet path) of the review outputs of a project."""
    stem = os.path.splitext(os.fspath(out_json))[0]
    return stem + "_review.txt", stem + "_review.png"


def _is_within(path, root):
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _via_name(path, root):
    return os.path.relpath(path, root).replace(os.sep, "/")


def _norm_default_path(base_path):
    if not base_path:
        return ""
    text = str(base_path)
    return text if text.endswith("/") else text + "/"


def _say(bar, message):
    if bar is not None and not bar.disable:
        from tqdm import tqdm
        tqdm.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr)


# ------------------------------------------------------------------ project
def _load_existing(out_json, frames_dir, name_root, default_path):
    """The existing project at out_json (dict) after the checks, or None."""
    if not os.path.exists(out_json):
        return None
    if os.path.isdir(out_json):
        raise PhoneDataError(f"{out_json}: is a folder; --out must be a .json file")
    data = read_json(out_json)
    if not isinstance(data, dict) or "_via_img_metadata" not in data:
        raise AnnotationError(f"{out_json}: exists and is not a VIA 2.x project file (no "
                              f"_via_img_metadata); refusing to overwrite it: choose another --out")
    settings = data.get("_via_settings") if isinstance(data.get("_via_settings"), dict) else {}
    core = settings.get("core") if isinstance(settings.get("core"), dict) else {}
    stored = str(core.get("default_filepath") or "")
    if stored != default_path:
        was = f"--base-path {stored!r}" if stored else "no --base-path"
        now = f"--base-path {default_path!r}" if default_path else "no --base-path"
        raise PhoneDataError(f"{out_json}: the project was written with {was}, this run has "
                             f"{now}; use the same setting (nothing was changed)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhoneDataWarning)
        images = parse_via(data, out_json, images_dir=name_root, keep_empty=True,
                           default_class="phone")
    outside = [im for im in images if not _is_within(im.path, frames_dir)]
    if outside or (images and not any(os.path.isfile(im.path) for im in images)):
        im = (outside or images)[0]
        n = len(outside) if outside else len(images)
        raise PhoneDataError(
            f"{out_json}: project of another image folder: {n} of its {len(images)} frames are "
            f"not in {frames_dir} (e.g. {im.filename!r} -> {im.path}); nothing was overwritten: "
            f"choose another --out or the project's --dir")
    return data


def _new_project(out_json, default_path, model_name):
    name = os.path.splitext(os.path.basename(out_json))[0]
    return via2_project({}, via2_settings(name, default_path), _region_attribute_defs(model_name))


def _with_our_attributes(data, model_name):
    """Declare name/score/model region attributes in an existing project if
    missing (a person may have added others: they are kept)."""
    attrs = data.setdefault("_via_attributes", {})
    if not isinstance(attrs, dict):
        attrs = data["_via_attributes"] = {}
    region = attrs.setdefault("region", {})
    attrs.setdefault("file", {})
    if isinstance(region, dict):
        for k, v in _region_attribute_defs(model_name).items():
            region.setdefault(k, v)
    data.setdefault("_via_data_format_version", VIA2_FORMAT_VERSION)
    return data


def _add_entry(data, key, entry):
    meta = data["_via_img_metadata"]
    meta[key] = entry
    ids = data.get("_via_image_id_list")
    if not isinstance(ids, list):
        ids = data["_via_image_id_list"] = [k for k in meta if k != key]
    ids.append(key)


def check_output(frames_dir, out_json, base_path=None):
    """The checks annotate_folder makes before any work, without a model.

    Returns (frames [(path, rel)], existing project dict or None). Raises
    PhoneDataError (one line) for a missing or empty frames folder and for an
    out_json that is not a VIA 2.x project or lists another folder's frames.
    """
    from phone.segment import list_images
    frames_dir = os.path.abspath(os.fspath(frames_dir))
    out_json = os.path.abspath(os.fspath(out_json))
    if not os.path.isdir(frames_dir):
        raise PhoneDataError(f"{frames_dir}: no such folder of frames")
    ours = {os.path.realpath(p) for p in review_paths(out_json)}
    frames = [(p, rel) for p, rel in list_images(frames_dir)
              if os.path.realpath(p) not in ours]
    if not frames:
        raise PhoneDataError(f"{frames_dir}: no images (.png, .jpg, .jpeg, .bmp) found")
    name_root = frames_dir if base_path else os.path.dirname(out_json)
    data = _load_existing(out_json, frames_dir, name_root, _norm_default_path(base_path))
    return frames, data


# ------------------------------------------------------------------ main loop
def _segment(segmenter, images):
    """[(result or None, error or None)] per image; a failing batch is
    retried image by image so one bad frame does not sink the others."""
    try:
        return [(r, None) for _, r in segmenter.segment_images(images)]
    except (ValueError, PhoneDataError) as e:
        if len(images) == 1:
            return [(None, e)]
    out = []
    for im in images:
        try:
            out.append((segmenter.segment_images([im])[0][1], None))
        except (ValueError, PhoneDataError) as e:
            out.append((None, e))
    return out


def annotate_folder(segmenter, frames_dir, out_json, base_path=None,
                    min_score=DEFAULT_MIN_SCORE, max_vertices=DEFAULT_MAX_VERTICES,
                    tolerance=DEFAULT_TOLERANCE, review=0, model_name=None,
                    checkpoint_every=DEFAULT_CHECKPOINT_EVERY, class_name="phone", quiet=False):
    """Run the model on every frame of a folder and write a VIA 2.x project.

    segmenter: a phone.segment.Segmenter (its own score threshold applies
        first: build it with score <= min_score).
    frames_dir: folder of frames (searched recursively).
    out_json: the project file to write (or complete, when it exists).
    base_path: VIA's default path (folder or URL prefix) for the frames;
        filenames are then relative to frames_dir. None: filenames relative
        to out_json's folder.
    min_score, max_vertices, tolerance: see the module docstring.
    review: N > 0 also writes the N most doubtful frames (review_paths).
    model_name: stored in each region (default: the config's NAME).
    checkpoint_every: frames between two rewrites of the project file.
    quiet: no progress bar (errors and the "Resuming" line still go to stderr).
    Returns an AnnotateSummary. Raises PhoneDataError (one line) for bad input.
    """
    from tqdm import tqdm

    frames_dir = os.path.abspath(os.fspath(frames_dir))
    out_json = os.path.abspath(os.fspath(out_json))
    if max_vertices is not None and int(max_vertices) < 3:
        raise ValueError(f"max_vertices must be >= 3, got {max_vertices}")
    if not float(tolerance) >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    checkpoint_every = max(1, int(checkpoint_every))
    model_name = str(model_name if model_name is not None else segmenter.config.NAME)
    default_path = _norm_default_path(base_path)
    name_root = frames_dir if base_path else os.path.dirname(out_json)

    frames, data = check_output(frames_dir, out_json, base_path)
    if data is None:
        data = _new_project(out_json, default_path, model_name)
    else:
        data = _with_our_attributes(data, model_name)
    done_names = {str(e.get("filename", "")).replace("\\", "/")
                  for e in data["_via_img_metadata"].values() if isinstance(e, dict)}

    summary = AnnotateSummary(out_json, len(frames))
    todo = []
    for path, _rel in frames:
        name = _via_name(path, name_root)
        if name in done_names:
            summary.skipped += 1
        else:
            todo.append((path, name))
    if summary.skipped:
        print(f"Resuming: {summary.skipped} of {len(frames)} frames already in {out_json}; "
              f"skipped", file=sys.stderr)

    dirty = not os.path.exists(out_json)
    since_save = 0
    bar = tqdm(total=len(todo), unit="frame", disable=quiet, file=sys.stderr,
               dynamic_ncols=True, smoothing=0.1)
    batch = max(1, int(getattr(segmenter, "batch_size", 1)))

    def save():
        nonlocal dirty, since_save
        write_via_json(out_json, data)
        dirty, since_save = False, 0

    try:
        for start in range(0, len(todo), batch):
            chunk = []
            for path, name in todo[start:start + batch]:
                try:
                    chunk.append((path, name, read_image(path)))
                except PhoneDataError as e:
                    summary.failed.append((path, one_line(e)))
                    _say(bar, f"error: {one_line(e)}")
                    bar.update(1)
            results = _segment(segmenter, [im for _, _, im in chunk]) if chunk else []
            for (path, name, _image), (r, err) in zip(chunk, results):
                if err is not None:
                    msg = one_line(err)
                    msg = msg if msg.startswith(path) else f"{path}: {msg}"
                    summary.failed.append((path, msg))
                    _say(bar, f"error: {msg}")
                    bar.update(1)
                    continue
                regions, dropped = frame_regions(r, min_score, max_vertices, tolerance,
                                                 model_name, class_name)
                size = os.path.getsize(path)
                _add_entry(data, f"{name}{size}", {"filename": name, "size": size,
                                                   "regions": regions, "file_attributes": {}})
                summary.done += 1
                summary.regions += len(regions)
                summary.empty += 0 if regions else 1
                summary.dropped += dropped
                dirty = True
                since_save += 1
                bar.update(1)
            if since_save >= checkpoint_every:
                save()
    finally:
        bar.close()
        if dirty:
            save()   # also on Ctrl-C: every entry in memory is complete
    if review:
        summary.review = review_project(out_json, int(review), images_dir=name_root)
        summary.review_files = list(review_paths(out_json))
    return summary


# ------------------------------------------------------------------ review
def _frame_doubt(image, height, width):
    """(doubt, reasons) of one ViaImage (see the module docstring)."""
    if not image.regions:
        return 1.0, ["no phone detected"]
    doubt, reasons = 0.0, []
    scores = [s for s in (region_score(r.attributes) for r in image.regions) if s is not None]
    if scores:
        doubt += 1.0 - min(scores)
        reasons.append(f"lowest score {min(scores):.3f}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhoneDataWarning)
        masks = [rasterize_region(r, height, width) for r in image.regions]
    pairs = 0
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            union = np.logical_or(masks[i], masks[j]).sum()
            if union and np.logical_and(masks[i], masks[j]).sum() / union >= OVERLAP_IOU:
                pairs += 1
    if pairs:
        doubt += 0.5
        reasons.append(f"{pairs} overlapping pair(s) of {len(masks)} detections")
    edge = [m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any() for m in masks]
    if any(edge):
        doubt += 0.25
        reasons.append("touches the frame edge")
    return doubt, reasons


def review_project(project_json, n, images_dir=None):
    """The ``n`` most doubtful frames of a VIA project (see the module
    docstring), written to ``<prefix>_review.txt`` and ``<prefix>_review.png``.

    images_dir: where the project's filenames live (default: its folder).
    Returns [ReviewItem] sorted by doubt (most doubtful first; ties by
    filename). Frames whose image is missing or unreadable are left out.
    """
    project_json = os.fspath(project_json)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhoneDataWarning)
        images = parse_via(read_json(project_json), project_json, images_dir=images_dir,
                           keep_empty=True, default_class="phone")
    items = []
    for im in images:
        try:
            h, w = image_size(im.path)
        except PhoneDataError:
            continue
        doubt, reasons = _frame_doubt(im, h, w)
        items.append(ReviewItem(im.filename, im.path, doubt, reasons, im.regions))
    items.sort(key=lambda it: (-it.doubt, it.filename))
    items = items[:max(0, int(n))]
    for rank, it in enumerate(items, 1):
        it.rank = rank
    list_path, sheet_path = review_paths(project_json)
    lines = [f"# {len(items)} most doubtful frames of {os.path.basename(project_json)} "
             f"(check these first in VIA)", "# rank\tdoubt\tfilename\treasons"]
    lines += [f"{it.rank}\t{it.doubt:.3f}\t{it.filename}\t{'; '.join(it.reasons)}" for it in items]
    write_bytes_atomic(list_path, ("\n".join(lines) + "\n").encode("utf-8"))
    write_png_atomic(sheet_path, contact_sheet(items))
    return items


# ------------------------------------------------------------------ drawing
#: outline / fill colours (RGB) of drawn regions: model regions, person regions
MODEL_COLOUR = (255, 220, 0)
PERSON_COLOUR = (0, 200, 255)


def draw_regions(image, regions, scale=1, alpha=0.3, label=True):
    """The regions (ViaRegion list) drawn over an RGB image, as VIA shows
    them: filled at ``alpha`` and outlined, vertices marked, model regions in
    yellow with their score, regions drawn by a person in blue.

    scale: integer zoom (nearest neighbour) for small frames.
    Returns a new uint8 RGB image [H * scale, W * scale, 3].
    """
    import cv2
    img = np.asarray(image)[:, :, :3].astype(np.uint8)
    h, w = img.shape[:2]
    scale = max(1, int(scale))
    out = cv2.resize(img, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
    overlay = out.copy()
    polys = []
    for r in regions:
        score = region_score(r.attributes)
        colour = MODEL_COLOUR if score is not None else PERSON_COLOUR
        pts = r.to_polygon()
        if len(pts) < 3:
            continue
        p = np.round((pts + 0.5) * scale - 0.5).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(overlay, [p], colour)
        polys.append((p, colour, score))
    out = cv2.addWeighted(overlay, alpha, out, 1 - alpha, 0) if polys else out
    for p, colour, score in polys:
        cv2.polylines(out, [p], True, colour, 1, cv2.LINE_AA)
        for x, y in p.reshape(-1, 2):
            cv2.circle(out, (int(x), int(y)), 2, colour, -1)
        if label and score is not None:
            x, y = p.reshape(-1, 2).min(axis=0)
            text = f"{score:.2f}"
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
            y = max(int(y) - 3, th + 2)
            cv2.rectangle(out, (int(x), y - th - 2), (int(x) + tw + 2, y + 2), colour, -1)
            cv2.putText(out, text, (int(x) + 1, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                        cv2.LINE_AA)
    return out


def _wrap(text, width):
    words, lines = text.split(" "), [""]
    for w in words:
        if lines[-1] and len(lines[-1]) + 1 + len(w) > width:
            lines.append(w)
        else:
            lines[-1] = f"{lines[-1]} {w}".strip()
    return lines


def contact_sheet(items, cell=256, columns=4):
    """A PNG-ready RGB grid of review items: each frame with its regions
    drawn (draw_regions), captioned with rank, name, doubt and reasons."""
    import cv2
    columns = max(1, min(int(columns), len(items) or 1))
    rows = max(1, int(math.ceil(len(items) / columns)))
    width = max(20, cell // 6)
    captions = [[f"{it.rank}. {it.filename}  doubt {it.doubt:.2f}"[:width]]
                + [line for reason in it.reasons for line in _wrap(reason, width)][:3]
                for it in items]
    caption = 8 + 14 * max([len(c) for c in captions] or [1])
    sheet = np.full((rows * (cell + caption), columns * cell, 3), 255, np.uint8)
    for k, it in enumerate(items):
        try:
            image = read_image(it.path)
        except PhoneDataError:
            image = np.zeros((cell, cell, 3), np.uint8)
        h, w = image.shape[:2]
        zoom = max(1, cell // max(h, w))
        drawn = draw_regions(image, it.regions, scale=zoom)
        f = min(cell / drawn.shape[0], cell / drawn.shape[1], 1.0)
        if f < 1.0:
            drawn = cv2.resize(drawn, (max(1, int(drawn.shape[1] * f)),
                                       max(1, int(drawn.shape[0] * f))), interpolation=cv2.INTER_AREA)
        r, c = divmod(k, columns)
        y0, x0 = r * (cell + caption), c * cell
        sheet[y0:y0 + drawn.shape[0], x0:x0 + drawn.shape[1]] = drawn
        for i, text in enumerate(captions[k]):
            cv2.putText(sheet, text, (x0 + 3, y0 + cell + 13 + 14 * i), cv2.FONT_HERSHEY_SIMPLEX,
                        0.36, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet
