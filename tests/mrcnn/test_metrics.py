import numpy as np
import pytest

from mrcnn.core.metrics import (compute_ap, compute_ap_range, compute_matches,
                                compute_recall, mask_iou)


def _mask(h, w, boxes):
    m = np.zeros((h, w, len(boxes)), bool)
    for i, (y1, x1, y2, x2) in enumerate(boxes):
        m[y1:y2, x1:x2, i] = True
    return m


GT_BOXES = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
GT_MASKS = _mask(40, 40, GT_BOXES)


def test_ap_false_positive_first():
    # one gt; the top-scored prediction misses, the second hits -> AP 0.5
    gt_b = GT_BOXES[:1]
    pred_b = np.array([[20, 20, 30, 30], [0, 0, 10, 10]])
    ap, p, r, ov = compute_ap(gt_b, np.array([1]), GT_MASKS[..., :1],
                              pred_b, np.array([1, 1]), np.array([0.9, 0.8]),
                              _mask(40, 40, pred_b))
    assert ap == pytest.approx(0.5)
    assert np.allclose(r, [0, 0, 1, 1])
    assert np.allclose(p, [0.5, 0.5, 0.5, 0])
    assert ov.shape == (2, 1)


def test_ap_wrong_class_second():
    pred_b = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    ap, p, r, _ = compute_ap(GT_BOXES, np.array([1, 2]), GT_MASKS,
                             pred_b, np.array([1, 1]), np.array([0.9, 0.8]),
                             _mask(40, 40, pred_b))
    # precisions [1, .5], recalls [.5, .5] -> AP = .5 * 1
    assert ap == pytest.approx(0.5)
    perfect, *_ = compute_ap(GT_BOXES, np.array([1, 2]), GT_MASKS,
                             pred_b, np.array([1, 2]), np.array([0.9, 0.8]),
                             _mask(40, 40, pred_b))
    assert perfect == pytest.approx(1.0)


def test_matches_use_score_order_and_padding():
    pred_b = np.array([[20, 20, 30, 30], [0, 0, 10, 10], [0, 0, 0, 0]])
    gt_match, pred_match, ov = compute_matches(
        np.vstack([GT_BOXES, [[0, 0, 0, 0]]]), np.array([1, 1, 0]),
        np.concatenate([GT_MASKS, np.zeros((40, 40, 1), bool)], -1),
        pred_b, np.array([1, 1, 0]), np.array([0.2, 0.9, 0.0]),
        _mask(40, 40, pred_b))
    # predictions sorted by score: [box0-pred (0.9), box1-pred (0.2)]
    assert pred_match.tolist() == [0, 1]
    assert gt_match.tolist() == [0, 1]
    assert ov.shape == (2, 2)


def test_ap_range():
    gt = _mask(20, 20, [[0, 0, 10, 10]])            # 100 px
    pred = _mask(20, 20, [[0, 0, 8, 9]])            # 72 px inside -> IoU .72
    ap = compute_ap_range(np.array([[0, 0, 10, 10]]), np.array([1]), gt,
                          np.array([[0, 0, 8, 9]]), np.array([1]), np.array([.9]),
                          pred, verbose=0)
    # thresholds .5 .55 .6 .65 .7 pass, .75 ... .95 fail -> 5/10
    assert ap == pytest.approx(0.5)
    ap = compute_ap_range(np.array([[0, 0, 10, 10]]), np.array([1]), gt,
                          np.array([[0, 0, 8, 9]]), np.array([1]), np.array([.9]),
                          pred, iou_thresholds=[0.5, 0.8], verbose=0)
    assert ap == pytest.approx(0.5)


def test_compute_recall():
    pred = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]])
    recall, pos = compute_recall(pred, GT_BOXES, 0.5)
    assert recall == pytest.approx(0.5)
    assert pos.tolist() == [0, 1]


def test_mask_iou():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    assert mask_iou(a, b) == 1.0
    a[:2] = True
    b[:, :2] = True
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    with pytest.raises(ValueError):
        mask_iou(a, np.zeros((3, 3), bool))
