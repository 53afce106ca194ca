"""keras_model.save_weights("x.h5") / keras_model.load_weights("x.h5",
by_name=True), as Matterport's notebooks call them: Matterport's (Keras 2)
layout, every array round-trips."""
import h5py
import numpy as np
import pytest

import mrcnn.model as modellib
from matterport_style import InferenceConfig


def arrays(keras_model):
    """{"layer/i": array} over the top-level layers (variable paths of
    TimeDistributed inner layers differ between two builds)."""
    return {"%s/%d" % (layer.name, i): np.array(w)
            for layer in keras_model.layers
            for i, w in enumerate(layer.get_weights())}


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("h5")
    a = modellib.MaskRCNN("inference", InferenceConfig(), str(d))
    b = modellib.MaskRCNN("inference", InferenceConfig(), str(d))
    # make every array differ between a and b (b's fresh init may equal a's
    # zeros/ones for biases and norms)
    for v in b.keras_model.weights:
        v.assign(np.asarray(v.numpy()) + 0.5)
    return a, b, d


def test_save_h5_then_maskrcnn_load_by_name_round_trips_every_array(two_models):
    a, b, d = two_models
    path = str(d / "m.h5")
    a.keras_model.save_weights(path)
    # Matterport's layout: layer_names at the root, weight_names per layer
    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f.attrs["layer_names"]]
        assert "conv1" in names and "mrcnn_mask" in names and "rpn_model" in names
        assert [w.decode() for w in f["conv1"].attrs["weight_names"]] == [
            "conv1/kernel:0", "conv1/bias:0"]
        np.testing.assert_array_equal(
            f["conv1"]["conv1/kernel:0"][()],
            a.keras_model.get_layer("conv1").get_weights()[0])
    b.load_weights(path, by_name=True)
    want, got = arrays(a.keras_model), arrays(b.keras_model)
    assert want.keys() == got.keys() and len(want) > 50
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


def test_keras_model_load_weights_by_name_and_exclude(two_models):
    a, b, d = two_models
    path = str(d / "m2.h5")
    a.keras_model.save_weights(path)
    for v in b.keras_model.weights:
        v.assign(np.asarray(v.numpy()) + 1.0)
    before = b.keras_model.get_layer("mrcnn_mask").get_weights()[0].copy()
    b.keras_model.load_weights(path, by_name=True, exclude=["mrcnn_mask"])
    np.testing.assert_array_equal(b.keras_model.get_layer("conv1").get_weights()[0],
                                  a.keras_model.get_layer("conv1").get_weights()[0])
    np.testing.assert_array_equal(b.keras_model.get_layer("mrcnn_mask").get_weights()[0],
                                  before)
    b.keras_model.load_weights(path, by_name=True)
    for k, v in arrays(a.keras_model).items():
        np.testing.assert_array_equal(arrays(b.keras_model)[k], v, err_msg=k)


def test_skip_mismatch_skips_only_the_mismatched_layers(tmp_path):
    class FiveClasses(InferenceConfig):
        NUM_CLASSES = 5
    a = modellib.MaskRCNN("inference", InferenceConfig(), str(tmp_path))
    c = modellib.MaskRCNN("inference", FiveClasses(), str(tmp_path))
    path = str(tmp_path / "four_classes.h5")
    a.keras_model.save_weights(path)
    head = c.keras_model.get_layer("mrcnn_class_logits").get_weights()[0].copy()
    with pytest.raises(modellib.WeightsFileError, match="mrcnn_class_logits"):
        c.keras_model.load_weights(path, by_name=True)
    c.keras_model.load_weights(path, by_name=True, skip_mismatch=True)
    np.testing.assert_array_equal(c.keras_model.get_layer("conv1").get_weights()[0],
                                  a.keras_model.get_layer("conv1").get_weights()[0])
    np.testing.assert_array_equal(
        c.keras_model.get_layer("mrcnn_class_logits").get_weights()[0], head)


def test_keras3_names_still_go_to_keras(two_models):
    a, b, d = two_models
    path = str(d / "k3.weights.h5")
    a.keras_model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert "layer_names" not in f.attrs          # Keras 3's own layout
    b.keras_model.load_weights(path)
    for k, v in arrays(a.keras_model).items():
        np.testing.assert_array_equal(arrays(b.keras_model)[k], v, err_msg=k)
    with pytest.raises(ValueError, match="by_name"):
        b.keras_model.load_weights(path, by_name=True)
