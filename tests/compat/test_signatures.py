"""Matterport's signatures and names, as Matterport code calls them."""
import inspect

import numpy as np
import pytest
import tensorflow as tf

import mrcnn.model as modellib
from mrcnn import utils
from matterport_style import InferenceConfig, ShapesConfig


def params(fn):
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


# ------------------------------------------------------------ load_image_gt
def test_load_image_gt_signature_is_matterports():
    assert params(modellib.load_image_gt)[:6] == [
        ("dataset", inspect.Parameter.empty), ("config", inspect.Parameter.empty),
        ("image_id", inspect.Parameter.empty), ("augment", False),
        ("augmentation", None), ("use_mini_mask", False)]


def test_load_image_gt_positional_augment_flips_and_full_masks_by_default(shapes):
    train, _ = shapes
    config = ShapesConfig()
    image, meta, class_ids, bbox, mask = modellib.load_image_gt(train, config, 0)
    assert mask.shape[:2] == image.shape[:2]        # no mini masks by default
    ref_mask, ref_ids = train.load_mask(0)
    np.testing.assert_array_equal(mask, ref_mask)   # 64x64 in, 64x64 out
    np.testing.assert_array_equal(class_ids, ref_ids)
    # Matterport's 4th positional argument is `augment` (random fliplr, p=0.5)
    np.random.seed(0)
    flips = []
    for _ in range(12):
        im2, _, _, _, m2 = modellib.load_image_gt(train, config, 0, True)
        assert np.array_equal(im2, image) or np.array_equal(im2, image[:, ::-1])
        flips.append(np.array_equal(im2, image[:, ::-1]) and not np.array_equal(image, image[:, ::-1]))
        if flips[-1]:
            np.testing.assert_array_equal(m2, ref_mask[:, ::-1])
    assert any(flips) and not all(flips)
    _, _, _, _, mini = modellib.load_image_gt(train, config, 0, use_mini_mask=True)
    assert mini.shape == tuple(config.MINI_MASK_SHAPE) + (len(ref_ids),)


# ------------------------------------------------------------ ResNet blocks
@pytest.mark.parametrize("fn", [modellib.conv_block, modellib.identity_block])
def test_resnet_blocks_train_bn_defaults_true(fn):
    assert dict(params(fn))["train_bn"] is True
    assert dict(params(fn))["use_bias"] is True


def test_identity_block_builds_with_matterport_call():
    import keras
    x = keras.Input([8, 8, 16])
    y = modellib.identity_block(x, 3, [4, 4, 16], stage=2, block="b")
    model = keras.Model(x, y)
    names = {layer.name for layer in model.layers}
    assert {"res2b_branch2a", "bn2b_branch2a", "res2b_branch2c", "res2b_out"} <= names
    assert tuple(y.shape) == (None, 8, 8, 16)


# ------------------------------------------- graph functions taking config
def test_refine_detections_graph_takes_config():
    config = InferenceConfig()
    config.DETECTION_MIN_CONFIDENCE = 0.5
    rois = np.array([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9],
                     [0.1, 0.1, 0.41, 0.41]], np.float32)
    # ROI 0: class 2 at 0.9; ROI 1: background; ROI 2: class 2 at 0.8, overlaps ROI 0
    probs = np.array([[0.05, 0.05, 0.9, 0.0], [0.9, 0.1, 0.0, 0.0],
                      [0.1, 0.1, 0.8, 0.0]], np.float32)
    deltas = np.zeros([3, 4, 4], np.float32)
    window = np.array([0, 0, 1, 1], np.float32)
    out = modellib.refine_detections_graph(rois, probs, deltas, window, config).numpy()
    assert out.shape == (config.DETECTION_MAX_INSTANCES, 6)
    np.testing.assert_allclose(out[0], [0.1, 0.1, 0.4, 0.4, 2, 0.9], atol=1e-6)
    assert not out[1:].any()            # background dropped, overlap suppressed
    same = modellib.refine_detections_graph(
        rois, probs, deltas, window, bbox_std_dev=config.BBOX_STD_DEV,
        min_confidence=0.5, max_instances=config.DETECTION_MAX_INSTANCES,
        nms_threshold=config.DETECTION_NMS_THRESHOLD).numpy()
    np.testing.assert_array_equal(out, same)


def test_detection_targets_graph_takes_config():
    config = ShapesConfig()
    config.USE_MINI_MASK = False
    gt_boxes = np.array([[0.2, 0.2, 0.6, 0.6], [0, 0, 0, 0]], np.float32)
    gt_class_ids = np.array([3, 0], np.int32)
    gt_masks = np.zeros([64, 64, 2], bool)
    gt_masks[13:38, 13:38, 0] = True
    proposals = np.array([[0.2, 0.2, 0.6, 0.6], [0.7, 0.7, 0.95, 0.95],
                          [0, 0, 0, 0]], np.float32)
    tf.random.set_seed(0)
    rois, class_ids, deltas, masks = modellib.detection_targets_graph(
        proposals, gt_class_ids, gt_boxes, gt_masks, config)
    t = config.TRAIN_ROIS_PER_IMAGE
    assert rois.shape == (t, 4) and class_ids.shape == (t,)
    assert deltas.shape == (t, 4) and masks.shape == (t, 28, 28)
    np.testing.assert_allclose(rois[0], proposals[0])     # the positive first
    assert class_ids.numpy().tolist()[:2] == [3, 0]
    np.testing.assert_allclose(deltas[0], 0, atol=1e-6)   # exact match: no refinement
    np.testing.assert_allclose(rois[1], proposals[1])     # the negative
    assert masks[0].numpy().mean() > 0.9                  # gt mask fills the ROI


# ---------------------------------------------------------- missing names
def test_generate_random_rois():
    gt_boxes = np.array([[10, 10, 30, 40], [40, 5, 60, 20]])
    rois = modellib.generate_random_rois((64, 64, 3), 100, np.array([1, 2]), gt_boxes)
    assert rois.shape == (100, 4) and rois.dtype == np.int32
    assert (rois[:, 2] > rois[:, 0]).all() and (rois[:, 3] > rois[:, 1]).all()
    assert rois.min() >= 0 and rois[:, [0, 2]].max() <= 64 and rois[:, [1, 3]].max() <= 64
    # 90% around the gt boxes: int(0.9 * 100 / 2) = 45 per box, within the
    # box grown by its own size on each side
    around_first = rois[:45]
    assert (around_first[:, 0] >= 0).all() and (around_first[:, 2] <= 50).all()
    assert (around_first[:, 1] >= 0).all() and (around_first[:, 3] <= 64).all()


def test_utils_box_refinement_graph_matches_numpy():
    box = np.array([[10, 10, 30, 50], [0, 0, 8, 8]], np.float32)
    gt = np.array([[12, 8, 28, 60], [1, 1, 9, 9]], np.float32)
    graph = utils.box_refinement_graph(tf.constant(box), tf.constant(gt)).numpy()
    # hand formula: dy = (gcy - cy) / h, dh = log(gh / h)
    h, w = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    gh, gw = gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    expected = np.stack([((gt[:, 0] + gh / 2) - (box[:, 0] + h / 2)) / h,
                         ((gt[:, 1] + gw / 2) - (box[:, 1] + w / 2)) / w,
                         np.log(gh / h), np.log(gw / w)], axis=1)
    np.testing.assert_allclose(graph, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(utils.box_refinement(box, gt), expected, rtol=1e-5, atol=1e-6)


def test_utils_mold_mask_lines_up_with_the_molded_image():
    class Wide(ShapesConfig):
        IMAGE_MIN_DIM = 64
        IMAGE_MAX_DIM = 128
    config = Wide()
    mask = np.zeros([50, 100, 1], bool)
    mask[10:20, 30:60, 0] = True
    molded = utils.mold_mask(mask, config)
    # square mode: 100 -> 128 wide (scale 1.28), 50 -> 64 tall, padded 32 on top
    assert molded.shape == (128, 128, 1) and molded.dtype == bool
    ys, xs = np.nonzero(molded[..., 0])
    assert 32 + 12 <= ys.min() <= 32 + 14 and 32 + 24 <= ys.max() + 1 <= 32 + 27
    assert 37 <= xs.min() <= 39 and 76 <= xs.max() + 1 <= 78
    image = np.zeros([50, 100, 3], np.uint8)
    resized, window, scale, padding, _ = utils.resize_image(
        image, min_dim=64, max_dim=128, mode="square")
    assert resized.shape[:2] == molded.shape[:2] and window == (32, 0, 96, 128)


def test_parallel_model_is_the_model_or_one_line_about_gpu_count(tmp_path):
    from mrcnn.parallel_model import ParallelModel, ParallelModelError
    model = modellib.MaskRCNN("inference", InferenceConfig(), str(tmp_path))
    assert ParallelModel(model.keras_model, 1) is model.keras_model
    with pytest.raises(ParallelModelError, match="set GPU_COUNT = 2"):
        ParallelModel(model.keras_model, 2)


def test_ancestor_explains_why_and_what_to_use(tmp_path):
    model = modellib.MaskRCNN("inference", InferenceConfig(), str(tmp_path))
    with pytest.raises(NotImplementedError) as e:
        model.ancestor(model.keras_model.get_layer("ROI").output, "rpn_class")
    message = str(e.value)
    assert "Keras 3" in message and "run_graph" in message and "get_layer" in message
    assert "\n" not in message
