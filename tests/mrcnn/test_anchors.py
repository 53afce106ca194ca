import numpy as np

from mrcnn.config import Config
from mrcnn.core import anchors as A
from mrcnn.core.boxes import norm_boxes


def test_tiny_grid_by_hand():
    a = A.generate_anchors([8], [1], [2, 2], 4, 1)
    assert a.tolist() == [[-4, -4, 4, 4], [-4, 0, 4, 8],
                          [0, -4, 8, 4], [0, 0, 8, 8]]


def test_ratios_order_and_sizes():
    a = A.generate_anchors([8], [0.5, 1, 2], [1, 2], 16, 1)
    assert a.shape == (6, 4)
    h = a[:, 2] - a[:, 0]
    w = a[:, 3] - a[:, 1]
    # one cell after the other, ratios inside a cell; ratio = width / height
    assert np.allclose(h, [8 / np.sqrt(.5), 8, 8 / np.sqrt(2)] * 2)
    assert np.allclose(w / h, [0.5, 1, 2] * 2)
    cx = (a[:, 1] + a[:, 3]) / 2
    assert np.allclose(cx, [0, 0, 0, 16, 16, 16])


def test_anchor_stride():
    a = A.generate_anchors([8], [1], [4, 4], 4, 2)
    cy = (a[:, 0] + a[:, 2]) / 2
    cx = (a[:, 1] + a[:, 3]) / 2
    assert a.shape == (4, 4)
    assert cy.tolist() == [0, 0, 8, 8] and cx.tolist() == [0, 8, 0, 8]


def test_backbone_shapes():
    c = Config()
    s = A.compute_backbone_shapes(c, [1024, 1024, 3])
    assert s.tolist() == [[256, 256], [128, 128], [64, 64], [32, 32], [16, 16]]
    s = A.compute_backbone_shapes(c, [100, 70])
    assert s.tolist() == [[25, 18], [13, 9], [7, 5], [4, 3], [2, 2]]

    class C(Config):
        BACKBONE = staticmethod(lambda *a: None)
        COMPUTE_BACKBONE_SHAPE = staticmethod(lambda shape: [[1, 2]])
    assert A.compute_backbone_shapes(C(), [64, 64]) == [[1, 2]]


def test_pyramid_count_1024():
    c = Config()
    shapes = A.compute_backbone_shapes(c, c.IMAGE_SHAPE)
    a = A.generate_pyramid_anchors(c.RPN_ANCHOR_SCALES, c.RPN_ANCHOR_RATIOS,
                                   shapes, c.BACKBONE_STRIDES, c.RPN_ANCHOR_STRIDE)
    assert a.shape == (261888, 4)
    # first level: scale 32 at stride 4; last level: scale 512
    assert np.allclose(a[1], [-16, -16, 16, 16])
    assert np.allclose(a[-2, 2] - a[-2, 0], 512)
    n = A.get_anchors_normalized(c, c.IMAGE_SHAPE)
    assert n.shape == (261888, 4) and n.dtype == np.float32
    assert np.allclose(n, norm_boxes(a, (1024, 1024)))
    assert A.get_anchors_normalized(c, c.IMAGE_SHAPE) is n
    assert not n.flags.writeable


def test_normalized_cache_per_shape():
    c = Config()
    a = A.get_anchors_normalized(c, (256, 256, 3))
    b = A.get_anchors_normalized(c, (256, 512, 3))
    assert a.shape[0] == 3 * (64 * 64 + 32 * 32 + 16 * 16 + 8 * 8 + 4 * 4)
    assert b.shape[0] == 2 * a.shape[0]
