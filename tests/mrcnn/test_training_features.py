"""Behaviour of mrcnn features that had no test: learning-rate schedules and
warm-up, gradient clipping, which weights get L2 decay, frozen BatchNorm,
group norm, LightResNet, training with USE_RPN_ROIS=False, the XLA detect
path and its fallback, utils.batch_slice, unmold_image, find_trainable_layer
/ get_trainable_layers and MaskRCNN.get_imagenet_weights. Expected values
are computed by hand in the tests (formulas written out), not by the code
under test."""
import hashlib
import logging
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from mrcnn import training as T
from mrcnn import utils
from mrcnn.backbones import LightResNet
from mrcnn.config import Config
from mrcnn.layers.norm import BatchNorm, make_norm
from mrcnn.model import MaskRCNN, mold_image, unmold_image


# --------------------------------------------------------------- schedules
def lr_at(optimizer, step):
    optimizer.iterations.assign(step)
    return float(np.asarray(optimizer.learning_rate))


def test_cosine_schedule_with_warmup_values():
    # lr 0.01, 100 steps, 10 warm-up steps: linear 0.001 -> 0.01, then cosine
    # over 90 steps down to alpha * lr = 1e-4.
    opt = T.make_optimizer(0.01, 0.9, None, schedule="cosine", total_steps=100,
                           warmup_steps=10)
    assert lr_at(opt, 0) == pytest.approx(0.001)
    assert lr_at(opt, 5) == pytest.approx(0.001 + 0.009 * 5 / 10)
    assert lr_at(opt, 10) == pytest.approx(0.01)
    half = 0.01 * ((1 - 0.01) * 0.5 * (1 + math.cos(math.pi * 45 / 90)) + 0.01)
    assert lr_at(opt, 55) == pytest.approx(half, rel=1e-5)
    assert lr_at(opt, 100) == pytest.approx(1e-4, rel=1e-5)


def test_cosine_schedule_without_warmup_starts_at_lr():
    opt = T.make_optimizer(0.02, 0.9, None, schedule="cosine", total_steps=50)
    assert lr_at(opt, 0) == pytest.approx(0.02)
    assert lr_at(opt, 25) == pytest.approx(0.02 * (0.99 * 0.5 + 0.01), rel=1e-5)


def test_step_schedule_values():
    # x0.1 after 2/3 (step 66) and x0.01 after 8/9 (step 88) of 99... of 100
    opt = T.make_optimizer(0.1, 0.9, None, schedule="step", total_steps=100)
    assert lr_at(opt, 0) == pytest.approx(0.1)
    assert lr_at(opt, 66) == pytest.approx(0.1)
    assert lr_at(opt, 67) == pytest.approx(0.01)
    assert lr_at(opt, 88) == pytest.approx(0.01)
    assert lr_at(opt, 89) == pytest.approx(0.001)


def test_no_schedule_is_constant():
    opt = T.make_optimizer(0.003, 0.9, None, schedule=None, total_steps=100)
    assert lr_at(opt, 0) == lr_at(opt, 99) == pytest.approx(0.003)


def test_compile_passes_config_schedule_and_total_steps(tmp_path):
    class C(TinyLight):
        LEARNING_RATE_SCHEDULE = "cosine"
        LEARNING_RATE_WARMUP_STEPS = 4
    model = MaskRCNN("training", C(), str(tmp_path))
    model.compile(0.05, 0.9, total_steps=20)
    opt = model.keras_model.optimizer
    assert lr_at(opt, 0) == pytest.approx(0.005)
    assert lr_at(opt, 4) == pytest.approx(0.05)
    assert lr_at(opt, 20) == pytest.approx(0.0005, rel=1e-4)
    assert opt.clipnorm == C.GRADIENT_CLIP_NORM


# ---------------------------------------------------------------- clipping
def test_gradient_clipping_per_variable():
    """SGD lr 1, no momentum: the step is minus the gradient, each variable's
    gradient clipped to norm 5 on its own."""
    a = keras.Variable(np.zeros(2, np.float32))
    b = keras.Variable(np.zeros(2, np.float32))
    opt = T.make_optimizer(1.0, 0.0, 5.0)
    opt.apply_gradients([(tf.constant([30.0, 40.0]), a), (tf.constant([0.3, 0.4]), b)])
    np.testing.assert_allclose(a.numpy(), [-3.0, -4.0], rtol=1e-6)   # 50 -> 5
    np.testing.assert_allclose(b.numpy(), [-0.3, -0.4], rtol=1e-6)   # 0.5: kept
    c = keras.Variable(np.zeros(2, np.float32))
    T.make_optimizer(1.0, 0.0, None).apply_gradients([(tf.constant([30.0, 40.0]), c)])
    np.testing.assert_allclose(c.numpy(), [-30.0, -40.0])


# ------------------------------------------------------------ small model
class TinyLight(Config):
    """LightResNet at 64 px: every graph of the model, built in seconds."""
    NAME = "tiny"
    NUM_CLASSES = 3
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 64
    BACKBONE = LightResNet(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), stem=8,
                           norm="group", groups=4)
    COMPUTE_BACKBONE_SHAPE = BACKBONE.compute_backbone_shape
    BACKBONE_NORM = "group"
    GROUP_NORM_GROUPS = 4
    TOP_DOWN_PYRAMID_SIZE = 16
    FPN_CLASSIF_FC_LAYERS_SIZE = 32
    MASK_HEAD_CHANNELS = 8
    RPN_ANCHOR_SCALES = (4, 8, 16, 32, 64)
    RPN_TRAIN_ANCHORS_PER_IMAGE = 32
    PRE_NMS_LIMIT = 200
    POST_NMS_ROIS_TRAINING = 32
    POST_NMS_ROIS_INFERENCE = 20
    TRAIN_ROIS_PER_IMAGE = 16
    MAX_GT_INSTANCES = 4
    DETECTION_MAX_INSTANCES = 5
    DETECTION_MIN_CONFIDENCE = 0.0
    MINI_MASK_SHAPE = (14, 14)
    STEPS_PER_EPOCH = 1
    VALIDATION_STEPS = 1


@pytest.fixture(scope="module")
def tiny_training(tmp_path_factory):
    keras.utils.set_random_seed(0)
    return MaskRCNN("training", TinyLight(), str(tmp_path_factory.mktemp("tl")))


def test_weight_decay_set_and_value(tiny_training):
    """L2 decay on every trainable weight but normalisation gamma/beta
    (Matterport: kernels and biases), each term sum(w^2) / size(w)."""
    km = tiny_training.keras_model
    tiny_training.set_trainable(".*", verbose=0)
    names = [v.path for v in km.trainable_weights]
    decayed = [v for v in km.trainable_weights if T.is_decayed(v)]
    plain = [v.path for v in km.trainable_weights if not T.is_decayed(v)]
    assert plain and all(p.endswith(("/gamma", "/beta")) for p in plain)
    assert all(not v.path.endswith(("/gamma", "/beta")) for v in decayed)
    assert any(p.endswith("/bias") for p in (v.path for v in decayed))
    assert "conv1/kernel" in [v.path for v in decayed] and len(decayed) + len(plain) == len(names)
    km.weight_decay = 0.01
    want = 0.01 * sum(float(np.sum(np.square(v.numpy()))) / v.numpy().size for v in decayed)
    assert float(km._regularization()) == pytest.approx(want, rel=1e-5)
    # only trainable weights count: heads only drops the backbone's terms
    tiny_training.set_trainable(T.LAYER_REGEX["heads"], verbose=0)
    heads = [v for v in km.trainable_weights if T.is_decayed(v)]
    assert 0 < len(heads) < len(decayed)
    assert not [v for v in heads if v.path.startswith(("conv1", "res", "bn"))]
    want = 0.01 * sum(float(np.sum(np.square(v.numpy()))) / v.numpy().size for v in heads)
    assert float(km._regularization()) == pytest.approx(want, rel=1e-5)
    tiny_training.set_trainable(".*", verbose=0)


def test_find_trainable_layer_and_get_trainable_layers(tiny_training):
    model = tiny_training
    wrapped = model.keras_model.get_layer("mrcnn_class_conv1")
    inner = model.find_trainable_layer(wrapped)
    assert inner is wrapped.layer and isinstance(inner, keras.layers.Conv2D)
    plain = model.keras_model.get_layer("fpn_c5p5")
    assert model.find_trainable_layer(plain) is plain
    layers = model.get_trainable_layers()
    assert all(layer.weights for layer in layers)
    names = [layer.name for layer in layers]
    assert "fpn_c5p5" in names and "rpn_model" in names and "conv1" in names
    assert inner in layers and wrapped not in layers
    with_weights = [l for l in model.keras_model.layers if l.weights]
    assert len(layers) == len(with_weights)


# -------------------------------------------------------------- batch norm
def _bn_step(train_bn):
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=[4, 4, 3])
    bn = BatchNorm(train_bn=train_bn, name="bn_test")
    out = keras.layers.Conv2D(1, 1)(bn(inp))
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.default_rng(0).normal(5.0, 2.0, (8, 4, 4, 3)).astype(np.float32)
    before = [w.numpy().copy() for w in bn.weights]
    model.train_on_batch(x, np.zeros((8, 4, 4, 1), np.float32))
    after = [w.numpy() for w in bn.weights]
    return dict(zip(["gamma", "beta", "mean", "var"], before)), dict(
        zip(["gamma", "beta", "mean", "var"], after))


def test_frozen_batchnorm_keeps_moving_statistics():
    before, after = _bn_step(train_bn=False)
    np.testing.assert_array_equal(after["mean"], before["mean"])
    np.testing.assert_array_equal(after["var"], before["var"])
    assert np.abs(after["beta"] - before["beta"]).max() > 0   # still trained
    before, after = _bn_step(train_bn=True)
    # momentum 0.99 towards the batch mean 5: 0 -> 0.05
    np.testing.assert_allclose(after["mean"], 0.01 * 5.0, rtol=0.1)


def test_train_bn_reaches_backbone_batchnorm(tmp_path):
    class B(TinyLight):
        BACKBONE = LightResNet(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), stem=8,
                               norm="batch")
        COMPUTE_BACKBONE_SHAPE = BACKBONE.compute_backbone_shape
        BACKBONE_NORM = "batch"
        TRAIN_BN = False
    model = MaskRCNN("inference", B(), str(tmp_path))
    bn = model.keras_model.get_layer("bn_conv1")
    assert isinstance(bn, BatchNorm) and bn.train_bn is False


# -------------------------------------------------------------- group norm
def test_group_norm_normalises_each_group():
    layer = make_norm("group", "gn_test", groups=2)
    assert isinstance(layer, keras.layers.GroupNormalization) and layer.groups == 2
    x = np.random.default_rng(0).normal(3.0, 2.0, (2, 5, 5, 4)).astype(np.float32)
    y = np.asarray(layer(x))
    for b in range(2):
        for g in range(2):
            part = y[b, :, :, 2 * g:2 * g + 2]
            assert abs(part.mean()) < 1e-4 and part.std() == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(ValueError, match="normalisation"):
        make_norm("layer", "x")


def test_group_norm_backbone_has_no_batch_statistics(tiny_training):
    km = tiny_training.keras_model
    assert isinstance(km.get_layer("bn_conv1"), keras.layers.GroupNormalization)
    assert not [w for w in km.weights if "moving_" in w.path]


# -------------------------------------------------------------- LightResNet
def test_light_resnet_shapes_and_layer_names():
    net = LightResNet(widths=(8, 16, 24, 32), blocks=(1, 2, 1, 1), stem=8, norm="group",
                      groups=4)
    image = keras.Input(shape=[128, 96, 3])
    C1, C2, C3, C4, C5 = net(image, stage5=True, train_bn=True)
    # bottleneck outputs are 4x the widths, strides 4, 8, 16, 32
    assert [tuple(c.shape[1:]) for c in (C2, C3, C4, C5)] == [
        (32, 24, 32), (16, 12, 64), (8, 6, 96), (4, 3, 128)]
    np.testing.assert_array_equal(net.compute_backbone_shape((128, 96)),
                                  [[32, 24], [16, 12], [8, 6], [4, 3], [2, 2]])
    model = keras.Model(image, [C2, C3, C4, C5])
    names = {layer.name for layer in model.layers}
    assert {"conv1", "bn_conv1", "res2a_branch2a", "res2a_branch1", "res3b_branch2c",
            "res5a_branch2b"} <= names
    assert "res3c_branch2a" not in names  # 2 blocks in stage 3
    with pytest.raises(ValueError):
        LightResNet(widths=(8, 16, 24))


# ------------------------------------------------------ USE_RPN_ROIS=False
@pytest.mark.slow
def test_training_with_given_rois(tmp_path):
    """USE_RPN_ROIS=False: the heads train on ROIs fed as an input (from
    data_generator(random_rois=...)), Matterport's way of training the heads
    without the RPN."""
    from mrcnn.model import data_generator
    from shapes import ShapesDataset

    class R(TinyLight):
        USE_RPN_ROIS = False
    cfg = R()
    ds = ShapesDataset()
    ds.load_shapes(2, 64, seed=5)
    ds.prepare()
    keras.utils.set_random_seed(0)
    model = MaskRCNN("training", cfg, str(tmp_path))
    km = model.keras_model
    assert any("input_roi" in getattr(t, "name", "") for t in km.inputs)
    gen = data_generator(ds, cfg, shuffle=False, random_rois=cfg.POST_NMS_ROIS_TRAINING,
                         batch_size=1)
    from mrcnn.data.generator import INPUT_NAMES
    inputs, _ = next(gen)
    # Matterport's order: the 7 standard inputs, then the random ROIs
    assert inputs[7].shape == (1, cfg.POST_NMS_ROIS_TRAINING, 4)
    inputs = dict(zip(INPUT_NAMES + ("input_roi",), inputs[:8]))
    # The first ROIs are the gt boxes themselves: positives whatever the
    # random ROIs are (their generator draws from the global numpy RNG).
    gt = inputs["input_gt_boxes"][0][inputs["input_gt_class_ids"][0] > 0]
    assert len(gt) >= 1
    inputs["input_roi"] = inputs["input_roi"].copy()
    inputs["input_roi"][0, :len(gt)] = gt
    inputs["input_gt_masks"] = inputs["input_gt_masks"].astype(np.uint8)
    model.set_trainable(".*", verbose=0)
    model.compile(0.01, 0.9)
    before = km.get_layer("mrcnn_mask").weights[0].numpy().copy()
    logs = km.train_on_batch(inputs, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    assert logs["mrcnn_mask_loss"] > 0 and logs["mrcnn_class_loss"] > 0
    assert np.abs(km.get_layer("mrcnn_mask").weights[0].numpy() - before).max() > 0


# --------------------------------------------------------------------- XLA
@pytest.fixture(scope="module")
def tiny_inference(tmp_path_factory):
    keras.utils.set_random_seed(2)
    return MaskRCNN("inference", TinyLight(), str(tmp_path_factory.mktemp("ti")))


def _image(seed=0, size=64):
    return np.random.default_rng(seed).integers(0, 255, (size, size, 3)).astype(np.uint8)


def test_xla_detect_matches_plain(tiny_inference, tmp_path, caplog):
    """XLA=True: detect() gives the plain graph's answer, whether the graph
    compiled with XLA or fell back (then with one warning)."""
    class X(TinyLight):
        XLA = True
    xla = MaskRCNN("inference", X(), str(tmp_path))
    xla.keras_model.set_weights(tiny_inference.keras_model.get_weights())
    with caplog.at_level(logging.WARNING, logger="mrcnn"):
        r1 = xla.detect([_image(0)])[0]
        r2 = xla.detect([_image(1)])[0]
    want1 = tiny_inference.detect([_image(0)])[0]
    want2 = tiny_inference.detect([_image(1)])[0]
    for got, want in ((r1, want1), (r2, want2)):
        np.testing.assert_array_equal(got["class_ids"], want["class_ids"])
        np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-4)
        np.testing.assert_allclose(got["rois"], want["rois"], atol=1)
    warnings = [r for r in caplog.records if "Config.XLA" in r.getMessage()]
    assert len(warnings) <= 1


def test_xla_failure_falls_back_once_with_a_warning(tiny_inference, caplog):
    image = _image(3)
    want = tiny_inference.detect([image])[0]
    molded, _, _ = tiny_inference.mold_inputs([image])
    entry = tiny_inference._inference_fn(molded.shape)
    calls = []

    def no_xla(*args):
        calls.append(1)
        raise tf.errors.InvalidArgumentError(None, None, "no XLA kernel for NMS")
    entry["fn"], entry["xla"] = no_xla, True
    with caplog.at_level(logging.WARNING, logger="mrcnn"):
        got = tiny_inference.detect([image])[0]
        again = tiny_inference.detect([image])[0]
    assert len(calls) == 1 and entry["xla"] is False
    warnings = [r for r in caplog.records if "Config.XLA" in r.getMessage()]
    assert len(warnings) == 1 and "no XLA kernel" in warnings[0].getMessage()
    for r in (got, again):
        np.testing.assert_array_equal(r["class_ids"], want["class_ids"])
        np.testing.assert_array_equal(r["rois"], want["rois"])
    # without XLA the same error is not swallowed
    entry["fn"] = no_xla
    with pytest.raises(tf.errors.InvalidArgumentError):
        tiny_inference.detect([image])
    del tiny_inference._predict_fns[next(k for k, v in tiny_inference._predict_fns.items()
                                         if v is entry)]


# ------------------------------------------------------------- utilities
def test_batch_slice_runs_per_item_and_stacks():
    x = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = tf.constant([[10.0], [20.0]])
    out = utils.batch_slice([x, y], lambda a, b: a * b, 2)
    np.testing.assert_allclose(out.numpy(), [[10, 20, 30], [80, 100, 120]])
    s, m = utils.batch_slice(x, lambda a: [tf.reduce_sum(a), tf.reduce_max(a)], 2,
                             names=["sum", "max"])
    np.testing.assert_allclose(s.numpy(), [6, 15])
    np.testing.assert_allclose(m.numpy(), [3, 6])
    # a single tensor input, batch_size smaller than the batch: first items only
    np.testing.assert_allclose(utils.batch_slice(x, lambda a: a[:1], 1).numpy(), [[1.0]])


def test_unmold_image_inverts_mold_image():
    cfg = TinyLight()
    image = _image(4, 8)
    molded = mold_image(image, cfg)
    np.testing.assert_allclose(molded, image.astype(np.float32) - cfg.MEAN_PIXEL, atol=1e-4)
    back = unmold_image(molded, cfg)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, image)
    # zeros unmold to the mean pixel (123.7, 116.8, 103.9), rounded (not
    # truncated: float error must not turn 100 into 99), clipped to 0..255
    np.testing.assert_array_equal(unmold_image(np.zeros((1, 1, 3)), cfg)[0, 0],
                                  [124, 117, 104])
    np.testing.assert_array_equal(unmold_image(np.array([[[-500.0, 500.0, 0.2]]]), cfg)[0, 0],
                                  [0, 255, 104])


# ----------------------------------------------------------- ImageNet file
def test_get_imagenet_weights_downloads_once_with_fake_opener(tiny_inference, tmp_path,
                                                              monkeypatch):
    from mrcnn.core import download as D
    data = b"fake resnet50 weights" * 100
    monkeypatch.setenv("MRCNN_HOME", str(tmp_path))         # the user cache (mrcnn.core.download)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))   # no copy in Keras' cache
    monkeypatch.setattr(D, "IMAGENET_RESNET50_MD5", hashlib.md5(data).hexdigest())
    seen = []

    class Resp:
        def __init__(self):
            self.left = data
            self.headers = {"Content-Length": str(len(data))}

        def read(self, n=-1):
            n = len(self.left) if n is None or n < 0 else n
            chunk, self.left = self.left[:n], self.left[n:]
            return chunk

        def getheader(self, name, default=None):
            return self.headers.get(name, default)

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(url, *a, **k):
        seen.append(getattr(url, "full_url", url))
        return Resp()

    monkeypatch.setattr(D, "urlopen", fake_urlopen)
    path = tiny_inference.get_imagenet_weights()
    assert path.startswith(str(tmp_path)) and path.endswith(D.IMAGENET_RESNET50_FILENAME)
    with open(path, "rb") as f:
        assert f.read() == data
    assert len(seen) == 1 and seen[0] == D.IMAGENET_RESNET50_URL
    assert tiny_inference.get_imagenet_weights() == path
    assert len(seen) == 1  # cached: no second download


@pytest.mark.slow
def test_train_method_with_given_rois(tmp_path):
    """MaskRCNN.train with USE_RPN_ROIS=False: MaskRCNNSequence feeds
    input_roi (random ROIs around the gt boxes) and the heads learn from it."""
    from mrcnn.data.generator import MaskRCNNSequence
    from shapes import ShapesDataset

    class R(TinyLight):
        USE_RPN_ROIS = False
    cfg = R()
    ds = ShapesDataset()
    ds.load_shapes(2, 64, seed=5)
    ds.prepare()
    batch = MaskRCNNSequence(ds, cfg, shuffle=False, seed=0, workers=1)[0]
    rois = batch["input_roi"]
    assert rois.shape == (cfg.BATCH_SIZE, cfg.POST_NMS_ROIS_TRAINING, 4)
    assert (rois[..., 2] > rois[..., 0]).all() and (rois[..., 3] > rois[..., 1]).all()
    assert rois.min() >= 0 and rois[..., 2:].max() <= 64
    keras.utils.set_random_seed(0)
    model = MaskRCNN("training", cfg, str(tmp_path))
    before = model.keras_model.get_layer("mrcnn_mask").weights[0].numpy().copy()
    history = model.train(ds, ds, learning_rate=0.01, epochs=1, layers="all", verbose=0,
                          seed=0, workers=1)
    assert np.isfinite(history.history["loss"][0])
    after = model.keras_model.get_layer("mrcnn_mask").weights[0].numpy()
    assert np.abs(after - before).max() > 0


# ------------------------------------------------------------ ROI_SAMPLING
@pytest.mark.slow      # two training models and steps: ~22 s on 2 cores
def test_roi_sampling_reaches_the_target_layer_and_trains_on_an_empty_image(tmp_path):
    """Config.ROI_SAMPLING = "fill" with TRAIN_ON_EMPTY_IMAGES: an image with
    no object still gives the classifier real background ROIs (and the step
    changes the classifier), where Matterport's "ratio" gives none: its class
    loss then only sees the all-zero padding rows."""
    from mrcnn.data.generator import MaskRCNNSequence
    from shapes import ShapesDataset

    ds = ShapesDataset()
    ds.load_shapes(1, 64, seed=5)
    ds.prepare()
    ds.load_mask = lambda image_id: (np.zeros((64, 64, 0), bool), np.zeros(0, np.int32))
    results = {}
    for rule in ("ratio", "fill"):
        class R(TinyLight):
            TRAIN_ON_EMPTY_IMAGES = True
            ROI_SAMPLING = rule
        cfg = R()
        keras.utils.set_random_seed(0)
        model = MaskRCNN("training", cfg, str(tmp_path / rule))
        km = model.keras_model
        assert km.get_layer("proposal_targets").roi_sampling == rule
        batch = MaskRCNNSequence(ds, cfg, shuffle=False, seed=0, workers=1)[0]
        assert not batch["input_gt_class_ids"].any()
        rois = keras.Model(km.inputs, km.get_layer("output_rois").output)(batch)
        n_rois = int((np.abs(np.asarray(rois)).sum(-1) > 0).sum())
        model.set_trainable(".*", verbose=0)
        model.compile(0.01, 0.9)
        before = km.get_layer("mrcnn_class_logits").weights[0].numpy().copy()
        logs = km.train_on_batch(batch, return_dict=True)
        moved = np.abs(km.get_layer("mrcnn_class_logits").weights[0].numpy() - before).max()
        results[rule] = (n_rois, moved)
    assert results["ratio"][0] == 0
    assert results["fill"][0] > 0 and results["fill"][1] > 0
