"""End to end: a tiny config trains on synthetic shapes, the loss goes down,
checkpoints are written and reloaded, training resumes, detect() returns
Matterport's dicts."""
import os

import keras
import numpy as np
import pytest

from mrcnn.model import MaskRCNN
from shapes import TinyConfig, make_datasets



class InferenceTiny(TinyConfig):
    IMAGES_PER_GPU = 1
    DETECTION_MIN_CONFIDENCE = 0.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    keras.utils.set_random_seed(0)
    logs = str(tmp_path_factory.mktemp("logs"))
    train, val = make_datasets()
    cfg = TinyConfig()
    model = MaskRCNN("training", cfg, logs)
    history = model.train(train, val, learning_rate=cfg.LEARNING_RATE,
                          epochs=3, layers="all", verbose=0, seed=0)
    return model, history, logs, (train, val)


@pytest.mark.slow  # trains the tiny model (module fixture)
def test_loss_goes_down_and_all_losses_logged(trained):
    _, history, _, _ = trained
    h = history.history
    for name in ("loss", "rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss",
                 "mrcnn_bbox_loss", "mrcnn_mask_loss"):
        assert len(h[name]) == 3 and len(h["val_" + name]) == 3
        assert all(np.isfinite(h[name]))
    assert h["loss"][-1] < h["loss"][0]


@pytest.mark.slow  # trains the tiny model (module fixture)
def test_loss_is_the_five_losses_plus_matterports_weight_decay(trained):
    """loss = the five losses (LOSS_WEIGHTS all 1) + Matterport's L2 term,
    WEIGHT_DECAY * sum over kernels (not gamma/beta) of mean(w**2),
    computed here with numpy from the weights after the last epoch. The
    graph's term equals it to float32 precision; the logged epoch means
    (float32 losses near 4, the L2 term near 2e-5) agree within a few %."""
    model, history, _, _ = trained
    h = history.history
    parts = sum(h[n][-1] for n in ("rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss",
                                   "mrcnn_bbox_loss", "mrcnn_mask_loss"))
    l2 = sum(float(np.mean(np.square(v.numpy())))
             for v in model.keras_model.trainable_weights
             if v.path.rsplit("/", 1)[-1] not in ("gamma", "beta"))
    l2 *= model.config.WEIGHT_DECAY
    graph = float(model.keras_model._regularization())
    assert graph == pytest.approx(l2, rel=1e-5)
    assert l2 > 1e-6
    assert h["loss"][-1] - parts == pytest.approx(l2, rel=0.1)


@pytest.mark.slow  # trains the tiny model (module fixture)
def test_checkpoints_each_epoch_and_find_last(trained):
    model, _, logs, _ = trained
    files = sorted(os.listdir(model.log_dir))
    ckpts = [f for f in files if f.endswith(".h5")]
    assert ckpts == ["mask_rcnn_shapes_0001.h5", "mask_rcnn_shapes_0002.h5",
                     "mask_rcnn_shapes_0003.h5"]
    assert not [f for f in files if f.startswith(".tmp")]
    assert any(f.startswith("events") or os.path.isdir(os.path.join(model.log_dir, f))
               for f in files), "TensorBoard logs missing"
    assert model.find_last().endswith("mask_rcnn_shapes_0003.h5")
    assert model.epoch == 3


@pytest.mark.slow  # trains the tiny model (module fixture)
def test_resume_continues_epoch_count(trained):
    model, _, logs, (train, val) = trained
    cfg = TinyConfig()
    again = MaskRCNN("training", cfg, logs)
    last = again.find_last()
    again.load_weights(last, by_name=True)
    assert again.epoch == 3 and again.log_dir == os.path.dirname(last)
    history = again.train(train, val, learning_rate=cfg.LEARNING_RATE,
                          epochs=4, layers="heads", verbose=0)
    assert history.epoch == [3]  # only epoch 4 ran
    assert os.path.exists(os.path.join(again.log_dir, "mask_rcnn_shapes_0004.h5"))
    # heads: the backbone did not change
    np.testing.assert_array_equal(
        again.keras_model.get_layer("conv1").weights[0].numpy(),
        model.keras_model.get_layer("conv1").weights[0].numpy())


@pytest.mark.slow  # trains the tiny model (module fixture)
def test_detect_after_reload_is_well_formed(trained):
    model, _, logs, (_, val) = trained
    inf = MaskRCNN("inference", InferenceTiny(), logs)
    inf.load_weights(os.path.join(model.log_dir, "mask_rcnn_shapes_0003.h5"),
                     by_name=True)
    # same weights as the trained model
    np.testing.assert_array_equal(
        inf.keras_model.get_layer("mrcnn_mask").weights[0].numpy(),
        model.keras_model.get_layer("mrcnn_mask").weights[0].numpy())
    image = val.load_image(0)[:100, :120]  # a non-square original size
    for _ in range(3):
        r = inf.detect([image])[0]
    assert inf.trace_count == 1  # one compiled graph for same-size calls
    n = len(r["class_ids"])
    assert r["rois"].dtype == np.int32 and r["rois"].shape == (n, 4)
    assert r["class_ids"].dtype == np.int32 and r["scores"].dtype == np.float32
    assert r["masks"].dtype == bool and r["masks"].shape == (100, 120, n)
    assert n >= 1  # min confidence 0: the tiny model proposes something
    assert np.all(r["class_ids"] >= 1) and np.all(r["class_ids"] < 3)
    assert np.all(np.diff(r["scores"]) <= 0)  # sorted by score
    assert np.all(r["rois"][:, 2] > r["rois"][:, 0])
    assert np.all((r["rois"] >= 0) & (r["rois"][:, [2, 3]] <= [100, 120]).all(1)[:, None])


def test_detect_handles_zero_detections(tmp_path):
    class Strict(InferenceTiny):
        DETECTION_MIN_CONFIDENCE = 1.01  # nothing can pass
    inf = MaskRCNN("inference", Strict(), str(tmp_path))
    r = inf.detect([np.zeros((64, 80, 3), np.uint8)])[0]
    assert r["rois"].shape == (0, 4) and r["rois"].dtype == np.int32
    assert r["class_ids"].shape == (0,) and r["scores"].shape == (0,)
    assert r["masks"].shape == (64, 80, 0) and r["masks"].dtype == bool


def test_detect_rejects_wrong_batch(tmp_path):
    inf = MaskRCNN("inference", InferenceTiny(), str(tmp_path))
    with pytest.raises(ValueError, match="BATCH_SIZE"):
        inf.detect([np.zeros((64, 64, 3), np.uint8)] * 2)
