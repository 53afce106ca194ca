"""Dataset base class (Matterport's utils.Dataset).

Subclass it, register classes with add_class() and images with add_image(),
override load_mask() (and image_reference()/load_image() if needed), then
call prepare().

Shapes:
    load_image -> [height, width, 3] uint8 RGB
    load_mask  -> masks [height, width, instances] bool, class_ids [instances]
                  int32 (dataset-internal class ids, see map_source_class_id)
"""
import logging

import numpy as np

__all__ = ["Dataset", "ImageLoadError", "to_rgb_uint8"]


class ImageLoadError(IOError):
    """An image file could not be read or converted to RGB uint8."""


def to_rgb_uint8(image, path="<array>"):
    """Convert a decoded image to [H, W, 3] uint8 RGB.

    Grey [H, W] / [H, W, 1] is repeated to 3 channels, grey+alpha keeps the
    grey, RGBA drops alpha; uint16 is scaled to 0..255 (/257); float images in
    0..1 are scaled by 255 (others clipped to 0..255); bool -> 0/255.
    A multi-frame image keeps its first frame.
    """
    image = np.asarray(image)
    if image.ndim == 4:  # animated GIF / multi-page TIFF: first frame
        image = image[0]
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[-1] == 2:
        image = np.stack([image[..., 0]] * 3, axis=-1)
    elif image.ndim == 3 and image.shape[-1] >= 4:
        image = image[..., :3]
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ImageLoadError("%s: cannot convert image of shape %s to RGB"
                             % (path, image.shape))
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if image.dtype == np.uint16:
        return np.round(image.astype(np.float32) / 257.0).astype(np.uint8)
    if image.dtype.kind == "f":
        img = image.astype(np.float32)
        if img.size and np.nanmax(img) <= 1.0:
            img = img * 255.0
        return np.clip(np.round(np.nan_to_num(img)), 0, 255).astype(np.uint8)
    if image.dtype.kind in "iu":
        info = np.iinfo(image.dtype)
        if info.max > 255 and image.size and image.max() > 255:
            img = image.astype(np.float64) * (255.0 / info.max)
            return np.clip(np.round(img), 0, 255).astype(np.uint8)
        return np.clip(image, 0, 255).astype(np.uint8)
    raise ImageLoadError("%s: unsupported image dtype %s" % (path, image.dtype))


def read_image_rgb(path):
    """Read an image file as [H, W, 3] uint8 RGB; ImageLoadError on failure."""
    import warnings

    import skimage.io
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # imageio plugin chatter
            image = skimage.io.imread(path)
    except FileNotFoundError:
        raise ImageLoadError("%s: file not found" % (path,)) from None
    except Exception as e:  # unreadable / corrupt file
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageLoadError("%s: cannot read image (%s)" % (path, msg)) from None
    return to_rgb_uint8(image, path)


class Dataset(object):
    """Base class for datasets.

    class_info: list of {"source", "id", "name"}; index 0 is background
    ("", 0, "BG").  image_info: list of {"id", "source", "path", **kwargs}.
    """

    def __init__(self, class_map=None):
        self._image_ids = []
        self.image_info = []
        # Background is always the first class.
        self.class_info = [{"source": "", "id": 0, "name": "BG"}]
        self.source_class_ids = {}

    def add_class(self, source, class_id, class_name):
        """Register a class; `source` must not contain a dot. Duplicates of
        (source, class_id) are ignored."""
        if "." in source:
            raise ValueError("Dataset.add_class: source name cannot contain a "
                             "dot: %r" % (source,))
        for info in self.class_info:
            if info["source"] == source and info["id"] == class_id:
                return
        self.class_info.append({"source": source, "id": class_id,
                                "name": class_name})

    def add_image(self, source, image_id, path, **kwargs):
        """Register an image; extra keyword arguments are stored in its info."""
        image_info = {"id": image_id, "source": source, "path": path}
        image_info.update(kwargs)
        self.image_info.append(image_info)

    def image_reference(self, image_id):
        """A link or description of the image (override in subclasses)."""
        return ""

    def prepare(self, class_map=None):
        """Build the lookup tables; call after adding classes and images."""

        def clean_name(name):
            return ",".join(name.split(",")[:1])

        self.num_classes = len(self.class_info)
        self.class_ids = np.arange(self.num_classes)
        self.class_names = [clean_name(c["name"]) for c in self.class_info]
        self.num_images = len(self.image_info)
        self._image_ids = np.arange(self.num_images)

        self.class_from_source_map = {
            "{}.{}".format(info["source"], info["id"]): id
            for info, id in zip(self.class_info, self.class_ids)}
        self.image_from_source_map = {
            "{}.{}".format(info["source"], info["id"]): id
            for info, id in zip(self.image_info, self.image_ids)}

        # Sources (sorted, so the order is reproducible), and for each the
        # class ids it uses (background included).
        self.sources = sorted(set(i["source"] for i in self.class_info))
        self.source_class_ids = {}
        for source in self.sources:
            self.source_class_ids[source] = []
            for i, info in enumerate(self.class_info):
                if i == 0 or source == info["source"]:
                    self.source_class_ids[source].append(i)

    def map_source_class_id(self, source_class_id):
        """"coco.12" -> internal class id."""
        return self.class_from_source_map[source_class_id]

    def get_source_class_id(self, class_id, source):
        """Internal class id -> the id in `source`."""
        info = self.class_info[class_id]
        if info["source"] != source:
            raise ValueError("class %d belongs to source %r, not %r"
                             % (class_id, info["source"], source))
        return info["id"]

    @property
    def image_ids(self):
        return self._image_ids

    def source_image_link(self, image_id):
        """Path or URL of the image in its source."""
        return self.image_info[image_id]["path"]

    def load_image(self, image_id):
        """Load an image as [H, W, 3] uint8 RGB.

        Raises ImageLoadError (one line naming the file) if it cannot be read.
        """
        return read_image_rgb(self.image_info[image_id]["path"])

    def load_mask(self, image_id):
        """Instance masks of an image; override in subclasses.

        Returns masks [height, width, instances] bool and class_ids
        [instances] int32.  This base version returns empty arrays.
        """
        logging.warning("You are using the default load_mask(), maybe you "
                        "need to define your own one.")
        mask = np.empty([0, 0, 0], dtype=bool)
        class_ids = np.empty([0], np.int32)
        return mask, class_ids
