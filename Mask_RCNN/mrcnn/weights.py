"""Weight files in the Keras 2 HDF5 layout of ``mask_rcnn_coco.h5``.

Layout (what Keras 2's ``save_weights`` wrote and what we read and write):

    /                       attrs: layer_names (every layer, in model order),
                                   backend, keras_version
    /<layer>/               attrs: weight_names, e.g. [b"conv1/kernel:0", ...]
    /<layer>/<weight_name>  dataset, e.g. /conv1/conv1/kernel:0
    /rpn_model/             the nested RPN model: weight_names
                            rpn_conv_shared/kernel:0 ... rpn_bbox_pred/bias:0

Full-model files may wrap this in a ``model_weights`` group. Our reader is
plain h5py (Keras 3 cannot read these files by name), and our writer produces
the same layout, so our checkpoints load by name, with ``exclude``, exactly
like the COCO file.

Self-describing files: our checkpoints also carry one more root attribute,

    /                       attrs: mrcnn_config = '{"format": 1, "config": {...}}'

(``Config.to_json_dict()``, a JSON string), which readers of the Keras 2
layout ignore. ``read_config`` gives the Config back; for files without it
(``mask_rcnn_coco.h5``, older checkpoints) ``infer_config`` reads what it can
off the weight shapes.
"""
import json
import os
import re
import tempfile

import h5py
import numpy as np

from .core.fileio import set_new_file_mode


class WeightsFileError(ValueError):
    """A weights file that cannot be read or does not fit the model."""


def _decode(names):
    return [n.decode("utf8") if isinstance(n, bytes) else str(n)
            for n in names]


# Matterport's order of the head layers in mask_rcnn_coco.h5 (Keras 2 put the
# whole classifier head before the mask head; Keras 3's graph walk
# interleaves them, so the file order is fixed here).
HEAD_ORDER = (
    "mrcnn_class_conv1", "mrcnn_class_bn1", "mrcnn_class_conv2",
    "mrcnn_class_bn2", "mrcnn_class_logits", "mrcnn_bbox_fc",
    "mrcnn_mask_conv1", "mrcnn_mask_bn1", "mrcnn_mask_conv2", "mrcnn_mask_bn2",
    "mrcnn_mask_conv3", "mrcnn_mask_bn3", "mrcnn_mask_conv4", "mrcnn_mask_bn4",
    "mrcnn_mask_deconv", "mrcnn_mask")


def ordered_layers(keras_model):
    """The model's layers in weight-file order: Keras order, except that the
    head layers follow HEAD_ORDER after everything else."""
    layers = list(keras_model.layers)
    heads = sorted((la for la in layers if la.name in HEAD_ORDER),
                   key=lambda la: HEAD_ORDER.index(la.name))
    return [la for la in layers if la.name not in HEAD_ORDER] + heads


def weighted_layers(keras_model):
    """[(name, [variables])] for every layer that owns weights, in weight-file
    order. Nested models (the RPN) count as one layer, as in Keras 2."""
    out = []
    for layer in ordered_layers(keras_model):
        variables = list(layer.weights)
        if variables:
            out.append((layer.name, variables))
    return out


def _is_nested(layer):
    """A nested model (the RPN) counts as one layer, as in Keras 2."""
    return hasattr(layer, "layers") and not hasattr(layer, "layer")


def weight_basename(variable):
    """'kernel', 'bias', 'gamma', 'beta', 'moving_mean', 'moving_variance'."""
    return variable.name.split("/")[-1].split(":")[0]


def weight_names(layer_name, variables, nested=False):
    """Keras 2 weight names of a layer: '<owner>/<basename>:0'.

    For nested models the owner is the inner layer (rpn_conv_shared/...).
    """
    names = []
    for v in variables:
        if nested:
            owner = v.path.split("/")[-2] if "/" in v.path else layer_name
        else:
            owner = layer_name
        names.append(f"{owner}/{weight_basename(v)}:0")
    return names


def _finish_new_file(tmp, filepath):
    """Before the rename: give the temp file the permissions a plain open()
    would (mkstemp makes it 0o600; a replaced file keeps its mode) and flush
    it to disk, so that a power cut cannot leave an empty checkpoint under
    the final name."""
    set_new_file_mode(tmp, filepath)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())


#: root attribute holding the configuration JSON, and its format number
CONFIG_ATTR = "mrcnn_config"
CONFIG_FORMAT = 1

#: layers whose shapes depend on NUM_CLASSES
CLASS_LAYERS = ("mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox",
                "mrcnn_mask")


def config_json(config):
    """The ``mrcnn_config`` attribute text for a Config."""
    return json.dumps({"format": CONFIG_FORMAT,
                       "config": config.to_json_dict()})


def save_weights_h5(keras_model, filepath, keras_version="2.2.4", config=None):
    """Writes the model's weights in the Keras 2 layout, atomically (temp file
    in the same folder, then rename): an interrupted save never leaves a
    half-written file under ``filepath``.

    config: the model's Config; when given, its ``to_json_dict()`` is stored
    in the root attribute ``mrcnn_config`` (see ``read_config``).
    """
    filepath = os.fspath(filepath)
    text = None if config is None else config_json(config)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".h5", dir=folder)
    os.close(fd)
    layers = ordered_layers(keras_model)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = np.array(
                [layer.name.encode("utf8") for layer in layers])
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = keras_version.encode("utf8")
            if text is not None:
                f.attrs[CONFIG_ATTR] = text.encode("utf8")
            for layer in layers:
                g = f.create_group(layer.name)
                variables = list(layer.weights)
                names = weight_names(layer.name, variables,
                                     nested=_is_nested(layer))
                g.attrs["weight_names"] = np.array(
                    [n.encode("utf8") for n in names])
                for name, v in zip(names, variables):
                    g.create_dataset(name, data=np.asarray(v.numpy()))
        _finish_new_file(tmp, filepath)
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _open(filepath):
    if not os.path.exists(filepath):
        raise WeightsFileError(f"{filepath}: weights file not found")
    if os.path.getsize(filepath) == 0:
        raise WeightsFileError(f"{filepath}: weights file is empty (0 bytes)")
    try:
        f = h5py.File(filepath, "r")
    except (OSError, ValueError) as e:
        raise WeightsFileError(
            f"{filepath}: not a readable HDF5 weights file (truncated or "
            f"corrupt download?): {str(e).splitlines()[0]}") from None
    return f


def _check_finite(filepath, layer_name, weight_name, value):
    """Trained weights are never NaN or infinite: such values mean a damaged
    file (or a checkpoint of a diverged run) and would only surface later as
    an obscure error deep inside the graph."""
    if value.dtype.kind in "fc" and value.size and not np.isfinite(value).all():
        bad = int(value.size - np.count_nonzero(np.isfinite(value)))
        raise WeightsFileError(
            f"{filepath}: layer {layer_name!r} weight {weight_name!r} has {bad} "
            f"NaN/infinite value(s); the file is damaged")


class WeightsFile:
    """A weights file read once: every array, the stored configuration text
    and the shapes, from one open of the file (h5py, no TensorFlow).

        wf = WeightsFile("mask_rcnn_phone.h5")
        wf.layers        {layer: [(weight name, array), ...]} in file order
        wf.num_classes   NUM_CLASSES of the head, or None (no mrcnn_class_logits)
        wf.config()      the stored Config (read_config), or None
        wf.infer_config()  overrides read off the shapes (infer_config)
        model.load_weights(wf, by_name=True)   no second read

    Raises WeightsFileError (one line naming the file) as read_weights_h5.
    """

    def __init__(self, filepath):
        self.path = os.fspath(filepath)
        f = _open(self.path)
        try:
            attrs = f.attrs if CONFIG_ATTR in f.attrs else _root(f).attrs
            raw = attrs[CONFIG_ATTR] if CONFIG_ATTR in attrs else None
            self.layers = _read_layers(f, self.path)
        except (KeyError, OSError) as e:
            raise WeightsFileError(
                f"{self.path}: damaged weights file: {str(e).splitlines()[0]}") from None
        finally:
            f.close()
        self._config_raw = raw

    def __fspath__(self):
        return self.path

    def __repr__(self):
        return f"WeightsFile({self.path!r}, {len(self.layers)} layers)"

    @property
    def shapes(self):
        """{layer: {short weight name: shape}} (as _h5_shapes)."""
        return _file_shapes(self.layers)

    @property
    def num_classes(self):
        for wname, value in self.layers.get("mrcnn_class_logits", []):
            if re.search(r"bias(:0)?$", wname):
                return int(value.shape[0])
        return None

    def config(self, base=None):
        """The stored Config (see read_config), or None."""
        if self._config_raw is None:
            return None
        return _parse_config(self._config_raw, self.path, base)

    def infer_config(self):
        """Config overrides read off the weight shapes (see infer_config)."""
        return _infer_from_shapes(self.shapes, self.path)


def _read_layers(f, filepath):
    root = _layout_root(f, filepath)
    out = {}
    for name in _decode(root.attrs["layer_names"]):
        g = root[name]
        wnames = _decode(g.attrs.get("weight_names", []))
        try:
            out[name] = [(w, np.asarray(g[w])) for w in wnames]
        except (KeyError, OSError) as e:
            raise WeightsFileError(
                f"{filepath}: layer {name!r} cannot be read "
                f"({str(e).splitlines()[0]}); the file is damaged") from None
        for w, value in out[name]:
            _check_finite(filepath, name, w, value)
    return out


def read_weights_h5(filepath):
    """Reads a Keras 2 layout file into an ordered dict
    {layer_name: [(weight_name, array), ...]} (layers without weights kept
    with an empty list). A WeightsFile gives its layers (no read)."""
    if isinstance(filepath, WeightsFile):
        return filepath.layers
    f = _open(filepath)
    try:
        return _read_layers(f, filepath)
    except (KeyError, OSError) as e:
        raise WeightsFileError(
            f"{filepath}: damaged weights file: {str(e).splitlines()[0]}") from None
    finally:
        f.close()


def load_weights_h5(keras_model, filepath, by_name=False, exclude=None):
    """Loads weights from a Keras 2 layout file into ``keras_model``.

    by_name: match file groups to layers by name (layers missing on either
        side are skipped); otherwise match weighted layers in order.
    exclude: layer names (or regexes, matched in full) to skip; implies
        by_name.
    Returns: list of the layer names that were loaded.
    Raises WeightsFileError with one line naming the layer and both shapes
    when shapes differ.
    """
    stored = read_weights_h5(filepath)
    filepath = os.fspath(filepath)
    exclude = list(exclude or [])
    if exclude:
        by_name = True

    def excluded(name):
        return any(name == e or re.fullmatch(e, name) for e in exclude)

    ours = weighted_layers(keras_model)
    if by_name:
        pairs = [(name, vs, stored[name]) for name, vs in ours
                 if name in stored and not excluded(name)]
    else:
        file_layers = [(n, w) for n, w in stored.items() if w]
        if len(file_layers) != len(ours):
            raise WeightsFileError(
                f"{filepath}: has {len(file_layers)} layers with weights but "
                f"the model has {len(ours)}; load with by_name=True")
        pairs = [(name, vs, w) for (name, vs), (_, w) in zip(ours, file_layers)]

    assignments = []
    for name, variables, weights in pairs:
        if len(weights) != len(variables):
            raise WeightsFileError(
                f"{filepath}: layer {name!r} has {len(weights)} weights in the "
                f"file but {len(variables)} in the model")
        for v, (wname, value) in zip(variables, weights):
            if tuple(v.shape) != tuple(value.shape):
                raise WeightsFileError(mismatch_message(
                    filepath, name, wname, tuple(value.shape), tuple(v.shape),
                    _file_shapes(stored), _model_shapes(keras_model)))
            assignments.append((v, value))
    # Assign only once everything has been checked: no half-loaded model.
    for v, value in assignments:
        v.assign(value.astype(v.dtype) if hasattr(v, "dtype") else value)
    return [name for name, _, _ in pairs]


# ------------------------------------------------------------ cheap inspection
def _layout_root(f, filepath):
    """The group holding ``layer_names`` (the file root, or ``model_weights``
    in a full-model file). Raises WeightsFileError when there is none."""
    root = f
    if "layer_names" not in root.attrs and "model_weights" in root:
        root = root["model_weights"]
    if "layer_names" not in root.attrs:
        raise WeightsFileError(
            f"{filepath}: HDF5 file without 'layer_names': not a Keras weights "
            f"file in the mask_rcnn_coco.h5 layout")
    return root


def file_layer_names(filepath):
    """The layer names a Keras-2 layout weights file holds, in file order,
    without reading any array. Raises WeightsFileError (one line)."""
    f = _open(filepath)
    try:
        return _decode(_layout_root(f, filepath).attrs["layer_names"])
    finally:
        f.close()


def file_num_classes(filepath):
    """NUM_CLASSES of the Mask R-CNN head in a weights file (the length of
    ``mrcnn_class_logits``' bias), or None when the file has no such layer
    (e.g. ImageNet backbone weights). Raises WeightsFileError."""
    if isinstance(filepath, WeightsFile):
        return filepath.num_classes
    f = _open(filepath)
    try:
        root = _layout_root(f, filepath)
        if "mrcnn_class_logits" not in root:
            return None
        g = root["mrcnn_class_logits"]
        for wname in _decode(g.attrs.get("weight_names", [])):
            if re.search(r"bias(:0)?$", wname):
                try:
                    return int(g[wname].shape[0])
                except (KeyError, OSError):
                    raise WeightsFileError(
                        f"{filepath}: layer 'mrcnn_class_logits' cannot be read; "
                        f"the file is damaged") from None
        return None
    finally:
        f.close()


# ---------------------------------------------------------------------------
# The configuration stored in (or inferred from) a file

def _root(f):
    if "layer_names" not in f.attrs and "model_weights" in f:
        return f["model_weights"]
    return f


def read_config(filepath, base=None):
    """The Config stored in a weights file (``save_weights_h5(config=...)``),
    as a new instance of a subclass of ``base`` (default ``Config``; see
    ``mrcnn.config.config_from_dict``), or None when the file has no
    ``mrcnn_config`` attribute (``mask_rcnn_coco.h5``, older checkpoints).

    Raises WeightsFileError (one line naming the file) on an unreadable file
    or a broken attribute. Reads with h5py only (no TensorFlow).
    """
    if isinstance(filepath, WeightsFile):
        return filepath.config(base=base)
    filepath = os.fspath(filepath)
    f = _open(filepath)
    try:
        attrs = f.attrs if CONFIG_ATTR in f.attrs else _root(f).attrs
        if CONFIG_ATTR not in attrs:
            return None
        raw = attrs[CONFIG_ATTR]
    except (KeyError, OSError) as e:
        raise WeightsFileError(
            f"{filepath}: damaged weights file: {str(e).splitlines()[0]}") from None
    finally:
        f.close()
    return _parse_config(raw, filepath, base)


def _parse_config(raw, filepath, base=None):
    """The Config of an ``mrcnn_config`` attribute value."""
    from .config import config_from_dict
    if isinstance(raw, np.ndarray) and raw.shape == ():
        raw = raw[()]
    if isinstance(raw, (bytes, np.bytes_)):
        try:
            raw = bytes(raw).decode("utf8")
        except UnicodeDecodeError:
            raise WeightsFileError(f"{filepath}: the {CONFIG_ATTR} attribute is "
                                   f"not UTF-8 text") from None
    try:
        doc = json.loads(str(raw))
    except ValueError as e:
        raise WeightsFileError(f"{filepath}: the {CONFIG_ATTR} attribute is not "
                               f"valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise WeightsFileError(f"{filepath}: the {CONFIG_ATTR} attribute has no "
                               f"'config' object")
    fmt = doc.get("format")
    if not isinstance(fmt, int) or fmt < 1:
        raise WeightsFileError(f"{filepath}: the {CONFIG_ATTR} attribute has an "
                               f"invalid format {fmt!r}")
    if fmt > CONFIG_FORMAT:
        import warnings
        warnings.warn(f"{filepath}: {CONFIG_ATTR} format {fmt} is newer than "
                      f"this version's {CONFIG_FORMAT}; reading what it knows")
    try:
        return config_from_dict(doc["config"], base=base)
    except (TypeError, ValueError) as e:
        raise WeightsFileError(f"{filepath}: the stored configuration cannot "
                               f"be used: {str(e).splitlines()[0]}") from None


def mask_head_mismatch(filepath, config):
    """A one-line warning when ``filepath`` stores a configuration whose mask
    head samples another ROI size (MASK_POOL_SIZE) than ``config``'s, else
    None (also for files that store no configuration or a broken one).

    The mask head's convolutions do not depend on MASK_POOL_SIZE, so such
    weights load without an error; a model built with the other size
    gives poorer masks. (Expected when fine-tuning a head at a new size.)
    """
    try:
        stored = read_config(filepath)
    except WeightsFileError:
        return None
    if stored is None:
        return None
    theirs = int(getattr(stored, "MASK_POOL_SIZE", 14))
    mine = int(getattr(config, "MASK_POOL_SIZE", 14))
    if theirs == mine:
        return None
    return (f"{os.fspath(filepath)}: trained with MASK_POOL_SIZE = {theirs} "
            f"({2 * theirs}x{2 * theirs} masks), this model has {mine} ({2 * mine}x{2 * mine}): "
            f"its masks will be poorer unless you fine-tune it; build the model with "
            f"the file's configuration, mrcnn.weights.read_config(path)")


def _file_shapes(stored):
    """{layer: {weight basename or 'owner/basename': shape}} of a
    read_weights_h5 result."""
    out = {}
    for layer, weights in stored.items():
        out[layer] = {_short(layer, w): tuple(np.shape(v)) for w, v in weights}
    return out


def _short(layer, wname):
    """'conv1/kernel:0' -> 'kernel'; nested (rpn_model) names keep the
    owner: 'rpn_class_raw/kernel'."""
    base = wname.split(":")[0]
    owner, _, leaf = base.rpartition("/")
    return leaf if owner in ("", layer) or owner.endswith("/" + layer) \
        else f"{owner.rsplit('/', 1)[-1]}/{leaf}"


def _model_shapes(keras_model):
    """{layer: {short weight name: shape}} of a Keras model, like
    _h5_shapes of the file it would save."""
    out = {}
    for layer in ordered_layers(keras_model):
        variables = list(layer.weights)
        if not variables:
            continue
        names = weight_names(layer.name, variables, nested=_is_nested(layer))
        out[layer.name] = {_short(layer.name, n): tuple(v.shape)
                           for n, v in zip(names, variables)}
    return out


def _h5_shapes(filepath):
    """{layer: {short weight name: shape}} read off a file without loading
    the weights."""
    f = _open(filepath)
    try:
        root = _root(f)
        if "layer_names" not in root.attrs:
            raise WeightsFileError(
                f"{filepath}: HDF5 file has no 'layer_names' attribute; it is "
                f"not a Keras weights file in the mask_rcnn_coco.h5 layout")
        out = {}
        for name in _decode(root.attrs["layer_names"]):
            g = root[name]
            out[name] = {_short(name, w): tuple(g[w].shape)
                         for w in _decode(g.attrs.get("weight_names", []))}
        return out
    except (KeyError, OSError) as e:
        raise WeightsFileError(
            f"{filepath}: damaged weights file: {str(e).splitlines()[0]}") from None
    finally:
        f.close()


#: ResNet's bottleneck widths of stages 2..5 and its stem
_RESNET_WIDTHS = (64, 128, 256, 512)
_RESNET_STEM = 64
_RESNET_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}


def _norm_kind(shapes, layer):
    """'batch' (moving statistics), 'group' (gamma/beta only) or None."""
    w = shapes.get(layer)
    if not w:
        return None
    return "batch" if "moving_mean" in w else "group"


def _backbone_from_shapes(shapes, where):
    """(BACKBONE, backbone norm) from the layer shapes: "resnet50" /
    "resnet101" or a LightResNet."""
    if "conv1" not in shapes or "kernel" not in shapes["conv1"]:
        raise WeightsFileError(
            f"{where}: no backbone (conv1) in the file; cannot tell the "
            f"architecture, pass --config MODULE:CLASS")
    stem = shapes["conv1"]["kernel"][-1]
    widths, blocks = [], []
    for stage in (2, 3, 4, 5):
        names = [n for n in shapes if re.fullmatch(
            rf"res{stage}[a-z]_branch2a", n)]
        a = shapes.get(f"res{stage}a_branch2a", {}).get("kernel")
        if not names or a is None:
            raise WeightsFileError(
                f"{where}: backbone stage {stage} (res{stage}a_branch2a) is "
                f"missing; cannot tell the architecture, pass --config "
                f"MODULE:CLASS")
        widths.append(int(a[-1]))
        blocks.append(len(names))
    norm = _norm_kind(shapes, "bn_conv1") or "batch"
    if stem == _RESNET_STEM and tuple(widths) == _RESNET_WIDTHS:
        for name, want in _RESNET_BLOCKS.items():
            if tuple(blocks) == want:
                return name, norm
        raise WeightsFileError(
            f"{where}: a ResNet with {blocks} blocks per stage is neither "
            f"ResNet-50 nor ResNet-101; pass --config MODULE:CLASS")
    from .backbones import LightResNet
    return LightResNet(widths=widths, blocks=blocks, stem=int(stem),
                       norm=norm), norm


def _infer_from_shapes(shapes, where):
    out = {}
    logits = shapes.get("mrcnn_class_logits", {}).get("bias")
    if logits is None:
        raise WeightsFileError(
            f"{where}: no Mask R-CNN head (mrcnn_class_logits) in the file; "
            f"cannot tell the class count, pass --config MODULE:CLASS")
    out["NUM_CLASSES"] = int(logits[0])
    backbone, norm = _backbone_from_shapes(shapes, where)
    out["BACKBONE"] = backbone
    if not isinstance(backbone, str):
        out["COMPUTE_BACKBONE_SHAPE"] = backbone.compute_backbone_shape
    head_norm = _norm_kind(shapes, "mrcnn_class_bn1")
    out["BACKBONE_NORM"] = head_norm or norm
    conv1 = shapes.get("mrcnn_class_conv1", {}).get("kernel")
    if conv1 is not None:
        out["POOL_SIZE"] = int(conv1[0])
        out["FPN_CLASSIF_FC_LAYERS_SIZE"] = int(conv1[-1])
        out["TOP_DOWN_PYRAMID_SIZE"] = int(conv1[2])
    p5 = shapes.get("fpn_c5p5", {}).get("kernel")
    if p5 is not None:
        out["TOP_DOWN_PYRAMID_SIZE"] = int(p5[-1])
    mask = shapes.get("mrcnn_mask_conv1", {}).get("kernel")
    if mask is not None:
        out["MASK_HEAD_CHANNELS"] = int(mask[-1])
    return out


def infer_config(filepath):
    """Config overrides read off the weight shapes of a file without a stored
    configuration (``mask_rcnn_coco.h5``, older checkpoints):

        NUM_CLASSES                 mrcnn_class_logits bias
        BACKBONE                    "resnet50" / "resnet101" (res4 block
                                    count) or a LightResNet(widths, blocks,
                                    stem, norm) when conv1 has other than 64
                                    filters or the widths are not ResNet's
                                    (its GroupNorm group count is not in the
                                    weights: LightResNet's default is used)
        COMPUTE_BACKBONE_SHAPE      the LightResNet's, with one
        BACKBONE_NORM               "group" when the head's norm layers have
                                    no moving statistics, else "batch"
        POOL_SIZE, FPN_CLASSIF_FC_LAYERS_SIZE   mrcnn_class_conv1 kernel
        TOP_DOWN_PYRAMID_SIZE       fpn_c5p5 kernel
        MASK_HEAD_CHANNELS          mrcnn_mask_conv1 kernel

    MASK_SHAPE / MASK_POOL_SIZE are not in the weights (the mask head's
    convolutions do not depend on them) and are not returned.
    Raises WeightsFileError naming the file, ending in "pass --config
    MODULE:CLASS", where the file does not say (no head, no backbone, a
    ResNet of another depth).
    """
    if isinstance(filepath, WeightsFile):
        return filepath.infer_config()
    filepath = os.fspath(filepath)
    return _infer_from_shapes(_h5_shapes(filepath), filepath)


def config_from_file(filepath, base=None):
    """The Config for a weights file: the stored one (``read_config``), else
    ``base`` (default ``Config``) with the ``infer_config`` overrides, as a
    new instance of a dynamic subclass. Raises WeightsFileError as those do.
    """
    config = read_config(filepath, base=base)
    if config is not None:
        return config
    from .config import Config
    base = Config if base is None else base
    overrides = infer_config(filepath)
    cls = type(base.__name__, (base,), dict(
        overrides, __module__=base.__module__,
        __doc__=f"{base.__name__} with the architecture of "
                f"{os.path.basename(os.fspath(filepath))}"))
    return cls()


# ---------------------------------------------------------------------------
# Shape mismatches: name the real cause

def _part_of(layer):
    if layer in CLASS_LAYERS:
        return "class"
    if layer == "conv1" or re.fullmatch(r"(res|bn)\d.*|bn_conv1", layer):
        return "backbone"
    if layer.startswith("fpn_"):
        return "FPN"
    if layer.startswith("rpn"):
        return "RPN"
    return "head"


def _describe_backbone(info):
    b = info.get("BACKBONE")
    text = b if isinstance(b, str) else repr(b)
    if isinstance(b, str) and info.get("BACKBONE_NORM") == "group":
        text += " with group norm"
    return text


_PART_KEYS = {"FPN": ("TOP_DOWN_PYRAMID_SIZE",),
              "RPN": ("TOP_DOWN_PYRAMID_SIZE",),
              "head": ("POOL_SIZE", "FPN_CLASSIF_FC_LAYERS_SIZE",
                       "MASK_HEAD_CHANNELS", "BACKBONE_NORM",
                       "TOP_DOWN_PYRAMID_SIZE")}


def _safe_infer(shapes, where):
    try:
        return _infer_from_shapes(shapes, where)
    except WeightsFileError:
        return None


def mismatch_message(filepath, layer, wname, file_shape, model_shape,
                     file_shapes=None, model_shapes=None):
    """One line for a weight whose shape differs between file and model,
    naming the cause: another class count (with the ``exclude=`` fix) or
    another backbone / FPN / RPN / head size (with what each side has)."""
    where = (f"layer {layer!r} weight {wname!r} has shape {file_shape} in the "
             f"file but {model_shape} in the model")
    fi = _safe_infer(file_shapes, filepath) if file_shapes else None
    mi = _safe_infer(model_shapes, "model") if model_shapes else None
    part = _part_of(layer)
    if part == "class":
        n = fi["NUM_CLASSES"] if fi else "?"
        m = mi["NUM_CLASSES"] if mi else "?"
        return (f"{filepath}: the file has {n} classes, the model {m} ({where}); "
                f"to fine-tune load with exclude=['mrcnn_class_logits', "
                f"'mrcnn_bbox_fc', 'mrcnn_bbox', 'mrcnn_mask']")
    fix = ("build the model from the file's configuration "
           "(mrcnn.weights.read_config / infer_config) or pass --config "
           "MODULE:CLASS")
    if part == "backbone":
        if fi and mi:
            return (f"{filepath}: the file was trained with another backbone: "
                    f"{_describe_backbone(fi)}; the model has "
                    f"{_describe_backbone(mi)} ({where}); {fix}")
        return f"{filepath}: the file was trained with another backbone ({where}); {fix}"
    if fi and mi:
        keys = [k for k in _PART_KEYS[part] if fi.get(k) != mi.get(k)]
        if keys:
            have = ", ".join(f"{k}={fi.get(k)!r}" for k in keys)
            model = ", ".join(f"{k}={mi.get(k)!r}" for k in keys)
            return (f"{filepath}: the file was trained with another {part}: "
                    f"{have}; the model has {model} ({where}); {fix}")
    return f"{filepath}: the file was trained with another {part} ({where}); {fix}"
