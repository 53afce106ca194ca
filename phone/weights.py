"""Model files and the one weights policy of every ``phone`` command.

``--weights`` (and the ``weights=`` of the library functions) takes:

    PATH      any ``.h5`` file in the mask_rcnn_coco.h5 layout (ours carry
              their configuration, see ``mrcnn.weights.read_config``)
    last      the newest checkpoint under the logs folder
              (``logs/{name}YYYYmmddTHHMM/mask_rcnn_{name}_NNNN.h5``)
    best      the best checkpoint (by validation) of the newest run that
              kept one (``mask_rcnn_{name}_best.h5``, phone.finetune)
    coco      Matterport's COCO model: ``$PHONE_COCO_WEIGHTS`` if set, else
              the user cache (``$MRCNN_HOME``); downloaded when missing
    imagenet  the ImageNet ResNet-50 backbone (training only)
    shipped   the phone model that ships inside the package (phone/models/)

With no ``--weights``, segment / evaluate / realtime / annotate use
:func:`default_model`: the newest model the user trained (the last checkpoint
under the logs folder or the ``make demo`` model, whichever is newer), else
the shipped model; the commands print which file they chose and why.

The architecture comes from the file (:func:`model_config`): the
configuration stored in it, else what its weight shapes say (backbone, class
count); ``--config`` overrides both.

Everything here is TensorFlow-free (h5py only), so bad arguments are
reported before the slow model build. Problems raise :class:`WeightsError`
with one line naming the file and what is wrong.
"""
import json
import os

import phone.paths as paths
from phone.errors import WeightsError

__all__ = ["WeightsError", "COCO_ENV", "COCO_FILENAME", "CLASS_SPECIFIC_LAYERS", "KEYWORDS",
           "coco_weights_path", "find_last_checkpoint", "default_model", "resolve_weights",
           "file_num_classes", "model_config", "class_names_for", "find_best_checkpoint",
           "newest_trained_model", "BEST_NAME", "RUN_SUMMARY_NAME", "read_run_summary",
           "run_lost_to_start", "best_checkpoint", "read_weights_file"]

#: environment variable that overrides the COCO weights location
COCO_ENV = "PHONE_COCO_WEIGHTS"
COCO_FILENAME = "mask_rcnn_coco.h5"

#: layers whose shapes depend on NUM_CLASSES (Matterport's balloon sample
#: excludes these when starting from COCO)
CLASS_SPECIFIC_LAYERS = ["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"]

KEYWORDS = ("coco", "last", "best", "imagenet", "shipped")


def coco_weights_path():
    """Where the COCO weights live: $PHONE_COCO_WEIGHTS, else the user cache
    ($MRCNN_HOME/mask_rcnn_coco.h5); never the package or the repository."""
    env = os.environ.get(COCO_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    from mrcnn.core.download import cache_dir  # no TensorFlow
    return os.path.join(cache_dir(), COCO_FILENAME)


def find_last_checkpoint(logs_dir, name):
    """Newest checkpoint of model ``name`` under ``logs_dir``.

    Same rule as ``MaskRCNN.find_last``: the last (by name, i.e. by time stamp)
    ``{name}YYYYmmddTHHMM`` folder that holds a checkpoint, and in it the
    highest-numbered ``mask_rcnn_{name}_NNNN.h5``.
    Raises WeightsError when there is none.
    """
    from mrcnn.core.fileio import find_last_checkpoint as newest  # no TensorFlow
    key = (name or "model").lower()
    found = newest(logs_dir, key)
    if found:
        return found
    raise WeightsError(
        f"{os.path.abspath(logs_dir)}: no checkpoint to resume (--weights last): no "
        f"{key}YYYYmmddTHHMM/mask_rcnn_{key}_NNNN.h5 in it; train first or pass "
        f"--logs / --weights PATH")


#: what a fine-tune run folder holds besides the per-epoch checkpoints
#: (phone.finetune writes them)
BEST_NAME = "mask_rcnn_{name}_best.h5"
RUN_SUMMARY_NAME = "finetune_summary.json"


def read_run_summary(run_dir):
    """The fine-tune summary of a run folder, or None when it has none."""
    path = os.path.join(os.fspath(run_dir), RUN_SUMMARY_NAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run_lost_to_start(run_dir):
    """True when the run's validation kept its start model (no epoch was
    better): such a run never becomes the default model."""
    summary = read_run_summary(run_dir)
    return bool(summary and summary.get("lost_to_start"))


def best_checkpoint(run_dir, name="phone"):
    """The best file of a run folder, or None."""
    path = os.path.join(os.fspath(run_dir), BEST_NAME.format(name=name.lower()))
    return path if os.path.isfile(path) else None


def find_best_checkpoint(logs_dir, name):
    """The best checkpoint (mask_rcnn_{name}_best.h5) of the newest run
    under ``logs_dir`` that kept one. Raises WeightsError when none did."""
    from mrcnn.core.fileio import run_dirs
    key = (name or "model").lower()
    for run in run_dirs(logs_dir, key):
        best = best_checkpoint(run, key)
        if best:
            return best
    raise WeightsError(
        f"{os.path.abspath(logs_dir)}: no best checkpoint (--weights best): no run kept a "
        f"mask_rcnn_{key}_best.h5 (a fine-tune with validation writes one when an epoch beats "
        f"its start); pass --weights last or a path")


def newest_trained_model(logs_dir, name="phone"):
    """(path, why) of the model the newest usable run under ``logs_dir``
    trained, or None: a run that validated its epochs gives its best file;
    a run whose validation kept the start model (phone.finetune: it lost to
    its start) is passed over; other runs give their last checkpoint."""
    from mrcnn.core.fileio import last_checkpoint_in, run_dirs
    key = (name or "model").lower()
    for run in run_dirs(logs_dir, key):
        if run_lost_to_start(run):
            continue
        best = best_checkpoint(run, key)
        if best:
            return best, f"best checkpoint of the newest run in {logs_dir}"
        last = last_checkpoint_in(run, key)
        if last:
            return last, f"newest checkpoint in {logs_dir}"
    return None


def default_model(logs_dir=None, name="phone", demo_model=None, shipped_model=None):
    """The model to use when no --weights is given: (path, why).

    The newest model the user trained (the last checkpoint under
    ``logs_dir``, or the ``make demo`` model, whichever file is newer), else
    the model shipped with the package. Raises WeightsError when there is
    none of them.
    """
    logs_dir = logs_dir or paths.default_logs_dir()
    demo_model = demo_model or paths.demo_model_path()
    shipped_model = shipped_model or paths.shipped_model_path()
    trained = []
    newest = newest_trained_model(logs_dir, name)
    if newest:
        trained.append(newest)
    if os.path.isfile(demo_model):
        trained.append((demo_model, "the 'make demo' model"))
    if trained:
        path, why = max(trained, key=lambda t: os.path.getmtime(t[0]))
        return os.path.abspath(path), f"{why} (newest model you trained)"
    if os.path.isfile(shipped_model):
        return os.path.abspath(shipped_model), "the model shipped with phone (no trained model found)"
    raise WeightsError(f"no model to use: no checkpoint in {os.path.abspath(logs_dir)}, no demo "
                       f"model at {demo_model} and no shipped model at {shipped_model}; train one "
                       f"('make demo' or 'phone train') or pass --weights PATH")


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

    spec: "coco", "last", "best", "imagenet", "shipped" (any case) or a file path.
    logs_dir, name: where "last" looks (the model_dir and config.NAME).
    download: fetch the COCO / ImageNet files when missing.
    Returns (absolute path, kind) with kind in {"coco", "last", "best",
    "imagenet", "shipped", "path"}. Raises WeightsError.
    """
    if spec is None or str(spec).strip() == "":
        raise WeightsError("--weights: no weights given (coco, last, imagenet, shipped or a "
                           ".h5 path)")
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
        return os.path.abspath(find_last_checkpoint(logs_dir or paths.default_logs_dir(),
                                                    name)), "last"
    if key == "best":
        return os.path.abspath(find_best_checkpoint(logs_dir or paths.default_logs_dir(),
                                                    name)), "best"
    if key == "shipped":
        path = paths.shipped_model_path()
        if not os.path.isfile(path):
            raise WeightsError(f"{path}: the shipped phone model is missing from this "
                               f"installation; reinstall phone or pass --weights PATH")
        return path, "shipped"
    if key == "imagenet":
        from mrcnn import utils
        try:
            return os.path.abspath(utils.get_imagenet_weights(verbose=verbose)), "imagenet"
        except utils.WeightsDownloadError as e:
            raise WeightsError(f"--weights imagenet: {str(e).splitlines()[0]}") from None
    path = os.path.abspath(os.path.expanduser(spec))
    if not os.path.exists(path):
        raise WeightsError(f"{spec}: weights file not found (expected coco, last, imagenet, "
                           f"shipped or the path of a .h5 file)")
    if os.path.isdir(path):
        raise WeightsError(f"{spec}: is a directory, not a weights file")
    if os.path.getsize(path) == 0:
        raise WeightsError(f"{spec}: weights file is empty (0 bytes)")
    return path, "path"


# ------------------------------------------------------------------ file contents
def _weights_io():
    from mrcnn import weights as weights_io  # h5py + numpy only
    return weights_io


def _as_weights_error(fn, *args):
    weights_io = _weights_io()
    try:
        return fn(*args)
    except weights_io.WeightsFileError as e:
        raise WeightsError(str(e)) from None


def read_weights_file(path):
    """The weights file read once (mrcnn.weights.WeightsFile: its arrays,
    stored configuration and shapes); WeightsError (one line) when it cannot
    be read. Pass it where a path goes (file_num_classes, model_config,
    MaskRCNN.load_weights) and the file is not opened again."""
    return _as_weights_error(_weights_io().WeightsFile, path)


def file_num_classes(path):
    """NUM_CLASSES of the Mask R-CNN head stored in a weights file, or None
    when it has no ``mrcnn_class_logits`` layer (e.g. ImageNet backbone
    weights). Raises WeightsError for unreadable files."""
    return _as_weights_error(_weights_io().file_num_classes, path)


def class_names_for(config, coco=False):
    """Class names indexed by class id for a model config: the config's
    CLASS_NAMES when it has them, COCO's 81 names for the COCO model, else
    BG, phone, class 2, ..."""
    n = int(config.NUM_CLASSES)
    names = getattr(config, "CLASS_NAMES", None)
    if names and len(names) == n:
        return list(names)
    if coco or n == 81:
        from phone.coco_classes import COCO_CLASS_NAMES
        if n == len(COCO_CLASS_NAMES):
            return list(COCO_CLASS_NAMES)
    return (["BG", "phone"] + [f"class {i}" for i in range(2, n)])[:max(n, 1)]


def model_config(path, config_spec=None, coco=False):
    """The configuration of the model in weights file ``path``: (config, how).

    config_spec ("MODULE:CLASS"): that class, whatever the file says.
    coco: Matterport's COCO config (CocoInferenceConfig).
    Else the configuration stored in the file (files our training writes),
    else one inferred from the weight shapes (backbone, class count): the
    from-scratch phone config for a LightResNet, PhoneInferenceConfig for a
    ResNet with 2 classes, CocoInferenceConfig for 81 classes.
    ``how`` says in words where the config came from.
    Raises WeightsError (one line) when the file cannot say and no
    config_spec was given.
    """
    import phone.config as phone_config
    if config_spec:
        return phone_config.load_config_class(config_spec)(), f"--config {config_spec}"
    if coco:
        return phone_config.CocoInferenceConfig(), "Matterport's COCO config (--coco-class)"
    weights_io = _weights_io()
    stored = _as_weights_error(weights_io.read_config, path)
    if stored is not None:
        return stored, "configuration stored in the weights file"
    overrides = _as_weights_error(weights_io.infer_config, path)
    backbone = overrides.get("BACKBONE")
    if backbone is not None and not isinstance(backbone, str):
        base = phone_config.PhoneScratchInferenceConfig
    elif int(overrides.get("NUM_CLASSES", 2)) == 81 and backbone in (None, "resnet101"):
        base = phone_config.CocoInferenceConfig
    else:
        base = phone_config.PhoneInferenceConfig
    config = phone_config.derive_config(base(), **overrides)
    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(overrides.items()))
    return config, f"{base.__name__} with {shown} (read from the weight shapes)"
