"""Resolve the ``--weights`` argument of the phone CLI to a weights file.

    coco      Matterport's COCO model: ``$PHONE_COCO_WEIGHTS`` if set, else
              ``<repo>/mask_rcnn_coco.h5``; downloaded when missing.
    last      the newest checkpoint under the logs folder
              (``logs/{name}YYYYmmddTHHMM/mask_rcnn_{name}_NNNN.h5``).
    imagenet  the ImageNet ResNet-50 weights (downloaded into the Keras cache).
    PATH      any existing ``.h5`` file in the mask_rcnn_coco.h5 layout.

Everything here is TensorFlow-free (h5py only), so bad arguments are reported
before the slow model build. Problems raise :class:`WeightsError` with one
line naming the file and what is wrong.
"""
import glob
import os
import re

__all__ = ["WeightsError", "COCO_ENV", "COCO_FILENAME", "CLASS_SPECIFIC_LAYERS",
           "repo_root", "coco_weights_path", "find_last_checkpoint",
           "resolve_weights", "file_num_classes", "check_weights_file"]

#: environment variable that overrides the COCO weights location
COCO_ENV = "PHONE_COCO_WEIGHTS"
COCO_FILENAME = "mask_rcnn_coco.h5"

#: layers whose shapes depend on NUM_CLASSES (Matterport's balloon sample
#: excludes these when starting from COCO)
CLASS_SPECIFIC_LAYERS = ["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"]

KEYWORDS = ("coco", "last", "imagenet")


class WeightsError(ValueError):
    """The --weights argument cannot be turned into a usable weights file."""


def repo_root():
    """The folder that holds the ``phone`` package (the repository root)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def coco_weights_path():
    """Where the COCO weights live: $PHONE_COCO_WEIGHTS or <repo>/mask_rcnn_coco.h5."""
    env = os.environ.get(COCO_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(repo_root(), COCO_FILENAME)


def find_last_checkpoint(logs_dir, name):
    """Newest checkpoint of model ``name`` under ``logs_dir``.

    Same rule as ``MaskRCNN.find_last``: the last (by name, i.e. by time stamp)
    ``{name}YYYYmmddTHHMM`` folder that holds a checkpoint, and in it the
    highest-numbered ``mask_rcnn_{name}_NNNN.h5``.
    Raises WeightsError when there is none.
    """
    key = (name or "model").lower()
    logs_dir = os.fspath(logs_dir)
    dirs = []
    if os.path.isdir(logs_dir):
        dirs = sorted(d for d in os.listdir(logs_dir)
                      if d.startswith(key) and os.path.isdir(os.path.join(logs_dir, d)))
    for d in reversed(dirs):
        found = sorted(glob.glob(os.path.join(logs_dir, d, f"mask_rcnn_{key}_*.h5")))
        if found:
            return found[-1]
    raise WeightsError(
        f"{os.path.abspath(logs_dir)}: no checkpoint to resume (--weights last): no "
        f"{key}YYYYmmddTHHMM/mask_rcnn_{key}_NNNN.h5 in it; train first or pass "
        f"--logs / --weights PATH")


def _download_coco(path, verbose):
    from mrcnn import utils  # no TensorFlow
    try:
        utils.download_trained_weights(path, verbose=verbose)
    except utils.WeightsDownloadError as e:
        raise WeightsError(f"{path}: COCO weights missing and {str(e).splitlines()[0]}; "
                           f"or set {COCO_ENV} to its location") from None
    except OSError as e:
        raise WeightsError(f"{path}: COCO weights missing and the download failed "
                           f"({e}); set {COCO_ENV} to a copy of {COCO_FILENAME}") from None
    return path


def resolve_weights(spec, logs_dir=None, name=None, download=True, verbose=1):
    """Turn a --weights value into ``(path, kind)``.

    spec: "coco", "last", "imagenet" (any case) or a file path.
    logs_dir, name: where "last" looks (the model_dir and config.NAME).
    download: fetch the COCO / ImageNet files when missing.
    Returns (absolute path, kind) with kind in {"coco", "last", "imagenet", "path"}.
    Raises WeightsError.
    """
    if spec is None or str(spec).strip() == "":
        raise WeightsError("--weights: no weights given (coco, last, imagenet or a .h5 path)")
    spec = os.fspath(spec)
    key = spec.strip().lower()
    if key == "coco":
        path = coco_weights_path()
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            return path, "coco"
        if not download:
            raise WeightsError(f"{path}: COCO weights not found (set {COCO_ENV} or download "
                               f"{COCO_FILENAME} there)")
        return _download_coco(path, verbose), "coco"
    if key == "last":
        return os.path.abspath(find_last_checkpoint(logs_dir or "logs", name)), "last"
    if key == "imagenet":
        from mrcnn import utils
        try:
            return os.path.abspath(utils.get_imagenet_weights(verbose=verbose)), "imagenet"
        except utils.WeightsDownloadError as e:
            raise WeightsError(f"--weights imagenet: {str(e).splitlines()[0]}") from None
    path = os.path.abspath(os.path.expanduser(spec))
    if not os.path.exists(path):
        raise WeightsError(f"{spec}: weights file not found (expected coco, last, imagenet "
                           f"or the path of a .h5 file)")
    if os.path.isdir(path):
        raise WeightsError(f"{spec}: is a directory, not a weights file")
    if os.path.getsize(path) == 0:
        raise WeightsError(f"{spec}: weights file is empty (0 bytes)")
    return path, "path"


def _decode(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _open_h5(path):
    import h5py
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise WeightsError(f"{path}: not a readable HDF5 weights file (truncated or corrupt "
                           f"download?): {str(e).splitlines()[0]}") from None


def check_weights_file(path):
    """Cheap sanity check of a Keras weights file (no TensorFlow).

    Returns the list of layer names it holds. Raises WeightsError when it is
    not an HDF5 file or has no ``layer_names`` (not a Keras weights file).
    """
    f = _open_h5(path)
    try:
        root = f
        if "layer_names" not in root.attrs and "model_weights" in root:
            root = root["model_weights"]
        if "layer_names" not in root.attrs:
            raise WeightsError(f"{path}: HDF5 file without 'layer_names': not a Keras weights "
                               f"file in the mask_rcnn_coco.h5 layout")
        return _decode(root.attrs["layer_names"])
    finally:
        f.close()


def file_num_classes(path):
    """NUM_CLASSES of the Mask R-CNN head stored in a weights file, or None
    when it has no ``mrcnn_class_logits`` layer (e.g. ImageNet backbone
    weights). Raises WeightsError for unreadable files."""
    f = _open_h5(path)
    try:
        root = f
        if "layer_names" not in root.attrs and "model_weights" in root:
            root = root["model_weights"]
        if "mrcnn_class_logits" not in root:
            return None
        g = root["mrcnn_class_logits"]
        for wname in _decode(g.attrs.get("weight_names", [])):
            if re.search(r"bias(:0)?$", wname):
                try:
                    return int(g[wname].shape[0])
                except (KeyError, OSError):
                    raise WeightsError(f"{path}: layer 'mrcnn_class_logits' cannot be read; "
                                       f"the file is damaged") from None
        return None
    finally:
        f.close()
