"""Config.MIXED_PRECISION: the graph runs under Keras mixed dtype policies.

Convolutions compute in 16 bits, weights stay float32, and every layer that
handles boxes, scores or losses computes in float32. Checked on small models
against the float32 graph with the same weights.
"""
import os

import h5py
import keras
import numpy as np
import pytest

from mrcnn.config import Config
from mrcnn.model import MaskRCNN
from shapes import TinyConfig, make_datasets

# Layers that must stay float32 whatever the policy (geometry, probabilities,
# losses), by Matterport name.
FLOAT32_INFERENCE = ["ROI", "roi_align_classifier", "roi_align_mask",
                     "mrcnn_class", "mrcnn_bbox", "mrcnn_mask",
                     "mrcnn_detection", "detection_boxes"]
FLOAT32_TRAINING = ["ROI", "proposal_targets", "rpn_class_loss",
                    "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_bbox_loss",
                    "mrcnn_mask_loss", "norm_gt_boxes", "anchors"]


def _config(policy, batch=1):
    class C(TinyConfig):
        MIXED_PRECISION = policy
        IMAGES_PER_GPU = batch
    return C()


def _narrow_config(policy, batch=2):
    """A 64 px model on a narrow LightResNet (Matterport's layer names): the
    training test's cost then hardly depends on how fast the CPU computes in
    float16 (a Xeon with AVX512-FP16 took 640 s for the ResNet-50 version)."""
    from mrcnn.backbones import LightResNet

    class C(TinyConfig):
        MIXED_PRECISION = policy
        IMAGES_PER_GPU = batch
        IMAGE_MIN_DIM = IMAGE_MAX_DIM = 64
        BACKBONE = LightResNet(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), stem=8, groups=4)
        COMPUTE_BACKBONE_SHAPE = BACKBONE.compute_backbone_shape
        RPN_ANCHOR_SCALES = (4, 8, 16, 32, 64)
        TOP_DOWN_PYRAMID_SIZE = 16
        FPN_CLASSIF_FC_LAYERS_SIZE = 32
        MASK_HEAD_CHANNELS = 8
        TRAIN_ROIS_PER_IMAGE = 16
        MINI_MASK_SHAPE = (14, 14)
    return C()


@pytest.fixture(scope="module")
def image():
    rng = np.random.RandomState(0)
    return (rng.rand(128, 128, 3) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def float32_model(tmp_path_factory):
    keras.utils.set_random_seed(3)
    return MaskRCNN("inference", _config(None),
                    str(tmp_path_factory.mktemp("f32")))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_policies_per_layer_and_global_policy_restored(policy, tmp_path):
    before = keras.config.dtype_policy().name
    model = MaskRCNN("inference", _config(policy), str(tmp_path))
    assert keras.config.dtype_policy().name == before == "float32"
    km = model.keras_model
    half = policy.split("_")[1]
    for name in ["conv1", "res2a_branch2a", "fpn_p2", "mrcnn_class_conv1"]:
        layer = km.get_layer(name)
        assert layer.compute_dtype == half, name
        assert layer.variable_dtype == "float32", name
    for name in FLOAT32_INFERENCE:
        assert km.get_layer(name).compute_dtype == "float32", name
    assert {w.dtype for w in km.weights} == {"float32"}


def _raw_outputs(model, image):
    molded, metas, _ = model.mold_inputs([image])
    anchors = model.get_anchors(molded[0].shape)[None]
    outs = model.keras_model([molded, metas, anchors], training=False)
    return [np.asarray(o) for o in outs]


def test_bfloat16_graph_matches_float32_graph(float32_model, image, tmp_path):
    """Same weights, same image: the RPN outputs of the bfloat16 graph are
    those of the float32 graph to bfloat16 accuracy, and detect() returns
    float32 arrays of the same form."""
    bf16 = MaskRCNN("inference", _config("mixed_bfloat16"), str(tmp_path))
    bf16.keras_model.set_weights(float32_model.keras_model.get_weights())
    ref = _raw_outputs(float32_model, image)
    got = _raw_outputs(bf16, image)
    # outputs: detections, mrcnn_class, mrcnn_bbox, mrcnn_mask, rpn_rois,
    # rpn_class, rpn_bbox
    for i in (0, 1, 2, 3, 4, 5):
        assert got[i].dtype == np.float32, i
    # bfloat16 keeps ~3 significant digits; a random ResNet amplifies the
    # rounding, so compare distributions of the differences, not the max.
    diff = np.abs(got[5] - ref[5])
    assert diff.mean() < 0.01 and np.percentile(diff, 99) < 0.1
    scale = np.abs(ref[6]).max()
    assert np.abs(got[6] - ref[6]).mean() <= 0.01 * scale
    # top proposals: mostly the same boxes
    top_ref, top_got = ref[4][0, :10], got[4][0, :10]
    close = np.abs(top_ref[:, None, :] - top_got[None, :, :]).max(-1) < 0.02
    assert close.any(axis=1).mean() >= 0.7

    r = bf16.detect([image])[0]
    assert r["masks"].dtype == bool and r["masks"].shape[:2] == (128, 128)
    assert r["scores"].dtype == np.float32
    assert r["rois"].shape == (r["class_ids"].shape[0], 4)


@pytest.mark.slow  # 12 training steps of a narrow 64 px model, each policy
@pytest.mark.parametrize("policy,optimizer", [
    ("mixed_bfloat16", "SGD"), ("mixed_float16", "LossScaleOptimizer")])
def test_training_under_mixed_policy(policy, optimizer, tmp_path):
    """Twelve steps train, losses are finite float32, weights stay float32
    and change, and the checkpoint has the float32 layout of the float32
    model."""
    train, val = make_datasets(4, 2, size=64)
    keras.utils.set_random_seed(0)
    model = MaskRCNN("training", _narrow_config(policy), str(tmp_path))
    km = model.keras_model
    for name in FLOAT32_TRAINING:
        assert km.get_layer(name).compute_dtype == "float32", name
    # conv1 (the backbone's first layer) gets a gradient from every loss on
    # every step; the mask head only from positive ROIs, which an untrained
    # 64 px model may not propose for 12 steps
    before = km.get_layer("conv1").get_weights()[0].copy()
    # Dynamic loss scaling (mixed_float16) starts at 2**15 and halves on
    # every step whose scaled float16 gradients overflow (that step is
    # skipped, the weights stay): 12 steps leave room for 11 skips (scale
    # 2**15 -> 2**4), and the weights must have moved.
    model.config.STEPS_PER_EPOCH = 12
    model.train(train, val, learning_rate=0.001, epochs=1, layers="all",
                verbose=0, seed=0)
    assert type(km.optimizer).__name__ == optimizer
    after = km.get_layer("conv1").get_weights()[0]
    assert after.dtype == np.float32
    assert all(np.isfinite(w).all() for w in km.get_weights())
    scale = getattr(km.optimizer, "dynamic_scale", None)
    assert np.abs(after - before).max() > 0, (
        "weights unchanged; loss scale now %s" % (None if scale is None else float(np.asarray(scale))))
    ckpt = model.find_last()
    with h5py.File(ckpt, "r") as f:
        dtypes = set()
        f.visititems(lambda n, o: dtypes.add(o.dtype) if isinstance(o, h5py.Dataset) else None)
    assert dtypes == {np.dtype("float32")}
    # the checkpoint loads by name into a float32 model
    plain = MaskRCNN("inference", _narrow_config(None, batch=1), str(tmp_path / "plain"))
    plain.load_weights(ckpt, by_name=True)
    np.testing.assert_array_equal(
        plain.keras_model.get_layer("conv1").get_weights()[0], after)


def test_config_rejects_unknown_policy():
    class Bad(Config):
        NAME = "bad"
        MIXED_PRECISION = "float16"
    with pytest.raises(ValueError, match="MIXED_PRECISION"):
        MaskRCNN("inference", Bad(), os.devnull)


def test_auto_policy_resolution(tmp_path):
    from mrcnn.precision import cpu_flags, resolve_mixed_precision
    assert resolve_mixed_precision(None) is None
    assert resolve_mixed_precision("float32") is None
    assert resolve_mixed_precision("mixed_float16") == "mixed_float16"
    assert resolve_mixed_precision("auto", gpus=1, flags=set()) == "mixed_float16"
    # on a CPU with bfloat16 instructions "auto" measures (issue 16): here the
    # probe is injected and says bfloat16 is faster
    faster = lambda specs, use: {"float32": 2.0, "mixed_bfloat16": 1.0}  # noqa: E731
    cache = str(tmp_path / "precision.json")
    assert resolve_mixed_precision("auto", gpus=0, flags={"avx2", "avx512_bf16"},
                                   probe=faster, cache_file=cache) == "mixed_bfloat16"
    assert resolve_mixed_precision("auto", gpus=0, flags={"amx_bf16"},
                                   probe=faster, cache_file=cache) == "mixed_bfloat16"
    assert resolve_mixed_precision("auto", gpus=0, flags={"avx2", "avx512f"}) is None
    with pytest.raises(ValueError, match="MIXED_PRECISION"):
        resolve_mixed_precision("bfloat16")
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 avx2\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(str(info)) == {"fpu", "sse", "avx512_bf16", "avx2"}
    assert cpu_flags(str(tmp_path / "missing")) == set()
    # the model records what "auto" became on this machine
    model = MaskRCNN("inference", _config("auto"), str(tmp_path))
    want = resolve_mixed_precision("auto", config=model.config)
    assert model.mixed_precision == want
    assert model.keras_model.get_layer("conv1").compute_dtype == (
        {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(want, "float32"))
