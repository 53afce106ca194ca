import numpy as np
import pytest

from mrcnn.core import boxes as B


def test_extract_bboxes():
    m = np.zeros((10, 12, 3), bool)
    m[2:5, 3:7, 0] = True
    m[9, 11, 1] = True
    b = B.extract_bboxes(m)
    assert b.dtype == np.int32
    assert b.tolist() == [[2, 3, 5, 7], [9, 11, 10, 12], [0, 0, 0, 0]]


def test_compute_iou_and_overlaps():
    box = np.array([0, 0, 10, 10])
    boxes = np.array([[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30]])
    iou = B.compute_iou(box, boxes, 100, np.array([100, 100, 100]))
    assert np.allclose(iou, [25 / 175, 1.0, 0.0])
    ov = B.compute_overlaps(np.array([[0, 0, 10, 10], [0, 0, 5, 10]]), boxes)
    assert ov.shape == (2, 3)
    assert np.allclose(ov, [[25 / 175, 1, 0], [0, 0.5, 0]])


def test_compute_overlaps_masks():
    m1 = np.zeros((4, 4, 2), bool)
    m1[:2, :, 0] = True        # 8 px
    m1[:, :, 1] = True         # 16 px
    m2 = np.zeros((4, 4, 1), bool)
    m2[:, :2, 0] = True        # 8 px
    ov = B.compute_overlaps_masks(m1, m2)
    assert np.allclose(ov, [[4 / 12], [8 / 16]])
    assert B.compute_overlaps_masks(m1, np.zeros((4, 4, 0), bool)).shape == (2, 0)


def test_non_max_suppression():
    boxes = np.array([[0, 0, 10, 10],    # s .9
                      [1, 1, 11, 11],    # s .8, IoU with 0 = 81/119
                      [20, 20, 30, 30],  # s .95
                      [0, 0, 10, 9]])    # s .1, IoU with 0 = .9
    scores = np.array([0.9, 0.8, 0.95, 0.1])
    keep = B.non_max_suppression(boxes, scores, 0.5)
    assert keep.dtype == np.int32
    assert keep.tolist() == [2, 0]
    keep = B.non_max_suppression(boxes, scores, 0.7)
    assert keep.tolist() == [2, 0, 1]
    assert B.non_max_suppression(np.zeros((0, 4)), np.zeros(0), .5).shape == (0,)


def test_apply_box_deltas_hand_value():
    out = B.apply_box_deltas(np.array([[0, 0, 10, 20]]),
                             np.array([[0.1, 0.0, np.log(2.0), 0.0]]))
    assert out.dtype == np.float32
    assert np.allclose(out, [[-4, 0, 16, 20]], atol=1e-5)


def test_refinement_round_trip():
    rng = np.random.default_rng(0)
    y1x1 = rng.uniform(0, 50, (20, 2))
    hw = rng.uniform(1, 40, (20, 2))
    a = np.concatenate([y1x1, y1x1 + hw], 1)
    y1x1 = rng.uniform(0, 50, (20, 2))
    hw = rng.uniform(1, 40, (20, 2))
    g = np.concatenate([y1x1, y1x1 + hw], 1)
    d = B.box_refinement(a, g)
    assert np.allclose(B.apply_box_deltas(a, d), g, atol=1e-3)
    # identical boxes -> zero deltas
    assert np.allclose(B.box_refinement(a, a), 0)
    # hand value: shift down by half a height, double the width
    d = B.box_refinement(np.array([[0, 0, 10, 10]]), np.array([[5, -5, 15, 15]]))
    assert np.allclose(d, [[0.5, 0.0, 0.0, np.log(2)]])


def test_norm_denorm():
    b = np.array([[0, 0, 11, 21], [5, 10, 6, 11]])
    n = B.norm_boxes(b, (11, 21))
    assert n.dtype == np.float32
    assert np.allclose(n[0], [0, 0, 1, 1])
    assert np.allclose(n[1], [0.5, 0.5, 0.5, 0.5])
    assert B.denorm_boxes(n, (11, 21)).tolist() == b.tolist()


def test_trim_zeros():
    x = np.array([[1, 2], [0, 0], [0, 3], [0, 0]])
    assert B.trim_zeros(x).tolist() == [[1, 2], [0, 3]]
    with pytest.raises(ValueError):
        B.trim_zeros(np.zeros(3))
