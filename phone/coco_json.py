"""Read a COCO-format instances JSON (e.g. exported by CVAT, Label Studio, makesense.ai).

Returns :class:`CocoImage` records shaped like :class:`phone.via.ViaImage`
(filename, path, regions, ...) so :class:`phone.dataset.PhoneDataset` can
load either. Segmentations are decoded with pycocotools, following COCO's own
conventions:

* polygons ``[[x1, y1, x2, y2, ...], ...]`` (several parts = one instance;
  coordinates are on pixel *corners*, as COCO rasterises them),
* uncompressed RLE ``{"counts": [..], "size": [h, w]}``,
* compressed RLE ``{"counts": "...", "size": [h, w]}``,
* no segmentation at all: the box ``bbox = [x, y, width, height]`` is used.

``iscrowd=1`` annotations are kept with ``crowd=True``; the dataset gives
them negative class ids, as Matterport's CocoDataset does.

Problems raise :class:`phone.errors.AnnotationError` naming the file and the
annotation id.
"""
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from phone.errors import AnnotationError, PhoneDataWarning
from phone.via import read_json

__all__ = ["CocoRegion", "CocoImage", "load_coco", "parse_coco", "coco_region_mask"]


@dataclass
class CocoRegion:
    """One COCO annotation.

    class_name: the category name.
    segmentation: polygon list, RLE dict or None.
    bbox: [x, y, width, height] floats.
    crowd: iscrowd flag.
    index: position among the image's annotations.
    ann_id: the annotation's "id".
    """
    class_name: str
    segmentation: object
    bbox: tuple
    crowd: bool = False
    index: int = 0
    ann_id: object = None
    shape: str = "coco"


@dataclass
class CocoImage:
    """One COCO image with its annotations (same fields as ViaImage + size)."""
    filename: str
    path: str
    height: int
    width: int
    regions: list = field(default_factory=list)
    image_id: object = None

    @property
    def class_names(self):
        return [r.class_name for r in self.regions]


def _int_dim(v, what, where):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 1 or int(v) != v:
        raise AnnotationError(f"{where}: {what} must be a positive integer, got {v!r}")
    return int(v)


def parse_coco(data, json_path="<coco>", images_dir=None, keep_empty=False):
    """Parse an already-loaded COCO dict. See :func:`load_coco`."""
    json_path = os.fspath(json_path)
    base = os.path.abspath(os.fspath(images_dir) if images_dir is not None
                           else os.path.dirname(os.path.abspath(json_path)))
    if not isinstance(data, dict):
        raise AnnotationError(f"{json_path}: expected a COCO JSON object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise AnnotationError(f"{json_path}: COCO file without a '{key}' list")
    cats = {}
    for c in data["categories"]:
        if not isinstance(c, dict) or "id" not in c or not isinstance(c.get("name"), str):
            raise AnnotationError(f"{json_path}: category without id/name: {c!r}")
        cats[c["id"]] = c["name"]

    images, by_id = [], {}
    for im in data["images"]:
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise AnnotationError(f"{json_path}: image entry without id/file_name: {im!r}")
        where = f"{json_path}: image {im['file_name']!r}"
        rec = CocoImage(filename=im["file_name"],
                        path=os.path.normpath(os.path.join(base, im["file_name"])),
                        height=_int_dim(im.get("height"), "height", where),
                        width=_int_dim(im.get("width"), "width", where),
                        image_id=im["id"])
        if im["id"] in by_id:
            raise AnnotationError(f"{json_path}: duplicate image id {im['id']!r}")
        by_id[im["id"]] = rec
        images.append(rec)

    for a in data["annotations"]:
        if not isinstance(a, dict):
            raise AnnotationError(f"{json_path}: annotation is not an object: {a!r}")
        where = f"{json_path}: annotation {a.get('id')!r}"
        rec = by_id.get(a.get("image_id"))
        if rec is None:
            raise AnnotationError(f"{where}: unknown image_id {a.get('image_id')!r}")
        if a.get("category_id") not in cats:
            raise AnnotationError(f"{where}: unknown category_id {a.get('category_id')!r}")
        bbox = a.get("bbox")
        if bbox is not None:
            if (not isinstance(bbox, list) or len(bbox) != 4
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                               for v in bbox)):
                raise AnnotationError(f"{where}: bbox must be [x, y, width, height], got {bbox!r}")
        seg = a.get("segmentation")
        if isinstance(seg, list):
            parts = []
            for p in seg:
                if (not isinstance(p, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                       and np.isfinite(v) for v in p)):
                    raise AnnotationError(f"{where}: polygon must be a flat list of numbers")
                if len(p) % 2:
                    raise AnnotationError(f"{where}: polygon has an odd number ({len(p)}) of coordinates")
                if len(p) < 6:
                    warnings.warn(f"{where}: polygon part with {len(p) // 2} point(s) ignored",
                                  PhoneDataWarning, stacklevel=2)
                    continue
                parts.append([float(v) for v in p])
            seg = parts or None
        elif isinstance(seg, dict):
            size = seg.get("size")
            if "counts" not in seg or not isinstance(size, list) or len(size) != 2:
                raise AnnotationError(f"{where}: RLE segmentation needs 'counts' and 'size'")
            if [int(size[0]), int(size[1])] != [rec.height, rec.width]:
                raise AnnotationError(f"{where}: RLE size {size} differs from the image size "
                                      f"{[rec.height, rec.width]}")
        elif seg is not None:
            raise AnnotationError(f"{where}: segmentation must be a polygon list or an RLE object")
        if seg is None and bbox is None:
            warnings.warn(f"{where}: no segmentation and no bbox; ignored", PhoneDataWarning, stacklevel=2)
            continue
        rec.regions.append(CocoRegion(class_name=cats[a["category_id"]], segmentation=seg,
                                      bbox=tuple(float(v) for v in bbox) if bbox else None,
                                      crowd=bool(a.get("iscrowd", 0)), index=len(rec.regions),
                                      ann_id=a.get("id")))
    if not keep_empty:
        images = [im for im in images if im.regions]
    return images


def load_coco(json_path, images_dir=None, keep_empty=False):
    """Read a COCO instances JSON.

    json_path: the COCO JSON file.
    images_dir: directory the file_name entries are relative to (default:
        the JSON's directory).
    keep_empty: keep images without annotations (negatives).
    Returns: list of CocoImage, in the file's image order.
    """
    return parse_coco(read_json(json_path), json_path, images_dir=images_dir, keep_empty=keep_empty)


def coco_region_mask(region, height, width):
    """Decode one CocoRegion to bool [height, width] with pycocotools."""
    from pycocotools import mask as mask_utils
    seg = region.segmentation
    if seg is None:
        x, y, w, h = region.bbox
        m = np.zeros((height, width), bool)
        x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
        x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
        m[y0:y1, x0:x1] = True
        return m
    if isinstance(seg, list):
        rles = mask_utils.frPyObjects(seg, height, width)
        rle = mask_utils.merge(rles)
    elif isinstance(seg.get("counts"), list):
        rle = mask_utils.frPyObjects(seg, height, width)
    else:
        rle = dict(seg)
        if isinstance(rle["counts"], str):
            rle["counts"] = rle["counts"].encode("ascii")
    with warnings.catch_warnings():
        # pycocotools' Cython __array__ predates NumPy 2's copy keyword.
        warnings.simplefilter("ignore", DeprecationWarning)
        m = mask_utils.decode(rle)
    if m.ndim == 3:
        m = m.any(axis=2)
    return m.astype(bool)
