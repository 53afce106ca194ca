"""PhoneDataset: CORe50 (or any) frames annotated with VIA or COCO.

Layout (Matterport's balloon convention)::

    dataset_dir/
        train/  *.png|*.jpg + via_region_data.json
        val/    *.png|*.jpg + via_region_data.json

Usage::

    ds = PhoneDataset()
    ds.load_phone("datasets/phone", "train")
    ds.prepare()
    image = ds.load_image(0)              # [H, W, 3] uint8 RGB
    masks, class_ids = ds.load_mask(0)    # [H, W, N] bool, [N] int32

Class names
-----------
Each region's name (``region_attributes[name_key]``) is normalised (lower
case, ``_``/``-``/runs of spaces -> one space) and looked up in
:data:`CLASS_ALIASES`, then matched against ``class_names``:

=====================================================  =========
annotated name                                         class
=====================================================  =========
phone, mobile phone, mobile, cell phone, cellphone,    phone
cell, smartphone, smart phone, telephone,
mobilephone, handy
=====================================================  =========

Empty or missing names become the dataset's class when it has exactly one
class; with several classes they are an error. Any other unknown name is an
error naming the file, image and region (add it with ``aliases=``).

Negatives: with ``keep_empty=True`` images without regions are kept and
``load_mask`` returns ``[H, W, 0]`` masks.
"""
import os
import re
import warnings

import numpy as np

from mrcnn import utils

from phone.coco_json import CocoRegion, coco_region_mask, load_coco
from phone.errors import AnnotationError, ImageReadError, PhoneDataError, PhoneDataWarning
from phone.imageio import image_size, read_image
from phone.via import load_via, rasterize_region

__all__ = ["PhoneDataset", "CLASS_ALIASES", "normalize_class_name", "SOURCE"]

#: the dataset source name used in add_class / add_image
SOURCE = "phone"

#: normalised annotated name -> class name
CLASS_ALIASES = {
    "phone": "phone",
    "mobile phone": "phone",
    "mobilephone": "phone",
    "mobile": "phone",
    "cell phone": "phone",
    "cellphone": "phone",
    "cell": "phone",
    "smartphone": "phone",
    "smart phone": "phone",
    "telephone": "phone",
    "handy": "phone",
}

#: the annotation file looked for in dataset_dir/subset
VIA_DEFAULT_NAME = "via_region_data.json"


def normalize_class_name(name):
    """'Mobile_Phone ' -> 'mobile phone'."""
    return re.sub(r"[\s_\-]+", " ", str(name)).strip().lower()


class PhoneDataset(utils.Dataset):
    """Mask R-CNN dataset of phone instance masks (source "phone")."""

    def __init__(self, class_map=None):
        super().__init__(class_map)
        self._phone_classes = None      # normalised class name -> class id
        self._aliases = dict(CLASS_ALIASES)

    # ------------------------------------------------------------ classes
    def _setup_classes(self, class_names, aliases):
        class_names = tuple(class_names)
        if not class_names:
            raise PhoneDataError("PhoneDataset: class_names is empty")
        wanted = {normalize_class_name(n): i + 1 for i, n in enumerate(class_names)}
        if self._phone_classes is not None and self._phone_classes != wanted:
            raise PhoneDataError(
                f"PhoneDataset: class_names {class_names} differ from those of an earlier load "
                f"({tuple(self._phone_classes)})")
        self._phone_classes = wanted
        for name, cid in wanted.items():
            self.add_class(SOURCE, cid, class_names[cid - 1])
        if aliases:
            self._aliases.update({normalize_class_name(k): normalize_class_name(v)
                                  for k, v in aliases.items()})

    def class_id_for(self, name, where="<annotation>"):
        """Dataset class id (1..) of an annotated class name, or AnnotationError."""
        norm = normalize_class_name(name)
        if not norm and len(self._phone_classes) == 1:
            return 1
        if not norm:
            raise AnnotationError(f"{where}: empty class name but the dataset has "
                                  f"{len(self._phone_classes)} classes")
        for candidate in (norm, self._aliases.get(norm)):
            if candidate in self._phone_classes:
                return self._phone_classes[candidate]
        known = ", ".join(sorted(self._phone_classes))
        raise AnnotationError(f"{where}: unknown class {name!r} (classes: {known}; "
                              f"aliases: phone.dataset.CLASS_ALIASES or aliases=)")

    # ------------------------------------------------------------ loading
    def load_phone(self, dataset_dir, subset, via_file=None, class_names=("phone",),
                   name_key="name", keep_empty=False, aliases=None, skip_missing=False):
        """Load a subset of VIA-annotated images.

        dataset_dir: root directory of the data set.
        subset: sub-directory, e.g. "train" or "val" (None or "": dataset_dir itself).
        via_file: annotation file (any VIA 1.x/2.x/3.x export or project, e.g.
            via_project_*.json), or a list of them for one subset (e.g. the
            original annotations and a corrected ``phone annotate`` project);
            default ``dataset_dir/subset/via_region_data.json``.
            A relative name that does not exist as given is looked up in
            ``dataset_dir/subset``. Image filenames are always resolved in
            ``dataset_dir/subset``. Several files: an image annotated in more
            than one file (same file name in ``dataset_dir/subset``) takes the
            annotation of the LATER file in the list, in the position where it
            first appeared, with one PhoneDataWarning per pair of files naming
            both and the images. Entries without regions only count when
            ``keep_empty`` is True (then a later empty entry also wins).
        class_names: the classes (background excluded); ids 1..len.
        name_key: region attribute holding the class name.
        keep_empty: keep images without regions as negatives.
        aliases: extra {annotated name: class name} entries.
        skip_missing: skip (with a warning) images listed in the VIA file but
            absent from the folder, instead of raising ImageReadError.
        Returns: number of images added.
        """
        self._setup_classes(class_names, aliases)
        image_dir = os.path.abspath(os.path.join(os.fspath(dataset_dir), subset or ""))
        if not os.path.isdir(image_dir):
            raise PhoneDataError(f"{image_dir}: no such dataset directory")
        if via_file is None:
            via_path = os.path.join(image_dir, VIA_DEFAULT_NAME)
            if not os.path.isfile(via_path):
                found = sorted(f for f in os.listdir(image_dir) if f.endswith(".json"))
                hint = f" (found {', '.join(found)}; pass via_file=)" if found else ""
                raise PhoneDataError(f"{via_path}: no such annotation file{hint}")
            via_paths = [via_path]
        else:
            files = list(via_file) if isinstance(via_file, (list, tuple)) else [via_file]
            if not files:
                raise PhoneDataError(f"{image_dir}: via_file is an empty list")
            via_paths = []
            for f in files:
                via_path = os.fspath(f)
                if not os.path.isfile(via_path) and os.path.isfile(os.path.join(image_dir, via_path)):
                    via_path = os.path.join(image_dir, via_path)
                via_paths.append(via_path)
        # default_class="": empty names are resolved by class_id_for below.
        images = _merge_via_files(via_paths, name_key=name_key, keep_empty=keep_empty,
                                  images_dir=image_dir)
        added = 0
        for via_path, im in images:
            where = f"{via_path}: image {im.filename!r}"
            if not os.path.isfile(im.path):
                if skip_missing:
                    warnings.warn(f"{where}: not found at {im.path}; skipped", PhoneDataWarning, stacklevel=2)
                    continue
                raise ImageReadError(f"{where}: image file not found at {im.path}")
            # VIA's "size" is the file size in bytes: read the real dimensions.
            height, width = image_size(im.path)
            class_ids = [self.class_id_for(r.class_name, f"{where} region {r.index}")
                         for r in im.regions]
            self.add_image(SOURCE, image_id=im.filename, path=im.path, width=width, height=height,
                           regions=im.regions, class_ids=class_ids,
                           polygons=[_shape_dict(r) for r in im.regions],
                           annotation_file=os.path.abspath(via_path))
            added += 1
        return added

    def load_coco(self, json_path, images_dir=None, class_names=("phone",), keep_empty=False,
                  aliases=None, skip_missing=False):
        """Load images + instances from a COCO instances JSON.

        images_dir: where file_name entries live (default: the JSON's dir).
        Category names go through the same alias table as VIA names.
        Returns: number of images added.
        """
        self._setup_classes(class_names, aliases)
        json_path = os.fspath(json_path)
        added = 0
        for im in load_coco(json_path, images_dir=images_dir, keep_empty=keep_empty):
            where = f"{json_path}: image {im.filename!r}"
            if not os.path.isfile(im.path):
                if skip_missing:
                    warnings.warn(f"{where}: not found at {im.path}; skipped", PhoneDataWarning, stacklevel=2)
                    continue
                raise ImageReadError(f"{where}: image file not found at {im.path}")
            class_ids = [self.class_id_for(r.class_name, f"{where} annotation {r.ann_id!r}")
                         for r in im.regions]
            self.add_image(SOURCE, image_id=im.image_id, path=im.path, width=im.width,
                           height=im.height, regions=im.regions, class_ids=class_ids,
                           annotation_file=os.path.abspath(json_path))
            added += 1
        return added

    # ------------------------------------------------------------ access
    def load_image(self, image_id):
        """[H, W, 3] uint8 RGB (grey / RGBA / 16-bit files converted)."""
        info = self.image_info[image_id]
        if info["source"] != SOURCE:
            return super().load_image(image_id)
        return read_image(info["path"])

    def load_mask(self, image_id):
        """Instance masks of an image.

        Returns:
            masks: [height, width, instances] bool, one per region (regions
                that fall completely outside the image are dropped with a
                warning).
            class_ids: [instances] int32 dataset class ids (negative for
                COCO crowd regions, as in Matterport's CocoDataset).
        """
        info = self.image_info[image_id]
        if info["source"] != SOURCE:
            return super().load_mask(image_id)
        h, w = info["height"], info["width"]
        masks, ids = [], []
        for region, cid in zip(info["regions"], info["class_ids"]):
            if isinstance(region, CocoRegion):
                m = coco_region_mask(region, h, w)
                if region.crowd:
                    cid = -cid
            else:
                m = rasterize_region(region, h, w, image_name=os.path.basename(info["path"]))
            if not m.any():
                warnings.warn(f"{info['path']}: region {region.index} covers no pixel of the "
                              f"{w}x{h} image; dropped", PhoneDataWarning, stacklevel=2)
                continue
            masks.append(m)
            ids.append(cid)
        if not masks:
            return np.zeros((h, w, 0), bool), np.zeros((0,), np.int32)
        return np.stack(masks, axis=-1), np.array(ids, np.int32)

    def image_reference(self, image_id):
        """The image's file path."""
        info = self.image_info[image_id]
        if info["source"] != SOURCE:
            return super().image_reference(image_id)
        return info["path"]


def _merge_via_files(via_paths, name_key, keep_empty, images_dir):
    """[(via path, ViaImage)] of several VIA files for one image folder.

    An image (identified by its resolved path, i.e. its file name in
    images_dir) that several files annotate takes the later file's entry,
    at the position of its first appearance; one PhoneDataWarning per pair
    of files names both files and (up to 3 of) the images.
    """
    merged = {}                   # resolved image path -> (via path, ViaImage)
    clashes = {}                  # (earlier file, later file) -> [image names]
    for via_path in via_paths:
        seen_here = set()
        for im in load_via(via_path, name_key=name_key, default_class="", keep_empty=keep_empty,
                           images_dir=images_dir):
            key = os.path.normcase(os.path.abspath(im.path))
            if key in merged and key not in seen_here:
                earlier = merged[key][0]
                clashes.setdefault((earlier, via_path), []).append(im.filename)
            merged[key] = (via_path, im)
            seen_here.add(key)
    for (earlier, later), names in clashes.items():
        shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
        if earlier == later:
            continue
        warnings.warn(f"{len(names)} image(s) annotated in both {earlier} and {later} "
                      f"({shown}): using {later} (the later file wins)",
                      PhoneDataWarning, stacklevel=3)
    return list(merged.values())


def _shape_dict(region):
    """Matterport balloon-style ``polygons`` entry (VIA shape_attributes)."""
    d = {"name": region.shape}
    if region.shape in ("polygon", "polyline"):
        d["all_points_x"] = [float(v) for v in region.points[:, 0]]
        d["all_points_y"] = [float(v) for v in region.points[:, 1]]
    else:
        d.update(region.params)
    return d
