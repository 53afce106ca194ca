"""Our COCO-config model matches mask_rcnn_coco.h5's layers, weight names,
order and shapes (tests/data/coco_weights_manifest.json, a copy of the spec),
and loads a Keras-2-layout file written independently from that manifest."""
import json
import os

import h5py
import numpy as np
import pytest

from mrcnn import weights as W
from mrcnn.config import Config
from mrcnn.model import MaskRCNN

MANIFEST = os.path.join(os.path.dirname(__file__), "..", "data",
                        "coco_weights_manifest.json")
RPN_LAYERS = ("rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred")
CLASS_LAYERS = ["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"]


class CocoConfig(Config):
    NAME = "coco"
    NUM_CLASSES = 81
    IMAGES_PER_GPU = 1
    IMAGE_MIN_DIM = 256
    IMAGE_MAX_DIM = 256


class TwoClassConfig(CocoConfig):
    NAME = "phone"
    NUM_CLASSES = 2


@pytest.fixture(scope="module")
def manifest():
    with open(MANIFEST) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def coco_model(tmp_path_factory):
    return MaskRCNN("inference", CocoConfig(), str(tmp_path_factory.mktemp("l")))


def manifest_of(keras_model):
    """Our model as manifest rows; the nested RPN expands to its 3 layers."""
    rows = []
    for name, variables in W.weighted_layers(keras_model):
        if name == "rpn_model":
            names = W.weight_names(name, variables, nested=True)
            for inner in RPN_LAYERS:
                rows.append({"layer": inner, "weights": [
                    {"name": n, "shape": list(v.shape)}
                    for n, v in zip(names, variables) if n.startswith(inner + "/")]})
            continue
        names = W.weight_names(name, variables)
        rows.append({"layer": name, "weights": [
            {"name": n, "shape": list(v.shape)} for n, v in zip(names, variables)]})
    return rows


def write_keras2_file(path, manifest, rng, num_classes=81):
    """Writes a Keras 2 layout file from the manifest alone (not with our
    writer): root layer_names, per-layer weight_names, rpn_model group."""
    values = {}
    with h5py.File(path, "w") as f:
        layer_names = []
        rpn_weights = []
        for row in manifest["layers"]:
            if row["layer"] in RPN_LAYERS:
                rpn_weights.extend(row["weights"])
                if row["layer"] == RPN_LAYERS[0]:
                    layer_names.append("rpn_model")
                continue
            layer_names.append(row["layer"])
            g = f.create_group(row["layer"])
            g.attrs["weight_names"] = [w["name"].encode() for w in row["weights"]]
            for w in row["weights"]:
                a = rng.standard_normal(w["shape"]).astype(np.float32)
                g.create_dataset(w["name"], data=a)
                values[w["name"]] = a
        g = f.create_group("rpn_model")
        g.attrs["weight_names"] = [w["name"].encode() for w in rpn_weights]
        for w in rpn_weights:
            a = rng.standard_normal(w["shape"]).astype(np.float32)
            g.create_dataset(w["name"], data=a)
            values[w["name"]] = a
        # Layers without weights are listed too in real files.
        layer_names.insert(0, "input_image")
        f.create_group("input_image").attrs["weight_names"] = []
        f.attrs["layer_names"] = [n.encode() for n in layer_names]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
    return values


def test_model_matches_coco_manifest_exactly(coco_model, manifest):
    ours = manifest_of(coco_model.keras_model)
    assert [r["layer"] for r in ours] == [r["layer"] for r in manifest["layers"]]
    assert ours == manifest["layers"]
    total = sum(int(np.prod(w["shape"])) for r in ours for w in r["weights"])
    assert total == manifest["total_parameters"] == 64158584


def test_training_model_has_same_weight_layout(manifest, tmp_path):
    model = MaskRCNN("training", CocoConfig(), str(tmp_path))
    assert manifest_of(model.keras_model) == manifest["layers"]


def test_keras2_file_loads_by_name_into_every_variable(coco_model, manifest,
                                                       tmp_path):
    rng = np.random.default_rng(0)
    path = str(tmp_path / "mask_rcnn_coco_synthetic.h5")
    values = write_keras2_file(path, manifest, rng)
    assert len(values) == sum(len(r["weights"]) for r in manifest["layers"]) == 690
    coco_model.load_weights(path, by_name=True)
    checked = 0
    for name, variables in W.weighted_layers(coco_model.keras_model):
        names = W.weight_names(name, variables, nested=(name == "rpn_model"))
        for n, v in zip(names, variables):
            np.testing.assert_array_equal(v.numpy(), values[n])
            checked += 1
    assert checked == 690


def test_model_weights_wrapper_is_read(coco_model, manifest, tmp_path):
    rng = np.random.default_rng(1)
    inner = str(tmp_path / "inner.h5")
    values = write_keras2_file(inner, manifest, rng)
    wrapped = str(tmp_path / "wrapped.h5")
    with h5py.File(inner, "r") as src, h5py.File(wrapped, "w") as dst:
        g = dst.create_group("model_weights")
        for k, v in src.attrs.items():
            g.attrs[k] = v
        for k in src:
            src.copy(k, g)
    coco_model.load_weights(wrapped, by_name=True)
    conv1 = coco_model.keras_model.get_layer("conv1")
    np.testing.assert_array_equal(conv1.weights[0].numpy(),
                                  values["conv1/kernel:0"])


def test_exclude_loads_coco_file_into_two_class_model(manifest, tmp_path):
    rng = np.random.default_rng(2)
    path = str(tmp_path / "coco.h5")
    values = write_keras2_file(path, manifest, rng)
    model = MaskRCNN("inference", TwoClassConfig(), str(tmp_path))
    before = model.keras_model.get_layer("mrcnn_class_logits").weights[0].numpy()
    with pytest.raises(W.WeightsFileError) as e:
        model.load_weights(path, by_name=True)
    msg = str(e.value)
    assert "\n" not in msg
    assert "mrcnn_class_logits" in msg and "(1024, 81)" in msg and "(1024, 2)" in msg
    assert "exclude=" in msg
    # Failed load changed nothing.
    np.testing.assert_array_equal(
        model.keras_model.get_layer("conv1").weights[0].numpy() == values["conv1/kernel:0"],
        False)
    assert model.load_weights(path, by_name=True, exclude=CLASS_LAYERS) is None
    loaded = model.loaded_layer_names
    assert "mrcnn_class_logits" not in loaded and "conv1" in loaded
    np.testing.assert_array_equal(
        model.keras_model.get_layer("mrcnn_class_conv1").weights[0].numpy(),
        values["mrcnn_class_conv1/kernel:0"])
    np.testing.assert_array_equal(
        model.keras_model.get_layer("mrcnn_class_logits").weights[0].numpy(), before)


def test_our_checkpoint_round_trip_and_layout(tmp_path):
    cfg = TwoClassConfig()
    a = MaskRCNN("inference", cfg, str(tmp_path))
    path = str(tmp_path / "phone20250101T0000" / "mask_rcnn_phone_0003.h5")
    a.save_weights(path)
    assert not [p for p in os.listdir(os.path.dirname(path)) if p.startswith(".tmp")]
    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f.attrs["layer_names"]]
        assert "rpn_model" in names and "conv1" in names
        assert [n.decode() for n in f["conv1"].attrs["weight_names"]] == [
            "conv1/kernel:0", "conv1/bias:0"]
        assert [n.decode() for n in f["rpn_model"].attrs["weight_names"]][:2] == [
            "rpn_conv_shared/kernel:0", "rpn_conv_shared/bias:0"]
        assert f["bn_conv1"]["bn_conv1"]["moving_variance:0"].shape == (64,)
    b = MaskRCNN("training", cfg, str(tmp_path))
    b.load_weights(path, by_name=True)
    for la in ("conv1", "mrcnn_mask", "fpn_p2"):
        for va, vb in zip(a.keras_model.get_layer(la).weights,
                          b.keras_model.get_layer(la).weights):
            np.testing.assert_array_equal(va.numpy(), vb.numpy())
    # set_log_dir picks up the epoch from our checkpoint name
    assert b.epoch == 3
    assert b.log_dir.endswith("phone20250101T0000")


@pytest.mark.parametrize("content", [b"", b"this is not hdf5 at all" * 10])
def test_garbage_weights_file_gives_one_line_error(tmp_path, content, coco_model):
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    with pytest.raises(W.WeightsFileError) as e:
        coco_model.load_weights(str(path), by_name=True)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_truncated_weights_file(tmp_path, coco_model):
    good = tmp_path / "good.h5"
    coco_model.save_weights(str(good))
    data = good.read_bytes()
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(W.WeightsFileError) as e:
        coco_model.load_weights(str(bad), by_name=True)
    assert "truncated.h5" in str(e.value)
