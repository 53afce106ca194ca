"""phone.cocoeval: COCO mask AP (pycocotools COCOeval) against hand-computed values."""
import numpy as np
import pytest

from phone.cocoeval import STAT_NAMES, CocoMaskEvaluator, coco_mask_ap


def _square(y, x, side=10, shape=(40, 40)):
    m = np.zeros(shape, bool)
    m[y:y + side, x:x + side] = True
    return m


def _ap_101(precision_at_recall):
    """COCO's 101-point interpolated AP for one image set, by hand:
    precision_at_recall(r) for r = 0, 0.01, ..., 1."""
    return sum(precision_at_recall(r / 100.0) for r in range(101)) / 101.0


def test_perfect_detections_score_one():
    gts = [_square(5, 5)[..., None], np.stack([_square(0, 0), _square(20, 20)], -1)]
    dets = [g.copy() for g in gts]
    stats = coco_mask_ap(gts, dets, [[0.9], [0.8, 0.7]])
    assert stats["ap"] == pytest.approx(1.0) and stats["ap50"] == pytest.approx(1.0)
    assert stats["ar100"] == pytest.approx(1.0)
    assert stats["num_gt"] == 3 and stats["num_detections"] == 3 and stats["num_images"] == 2


def test_hand_computed_ap_over_iou_thresholds():
    # Two images, one 10x10 gt square each. Image 1: a detection shifted by
    # 2 px (IoU 80/120 = 0.667, score 0.9); image 2: shifted by 1 px
    # (IoU 90/110 = 0.818, score 0.8).
    gts = [_square(4, 20)[..., None], _square(4, 20)[..., None]]
    dets = [_square(4, 22)[..., None], _square(4, 21)[..., None]]
    stats = coco_mask_ap(gts, dets, [[0.9], [0.8]])
    # IoU threshold <= 0.667 (0.50 .. 0.65: 4 thresholds): both match, AP 1.
    # 0.70 .. 0.80 (3 thresholds): the 0.9 detection is a false positive ranked
    # first, the 0.8 one a true positive: precision 0.5 up to recall 0.5, 0 after.
    half = _ap_101(lambda r: 0.5 if r <= 0.5 else 0.0)
    assert half == pytest.approx(51 * 0.5 / 101)
    # 0.85 .. 0.95 (3 thresholds): nothing matches, AP 0.
    assert stats["ap50"] == pytest.approx(1.0)
    assert stats["ap75"] == pytest.approx(half)
    assert stats["ap"] == pytest.approx((4 * 1.0 + 3 * half + 3 * 0.0) / 10)
    # Recall (max 100 detections) averaged over the 10 thresholds: 1, then 0.5, then 0.
    assert stats["ar100"] == pytest.approx((4 * 1.0 + 3 * 0.5) / 10)


def test_a_duplicate_detection_is_a_false_positive():
    gt = [_square(5, 5)[..., None]]
    # The better-scored duplicate is matched; the second one is a false positive
    # ranked after every true positive, so AP stays 1.
    stats = coco_mask_ap(gt, [np.stack([_square(5, 5), _square(5, 5)], -1)], [[0.9, 0.8]])
    assert stats["ap"] == pytest.approx(1.0)
    # Ranked first, a wrong detection halves precision at every recall.
    stats = coco_mask_ap(gt, [np.stack([_square(25, 25), _square(5, 5)], -1)], [[0.9, 0.8]])
    assert stats["ap"] == pytest.approx(_ap_101(lambda r: 0.5))


def test_no_detections_and_no_ground_truth():
    stats = coco_mask_ap([_square(5, 5)[..., None]], [np.zeros((40, 40, 0), bool)], [[]])
    assert stats["ap"] == 0.0 and stats["ap50"] == 0.0 and stats["ar100"] == 0.0
    stats = coco_mask_ap([np.zeros((40, 40, 0), bool)], [_square(5, 5)[..., None]], [[0.9]])
    assert stats["ap"] is None and set(stats) >= set(STAT_NAMES)


def test_evaluator_takes_detect_results_and_class_ids():
    ev = CocoMaskEvaluator()
    gt = np.stack([_square(0, 0), _square(20, 20)], -1)
    # Right masks, but the second detection has the wrong class: class 2 has
    # a false positive and class 1 misses one of its two instances.
    r = {"masks": gt.copy(), "scores": np.array([0.9, 0.8]), "class_ids": np.array([1, 2])}
    ev.add(gt, np.array([1, 1]), r)
    stats = ev.summarize()
    # Class 1: recall 0.5 at precision 1 -> AP 51/101; class 2 has no gt (ignored).
    assert stats["ap50"] == pytest.approx(51 / 101)
    with pytest.raises(ValueError, match="2 masks, 1 scores"):
        ev.add(gt, [1, 1], {"masks": gt, "scores": [0.5]})
