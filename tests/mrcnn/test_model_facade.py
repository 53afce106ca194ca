"""The ``mrcnn.model`` facade builders, called with Matterport's documented
signatures (/work/shared/spec/mrcnn_api.md, Matterport's model.py): output
shapes, and layer names and weight shapes against the COCO model's layer
contract (tests/data/coco_weights_manifest.json, written from Matterport's
published weight table, not from our code)."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import mrcnn.model as modellib
from mrcnn.config import Config

MANIFEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "data", "coco_weights_manifest.json")


@pytest.fixture(scope="module")
def manifest():
    with open(MANIFEST) as f:
        rows = json.load(f)["layers"]
    return {r["layer"]: [tuple(w["shape"]) for w in r["weights"]] for r in rows}


def weighted(model):
    """{layer name: [weight shapes]} of a Keras model, nested models walked."""
    out = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.update(weighted(layer))
        elif layer.weights:
            out[layer.name] = [tuple(w.shape) for w in layer.weights]
    return out


def check_against_manifest(model, manifest, prefixes):
    got = weighted(model)
    want = {k: v for k, v in manifest.items() if k.startswith(prefixes)}
    assert set(got) == set(want), (sorted(set(got) ^ set(want)))[:10]
    for name, shapes in want.items():
        assert got[name] == shapes, name


@pytest.mark.slow  # builds ResNet-101 (~10 s on 2 quiet cores, 45 s under load)
def test_resnet_graph_resnet101_matches_coco_backbone(manifest):
    image = keras.Input(shape=[None, None, 3])
    C1, C2, C3, C4, C5 = modellib.resnet_graph(image, "resnet101", stage5=True, train_bn=False)
    model = keras.Model(image, [C2, C3, C4, C5])
    check_against_manifest(model, manifest, ("conv1", "bn_conv1", "res", "bn2", "bn3",
                                             "bn4", "bn5"))
    outs = model(np.zeros((1, 64, 64, 3), np.float32))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 16, 256), (1, 8, 8, 512),
                                             (1, 4, 4, 1024), (1, 2, 2, 2048)]
    # stage5=False: no C5, no res5 layers
    parts = modellib.resnet_graph(keras.Input(shape=[64, 64, 3]), "resnet50", stage5=False)
    assert parts[4] is None and len(parts) == 5


def test_fpn_graph_matches_coco_fpn(manifest):
    ins = [keras.Input(shape=[s, s, c]) for s, c in [(32, 256), (16, 512), (8, 1024), (4, 2048)]]
    P = modellib.fpn_graph(*ins, 256)
    model = keras.Model(ins, P)
    check_against_manifest(model, manifest, ("fpn_",))
    assert [tuple(p.shape[1:]) for p in P] == [(32, 32, 256), (16, 16, 256), (8, 8, 256),
                                              (4, 4, 256), (2, 2, 256)]


def test_rpn_graph_and_build_rpn_model(manifest):
    fmap = keras.Input(shape=[None, None, 256])
    logits, probs, bbox = modellib.rpn_graph(fmap, 3, 1)
    model = modellib.build_rpn_model(1, 3, 256)
    assert model.name == "rpn_model"
    check_against_manifest(model, manifest, ("rpn_",))
    x = np.random.default_rng(0).normal(size=(2, 8, 6, 256)).astype(np.float32)
    logits, probs, bbox = model([x])
    # 8 * 6 locations x 3 anchors
    assert tuple(logits.shape) == (2, 144, 2) and tuple(probs.shape) == (2, 144, 2)
    assert tuple(bbox.shape) == (2, 144, 4)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, rtol=1e-5)
    # anchor stride 2: a quarter of the locations
    assert tuple(modellib.build_rpn_model(2, 3, 256)([x])[0].shape) == (2, 36, 2)


def _pyramid_inputs():
    rois = keras.Input(shape=[None, 4])
    meta = keras.Input(shape=[Config().IMAGE_META_SIZE])
    fmaps = [keras.Input(shape=[s, s, 256]) for s in (32, 16, 8, 4)]
    return rois, meta, fmaps


def _pyramid_values(n_rois=5):
    rng = np.random.default_rng(1)
    y1x1 = rng.uniform(0, 0.5, (1, n_rois, 2))
    rois = np.concatenate([y1x1, y1x1 + rng.uniform(0.1, 0.5, (1, n_rois, 2))], -1)
    meta = np.zeros((1, Config().IMAGE_META_SIZE), np.float32)
    meta[0, 4:7] = (128, 128, 3)  # image shape (window, scale unused here)
    fmaps = [rng.normal(size=(1, s, s, 256)).astype(np.float32) for s in (32, 16, 8, 4)]
    return [rois.astype(np.float32), meta] + fmaps


def test_fpn_classifier_graph_matches_coco_head(manifest):
    rois, meta, fmaps = _pyramid_inputs()
    logits, probs, bbox = modellib.fpn_classifier_graph(rois, fmaps, meta, 7, 81,
                                                        train_bn=False, fc_layers_size=1024)
    model = keras.Model([rois, meta] + fmaps, [logits, probs, bbox])
    check_against_manifest(model, manifest, ("mrcnn_class", "mrcnn_bbox"))
    logits, probs, bbox = model(_pyramid_values(5))
    assert tuple(logits.shape) == (1, 5, 81) and tuple(probs.shape) == (1, 5, 81)
    assert tuple(bbox.shape) == (1, 5, 81, 4)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, rtol=1e-5)


def test_build_fpn_mask_graph_matches_coco_head(manifest):
    rois, meta, fmaps = _pyramid_inputs()
    masks = modellib.build_fpn_mask_graph(rois, fmaps, meta, 14, 81, train_bn=False)
    model = keras.Model([rois, meta] + fmaps, masks)
    check_against_manifest(model, manifest, ("mrcnn_mask",))
    out = np.asarray(model(_pyramid_values(3)))
    assert out.shape == (1, 3, 28, 28, 81)
    assert out.min() >= 0 and out.max() <= 1  # sigmoid


def test_smooth_l1_loss_trim_zeros_log2_hand_computed():
    y_true = tf.constant([[0.0, 0.0, 0.0]])
    y_pred = tf.constant([[0.5, -2.0, 1.0]])
    # |d| < 1: 0.5 d^2; else |d| - 0.5
    np.testing.assert_allclose(modellib.smooth_l1_loss(y_true, y_pred).numpy(),
                               [[0.125, 1.5, 0.5]])
    boxes = tf.constant([[1.0, 2, 3, 4], [0, 0, 0, 0], [5, 6, 7, 8], [0, 0, 0, 0]])
    kept, nonzero = modellib.trim_zeros_graph(boxes)
    np.testing.assert_array_equal(kept.numpy(), [[1, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(nonzero.numpy(), [True, False, True, False])
    np.testing.assert_allclose(modellib.log2_graph(tf.constant([1.0, 8.0, 0.5])).numpy(),
                               [0.0, 3.0, -1.0], atol=1e-6)


class _TargetsConfig(Config):
    NAME = "t"
    NUM_CLASSES = 3
    TRAIN_ROIS_PER_IMAGE = 6
    ROI_POSITIVE_RATIO = 0.5
    USE_MINI_MASK = False
    MASK_SHAPE = [28, 28]


def test_detection_targets_graph_matterport_signature():
    """detection_targets_graph(proposals, gt_class_ids, gt_boxes, gt_masks,
    config): a proposal equal to a gt box is positive with zero deltas."""
    config = _TargetsConfig()
    gt_boxes = tf.constant([[0.1, 0.1, 0.5, 0.5]])
    proposals = tf.constant([[0.1, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9]])
    masks = np.zeros((32, 32, 1), np.float32)
    masks[3:17, 3:17, 0] = 1
    rois, class_ids, deltas, out_masks = modellib.detection_targets_graph(
        proposals, tf.constant([2]), gt_boxes, tf.constant(masks), config)
    rois, class_ids, deltas = (np.asarray(x) for x in (rois, class_ids, deltas))
    assert rois.shape == (6, 4) and class_ids.shape == (6,) and deltas.shape == (6, 4)
    np.testing.assert_allclose(rois[0], [0.1, 0.1, 0.5, 0.5], atol=1e-6)
    assert class_ids[0] == 2 and (class_ids[1:] == 0).all()
    np.testing.assert_allclose(deltas[0], 0.0, atol=1e-5)
    assert tuple(np.asarray(out_masks).shape) == (6, 28, 28)


class _DetectConfig(Config):
    NAME = "d"
    NUM_CLASSES = 3
    DETECTION_MIN_CONFIDENCE = 0.5
    DETECTION_MAX_INSTANCES = 4
    DETECTION_NMS_THRESHOLD = 0.3


def test_refine_detections_graph_matterport_signature():
    """refine_detections_graph(rois, probs, deltas, window, config): zero
    deltas keep the ROI, background and low scores are dropped."""
    config = _DetectConfig()
    rois = tf.constant([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9], [0.2, 0.6, 0.3, 0.8]])
    probs = tf.constant([[0.1, 0.9, 0.0], [0.2, 0.0, 0.8], [0.9, 0.05, 0.05]])
    deltas = tf.zeros((3, 3, 4))
    window = tf.constant([0.0, 0.0, 1.0, 1.0])
    det = np.asarray(modellib.refine_detections_graph(rois, probs, deltas, window, config))
    assert det.shape == (4, 6)
    np.testing.assert_allclose(det[0], [0.1, 0.1, 0.4, 0.4, 1, 0.9], atol=1e-6)
    np.testing.assert_allclose(det[1], [0.5, 0.5, 0.9, 0.9, 2, 0.8], atol=1e-6)
    assert (det[2:] == 0).all()
