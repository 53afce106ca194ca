import numpy as np
import pytest

from mrcnn.config import Config
from mrcnn.core.targets import build_detection_targets, build_rpn_targets


class TinyConfig(Config):
    NAME = "tiny"
    NUM_CLASSES = 3
    RPN_TRAIN_ANCHORS_PER_IMAGE = 4
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 64
    TRAIN_ROIS_PER_IMAGE = 6
    ROI_POSITIVE_RATIO = 0.5
    USE_MINI_MASK = False
    MASK_POOL_SIZE = 4
    MASK_SHAPE = [8, 8]


ANCHORS = np.array([[0, 0, 10, 10],
                    [20, 20, 40, 40],
                    [40, 0, 60, 20],
                    [0, 40, 20, 60]], np.float64)


def test_gt_equal_to_anchor():
    cfg = TinyConfig()
    match, bbox = build_rpn_targets((64, 64, 3), ANCHORS, np.array([1]),
                                    np.array([[20, 20, 40, 40]]), cfg)
    assert match.dtype == np.int32
    assert match.tolist() == [-1, 1, -1, -1]
    assert bbox.shape == (4, 4) and bbox.dtype == np.float32
    assert np.allclose(bbox, 0)


def test_deltas_normalised_by_std():
    cfg = TinyConfig()
    # gt shifted by 2 px down from anchor 1 (IoU 18/22 > 0.7), twice as wide?
    # no: same size, so dy = 2/20 = 0.1 -> / 0.1 = 1.0
    match, bbox = build_rpn_targets((64, 64, 3), ANCHORS, np.array([2]),
                                    np.array([[22, 20, 42, 40]]), cfg)
    assert match[1] == 1
    assert np.allclose(bbox[0], [1.0, 0.0, 0.0, 0.0], atol=1e-6)
    assert np.allclose(bbox[1:], 0)
    # height x2: log(2) / 0.2
    match, bbox = build_rpn_targets((64, 64, 3), ANCHORS, np.array([2]),
                                    np.array([[10, 20, 50, 40]]), cfg)
    assert match[1] == 1
    assert np.allclose(bbox[0], [0, 0, np.log(2) / 0.2, 0], atol=1e-6)


def test_crowd_box_blocks_negatives():
    cfg = TinyConfig()
    match, _ = build_rpn_targets(
        (64, 64, 3), ANCHORS, np.array([1, -1]),
        np.array([[20, 20, 40, 40], [0, 45, 15, 64]]), cfg)
    # anchor 3 touches the crowd box: neutral, not negative
    assert match.tolist() == [-1, 1, -1, 0]


def test_balance_and_determinism():
    cfg = TinyConfig()
    cfg.RPN_TRAIN_ANCHORS_PER_IMAGE = 6
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:10, 0:10]
    anchors = np.stack([ys.ravel() * 6, xs.ravel() * 6,
                        ys.ravel() * 6 + 8, xs.ravel() * 6 + 8], 1).astype(float)
    # 9 gt boxes, each equal to an anchor -> 9 positives > 6 // 2
    gt = anchors[[0, 11, 22, 33, 44, 55, 66, 77, 88]]
    m1, b1 = build_rpn_targets((64, 64), anchors, np.ones(9, np.int32), gt, cfg,
                               rng=np.random.default_rng(5))
    m2, b2 = build_rpn_targets((64, 64), anchors, np.ones(9, np.int32), gt, cfg,
                               rng=np.random.default_rng(5))
    assert (m1 == 1).sum() == 3 and (m1 == -1).sum() == 3
    assert np.array_equal(m1, m2) and np.array_equal(b1, b2)
    assert np.allclose(b1, 0)
    del rng


def test_no_gt_all_negative_sampled():
    cfg = TinyConfig()
    m, b = build_rpn_targets((64, 64), ANCHORS, np.zeros(0, np.int32),
                             np.zeros((0, 4)), cfg)
    assert (m == -1).sum() == 4 and np.allclose(b, 0)


def test_detection_targets():
    cfg = TinyConfig()
    gt_boxes = np.array([[8, 8, 24, 24], [32, 32, 56, 48]], np.int32)
    gt_masks = np.zeros((64, 64, 2), bool)
    gt_masks[8:24, 8:24, 0] = True
    gt_masks[32:56, 32:48, 1] = True
    rois = np.array([[8, 8, 24, 24],      # = gt 0
                     [32, 32, 56, 48],    # = gt 1
                     [0, 50, 10, 60],     # background
                     [50, 0, 60, 10]], np.int32)
    r, cls, bb, masks = build_detection_targets(
        rois, np.array([1, 2], np.int32), gt_boxes, gt_masks, cfg,
        rng=np.random.default_rng(0))
    assert r.shape == (6, 4) and cls.shape == (6,)
    assert bb.shape == (6, 3, 4) and masks.shape == (6, 8, 8, 3)
    assert r[:2].tolist() == rois[:2].tolist() and cls[:2].tolist() == [1, 2]
    assert np.all(cls[2:] == 0)
    assert {tuple(x) for x in r[2:]} <= {tuple(rois[2]), tuple(rois[3])}
    assert np.allclose(bb, 0)                       # rois equal to gt boxes
    assert np.allclose(masks[0, :, :, 1], 1) and np.allclose(masks[1, :, :, 2], 1)
    assert np.allclose(masks[0, :, :, [0, 2]], 0) and np.allclose(masks[2:], 0)


def test_detection_targets_no_instance():
    with pytest.raises(ValueError):
        build_detection_targets(np.zeros((3, 4), np.int32), np.array([0]),
                                np.zeros((1, 4), np.int32),
                                np.zeros((64, 64, 1), bool), TinyConfig())
