"""Self-describing model files: the config travels in the ``mrcnn_config``
attribute of our Keras-2-layout checkpoints (mrcnn.weights.read_config);
files without it (mask_rcnn_coco.h5) still load, and their architecture is
read off the weight shapes (infer_config); shape mismatches name their cause.

Expected values are written out by hand from the configs the files were made
with (and, for ResNet-101, from the COCO manifest), not computed by the code
under test."""
import json
import sys
import warnings

import h5py
import numpy as np
import pytest

from mrcnn import weights as W
from mrcnn.backbones import LightResNet
from mrcnn.config import Config, config_from_dict
from mrcnn.model import MaskRCNN
from shapes import TinyConfig, make_datasets

CLASS_LAYERS = ["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"]


class LightGroupConfig(TinyConfig):
    """LightResNet with group norm everywhere, 3 classes."""
    NAME = "light"
    BACKBONE = LightResNet(widths=(8, 16, 24, 32), blocks=(1, 2, 1, 1),
                           stem=16, norm="group", groups=4)
    COMPUTE_BACKBONE_SHAPE = BACKBONE.compute_backbone_shape
    BACKBONE_NORM = "group"
    GROUP_NORM_GROUPS = 4
    MASK_HEAD_CHANNELS = 16
    TOP_DOWN_PYRAMID_SIZE = 32
    FPN_CLASSIF_FC_LAYERS_SIZE = 64
    CLASS_NAMES = ["BG", "square", "disc"]
    MEAN_PIXEL = np.array([100.0, 110.0, 120.0])
    MIXED_PRECISION = "float32"


class LightBatchConfig(TinyConfig):
    """LightResNet with (frozen) batch norm, 2 classes, another stem."""
    NAME = "lightbn"
    NUM_CLASSES = 2
    BACKBONE = LightResNet(widths=(16, 16, 32, 64), blocks=(2, 1, 3, 1),
                           stem=24, norm="batch", groups=8)
    COMPUTE_BACKBONE_SHAPE = BACKBONE.compute_backbone_shape
    MASK_HEAD_CHANNELS = 8
    TOP_DOWN_PYRAMID_SIZE = 16
    FPN_CLASSIF_FC_LAYERS_SIZE = 32


def _values_equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype
                and np.array_equal(a, b))
    return type(a) is type(b) and a == b


def _assert_same_config(want, got):
    """Attribute by attribute (the bound compute_backbone_shape compares by
    its backbone)."""
    a, b = want.to_dict(), got.to_dict()
    assert sorted(a) == sorted(b)
    for key in a:
        x, y = a[key], b[key]
        if key == "COMPUTE_BACKBONE_SHAPE" and x is not None:
            assert y.__self__ == x.__self__ and y.__self__ is got.BACKBONE, key
            continue
        assert _values_equal(x, y), (key, x, y)


# ------------------------------------------------------------------ Config

def test_to_json_dict_is_plain_json_without_computed_values():
    d = LightGroupConfig().to_json_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["__class__"] == "test_model_file.LightGroupConfig"
    assert d["BACKBONE"] == {"class": "LightResNet", "widths": [8, 16, 24, 32],
                             "blocks": [1, 2, 1, 1], "stem": 16, "norm": "group",
                             "groups": 4, "strides": [4, 8, 16, 32, 64]}
    assert "COMPUTE_BACKBONE_SHAPE" not in d
    for computed in ("BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE"):
        assert computed not in d
    assert d["MEAN_PIXEL"] == [100.0, 110.0, 120.0]
    assert d["RPN_ANCHOR_SCALES"] == [8, 16, 32, 64, 128]
    assert d["CLASS_NAMES"] == ["BG", "square", "disc"]
    assert d["NUM_CLASSES"] == 3 and d["IMAGE_MAX_DIM"] == 128
    assert d["LOSS_WEIGHTS"]["mrcnn_mask_loss"] == 1.0
    r = Config().to_json_dict()
    assert r["BACKBONE"] == "resnet101" and r["COMPUTE_BACKBONE_SHAPE"] is None
    assert r["CLASS_NAMES"] is None


@pytest.mark.parametrize("cls", [Config, TinyConfig, LightGroupConfig, LightBatchConfig])
def test_config_round_trip(cls):
    want = cls()
    got = config_from_dict(json.loads(json.dumps(want.to_json_dict())))
    assert type(got).__name__ == cls.__name__ and isinstance(got, Config)
    assert type(got) is not cls
    _assert_same_config(want, got)
    assert got.IMAGE_SHAPE.tolist() == [128, 128, 3] or cls is Config


def test_config_from_dict_unknown_and_missing_keys_and_no_imports():
    d = {"__class__": "surely_not_a_module_xyz.Evil", "NUM_CLASSES": 5,
         "IMAGE_MAX_DIM": 256, "FROM_THE_FUTURE": 1,
         "BACKBONE": "resnet50"}
    with pytest.warns(UserWarning, match="FROM_THE_FUTURE"):
        c = config_from_dict(d)
    assert "surely_not_a_module_xyz" not in sys.modules
    assert type(c).__name__ == "Evil"
    assert not hasattr(c, "FROM_THE_FUTURE")
    assert c.NUM_CLASSES == 5 and c.IMAGE_META_SIZE == 12 + 5
    assert c.IMAGE_SHAPE.tolist() == [256, 256, 3]
    assert c.POOL_SIZE == Config.POOL_SIZE == 7                # missing -> default
    assert Config.NUM_CLASSES == 1                            # base untouched


def test_config_from_dict_keeps_a_base_whose_init_fills_the_backbone():
    class Base(Config):
        BACKBONE = None
        COMPUTE_BACKBONE_SHAPE = None

        def __init__(self):
            if self.BACKBONE is None:
                self.BACKBONE = LightResNet()
                self.COMPUTE_BACKBONE_SHAPE = self.BACKBONE.compute_backbone_shape
            super().__init__()

    d = LightBatchConfig().to_json_dict()
    c = config_from_dict(d, base=Base)
    assert isinstance(c, Base)
    assert c.BACKBONE == LightResNet(widths=(16, 16, 32, 64), blocks=(2, 1, 3, 1),
                                     stem=24, norm="batch", groups=8)
    assert c.COMPUTE_BACKBONE_SHAPE.__self__ is c.BACKBONE


def test_lightresnet_config():
    b = LightResNet(widths=(8, 16, 24, 32), blocks=(1, 2, 1, 1), stem=16,
                    norm="batch", groups=2, strides=(4, 8, 16, 32, 64))
    assert b.get_config() == {"widths": [8, 16, 24, 32], "blocks": [1, 2, 1, 1],
                              "stem": 16, "norm": "batch", "groups": 2,
                              "strides": [4, 8, 16, 32, 64]}
    assert LightResNet.from_config(dict(b.get_config(), **{"class": "LightResNet"})) == b
    assert LightResNet.from_config(b.get_config()) != LightResNet()


def test_class_names_must_match_class_count():
    class C(TinyConfig):
        CLASS_NAMES = ["BG", "square"]
    with pytest.raises(ValueError, match="CLASS_NAMES has 2 names but NUM_CLASSES is 3"):
        C().validate()


# ----------------------------------------------------------- weight files

@pytest.fixture(scope="module")
def light_model(tmp_path_factory):
    return MaskRCNN("inference", LightGroupConfig(), str(tmp_path_factory.mktemp("l")))


@pytest.fixture(scope="module")
def r50_model(tmp_path_factory):
    return MaskRCNN("inference", TinyConfig(), str(tmp_path_factory.mktemp("r")))


def test_save_weights_stores_config_in_matterport_layout(light_model, tmp_path):
    path = tmp_path / "m.h5"
    light_model.save_weights(str(path))
    with h5py.File(path, "r") as f:
        assert sorted(f.attrs) == ["backend", "keras_version", "layer_names",
                                   "mrcnn_config"]
        assert f.attrs["keras_version"] in (b"2.2.4", "2.2.4")
        names = [n.decode() for n in f.attrs["layer_names"]]
        assert "conv1" in names and "rpn_model" in names and names[-1] == "mrcnn_mask"
        assert [n.decode() for n in f["conv1"].attrs["weight_names"]] == [
            "conv1/kernel:0", "conv1/bias:0"]
        assert f["conv1"]["conv1"]["kernel:0"].shape == (7, 7, 3, 16)
        assert [n.decode() for n in f["rpn_model"].attrs["weight_names"]][:2] == [
            "rpn_conv_shared/kernel:0", "rpn_conv_shared/bias:0"]
        doc = json.loads(f.attrs["mrcnn_config"])
    assert doc["format"] == 1
    assert doc["config"]["BACKBONE"]["widths"] == [8, 16, 24, 32]
    assert doc["config"]["NUM_CLASSES"] == 3
    got = W.read_config(str(path))
    _assert_same_config(LightGroupConfig(), got)
    # the file builds the same model by itself
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = MaskRCNN("inference", got, str(tmp_path))
    again.load_weights(str(path), by_name=True)
    for la in ("conv1", "res4a_branch2a", "fpn_p2", "mrcnn_mask"):
        for va, vb in zip(light_model.keras_model.get_layer(la).weights,
                          again.keras_model.get_layer(la).weights):
            np.testing.assert_array_equal(va.numpy(), vb.numpy())


def test_file_without_config_reads_none_and_loads(r50_model, tmp_path):
    path = str(tmp_path / "old.h5")
    W.save_weights_h5(r50_model.keras_model, path)
    with h5py.File(path, "r") as f:
        assert "mrcnn_config" not in f.attrs
    assert W.read_config(path) is None
    assert r50_model.load_weights(path, by_name=True) is None
    loaded = r50_model.loaded_layer_names
    assert "conv1" in loaded and "mrcnn_class_logits" in loaded


def _config_only_file(path, config):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([], dtype="S1")
        if config is not None:
            f.attrs["mrcnn_config"] = W.config_json(config).encode("utf8")
    return str(path)


def test_mask_head_mismatch_names_both_sizes(tmp_path):
    cls56 = type("Mask56", (LightGroupConfig,), {"MASK_POOL_SIZE": 28, "MASK_SHAPE": [56, 56]})
    f56 = _config_only_file(tmp_path / "m56.h5", cls56())
    f14 = _config_only_file(tmp_path / "m14.h5", LightGroupConfig())
    msg = W.mask_head_mismatch(f56, LightGroupConfig())
    assert msg.startswith(f56) and "MASK_POOL_SIZE = 28 (56x56" in msg and "has 14 (28x28)" in msg
    assert "\n" not in msg
    assert W.mask_head_mismatch(f56, cls56()) is None
    assert "MASK_POOL_SIZE = 14" in W.mask_head_mismatch(f14, cls56())
    assert W.mask_head_mismatch(_config_only_file(tmp_path / "none.h5", None), cls56()) is None
    broken = tmp_path / "broken.h5"
    with h5py.File(broken, "w") as f:
        f.attrs["mrcnn_config"] = np.bytes_(b"{not json")
    assert W.mask_head_mismatch(str(broken), cls56()) is None


def test_load_weights_warns_when_the_file_has_another_mask_head(light_model, tmp_path, caplog):
    path = str(tmp_path / "m.h5")
    light_model.save_weights(path)
    cls56 = type("Mask56", (LightGroupConfig,), {"MASK_POOL_SIZE": 28, "MASK_SHAPE": [56, 56]})
    other = MaskRCNN("inference", cls56(), str(tmp_path))
    with caplog.at_level("WARNING", logger="mrcnn"):
        other.load_weights(path, by_name=True)       # the head's weights fit: no error
    assert [r.getMessage() for r in caplog.records if "MASK_POOL_SIZE" in r.getMessage()] == [
        W.mask_head_mismatch(path, cls56())]
    caplog.clear()
    with caplog.at_level("WARNING", logger="mrcnn"):
        light_model.load_weights(path, by_name=True)
    assert not [r for r in caplog.records if "MASK_POOL_SIZE" in r.getMessage()]


@pytest.mark.parametrize("text", [b"{not json", b'{"format": 1}', b'{"format": 0, "config": {}}',
                                  b"\xff\xfe"])
def test_read_config_broken_attribute_is_one_line(tmp_path, text):
    path = tmp_path / "broken.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([], dtype="S1")
        f.attrs["mrcnn_config"] = np.bytes_(text)
    with pytest.raises(W.WeightsFileError) as e:
        W.read_config(str(path))
    msg = str(e.value)
    assert msg.startswith(str(path)) and "mrcnn_config" in msg and "\n" not in msg


def test_read_config_unreadable_file(tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"not hdf5" * 20)
    with pytest.raises(W.WeightsFileError, match="not a readable HDF5") as e:
        W.read_config(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_config_from_file_uses_stored_then_inferred(light_model, r50_model, tmp_path):
    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    W.save_weights_h5(light_model.keras_model, a, config=light_model.config)
    W.save_weights_h5(r50_model.keras_model, b)
    assert W.config_from_file(a).GROUP_NORM_GROUPS == 4          # stored, exact
    c = W.config_from_file(b)
    assert c.BACKBONE == "resnet50" and c.NUM_CLASSES == 3
    assert c.TOP_DOWN_PYRAMID_SIZE == 64 and c.FPN_CLASSIF_FC_LAYERS_SIZE == 128


# ------------------------------------------------------------ infer_config

def test_infer_config_resnet50(r50_model, tmp_path):
    path = str(tmp_path / "r50.h5")
    W.save_weights_h5(r50_model.keras_model, path)
    assert W.infer_config(path) == {
        "NUM_CLASSES": 3, "BACKBONE": "resnet50", "BACKBONE_NORM": "batch",
        "POOL_SIZE": 7, "FPN_CLASSIF_FC_LAYERS_SIZE": 128,
        "TOP_DOWN_PYRAMID_SIZE": 64, "MASK_HEAD_CHANNELS": 256}


def test_infer_config_resnet101_from_coco_manifest(tmp_path):
    from test_weights_conformance import MANIFEST, write_keras2_file
    with open(MANIFEST) as f:
        manifest = json.load(f)
    path = str(tmp_path / "coco_layout.h5")
    write_keras2_file(path, manifest, np.random.default_rng(0))
    assert W.read_config(path) is None
    assert W.infer_config(path) == {
        "NUM_CLASSES": 81, "BACKBONE": "resnet101", "BACKBONE_NORM": "batch",
        "POOL_SIZE": 7, "FPN_CLASSIF_FC_LAYERS_SIZE": 1024,
        "TOP_DOWN_PYRAMID_SIZE": 256, "MASK_HEAD_CHANNELS": 256}


def test_infer_config_light_group(light_model, tmp_path):
    path = str(tmp_path / "light.h5")
    W.save_weights_h5(light_model.keras_model, path)
    got = W.infer_config(path)
    backbone = got.pop("BACKBONE")
    shape_fn = got.pop("COMPUTE_BACKBONE_SHAPE")
    assert isinstance(backbone, LightResNet)
    assert (backbone.widths, backbone.blocks, backbone.stem, backbone.norm) == (
        (8, 16, 24, 32), (1, 2, 1, 1), 16, "group")
    assert shape_fn.__self__ is backbone
    assert got == {"NUM_CLASSES": 3, "BACKBONE_NORM": "group", "POOL_SIZE": 7,
                   "FPN_CLASSIF_FC_LAYERS_SIZE": 64, "TOP_DOWN_PYRAMID_SIZE": 32,
                   "MASK_HEAD_CHANNELS": 16}


@pytest.mark.slow
def test_infer_config_light_batch_norm(tmp_path):
    model = MaskRCNN("inference", LightBatchConfig(), str(tmp_path))
    path = str(tmp_path / "lightbn.h5")
    W.save_weights_h5(model.keras_model, path)
    got = W.infer_config(path)
    b = got["BACKBONE"]
    assert (b.widths, b.blocks, b.stem, b.norm) == ((16, 16, 32, 64), (2, 1, 3, 1),
                                                    24, "batch")
    assert got["NUM_CLASSES"] == 2 and got["BACKBONE_NORM"] == "batch"
    assert got["MASK_HEAD_CHANNELS"] == 8 and got["TOP_DOWN_PYRAMID_SIZE"] == 16


def test_infer_config_without_head_says_pass_config(r50_model, tmp_path):
    path = str(tmp_path / "backbone_only.h5")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"conv1"]
        g = f.create_group("conv1")
        g.attrs["weight_names"] = [b"conv1/kernel:0"]
        g.create_dataset("conv1/kernel:0", data=np.zeros((7, 7, 3, 64), np.float32))
    with pytest.raises(W.WeightsFileError) as e:
        W.infer_config(path)
    msg = str(e.value)
    assert msg.startswith(path) and "pass --config MODULE:CLASS" in msg
    assert "mrcnn_class_logits" in msg and "\n" not in msg


# ------------------------------------------------------------- mismatches

def test_mismatch_in_backbone_names_both_backbones(light_model, r50_model, tmp_path):
    path = str(tmp_path / "light.h5")
    light_model.save_weights(path)
    with pytest.raises(W.WeightsFileError) as e:
        r50_model.load_weights(path, by_name=True)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(path)
    assert ("the file was trained with another backbone: LightResNet(widths=(8, 16, 24, 32), "
            "blocks=(1, 2, 1, 1), stem=16, norm='group'") in msg
    assert "; the model has resnet50" in msg
    assert "exclude=" not in msg and "--config" in msg


def test_mismatch_in_class_layers_says_exclude(r50_model, tmp_path):
    path = str(tmp_path / "r50.h5")
    r50_model.save_weights(path)

    class Two(TinyConfig):
        NUM_CLASSES = 2
    two = MaskRCNN("inference", Two(), str(tmp_path))
    with pytest.raises(W.WeightsFileError) as e:
        two.load_weights(path, by_name=True)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(path)
    assert "the file has 3 classes, the model 2" in msg
    assert ("to fine-tune load with exclude=['mrcnn_class_logits', 'mrcnn_bbox_fc', "
            "'mrcnn_bbox', 'mrcnn_mask']") in msg
    two.load_weights(path, exclude=CLASS_LAYERS)
    assert "conv1" in two.loaded_layer_names and "mrcnn_mask" not in two.loaded_layer_names


# ---------------------------------------------------------------- training

@pytest.mark.slow
def test_training_checkpoint_is_self_describing(tmp_path):
    class Train(LightGroupConfig):
        STEPS_PER_EPOCH = 1
        VALIDATION_STEPS = 1
        IMAGES_PER_GPU = 1
    train, val = make_datasets(2, 1)
    model = MaskRCNN("training", Train(), str(tmp_path))
    model.train(train, val, learning_rate=0.001, epochs=1, layers="heads", verbose=0)
    path = model.find_last()
    with h5py.File(path, "r") as f:
        assert {"layer_names", "backend", "keras_version", "mrcnn_config"} <= set(f.attrs)
        assert f["mrcnn_class_logits"].attrs["weight_names"].tolist() == [
            b"mrcnn_class_logits/kernel:0", b"mrcnn_class_logits/bias:0"]
    _assert_same_config(Train(), W.read_config(path))


def test_read_config_needs_no_tensorflow(light_model, tmp_path):
    """read_config / infer_config are h5py only: a command can choose the
    architecture before TensorFlow is loaded."""
    import os
    import subprocess
    path = str(tmp_path / "light.h5")
    light_model.save_weights(path)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(root, "Mask_RCNN"), root]))
    code = ("import sys; from mrcnn import weights as W; "
            f"c = W.read_config({path!r}); i = W.infer_config({path!r}); "
            "print(c.BACKBONE.widths, i['NUM_CLASSES'], "
            "'tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(8,", "16,", "24,", "32)", "3", "False", "False"]
