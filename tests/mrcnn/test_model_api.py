"""MaskRCNN API pieces besides training: layer selection regexes, run_graph,
detect_molded, anchors, config validation at construction."""
import numpy as np
import numpy_refs as ref
import pytest

from mrcnn import utils
from mrcnn.model import MaskRCNN, load_image_gt
from shapes import TinyConfig, make_datasets


class Inf(TinyConfig):
    IMAGES_PER_GPU = 1
    DETECTION_MIN_CONFIDENCE = 0.0


@pytest.fixture(scope="module")
def train_model(tmp_path_factory):
    return MaskRCNN("training", TinyConfig(), str(tmp_path_factory.mktemp("t")))


@pytest.fixture(scope="module")
def inf_model(tmp_path_factory):
    return MaskRCNN("inference", Inf(), str(tmp_path_factory.mktemp("i")))


def trainable_names(model):
    names = set()
    for layer in model.keras_model.layers:
        if layer.name == "rpn_model":
            names |= {f"rpn_model/{la.name}" for la in layer.layers
                      if la.weights and la.trainable}
        elif layer.weights and layer.trainable:
            names.add(layer.name)
    return names


@pytest.mark.parametrize("layers,present,absent", [
    ("heads", {"mrcnn_mask", "fpn_p2", "rpn_model/rpn_conv_shared"},
     {"conv1", "res2a_branch2a", "res5a_branch2a", "bn5a_branch2a"}),
    ("5+", {"res5a_branch2a", "bn5c_branch2c", "mrcnn_mask"},
     {"res4a_branch2a", "conv1"}),
    ("4+", {"res4a_branch2a", "res5c_branch2c", "fpn_c4p4"},
     {"res3a_branch2a", "conv1"}),
    ("3+", {"res3a_branch2a", "bn3d_branch2c", "mrcnn_class_logits"},
     {"res2a_branch2a", "bn_conv1"}),
    ("all", {"conv1", "bn_conv1", "res2a_branch2a", "mrcnn_mask"}, set()),
])
def test_layer_regexes_select_matterport_groups(train_model, layers, present,
                                                absent):
    from mrcnn.model import LAYER_REGEX
    train_model.set_trainable(LAYER_REGEX[layers], verbose=0)
    names = trainable_names(train_model)
    assert present <= names
    assert not (absent & names)


def test_heads_regex_excludes_whole_backbone(train_model):
    from mrcnn.model import LAYER_REGEX
    train_model.set_trainable(LAYER_REGEX["heads"], verbose=0)
    names = trainable_names(train_model)
    assert all(n.startswith(("mrcnn_", "rpn_", "fpn_")) for n in names)
    # 8 FPN convs, the 3 RPN convs, 16 head layers
    assert len(names) == 8 + 3 + 16


def test_run_graph_returns_named_intermediates(inf_model):
    _, val = make_datasets(n_train=1, n_val=1)
    image = val.load_image(0)
    km = inf_model.keras_model
    out = inf_model.run_graph([image], [
        ("proposals", km.get_layer("ROI").output),
        ("detections", km.get_layer("mrcnn_detection").output),
        ("masks", km.get_layer("mrcnn_mask").output),
        ("p2", km.get_layer("fpn_p2").output),
    ])
    c = inf_model.config
    assert list(out) == ["proposals", "detections", "masks", "p2"]
    assert out["proposals"].shape == (1, c.POST_NMS_ROIS_INFERENCE, 4)
    assert out["detections"].shape == (1, c.DETECTION_MAX_INSTANCES, 6)
    assert out["masks"].shape == (1, c.DETECTION_MAX_INSTANCES, 28, 28, 3)
    assert out["p2"].shape == (1, 32, 32, c.TOP_DOWN_PYRAMID_SIZE)
    # same numbers as the full model on the same inputs
    molded, metas, _ = inf_model.mold_inputs([image])
    anchors = inf_model.get_anchors(molded[0].shape)[None]
    full = km([molded, metas, anchors], training=False)
    np.testing.assert_allclose(out["detections"], full[0].numpy(), atol=1e-5)


def test_detect_molded_matches_detect_on_unpadded_input(inf_model):
    _, val = make_datasets(n_train=1, n_val=1)
    image = val.load_image(0)   # 128x128: molding is only the mean shift
    a = inf_model.detect([image])[0]
    molded, metas, _ = inf_model.mold_inputs([image])
    b = inf_model.detect_molded(molded, metas)[0]
    np.testing.assert_array_equal(a["class_ids"], b["class_ids"])
    np.testing.assert_allclose(a["scores"], b["scores"], atol=1e-6)
    np.testing.assert_array_equal(a["rois"], b["rois"])
    assert b["masks"].shape == (128, 128, len(b["class_ids"]))


def test_detect_molded_on_load_image_gt(inf_model):
    _, val = make_datasets(n_train=1, n_val=1)
    image, meta, _, _, _ = load_image_gt(val, inf_model.config, 0)
    from mrcnn.model import mold_image
    r = inf_model.detect_molded(mold_image(image[None], inf_model.config), meta[None])[0]
    assert r["masks"].shape[:2] == image.shape[:2]


def test_get_anchors_matches_numpy_pyramid(inf_model):
    c = inf_model.config
    a = inf_model.get_anchors((128, 128, 3))
    shapes = np.array([[32, 32], [16, 16], [8, 8], [4, 4], [2, 2]])
    pixel = ref.pyramid_anchors(c.RPN_ANCHOR_SCALES, c.RPN_ANCHOR_RATIOS,
                                shapes, c.BACKBONE_STRIDES, 1)
    np.testing.assert_allclose(a, ref.norm_boxes(pixel, (128, 128)), atol=1e-6)
    assert a.shape == (3 * (32 * 32 + 16 * 16 + 8 * 8 + 4 * 4 + 2 * 2), 4)


@pytest.mark.parametrize("attr,value,match", [
    ("IMAGE_MAX_DIM", 100, "64"),
    ("NUM_CLASSES", 1, "NUM_CLASSES"),
])
def test_impossible_configs_fail_clearly(tmp_path, attr, value, match):
    Bad = type("Bad", (TinyConfig,), {attr: value, "IMAGE_MIN_DIM": 64
                                     if attr == "IMAGE_MAX_DIM" else 128})
    with pytest.raises(ValueError, match=match):
        MaskRCNN("training", Bad(), str(tmp_path))


def test_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        MaskRCNN("predict", Inf(), str(tmp_path))


def test_xla_option_never_jit_compiles_the_train_step(tmp_path):
    """Config.XLA is for detect(): the train step (NMS, CropAndResize,
    data-dependent shapes) has no XLA kernels, so compile() must not ask for
    jit_compile even when XLA is set."""
    from shapes import TinyConfig

    class XlaConfig(TinyConfig):
        XLA = True
    model = MaskRCNN("training", XlaConfig(), str(tmp_path))
    model.compile(0.001, 0.9)
    assert model.keras_model.jit_compile is False
