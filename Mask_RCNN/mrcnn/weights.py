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
"""
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


def save_weights_h5(keras_model, filepath, keras_version="2.2.4"):
    """Writes the model's weights in the Keras 2 layout, atomically (temp file
    in the same folder, then rename): an interrupted save never leaves a
    half-written file under ``filepath``."""
    filepath = os.fspath(filepath)
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
            for layer in layers:
                g = f.create_group(layer.name)
                variables = list(layer.weights)
                nested = hasattr(layer, "layers") and not hasattr(layer, "layer")
                names = weight_names(layer.name, variables, nested=nested)
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


def read_weights_h5(filepath):
    """Reads a Keras 2 layout file into an ordered dict
    {layer_name: [(weight_name, array), ...]} (layers without weights kept
    with an empty list)."""
    f = _open(filepath)
    try:
        root = f
        if "layer_names" not in root.attrs and "model_weights" in root:
            root = root["model_weights"]
        if "layer_names" not in root.attrs:
            raise WeightsFileError(
                f"{filepath}: HDF5 file has no 'layer_names' attribute; it is "
                f"not a Keras weights file in the mask_rcnn_coco.h5 layout")
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
    filepath = os.fspath(filepath)
    exclude = list(exclude or [])
    if exclude:
        by_name = True
    stored = read_weights_h5(filepath)

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
                raise WeightsFileError(
                    f"{filepath}: layer {name!r} weight {wname!r} has shape "
                    f"{tuple(value.shape)} in the file but {tuple(v.shape)} in "
                    f"the model; to fine-tune on another class count load with "
                    f"exclude=['mrcnn_class_logits', 'mrcnn_bbox_fc', "
                    f"'mrcnn_bbox', 'mrcnn_mask']")
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
