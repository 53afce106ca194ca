"""Config.MASK_HEAD_ON_POSITIVE_ROIS: in training, the mask head runs on the
first int(TRAIN_ROIS_PER_IMAGE * ROI_POSITIVE_RATIO) ROIs only.

Why the loss is unchanged: DetectionTargetLayer puts the (at most that many)
positive ROIs first (tests/mrcnn/test_graph_ops.py checks the order), and
the mask loss reads positive ROIs only (checked here on random tensors).
"""
import numpy as np
import tensorflow as tf

from mrcnn.layers.losses import mrcnn_mask_loss_graph
from mrcnn.layers.misc import SliceROIs
from mrcnn.model import MaskRCNN
from shapes import TinyConfig


def _loss(targets, ids, preds):
    return float(mrcnn_mask_loss_graph(tf.constant(targets), tf.constant(ids),
                                       tf.constant(preds)))


def test_mask_loss_on_leading_rows_equals_loss_on_all_rows():
    rng = np.random.default_rng(0)
    B, T, P, M, K = 2, 12, 3, 6, 4
    targets = (rng.random((B, T, M, M)) > 0.5).astype(np.float32)
    preds = rng.uniform(0.05, 0.95, (B, T, M, M, K)).astype(np.float32)
    ids = np.zeros((B, T), np.int32)
    ids[0, :3] = [1, 3, 2]          # positives first, as the target layer
    ids[1, :2] = [2, 2]             # puts them
    full = _loss(targets, ids, preds)
    lead = _loss(targets[:, :P], ids[:, :P], preds[:, :P])
    assert abs(full - lead) < 1e-6
    # hand check: mean BCE of the positives' own-class masks
    bce = []
    for b in range(B):
        for i in np.flatnonzero(ids[b]):
            p, t = preds[b, i, :, :, ids[b, i]], targets[b, i]
            bce.append(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())
    assert abs(full - np.mean(bce)) < 1e-4
    # a positive beyond the leading rows would be lost: the check can fail
    ids[1, 7] = 1
    assert abs(_loss(targets, ids, preds)
               - _loss(targets[:, :P], ids[:, :P], preds[:, :P])) > 1e-4


def test_slice_rois_layer_any_dtype_and_config_round_trip():
    x = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    layer = SliceROIs(2)
    np.testing.assert_array_equal(np.asarray(layer(x)), x[:, :2])
    ids = np.arange(10, dtype=np.int32).reshape(2, 5)
    out = layer(ids)
    assert out.dtype == tf.int32
    np.testing.assert_array_equal(np.asarray(out), ids[:, :2])
    again = SliceROIs.from_config(layer.get_config())
    assert again.count == 2 and layer.compute_output_shape((2, 5, 3)) == (2, 2, 3)


def test_training_graph_mask_rows_and_same_weights(tmp_path):
    class Positives(TinyConfig):
        MASK_HEAD_ON_POSITIVE_ROIS = True

    class AllRois(TinyConfig):
        MASK_HEAD_ON_POSITIVE_ROIS = False

    a = MaskRCNN("training", Positives(), str(tmp_path / "a")).keras_model
    b = MaskRCNN("training", AllRois(), str(tmp_path / "b")).keras_model
    cap = int(TinyConfig.TRAIN_ROIS_PER_IMAGE * TinyConfig.ROI_POSITIVE_RATIO)
    assert a.get_layer("mrcnn_mask").output.shape[1] == cap == 10
    assert b.get_layer("mrcnn_mask").output.shape[1] == TinyConfig.TRAIN_ROIS_PER_IMAGE
    # the checkpoint format does not change
    def layout(km):
        return [(layer.name, [tuple(w.shape) for w in layer.weights])
                for layer in km.layers if layer.weights]
    assert layout(a) == layout(b) and len(layout(a)) > 50
