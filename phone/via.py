"""Read VGG Image Annotator (VIA) files and rasterise their regions.

Supported inputs (detected from the JSON structure, not the file name):

* VIA 1.x export: ``{key: {filename, size, regions: {"0": {...}, ...}, file_attributes}}``
  (Matterport's balloon ``via_region_data.json``).
* VIA 2.x export: the same, with ``regions`` a list.
* VIA 2.x project file: ``{"_via_settings", "_via_img_metadata", "_via_attributes",
  ["_via_image_id_list"]}``; the images are in ``_via_img_metadata`` and, when
  present, ``_via_image_id_list`` gives their order.
* VIA 3.x project file (``project`` / ``file`` / ``view`` / ``metadata``): image
  files only (a video annotation raises an error). Shape ids: 1 point,
  2 rect, 3 circle, 4 ellipse, 5 line, 6 polyline, 7 polygon (x, y interleaved),
  8 extreme rectangle (4 boundary points, used as their bounding rect).

Region shapes: ``polygon`` and ``polyline`` (all_points_x/y; a polyline is
closed like a polygon), ``rect`` (x, y, width, height), ``circle`` (cx, cy, r),
``ellipse`` (cx, cy, rx, ry, optional ``theta`` in radians, rotating the
rx axis from +x towards +y, i.e. clockwise on screen, as VIA draws it) and
``point`` / ``line`` (no area: skipped with a :class:`PhoneDataWarning`).

Pixel convention: coordinate ``(x, y)`` is the centre of pixel
``[row=y, col=x]``. Polygons and polylines are rasterised exactly as
Matterport's balloon loader does, ``skimage.draw.polygon(all_points_y,
all_points_x)`` (clipped to the image), so a model trained here sees the same
masks as one trained with Matterport's code on the same file. The older
border-inclusive rule (``outline=True``: those pixels plus the outline drawn
between the vertices rounded to integers, about half a pixel fatter all
round) stays available. Rects keep that border-inclusive rule by default: a
rect ``(x, y, width, height)`` is the polygon with corners ``(x, y)`` and
``(x + width, y + height)`` and covers columns x..x+width and rows
y..y+height (Matterport's loader has no rects).

Class names come from ``region_attributes[name_key]`` which may be a string
(text / dropdown / radio attribute) or, for a VIA 2 checkbox attribute, a dict
of ``{option: bool}`` (exactly one option may be ticked). Empty or missing names
become ``default_class`` (when it is None they are an error).

Images without regions are skipped unless ``keep_empty=True``, in which case
they are kept as negatives (``regions == []``): use that to train on frames
that contain no phone.

Every problem raises :class:`phone.errors.AnnotationError` with a one-line
message naming the JSON file, the image and the region index.
"""
import json
import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import skimage.draw

from phone.errors import AnnotationError, PhoneDataError, PhoneDataWarning

__all__ = [
    "ViaRegion", "ViaImage", "load_via", "parse_via", "read_json",
    "rasterize_region", "rasterize_regions", "via2_export", "write_via_json",
    "SHAPES",
]

#: shape names with an area (rasterisable)
AREA_SHAPES = ("polygon", "polyline", "rect", "circle", "ellipse")
#: shape names without area (skipped with a warning)
NO_AREA_SHAPES = ("point", "line")
SHAPES = AREA_SHAPES + NO_AREA_SHAPES

# VIA 3.x numeric shape ids -> VIA 2 names.
_VIA3_SHAPES = {1: "point", 2: "rect", 3: "circle", 4: "ellipse", 5: "line",
                6: "polyline", 7: "polygon", 8: "extreme_rect", 9: "extreme_circle"}


@dataclass
class ViaRegion:
    """One annotated region.

    shape: one of SHAPES.
    class_name: the class from region_attributes (default applied).
    points: [N, (x, y)] float64 vertices for polygon/polyline, [1, (x, y)]
        for a point, [0, 2] otherwise.
    params: shape parameters for rect (x, y, width, height), circle
        (cx, cy, r) and ellipse (cx, cy, rx, ry, theta), as floats.
    index: position of the region in the image's region list.
    attributes: the raw region_attributes dict.
    """
    shape: str
    class_name: str
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    params: dict = field(default_factory=dict)
    index: int = 0
    attributes: dict = field(default_factory=dict)

    @property
    def has_area(self):
        return self.shape in AREA_SHAPES

    def to_polygon(self, num=64):
        """Vertices of the region outline, [N, (x, y)] float64.

        Polygons are returned as they are, rects as 4 corners, circles and
        ellipses sampled at ``num`` points.
        """
        p = self.params
        if self.shape in ("polygon", "polyline"):
            return np.asarray(self.points, np.float64).reshape(-1, 2)
        if self.shape == "rect":
            x0, y0 = p["x"], p["y"]
            x1, y1 = x0 + p["width"], y0 + p["height"]
            return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
        if self.shape in ("circle", "ellipse"):
            rx = p["r"] if self.shape == "circle" else p["rx"]
            ry = p["r"] if self.shape == "circle" else p["ry"]
            th = p.get("theta", 0.0)
            t = np.linspace(0, 2 * np.pi, num, endpoint=False)
            ex, ey = rx * np.cos(t), ry * np.sin(t)
            x = p["cx"] + ex * math.cos(th) - ey * math.sin(th)
            y = p["cy"] + ex * math.sin(th) + ey * math.cos(th)
            return np.stack([x, y], axis=1)
        return np.zeros((0, 2), np.float64)

    def bounds(self):
        """(x_min, y_min, x_max, y_max) of the shape in image coordinates."""
        if self.shape in ("circle", "ellipse"):
            p = self.params
            if self.shape == "circle":
                hx = hy = p["r"]
            else:
                c, s = math.cos(p.get("theta", 0.0)), math.sin(p.get("theta", 0.0))
                hx = math.hypot(p["rx"] * c, p["ry"] * s)
                hy = math.hypot(p["rx"] * s, p["ry"] * c)
            return p["cx"] - hx, p["cy"] - hy, p["cx"] + hx, p["cy"] + hy
        pts = self.to_polygon() if self.shape == "rect" else np.asarray(self.points)
        if len(pts) == 0:
            return (0.0, 0.0, 0.0, 0.0)
        return (float(pts[:, 0].min()), float(pts[:, 1].min()),
                float(pts[:, 0].max()), float(pts[:, 1].max()))


@dataclass
class ViaImage:
    """One image entry of a VIA file.

    filename: the name as written in the VIA file.
    path: absolute path (filename resolved against images_dir or the JSON's dir).
    regions: list of ViaRegion with an area (points/lines are dropped).
    size: VIA's "size" field, the file size in BYTES (not pixels), or None.
    file_attributes: the raw file_attributes dict.
    key: the key of the entry in the VIA file.
    """
    filename: str
    path: str
    regions: list = field(default_factory=list)
    size: object = None
    file_attributes: dict = field(default_factory=dict)
    key: str = ""

    @property
    def class_names(self):
        return [r.class_name for r in self.regions]


# ---------------------------------------------------------------------------
# JSON reading
# ---------------------------------------------------------------------------

def read_json(json_path):
    """Load a JSON file; AnnotationError with file/line/column on failure."""
    json_path = os.fspath(json_path)
    if not os.path.isfile(json_path):
        raise AnnotationError(f"{json_path}: no such annotation file")
    try:
        with open(json_path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise AnnotationError(f"{json_path}: cannot read annotation file ({e.strerror or e})") from None
    if not raw.strip():
        raise AnnotationError(f"{json_path}: empty annotation file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise AnnotationError(f"{json_path}: not UTF-8 text (byte {e.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_object_without_conflicts)
    except json.JSONDecodeError as e:
        raise AnnotationError(
            f"{json_path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except _DuplicateKey as e:
        raise AnnotationError(
            f"{json_path}: duplicate key {_short(e.key)} with different values in one JSON "
            f"object (hand-edited or merged file?): one of them would be lost; keep one") from None
    except RecursionError:
        raise AnnotationError(f"{json_path}: JSON nested too deeply to be an annotation file") from None
    except ValueError as e:   # e.g. an integer of more than 4300 digits
        raise AnnotationError(f"{json_path}: malformed JSON: {str(e).splitlines()[0]}") from None


class _DuplicateKey(Exception):
    def __init__(self, key):
        super().__init__(key)
        self.key = key


def _object_without_conflicts(pairs):
    """json object hook: a key may repeat only with an identical value
    (Python's json would silently keep the last one)."""
    out = {}
    for key, value in pairs:
        if key in out and not _same_json(out[key], value):
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _same_json(a, b):
    try:
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    except (TypeError, ValueError):
        return False


#: coordinates and sizes beyond this many pixels are taken for typos
MAX_COORDINATE = 1e9


def _num(value, what, where):
    """A finite float from a JSON number, or AnnotationError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnnotationError(f"{where}: {what} is not a number ({_short(value)})")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise AnnotationError(f"{where}: {what} is not finite ({_short(value)})")
    if abs(v) > MAX_COORDINATE:
        raise AnnotationError(f"{where}: {what} = {v:g} is out of range "
                              f"(more than {MAX_COORDINATE:g} pixels)")
    return v


def _short(value, limit=40):
    """repr() of a JSON value cut to ``limit`` characters (for messages)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 30:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _class_name(attrs, name_key, default_class, where):
    if not isinstance(attrs, dict):
        raise AnnotationError(f"{where}: region_attributes is not an object")
    value = attrs.get(name_key)
    if isinstance(value, dict):          # VIA 2 checkbox: {"phone": true, ...}
        ticked = [k for k, v in value.items() if v]
        if len(ticked) > 1:
            raise AnnotationError(
                f"{where}: several classes ticked in region_attributes[{name_key!r}]: {ticked}")
        value = ticked[0] if ticked else ""
    elif isinstance(value, list):
        raise AnnotationError(f"{where}: region_attributes[{name_key!r}] is a list, expected a string")
    name = "" if value is None else str(value).strip()
    if not name:
        if default_class is None:
            raise AnnotationError(f"{where}: region has no class name in region_attributes[{name_key!r}]")
        name = default_class
    return name


def _parse_shape(sa, where):
    """(shape, points [N,2], params) from a VIA 1/2 shape_attributes dict."""
    if not isinstance(sa, dict):
        raise AnnotationError(f"{where}: shape_attributes is missing or not an object")
    shape = sa.get("name")
    if not isinstance(shape, str):
        raise AnnotationError(f"{where}: shape_attributes has no shape 'name'")
    shape = shape.strip().lower()
    if shape in ("polygon", "polyline"):
        xs, ys = sa.get("all_points_x"), sa.get("all_points_y")
        if xs is None or ys is None:
            missing = " and ".join(k for k in ("all_points_x", "all_points_y") if sa.get(k) is None)
            raise AnnotationError(f"{where}: {shape} without {missing}")
        if not isinstance(xs, list) or not isinstance(ys, list):
            raise AnnotationError(f"{where}: all_points_x/all_points_y must be lists")
        if len(xs) != len(ys):
            raise AnnotationError(
                f"{where}: all_points_x has {len(xs)} values but all_points_y has {len(ys)}")
        pts = np.array([[_num(x, f"all_points_x[{i}]", where), _num(y, f"all_points_y[{i}]", where)]
                        for i, (x, y) in enumerate(zip(xs, ys))], np.float64).reshape(-1, 2)
        return shape, pts, {}
    keys = {"rect": ("x", "y", "width", "height"), "circle": ("cx", "cy", "r"),
            "ellipse": ("cx", "cy", "rx", "ry"), "point": ("cx", "cy")}
    if shape not in keys:
        raise AnnotationError(
            f"{where}: unknown region shape {shape!r} (expected one of {', '.join(SHAPES)})")
    params = {}
    for k in keys[shape]:
        if k not in sa:
            raise AnnotationError(f"{where}: {shape} without '{k}'")
        params[k] = _num(sa[k], k, where)
    if shape == "ellipse":
        params["theta"] = _num(sa["theta"], "theta", where) if "theta" in sa else 0.0
    if shape == "point":
        return shape, np.array([[params["cx"], params["cy"]]]), {}
    if shape == "rect":
        # VIA keeps width/height positive; normalise anyway.
        if params["width"] < 0:
            params["x"] += params["width"]
            params["width"] = -params["width"]
        if params["height"] < 0:
            params["y"] += params["height"]
            params["height"] = -params["height"]
    for k in ("r", "rx", "ry"):
        if k in params and params[k] < 0:
            raise AnnotationError(f"{where}: negative radius {k}={params[k]}")
    return shape, np.zeros((0, 2)), params


def _make_region(shape, pts, params, class_name, index, attrs, where):
    """Build a ViaRegion, or None (with a warning) for shapes without area."""
    if shape in NO_AREA_SHAPES:
        warnings.warn(f"{where}: {shape} region has no area; ignored", PhoneDataWarning, stacklevel=4)
        return None
    if shape in ("polygon", "polyline") and len(pts) < 3:
        warnings.warn(f"{where}: {shape} with {len(pts)} point(s) has no area; ignored",
                      PhoneDataWarning, stacklevel=4)
        return None
    return ViaRegion(shape=shape, class_name=class_name, points=pts, params=params,
                     index=index, attributes=dict(attrs))


def _resolve(filename, base_dir):
    if not isinstance(filename, str) or not filename:
        return None
    if filename.startswith(("http://", "https://", "file://")):
        filename = filename.rstrip("/").rsplit("/", 1)[-1]
    if os.path.isabs(filename):
        return os.path.normpath(filename)
    return os.path.normpath(os.path.join(base_dir, filename))


def _parse_entries(entries, order, json_path, base_dir, name_key, default_class, keep_empty):
    images = []
    for key in order:
        entry = entries[key]
        where_img = f"{json_path}: entry {key!r}"
        if not isinstance(entry, dict):
            raise AnnotationError(f"{where_img}: expected an object with filename and regions")
        filename = entry.get("filename")
        if not isinstance(filename, str) or not filename:
            raise AnnotationError(f"{where_img}: missing 'filename'")
        where_img = f"{json_path}: image {filename!r}"
        raw_regions = entry.get("regions", [])
        if raw_regions is None:
            raw_regions = []
        if isinstance(raw_regions, dict):   # VIA 1.x: {"0": {...}, "1": {...}}
            try:
                items = sorted(raw_regions.items(), key=lambda kv: int(kv[0]))
            except ValueError:
                items = list(raw_regions.items())
            raw_regions = [v for _, v in items]
        elif not isinstance(raw_regions, list):
            raise AnnotationError(f"{where_img}: 'regions' must be a list (VIA 2) or an object (VIA 1)")
        regions = []
        for i, reg in enumerate(raw_regions):
            where = f"{where_img} region {i}"
            if not isinstance(reg, dict):
                raise AnnotationError(f"{where}: region is not an object")
            shape, pts, params = _parse_shape(reg.get("shape_attributes"), where)
            attrs = reg.get("region_attributes") or {}
            cname = _class_name(attrs, name_key, default_class, where)
            r = _make_region(shape, pts, params, cname, i, attrs, where)
            if r is not None:
                regions.append(r)
        if not regions and not keep_empty:
            continue
        images.append(ViaImage(filename=filename, path=_resolve(filename, base_dir),
                               regions=regions, size=entry.get("size"),
                               file_attributes=entry.get("file_attributes") or {}, key=str(key)))
    return images


def _parse_via3(data, json_path, base_dir, name_key, default_class, keep_empty):
    """VIA 3.x project: project/config/attribute/file/view/metadata."""
    files = data.get("file") or {}
    views = data.get("view") or {}
    attributes = data.get("attribute") or {}
    metadata = data.get("metadata") or {}
    if not all(isinstance(x, dict) for x in (files, views, attributes, metadata)):
        raise AnnotationError(f"{json_path}: VIA 3 project with malformed file/view/attribute/metadata")
    # Attribute id of the class name: the one called name_key, else the only one.
    aid = None
    for k, a in attributes.items():
        if isinstance(a, dict) and a.get("aname") == name_key:
            aid = k
    if aid is None and len(attributes) == 1:
        aid = next(iter(attributes))
    attr = attributes.get(aid) if aid is not None else None
    options = (attr.get("options") if isinstance(attr, dict) else None) or {}
    if not isinstance(options, dict):
        raise AnnotationError(f"{json_path}: VIA 3 attribute {aid!r}: 'options' is not an object")

    project = data.get("project") or {}
    if not isinstance(project, dict):
        raise AnnotationError(f"{json_path}: VIA 3 'project' is not an object")
    vid_list = project.get("vid_list") or list(views)
    if not isinstance(vid_list, list):
        raise AnnotationError(f"{json_path}: VIA 3 project 'vid_list' is not a list")
    by_view = {}
    for mid, m in metadata.items():
        if not isinstance(m, dict):
            raise AnnotationError(f"{json_path}: metadata {mid!r} is not an object")
        by_view.setdefault(str(m.get("vid")), []).append((mid, m))

    images = []
    for vid in vid_list:
        view = views.get(str(vid))
        if not isinstance(view, dict) or not view.get("fid_list"):
            continue
        fids = view["fid_list"]
        if not isinstance(fids, list):
            raise AnnotationError(f"{json_path}: view {vid!r}: 'fid_list' is not a list")
        if len(fids) != 1:
            raise AnnotationError(f"{json_path}: view {vid!r} has {len(fids)} files; only single-image views are supported")
        finfo = files.get(str(fids[0]))
        if not isinstance(finfo, dict):
            raise AnnotationError(f"{json_path}: view {vid!r} refers to missing file {fids[0]!r}")
        if finfo.get("type", 2) != 2:
            raise AnnotationError(f"{json_path}: file {finfo.get('fname')!r} is not an image (VIA 3 video/audio annotations are not supported)")
        filename = finfo.get("fname") or finfo.get("src")
        if not isinstance(filename, str) or not filename:
            raise AnnotationError(f"{json_path}: file {fids[0]!r} has no 'fname'")
        where_img = f"{json_path}: image {filename!r}"
        regions = []
        for i, (mid, m) in enumerate(by_view.get(str(vid), [])):
            where = f"{where_img} region {i}"
            if m.get("z"):
                raise AnnotationError(f"{where}: temporal (video) annotation is not supported")
            xy = m.get("xy")
            if not isinstance(xy, list) or not xy:
                continue   # file-level metadata, not a region
            sid = xy[0]
            shape = (_VIA3_SHAPES.get(sid) if isinstance(sid, int) and not isinstance(sid, bool)
                     else None)
            if shape is None or shape == "extreme_circle":
                raise AnnotationError(f"{where}: unsupported VIA 3 shape id {sid!r}")
            c = [_num(v, f"xy[{j + 1}]", where) for j, v in enumerate(xy[1:])]
            need = {"point": 2, "rect": 4, "circle": 3, "ellipse": 4, "line": 4, "extreme_rect": 8}
            if shape in need and len(c) < need[shape]:
                raise AnnotationError(f"{where}: {shape} needs {need[shape]} coordinates, got {len(c)}")
            pts, params = np.zeros((0, 2)), {}
            if shape in ("polygon", "polyline"):
                if len(c) % 2:
                    raise AnnotationError(f"{where}: {shape} has an odd number ({len(c)}) of x, y values")
                pts = np.array(c, np.float64).reshape(-1, 2)
            elif shape == "rect":
                params = dict(x=c[0], y=c[1], width=c[2], height=c[3])
            elif shape == "extreme_rect":
                p = np.array(c[:8]).reshape(4, 2)
                shape = "rect"
                params = dict(x=p[:, 0].min(), y=p[:, 1].min(),
                              width=np.ptp(p[:, 0]), height=np.ptp(p[:, 1]))
            elif shape == "circle":
                params = dict(cx=c[0], cy=c[1], r=c[2])
            elif shape == "ellipse":
                params = dict(cx=c[0], cy=c[1], rx=c[2], ry=c[3], theta=c[4] if len(c) > 4 else 0.0)
            av = m.get("av") or {}
            if not isinstance(av, dict):
                raise AnnotationError(f"{where}: 'av' (attribute values) is not an object")
            value = av.get(aid, "") if aid is not None else ""
            if options and isinstance(value, str) and value:
                ids = [v for v in value.split(",") if v != ""]
                if len(ids) > 1:
                    raise AnnotationError(f"{where}: several classes ticked: {[options.get(v, v) for v in ids]}")
                value = options.get(ids[0], ids[0]) if ids else ""
            cname = _class_name({name_key: value}, name_key, default_class, where)
            r = _make_region(shape, pts, {k: float(v) for k, v in params.items()}, cname, i, av, where)
            if r is not None:
                regions.append(r)
        if not regions and not keep_empty:
            continue
        images.append(ViaImage(filename=filename, path=_resolve(filename, base_dir), regions=regions,
                               size=None, file_attributes={}, key=str(vid)))
    return images


def parse_via(data, json_path="<via>", images_dir=None, name_key="name",
              default_class="phone", keep_empty=False):
    """Parse an already-loaded VIA JSON object. See :func:`load_via`."""
    json_path = os.fspath(json_path)
    base_dir = os.path.abspath(os.fspath(images_dir) if images_dir is not None
                               else os.path.dirname(os.path.abspath(json_path)))
    if not isinstance(data, dict):
        raise AnnotationError(
            f"{json_path}: expected a JSON object (VIA export or project), got {type(data).__name__}")
    if "_via_img_metadata" in data:                       # VIA 2.x project
        entries = data["_via_img_metadata"]
        if not isinstance(entries, dict):
            raise AnnotationError(f"{json_path}: _via_img_metadata is not an object")
        id_list = data.get("_via_image_id_list") or []
        if not isinstance(id_list, list):
            raise AnnotationError(f"{json_path}: _via_image_id_list is not a list")
        order = [k for k in id_list if isinstance(k, str) and k in entries]
        order += [k for k in entries if k not in set(order)]
        return _parse_entries(entries, order, json_path, base_dir, name_key, default_class, keep_empty)
    if "project" in data and "metadata" in data and ("file" in data or "view" in data):
        return _parse_via3(data, json_path, base_dir, name_key, default_class, keep_empty)
    if "_via_settings" in data or "_via_attributes" in data:
        raise AnnotationError(f"{json_path}: VIA project file without _via_img_metadata")
    if any(k in data for k in ("images", "annotations", "categories")):
        raise AnnotationError(
            f"{json_path}: looks like a COCO file, not VIA; use phone.coco_json.load_coco")
    return _parse_entries(data, list(data), json_path, base_dir, name_key, default_class, keep_empty)


def load_via(json_path, name_key="name", default_class="phone", keep_empty=False, images_dir=None):
    """Read a VIA 1.x/2.x export, VIA 2.x project or VIA 3.x project file.

    json_path: the VIA JSON file.
    name_key: region attribute holding the class name.
    default_class: class for regions with an empty or missing name (None: error).
    keep_empty: keep images without regions (negatives) instead of skipping them.
    images_dir: directory the filenames are relative to (default: the JSON's dir).
    Returns: list of ViaImage in file order. Raises AnnotationError.
    """
    data = read_json(json_path)
    return parse_via(data, json_path, images_dir=images_dir, name_key=name_key,
                     default_class=default_class, keep_empty=keep_empty)


# ---------------------------------------------------------------------------
# Rasterisation
# ---------------------------------------------------------------------------

def _warn_clip(region, height, width, image_name):
    x0, y0, x1, y1 = region.bounds()
    # VIA lets the user click up to the image edge, which is x == width.
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        name = f"image {image_name!r}" if image_name else "image"
        warnings.warn(
            f"{name} region {region.index}: {region.shape} extends outside the "
            f"{width}x{height} image (x {x0:g}..{x1:g}, y {y0:g}..{y1:g}); clipped",
            PhoneDataWarning, stacklevel=3)


def _ellipse_mask(cx, cy, rx, ry, theta, height, width):
    """Pixels whose centre satisfies the rotated-ellipse inequality (<= 1)."""
    mask = np.zeros((height, width), bool)
    c, s = math.cos(theta), math.sin(theta)
    hx = math.hypot(rx * c, ry * s)
    hy = math.hypot(rx * s, ry * c)
    c0, c1 = max(0, math.floor(cx - hx)), min(width - 1, math.ceil(cx + hx))
    r0, r1 = max(0, math.floor(cy - hy)), min(height - 1, math.ceil(cy + hy))
    if c0 > c1 or r0 > r1:
        return mask
    yy, xx = np.mgrid[r0:r1 + 1, c0:c1 + 1].astype(np.float64)
    dx, dy = xx - cx, yy - cy
    u = dx * c + dy * s          # along the rx axis
    v = -dx * s + dy * c         # along the ry axis
    eps = 1e-9
    if rx <= 0 or ry <= 0:
        inside = np.zeros_like(u, bool)
    else:
        with np.errstate(over="ignore"):   # a radius of 1e-200: inf means outside
            inside = (u / rx) ** 2 + (v / ry) ** 2 <= 1.0 + eps
    mask[r0:r1 + 1, c0:c1 + 1] = inside
    return mask


def _clip_polygon(pts, x0, y0, x1, y1):
    """Sutherland-Hodgman: the part of polygon ``pts`` [N, (x, y)] inside the
    box [x0, x1] x [y0, y1] (exact: the box is convex)."""
    def clip(poly, inside, cross):
        out = []
        for i in range(len(poly)):
            cur, prev = poly[i], poly[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross(prev, cur))
        return out

    def at_x(x):
        return lambda p, q: (x, p[1] + (q[1] - p[1]) * (x - p[0]) / (q[0] - p[0]))

    def at_y(y):
        return lambda p, q: (p[0] + (q[0] - p[0]) * (y - p[1]) / (q[1] - p[1]), y)

    poly = [tuple(p) for p in np.asarray(pts, np.float64)]
    for inside, cross in ((lambda p: p[0] >= x0, at_x(x0)), (lambda p: p[0] <= x1, at_x(x1)),
                          (lambda p: p[1] >= y0, at_y(y0)), (lambda p: p[1] <= y1, at_y(y1))):
        if not poly:
            break
        poly = clip(poly, inside, cross)
    return np.array(poly, np.float64).reshape(-1, 2)


def _clip_far_vertices(pts, height, width):
    """Polygons reaching far outside the image (a vertex typed as 1e8) are
    clipped to a box one image-size beyond every edge, so drawing the outline
    costs at most a few image perimeters instead of exhausting memory. What
    lies inside the image is unchanged (up to the outline's rounding where an
    edge is cut); polygons within that box are used as they are."""
    margin = max(height, width) + 2
    x0, y0, x1, y1 = -margin, -margin, width - 1 + margin, height - 1 + margin
    if len(pts) == 0 or ((pts[:, 0] >= x0).all() and (pts[:, 0] <= x1).all()
                         and (pts[:, 1] >= y0).all() and (pts[:, 1] <= y1).all()):
        return pts
    return _clip_polygon(pts, x0, y0, x1, y1)


def rasterize_region(region, height, width, image_name=None, outline=None):
    """Rasterise one region to a mask.

    region: ViaRegion with an area.
    height, width: image size in pixels.
    image_name: used in the clipping warning.
    outline: for polygons/polylines/rects, also set the pixels of the outline
        drawn between the vertices rounded to integers
        (``skimage.draw.polygon_perimeter``), so vertices and integer borders
        are always in. None (default): False for polygons and polylines
        (Matterport's ``skimage.draw.polygon`` alone), True for rects.
    Returns: bool [height, width]. Polygons/rects: pixels whose centre is
    inside (``skimage.draw.polygon``), plus the outline when asked.
    Circles/ellipses: pixels whose centre satisfies the ellipse inequality
    (border included). Parts outside the image are clipped (with a
    PhoneDataWarning naming the image).
    """
    height, width = int(height), int(width)
    if region.shape not in AREA_SHAPES:
        raise AnnotationError(f"image {image_name!r} region {region.index}: {region.shape} has no area")
    _warn_clip(region, height, width, image_name)
    p = region.params
    if region.shape == "circle":
        return _ellipse_mask(p["cx"], p["cy"], p["r"], p["r"], 0.0, height, width)
    if region.shape == "ellipse":
        return _ellipse_mask(p["cx"], p["cy"], p["rx"], p["ry"], p.get("theta", 0.0), height, width)
    pts = _clip_far_vertices(region.to_polygon(), height, width)
    mask = np.zeros((height, width), bool)
    if len(pts) == 0:
        return mask
    rows, cols = pts[:, 1], pts[:, 0]
    rr, cc = skimage.draw.polygon(rows, cols, shape=(height, width))
    mask[rr, cc] = True
    if outline is None:
        outline = region.shape == "rect"
    if outline:
        # polygon() leaves out some boundary pixels; add the drawn outline.
        rr, cc = skimage.draw.polygon_perimeter(rows, cols, shape=(height, width), clip=False)
        mask[rr, cc] = True
    return mask


def rasterize_regions(image, height, width, outline=None):
    """All regions of a ViaImage: (bool [H, W, N], list of N class names).
    outline: see rasterize_region."""
    masks = np.zeros((int(height), int(width), len(image.regions)), bool)
    for i, r in enumerate(image.regions):
        masks[:, :, i] = rasterize_region(r, height, width, image_name=image.filename,
                                          outline=outline)
    return masks, [r.class_name for r in image.regions]


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

def _shape_attributes(region):
    p = region.params
    if region.shape in ("polygon", "polyline"):
        pts = np.asarray(region.points)
        return {"name": region.shape,
                "all_points_x": [json_number(v) for v in pts[:, 0]],
                "all_points_y": [json_number(v) for v in pts[:, 1]]}
    if region.shape == "rect":
        return {"name": "rect", **{k: json_number(p[k]) for k in ("x", "y", "width", "height")}}
    if region.shape == "circle":
        return {"name": "circle", **{k: json_number(p[k]) for k in ("cx", "cy", "r")}}
    if region.shape == "ellipse":
        d = {"name": "ellipse", **{k: json_number(p[k]) for k in ("cx", "cy", "rx", "ry")}}
        if p.get("theta"):
            d["theta"] = float(p["theta"])
        return d
    raise ValueError(f"cannot write shape {region.shape!r}")


def json_number(v):
    """A coordinate as VIA writes it: an int when whole, else rounded to 3 decimals."""
    v = float(v)
    return int(v) if v.is_integer() else round(v, 3)


def via2_export(images, name_key="name"):
    """VIA 2.x export dict (``{filename+size: {...}}``) from ViaImage records.

    The key is filename + byte size, as VIA writes it; ``size`` is taken
    from the record or from the file on disk.
    """
    out = {}
    for im in images:
        size = im.size
        if size is None and im.path and os.path.isfile(im.path):
            size = os.path.getsize(im.path)
        size = -1 if size is None else int(size)
        out[f"{im.filename}{size}"] = {
            "filename": im.filename,
            "size": size,
            "regions": [{"shape_attributes": _shape_attributes(r),
                         "region_attributes": dict(r.attributes) or {name_key: r.class_name}}
                        for r in im.regions],
            "file_attributes": dict(im.file_attributes),
        }
    return out


def write_via_json(path, data):
    """Write a JSON object atomically (temp file + os.replace)."""
    from phone.imageio import write_bytes_atomic
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise PhoneDataError(f"{path}: cannot serialise annotations to JSON ({e})") from None
    return write_bytes_atomic(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------
# Masks -> polygons, VIA 2.x project files
# ---------------------------------------------------------------------------

__all__ += ["mask_to_polygon", "json_number", "via2_settings", "via2_text_attribute", "via2_project",
            "VIA2_FORMAT_VERSION"]


def _outer_contours(piece):
    """Outer contours of a uint8 mask, traced on the mask upscaled 2x
    (nearest): the points lie a quarter pixel outside the centres of the
    boundary pixels once mapped back (see mask_to_polygon)."""
    import cv2
    up = np.kron(piece, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return contours


def _from_upscaled(pts, height, width):
    """Upscaled-grid points -> image (x, y): pixel i spans 2i, 2i+1 there,
    so its outer sides map to i - 0.25 and i + 0.25; clamped to the pixel
    centres of the frame's border (skimage.draw.polygon keeps pixels whose
    centre lies on the outline, so a mask touching the edge stays whole)."""
    xy = (np.asarray(pts, np.float64) - 0.5) / 2.0
    xy[:, 0] = np.clip(xy[:, 0], 0, width - 1)
    xy[:, 1] = np.clip(xy[:, 1], 0, height - 1)
    return xy


def mask_to_polygon(mask, tolerance=0.7, max_vertices=None, all_pieces=False, min_piece=0.02):
    """Outer contour of a bool mask, simplified, as VIA polygon vertices.

    The outline runs a quarter pixel outside the centres of the mask's
    boundary pixels, so that Matterport's rasterisation
    (``skimage.draw.polygon``: pixels whose centre is inside, the default of
    :func:`rasterize_region`) gives the mask back exactly before
    simplification (holes aside).

    mask: [height, width] bool (or 0/nonzero).
    tolerance: Douglas-Peucker tolerance in pixels (``cv2.approxPolyDP``):
        no point of the traced outline is farther than this from the polygon.
    max_vertices: at most this many vertices (>= 3) in all; when the
        simplified outline has more, the tolerance is raised (x1.25 steps)
        until it fits. None: no limit.
    all_pieces: False: only the largest piece (8-connected) is traced. True:
        every piece of at least ``min_piece`` times the largest one's pixel
        count (and 4 pixels) is traced too, and the pieces are joined into one
        polygon by zero-width bridges (from a vertex of the polygon so far to
        the nearest vertex of the next piece, around that piece and back), so
        one VIA region still describes the whole mask; a bridge has no inside
        and adds no pixel. With a vertex limit, the tolerance is raised up to
        2 px before the smallest pieces are left out.
    Returns: [N, (x, y)] float64 array (multiples of 0.25 px, inside the
    frame; 3 <= N), or None when the mask has no area. Holes are not kept.
    """
    import cv2
    if max_vertices is not None and int(max_vertices) < 3:
        raise ValueError(f"max_vertices must be >= 3, got {max_vertices}")
    limit = None if max_vertices is None else int(max_vertices)
    m = np.ascontiguousarray(np.asarray(mask) != 0, dtype=np.uint8)
    if m.ndim != 2:
        raise ValueError(f"mask must be [height, width], got shape {m.shape}")
    eps0 = 2.0 * float(tolerance)            # in upscaled pixels
    if not all_pieces:
        contours = _outer_contours(m)
        if not contours:
            return None
        c = max(contours, key=lambda k: (cv2.contourArea(k), len(k)))
        pts = _fit_outline(c, eps0, limit, grow=True)
        return None if pts is None else _from_upscaled(pts, *m.shape)

    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n < 2:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = [int(k) + 1 for k in np.argsort(-areas, kind="stable")]
    floor = max(4, float(min_piece) * areas.max())
    pieces = []
    for k in order:
        if pieces and stats[k, cv2.CC_STAT_AREA] < floor:
            break
        pieces.append(max(_outer_contours((labels == k).astype(np.uint8)), key=len))
    while pieces:
        eps = eps0
        while True:
            polys = [p for p in (_fit_outline(c, eps, limit, grow=False) for c in pieces)
                     if p is not None]
            total = sum(len(p) for p in polys) + 2 * max(0, len(polys) - 1)
            if polys and (limit is None or total <= limit):
                return _from_upscaled(_join_outlines(polys), *m.shape)
            if len(pieces) > 1 and eps >= max(4.0, eps0):
                break
            if len(pieces) == 1 and eps > 8 * max(m.shape):
                return None
            eps = max(eps * 1.25, 1.0)
        pieces = pieces[:-1]      # leave out the smallest piece and start again
    return None


def _fit_outline(contour, eps, limit, grow):
    """[N, 2] simplified closed outline (3 <= N <= limit) or None, in the
    contour's own units (mask_to_polygon passes upscaled ones).

    A piece thinner than the tolerance (fewer than 3 vertices) falls back to
    its traced outline, or finer tolerances when that has too many vertices;
    ``grow``: raise the tolerance while there are more than ``limit``."""
    import cv2
    raw = contour.reshape(-1, 2)
    pts = cv2.approxPolyDP(contour, eps, True).reshape(-1, 2)
    if len(pts) < 3:
        if len(raw) >= 3 and (limit is None or len(raw) <= limit):
            return raw
        for finer in (eps / 2, eps / 4, eps / 8):
            fine = cv2.approxPolyDP(contour, finer, True).reshape(-1, 2)
            if len(fine) >= 3 and (limit is None or len(fine) <= limit):
                return fine
        return None
    while grow and limit is not None and len(pts) > limit:
        eps = max(eps * 1.25, 1.0)
        pts = cv2.approxPolyDP(contour, eps, True).reshape(-1, 2)
    return pts if len(pts) >= 3 else None


def _join_outlines(polys):
    """One closed polygon from several: each next outline is entered from the
    nearest vertex of the polygon so far and left back to it (a zero-width
    bridge, which the even-odd fill of :func:`rasterize_region` ignores)."""
    out = np.asarray(polys[0])
    for q in polys[1:]:
        q = np.asarray(q)
        d = ((out[:, None, :].astype(np.int64) - q[None, :, :]) ** 2).sum(-1)
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        loop = np.roll(q, -j, axis=0)
        out = np.concatenate([out[:i + 1], loop, loop[:1], out[i:]])
    return out


#: ``_via_data_format_version`` of the project files we write (VIA 2.0.10+
#: writes it; older VIA 2 releases ignore it)
VIA2_FORMAT_VERSION = "2.0.10"


def via2_settings(project_name, default_filepath=""):
    """``_via_settings`` as VIA 2.x writes it (its defaults), with the
    project name and the default path VIA prefixes to image filenames."""
    return {
        "ui": {
            "annotation_editor_height": 25,
            "annotation_editor_fontsize": 0.8,
            "leftsidebar_width": 18,
            "image_grid": {"img_height": 80, "rshape_fill": "none", "rshape_fill_opacity": 0.3,
                           "rshape_stroke": "yellow", "rshape_stroke_width": 2,
                           "show_region_shape": True, "show_image_policy": "all"},
            "image": {"region_label": "__via_region_id__",
                      "region_color": "__via_default_region_color__",
                      "region_label_font": "10px Sans",
                      "on_image_annotation_editor_placement": "NEAR_REGION"},
        },
        "core": {"buffer_size": 18, "filepath": {}, "default_filepath": str(default_filepath or "")},
        "project": {"name": str(project_name)},
    }


def via2_text_attribute(description="", default_value=""):
    """A VIA 2.x ``text`` attribute definition (for ``_via_attributes``)."""
    return {"type": "text", "description": str(description), "default_value": str(default_value)}


def via2_project(entries, settings, region_attributes=None, file_attributes=None):
    """A VIA 2.x project dict (what VIA's "Save project" writes).

    entries: {key: {filename, size, regions, file_attributes}} in display
        order (``via2_export`` gives that form; VIA's key is filename + byte size).
    settings: ``_via_settings`` (see :func:`via2_settings`).
    region_attributes, file_attributes: {name: attribute definition}.
    Returns a dict with ``_via_settings``, ``_via_img_metadata``,
    ``_via_attributes``, ``_via_data_format_version`` and ``_via_image_id_list``.
    """
    return {
        "_via_settings": settings,
        "_via_img_metadata": dict(entries),
        "_via_attributes": {"region": dict(region_attributes or {}),
                            "file": dict(file_attributes or {})},
        "_via_data_format_version": VIA2_FORMAT_VERSION,
        "_via_image_id_list": list(entries),
    }
