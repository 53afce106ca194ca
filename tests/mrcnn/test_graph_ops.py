"""TensorFlow graph ops of mrcnn.layers against independent NumPy references
(mrcnn.core and tests/mrcnn/numpy_refs.py) on small seeded random inputs."""
import numpy as np
import pytest
import tensorflow as tf

from mrcnn.core.meta import compose_image_meta, parse_image_meta
from mrcnn.layers.box_ops import (apply_box_deltas_graph, batch_pack_graph,
                                  box_refinement_graph, clip_boxes_graph,
                                  denorm_boxes_graph, norm_boxes_graph,
                                  overlaps_graph, parse_image_meta_graph)
from mrcnn.layers.detection import DetectionLayer
from mrcnn.layers.detection_target import DetectionTargetLayer
from mrcnn.layers.losses import (mrcnn_bbox_loss_graph, mrcnn_class_loss_graph,
                                 mrcnn_mask_loss_graph, rpn_bbox_loss_graph,
                                 rpn_class_loss_graph)
from mrcnn.layers.proposal import ProposalLayer
from mrcnn.layers.roi_align import PyramidROIAlign, roi_levels_graph

import numpy_refs as ref

STD = np.array([0.1, 0.1, 0.2, 0.2], np.float32)


def random_boxes(rng, n, lo=0.0, hi=1.0, min_size=0.05, max_size=0.4):
    """[n, (y1, x1, y2, x2)] float32 boxes with positive size."""
    yx = rng.uniform(lo, hi - min_size, size=(n, 2))
    hw = rng.uniform(min_size, max_size, size=(n, 2))
    return np.concatenate([yx, yx + hw], axis=1).astype(np.float32)


def const(x, dtype=tf.float32):
    return tf.constant(np.asarray(x), dtype=dtype)


def meta_batch(image_shape, windows, num_classes=4):
    return np.stack([compose_image_meta(i, image_shape, image_shape, w, 1.0,
                                        np.ones(num_classes))
                     for i, w in enumerate(windows)]).astype(np.float32)


# --------------------------------------------------------------------------
# 1. box ops
# --------------------------------------------------------------------------

def test_apply_box_deltas_graph_matches_numpy():
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 50) * 100
    deltas = rng.normal(0, 0.5, size=(50, 4)).astype(np.float32)
    got = apply_box_deltas_graph(const(boxes), const(deltas)).numpy()
    np.testing.assert_allclose(got, ref.apply_box_deltas(boxes, deltas),
                               rtol=1e-5, atol=1e-4)


def test_box_refinement_graph_matches_numpy_and_round_trips():
    rng = np.random.default_rng(1)
    boxes = random_boxes(rng, 40)
    gt = random_boxes(rng, 40)
    got = box_refinement_graph(const(boxes), const(gt)).numpy()
    np.testing.assert_allclose(got, ref.box_refinement(boxes, gt),
                               rtol=1e-5, atol=1e-5)
    back = apply_box_deltas_graph(const(boxes), const(got)).numpy()
    np.testing.assert_allclose(back, gt, atol=1e-5)


def test_clip_boxes_graph_matches_numpy():
    rng = np.random.default_rng(2)
    boxes = random_boxes(rng, 30, lo=-0.3, hi=1.3)
    window = np.array([0.1, 0.2, 0.8, 0.9], np.float32)
    got = clip_boxes_graph(const(boxes), const(window)).numpy()
    lo = window[[0, 1, 0, 1]]
    hi = window[[2, 3, 2, 3]]
    np.testing.assert_allclose(got, np.clip(boxes, lo, hi))
    assert (got != boxes).any()


def test_overlaps_graph_matches_compute_overlaps():
    rng = np.random.default_rng(3)
    b1 = random_boxes(rng, 12)
    b2 = np.concatenate([random_boxes(rng, 8), b1[:3]])  # some exact matches
    got = overlaps_graph(const(b1), const(b2)).numpy()
    want = ref.overlaps(b1, b2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.diag(got[:3, 8:]), 1.0, rtol=1e-6)
    assert (want == 0).any() and ((want > 0) & (want < 1)).any()


def test_norm_denorm_boxes_graph_match_numpy():
    rng = np.random.default_rng(4)
    shape = (96, 160)
    y = np.sort(rng.integers(0, shape[0] + 1, size=(20, 2)), axis=1)
    x = np.sort(rng.integers(0, shape[1] + 1, size=(20, 2)), axis=1)
    px = np.stack([y[:, 0], x[:, 0], y[:, 1], x[:, 1]], axis=1)
    normed = norm_boxes_graph(const(px), const(shape)).numpy()
    np.testing.assert_allclose(normed, ref.norm_boxes(px, shape), rtol=1e-6,
                               atol=1e-7)
    back = denorm_boxes_graph(const(normed), const(shape)).numpy()
    np.testing.assert_array_equal(back, ref.denorm_boxes(normed, shape))
    np.testing.assert_array_equal(back, px)


def test_parse_image_meta_graph_matches_numpy():
    metas = np.stack([
        compose_image_meta(7, (480, 640, 3), (1024, 1024, 3),
                           (128, 0, 896, 1024), 1.6, [1, 1, 0, 1]),
        compose_image_meta(12, (300, 200, 3), (1024, 1024, 3),
                           (0, 171, 1024, 853), 3.41, [1, 0, 1, 1]),
    ]).astype(np.float32)
    got = parse_image_meta_graph(const(metas))
    want = ref.parse_image_meta(metas)
    assert set(got) == set(want)
    np.testing.assert_array_equal(want["window"][1], [0, 171, 1024, 853])   # the layout itself
    np.testing.assert_array_equal(want["active_class_ids"][0], [1, 1, 0, 1])
    for key, value in parse_image_meta(metas).items():       # the numpy parser too
        np.testing.assert_allclose(value, want[key], rtol=1e-6, err_msg=key)
    for key in want:
        np.testing.assert_allclose(got[key].numpy(), want[key], rtol=1e-6,
                                   err_msg=key)


def test_batch_pack_graph_takes_first_rows():
    x = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    got = batch_pack_graph(const(x), const([2, 4], tf.int32)).numpy()
    np.testing.assert_array_equal(got, np.concatenate([x[0, :2], x[1, :4]]))


# --------------------------------------------------------------------------
# 2. PyramidROIAlign
# --------------------------------------------------------------------------

META_SHAPE = (512, 512, 3)   # canonical size 224/512: levels 2..5 all reachable


def _boxes_for_levels(rng, levels):
    """One box per requested level, log2 argument well away from x.5."""
    out = []
    base = 224.0 / np.sqrt(META_SHAPE[0] * META_SHAPE[1])
    for k in levels:
        u = rng.uniform(-0.3, 0.3)
        s = base * 2.0 ** (k - 4 + u)
        r = rng.uniform(0.6, 1.6)
        h, w = s * np.sqrt(r), s / np.sqrt(r)
        y1 = rng.uniform(-0.1, 1.05 - h)
        x1 = rng.uniform(-0.1, 1.05 - w)
        out.append([y1, x1, y1 + h, x1 + w])
    return np.array(out, np.float32)


def test_pyramid_roi_align_matches_numpy():
    rng = np.random.default_rng(5)
    batch, channels, pool = 2, 3, (5, 4)
    sizes = [(32, 24), (16, 12), (8, 6), (4, 3)]
    fmaps = [rng.normal(size=(batch, h, w, channels)).astype(np.float32)
             for h, w in sizes]
    # Interleaved levels so a sort by level would break the order.
    boxes = np.stack([_boxes_for_levels(rng, [5, 2, 3, 4, 2, 5, 4, 3]),
                      _boxes_for_levels(rng, [3, 3, 2, 5, 4, 2, 4, 5])])
    meta = meta_batch(META_SHAPE, [(0, 0, 512, 512)] * batch)

    levels = ref.roi_levels(boxes, META_SHAPE)
    v = ref.roi_level_values(boxes, META_SHAPE)
    assert np.all(np.abs(np.abs(v - np.round(v)) - 0.5) > 0.05)
    assert set(levels.ravel()) == {2, 3, 4, 5}
    np.testing.assert_array_equal(
        roi_levels_graph(const(boxes), const(META_SHAPE)).numpy(), levels)

    layer = PyramidROIAlign(pool)
    got = layer([const(boxes), const(meta)] + [const(f) for f in fmaps])
    got = np.asarray(got)
    want = ref.pyramid_roi_align(boxes, META_SHAPE, fmaps, pool)
    assert got.shape == (batch, 8) + pool + (channels,)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # Boxes poking out of the image sample the extrapolation value 0.
    assert (want == 0).any()


@pytest.mark.parametrize("kernel", ["tensorflow", "gather"])
def test_pyramid_roi_align_is_continuous_at_the_far_edge(kernel):
    """A box reaching the far edge (y2 = x2 = 1.0) samples the map's last
    row and column, as the NumPy reference does, and a rounding hair beyond
    1.0 (1 + 1e-7, float32's next value) changes nothing: without the
    edge pull-in the last row and column flipped to the extrapolation value
    0 depending on the kernel library's rounding. Boxes clearly outside
    (1.02) still sample 0 there."""
    from mrcnn.layers.roi_align import crop_and_resize_gather, crop_and_resize_kernel
    rng = np.random.default_rng(9)
    pool = (7, 7)
    fmaps = [rng.uniform(1, 2, size=(1, s, s, 2)).astype(np.float32) for s in (32, 16, 8, 4)]
    meta = meta_batch(META_SHAPE, [(0, 0, 512, 512)])
    edge = np.array([[0.40, 0.35, 1.0, 1.0]], np.float32)
    hair = np.nextafter(edge, np.float32(2)).astype(np.float32)
    hair[:, :2] = edge[:, :2]
    out = np.array([[0.40, 0.35, 1.02, 1.02]], np.float32)
    boxes = np.stack([edge, hair, out], axis=1)                 # [1, 3, 4]
    layer = PyramidROIAlign(pool)

    def run():
        return np.asarray(layer([const(boxes), const(meta)] + [const(f) for f in fmaps]))
    if kernel == "gather":
        with crop_and_resize_kernel(crop_and_resize_gather):
            layer = PyramidROIAlign(pool)
            got = run()
    else:
        got = run()
    want = ref.pyramid_roi_align(edge[None], META_SHAPE, fmaps, pool)[0, 0]
    assert (want[-1] > 0.5).all() and (want[:, -1] > 0.5).all()   # the map's values
    np.testing.assert_allclose(got[0, 0], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[0, 1], want, rtol=1e-4, atol=1e-4)
    assert (got[0, 2, -1] == 0).all() and (got[0, 2, :, -1] == 0).all()


def test_roi_levels_round_half_to_even_formula():
    # sqrt(h*w) = base * 2**(k-4+d) for exact d; round(-1.5) = -2, round(0.5) = 0.
    base = 224.0 / 512.0
    sides = base * 2.0 ** np.array([-3.0, -1.2, -0.8, 0.2, 0.7, 1.3, 3.0])
    boxes = np.zeros((1, len(sides), 4), np.float32)
    boxes[0, :, 2] = sides
    boxes[0, :, 3] = sides
    got = roi_levels_graph(const(boxes), const(META_SHAPE)).numpy()[0]
    np.testing.assert_array_equal(got, [2, 3, 3, 4, 5, 5, 5])
    np.testing.assert_array_equal(got, ref.roi_levels(boxes, META_SHAPE)[0])


def test_pyramid_roi_align_zero_padded_boxes_sample_p2_origin():
    # Padding rows (0, 0, 0, 0): log2(0) = -inf clamps to level 2 (as in
    # Matterport), and a zero-size box samples pixel (0, 0) everywhere.
    rng = np.random.default_rng(15)
    fmaps = [rng.normal(size=(1, s, s, 2)).astype(np.float32)
             for s in (16, 8, 4, 2)]
    boxes = np.zeros((1, 3, 4), np.float32)
    boxes[0, 0] = _boxes_for_levels(rng, [3])[0]
    meta = meta_batch(META_SHAPE, [(0, 0, 512, 512)])
    got = np.asarray(PyramidROIAlign((3, 3))(
        [const(boxes), const(meta)] + [const(f) for f in fmaps]))
    np.testing.assert_allclose(
        got[0, 0], ref.crop_and_resize(fmaps[1][0], boxes[0, :1], (3, 3))[0],
        rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[0, 1:],
                               np.broadcast_to(fmaps[0][0, 0, 0], (2, 3, 3, 2)),
                               rtol=1e-6)


# --------------------------------------------------------------------------
# 3. ProposalLayer
# --------------------------------------------------------------------------

def _rpn_inputs(rng, batch, anchors_n):
    logits = rng.normal(size=(batch, anchors_n, 2))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    deltas = rng.normal(size=(batch, anchors_n, 4))
    anchors = np.stack([random_boxes(rng, anchors_n, lo=-0.1, hi=1.1,
                                     min_size=0.05, max_size=0.35)
                        for _ in range(batch)])
    return (probs.astype(np.float32), deltas.astype(np.float32),
            anchors.astype(np.float32))


@pytest.mark.parametrize("pre_nms_limit,proposal_count", [(120, 30), (40, 60)])
def test_proposal_layer_matches_numpy(pre_nms_limit, proposal_count):
    rng = np.random.default_rng(6 + pre_nms_limit)
    probs, deltas, anchors = _rpn_inputs(rng, 2, 300)
    layer = ProposalLayer(proposal_count, 0.5, rpn_bbox_std_dev=STD,
                          pre_nms_limit=pre_nms_limit)
    got = np.asarray(layer([const(probs), const(deltas), const(anchors)]))
    want = ref.propose(probs, deltas, anchors, proposal_count, 0.5, STD,
                       pre_nms_limit)
    assert got.shape == (2, proposal_count, 4)
    np.testing.assert_allclose(got, want, atol=1e-5)
    kept = (np.abs(want).sum(-1) > 0).sum(-1)
    if proposal_count > pre_nms_limit:
        assert (kept < pre_nms_limit).all()     # NMS removed some, zero padded
        assert (want[:, -1] == 0).all()
    else:
        assert (kept == proposal_count).all()
    assert (got >= 0).all() and (got <= 1).all()
    assert ((got == 0) | (got == 1)).any()     # clipping happened


def test_proposal_layer_reads_config():
    class Cfg:
        RPN_BBOX_STD_DEV = np.array([0.2, 0.05, 0.3, 0.1])
        PRE_NMS_LIMIT = 25

    rng = np.random.default_rng(9)
    probs, deltas, anchors = _rpn_inputs(rng, 1, 100)
    got = np.asarray(ProposalLayer(20, 0.6, config=Cfg())(
        [const(probs), const(deltas), const(anchors)]))
    want = ref.propose(probs, deltas, anchors, 20, 0.6, Cfg.RPN_BBOX_STD_DEV,
                       25)
    np.testing.assert_allclose(got, want, atol=1e-5)


# --------------------------------------------------------------------------
# 4. DetectionLayer
# --------------------------------------------------------------------------

def _detection_inputs(rng, n, k):
    rois = random_boxes(rng, n, min_size=0.1, max_size=0.4)
    logits = rng.normal(0, 2.5, size=(n, k))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    deltas = rng.normal(0, 1, size=(n, k, 4))
    return rois, probs.astype(np.float32), deltas.astype(np.float32)


def _run_detection(rois, probs, deltas, meta, **kw):
    layer = DetectionLayer(bbox_std_dev=STD, **kw)
    return np.asarray(layer([const(rois), const(probs), const(deltas),
                             const(meta)]))


def test_detection_layer_matches_numpy_per_class_nms():
    rng = np.random.default_rng(10)
    n, k = 60, 4
    windows = [(10, 20, 100, 110), (0, 0, 128, 128)]
    meta = meta_batch((128, 128, 3), windows, k)
    ins = [_detection_inputs(rng, n, k) for _ in windows]
    rois, probs, deltas = (np.stack(x) for x in zip(*ins))
    # Two ROIs of image 0 on the same box with different confident classes
    # (must both survive) and a third of the same class as the first
    # (must be suppressed).
    rois[0, :3] = [0.3, 0.3, 0.6, 0.6]
    deltas[0, :3] = 0
    probs[0, :3] = 0.0
    probs[0, 0, 1], probs[0, 0, 0] = 0.99, 0.01
    probs[0, 1, 2], probs[0, 1, 0] = 0.98, 0.02
    probs[0, 2, 1], probs[0, 2, 0] = 0.97, 0.03
    kw = dict(min_confidence=0.5, max_instances=20, nms_threshold=0.3)
    got = _run_detection(rois, probs, deltas, meta, **kw)
    assert got.shape == (2, 20, 6)
    for b in range(2):
        window = ref.detection_window(windows[b], (128, 128))
        want = ref.refine_detections(rois[b], probs[b], deltas[b], window,
                                     STD, **kw)
        np.testing.assert_allclose(got[b], want, atol=1e-5, err_msg=str(b))
    scores = got[0, :, 5]
    assert np.isclose(scores, 0.99).sum() == 1
    assert np.isclose(scores, 0.98).sum() == 1
    assert not np.isclose(scores, 0.97).any()
    # Scores sorted descending, padding rows all zero.
    real = got[0, :, 4] > 0
    assert np.all(np.diff(scores[real]) <= 0)
    assert (got[0, ~real] == 0).all()
    # Boxes of image 0 lie inside its normalised window.
    w = ref.detection_window(windows[0], (128, 128))
    assert (got[0, real, 0] >= w[0] - 1e-6).all()
    assert (got[0, real, 2] <= w[2] + 1e-6).all()


def test_detection_layer_keeps_top_max_instances():
    rng = np.random.default_rng(11)
    rois, probs, deltas = _detection_inputs(rng, 80, 3)
    meta = meta_batch((64, 64, 3), [(0, 0, 64, 64)], 3)
    got = _run_detection(rois[None], probs[None], deltas[None], meta,
                         min_confidence=0.3, max_instances=5,
                         nms_threshold=0.5)[0]
    window = ref.detection_window((0, 0, 64, 64), (64, 64))
    want = ref.refine_detections(rois, probs, deltas, window, STD, 0.3, 5, 0.5)
    full = ref.refine_detections(rois, probs, deltas, window, STD, 0.3, 80,
                                 0.5)
    assert (full[:, 4] > 0).sum() > 5   # truncation really happens
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_detection_layer_reads_config():
    from mrcnn.config import Config

    class Cfg(Config):
        NAME = "graph_ops"
        NUM_CLASSES = 3
        BBOX_STD_DEV = np.array([0.2, 0.1, 0.1, 0.3])
        DETECTION_MIN_CONFIDENCE = 0.4
        DETECTION_MAX_INSTANCES = 7
        DETECTION_NMS_THRESHOLD = 0.45

    cfg = Cfg()
    rng = np.random.default_rng(16)
    rois, probs, deltas = _detection_inputs(rng, 40, 3)
    meta = meta_batch((64, 64, 3), [(4, 0, 60, 64)], 3)
    got = np.asarray(DetectionLayer(config=cfg)(
        [const(rois[None]), const(probs[None]), const(deltas[None]),
         const(meta)]))[0]
    window = ref.detection_window((4, 0, 60, 64), (64, 64))
    want = ref.refine_detections(rois, probs, deltas, window, cfg.BBOX_STD_DEV,
                                 0.4, 7, 0.45)
    assert got.shape == (7, 6) and (want[:, 4] > 0).sum() >= 3
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_detection_layer_no_detections_is_all_zero():
    rng = np.random.default_rng(12)
    rois, probs, deltas = _detection_inputs(rng, 20, 3)
    probs[:10] = [0.9, 0.05, 0.05]        # background wins
    probs[10:] = [0.3, 0.4, 0.3]          # below min_confidence
    meta = meta_batch((64, 64, 3), [(0, 0, 64, 64)], 3)
    got = _run_detection(rois[None], probs[None], deltas[None], meta,
                         min_confidence=0.7, max_instances=10,
                         nms_threshold=0.3)
    assert got.shape == (1, 10, 6)
    assert (got == 0).all()


# --------------------------------------------------------------------------
# 5. DetectionTargetLayer
# --------------------------------------------------------------------------

MINI = (20, 16)
MASK = (8, 10)   # (MINI-1)/(MASK-1) lerp steps in 1/7, 1/9: never exactly 0.5


def _blob_masks(rng, g):
    yy, xx = np.mgrid[:MINI[0], :MINI[1]]
    masks = np.zeros(MINI + (g,), bool)
    for i in range(g):
        cy, cx = rng.uniform(5, 15), rng.uniform(4, 12)
        ry, rx = rng.uniform(4, 9), rng.uniform(3, 7)
        masks[:, :, i] = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return masks


def _targets_case():
    rng = np.random.default_rng(13)
    G = 6
    gt_boxes = np.zeros((2, G, 4), np.float32)
    gt_ids = np.zeros((2, G), np.int32)
    gt_masks = np.stack([_blob_masks(rng, G), _blob_masks(rng, G)])
    gt = np.array([[0.05, 0.05, 0.30, 0.35],
                   [0.10, 0.55, 0.40, 0.90],
                   [0.55, 0.10, 0.90, 0.40]], np.float32)
    crowd = np.array([0.60, 0.60, 0.95, 0.95], np.float32)
    for b in range(2):
        gt_boxes[b, :3] = gt
        gt_ids[b, :3] = [1, 3, 2]
        gt_boxes[b, 3] = crowd
        gt_ids[b, 3] = -1            # rows 4, 5: zero padding
    negatives = np.array([[0.42, 0.42, 0.52, 0.52],
                          [0.00, 0.40, 0.05, 0.50],
                          [0.45, 0.00, 0.52, 0.08],
                          [0.92, 0.00, 0.99, 0.08],
                          [0.30, 0.92, 0.45, 0.99]], np.float32)
    crowdish = np.array([crowd,                              # IoU 1 with crowd
                         [0.55, 0.55, 0.70, 0.70]], np.float32)  # partial
    # Image 0: three exact gt boxes, negatives, crowd-touching boxes, padding.
    # Rows 0-2 gt, 3-7 negatives, 8-9 crowd-touching, 10-12 zero padding.
    p0 = np.concatenate([gt, negatives, crowdish, np.zeros((3, 4))])
    # Image 1: exact gt boxes plus jittered copies (6 positive candidates);
    # rows 0-5 positive candidates, 6-10 negatives, 11-12 crowd-touching.
    jitter = gt + rng.uniform(-0.02, 0.02, size=gt.shape)
    p1 = np.concatenate([gt, jitter, negatives, crowdish])
    proposals = np.stack([p0, p1]).astype(np.float32)
    return proposals, gt_ids, gt_boxes, gt_masks


def _row_index(row, table):
    d = np.abs(table - row).max(axis=1)
    i = int(np.argmin(d))
    assert d[i] < 1e-6, row
    return i


def test_detection_target_layer_constructed_case():
    tf.random.set_seed(0)
    proposals, gt_ids, gt_boxes, gt_masks = _targets_case()
    T, ratio = 12, 0.33
    layer = DetectionTargetLayer(train_rois_per_image=T,
                                 roi_positive_ratio=ratio, bbox_std_dev=STD,
                                 mask_shape=MASK, use_mini_mask=True)
    rois, cls, bbox, masks = (np.asarray(x) for x in layer(
        [const(proposals), const(gt_ids, tf.int32), const(gt_boxes),
         const(gt_masks, tf.bool)]))
    assert rois.shape == (2, T, 4) and cls.shape == (2, T)
    assert bbox.shape == (2, T, 4) and masks.shape == (2, T) + MASK
    crowd = gt_boxes[0, 3]
    cap = int(T * ratio)                                    # 3
    for b in range(2):
        real = np.abs(rois[b]).sum(-1) > 0
        n_real = int(real.sum())
        pos = cls[b] > 0
        n_pos = int(pos.sum())
        assert (~real[n_real:]).all()       # padding rows only at the end
        assert np.all(pos[:n_pos]) and not pos[n_pos:].any()  # positives first
        # Matterport's counts: cap on positives, then int(P / r) - P negatives.
        assert n_pos == cap
        n_neg_want = min(int(1.0 / ratio * n_pos) - n_pos, 5)
        assert n_real - n_pos == n_neg_want
        assert n_pos / n_real <= ratio + 1.0 / n_real
        # No ROI touches the crowd box; padding rows are all zero.
        ov_crowd = ref.overlaps(rois[b, real], crowd[None])[:, 0]
        assert (ov_crowd < 0.001).all()
        assert (rois[b, ~real] == 0).all() and (bbox[b, n_pos:] == 0).all()
        assert (masks[b, n_pos:] == 0).all() and (cls[b, n_pos:] == 0).all()
        # Positives: class, box deltas and mask of their best gt box.
        gts = gt_boxes[b, :3]
        for i in np.where(pos)[0]:
            iou = ref.overlaps(rois[b, i][None], gts)[0]
            j = int(np.argmax(iou))
            assert iou[j] >= 0.5
            assert cls[b, i] == gt_ids[b, j]
            want_d = ref.box_refinement(rois[b, i][None], gts[j][None])[0] / STD
            np.testing.assert_allclose(bbox[b, i], want_d, atol=1e-4)
            gh, gw = gts[j, 2] - gts[j, 0], gts[j, 3] - gts[j, 1]
            local = (rois[b, i] - gts[j, [0, 1, 0, 1]]) / [gh, gw, gh, gw]
            soft = ref.crop_and_resize(gt_masks[b][:, :, j:j + 1].astype(float),
                                       local[None], MASK)[0, :, :, 0]
            sure = np.abs(soft - 0.5) > 1e-3
            np.testing.assert_array_equal(masks[b, i][sure],
                                          np.round(soft)[sure])
            if np.allclose(rois[b, i], gts[j]):
                np.testing.assert_allclose(bbox[b, i], 0, atol=1e-5)
                assert sure.all()
                assert masks[b, i].any() and not masks[b, i].all()
        # Negatives come from the 5 clear negatives only.
        for i in range(n_pos, n_real):
            _row_index(rois[b, i], proposals[b, 3:8] if b == 0
                       else proposals[b, 6:11])
    # Image 0 has exactly its 3 gt boxes as positives.
    pos0 = sorted(_row_index(r, gt_boxes[0, :3]) for r in rois[0, :3])
    assert pos0 == [0, 1, 2]


def _empty_image_case():
    """One image with no gt box at all (rows zero padded) and 9 proposals."""
    rng = np.random.default_rng(31)
    y1x1 = rng.uniform(0.0, 0.6, size=(9, 2))
    hw = rng.uniform(0.1, 0.3, size=(9, 2))
    props = np.concatenate([y1x1, y1x1 + hw], axis=1).astype(np.float32)
    proposals = np.concatenate([props, np.zeros((3, 4), np.float32)])[None]
    return (proposals, np.zeros((1, 4), np.int32), np.zeros((1, 4, 4), np.float32),
            np.zeros((1,) + MINI + (4,), bool))


@pytest.mark.parametrize("rule, want_rois", [("ratio", 0), ("fill", 9)])
def test_detection_target_layer_empty_image(rule, want_rois):
    # "ratio" (Matterport): no positive -> no negative, the heads see no ROI;
    # "fill": all 9 proposals are sampled as background (T = 12 > 9).
    tf.random.set_seed(0)
    proposals, gt_ids, gt_boxes, gt_masks = _empty_image_case()
    layer = DetectionTargetLayer(train_rois_per_image=12, roi_positive_ratio=0.33,
                                 bbox_std_dev=STD, mask_shape=MASK,
                                 use_mini_mask=True, roi_sampling=rule)
    rois, cls, bbox, masks = (np.asarray(x) for x in layer(
        [const(proposals), const(gt_ids, tf.int32), const(gt_boxes),
         const(gt_masks, tf.bool)]))
    real = np.abs(rois[0]).sum(-1) > 0
    assert int(real.sum()) == want_rois
    assert (cls == 0).all() and (bbox == 0).all() and (masks == 0).all()
    got = sorted(_row_index(r, proposals[0, :9]) for r in rois[0, real])
    assert got == list(range(want_rois))


def test_detection_target_layer_fill_counts():
    # "fill": positives capped at int(T * ratio) = 3 as with "ratio", then
    # negatives up to T - 3 = 9, bounded by the 5 clear negatives available.
    tf.random.set_seed(0)
    proposals, gt_ids, gt_boxes, gt_masks = _targets_case()
    T = 12
    layer = DetectionTargetLayer(train_rois_per_image=T, roi_positive_ratio=0.33,
                                 bbox_std_dev=STD, mask_shape=MASK,
                                 use_mini_mask=True, roi_sampling="fill")
    rois, cls, _, _ = (np.asarray(x) for x in layer(
        [const(proposals), const(gt_ids, tf.int32), const(gt_boxes),
         const(gt_masks, tf.bool)]))
    for b in range(2):
        real = np.abs(rois[b]).sum(-1) > 0
        assert int((cls[b] > 0).sum()) == 3
        assert int(real.sum()) == 3 + 5
    with pytest.raises(ValueError, match="ROI_SAMPLING"):
        DetectionTargetLayer(train_rois_per_image=T, roi_sampling="balanced")
    assert layer.get_config()["roi_sampling"] == "fill"


def test_detection_target_layer_full_masks():
    H = W = 24
    yy, xx = np.mgrid[:H, :W]
    full = np.zeros((1, H, W, 2), bool)
    full[0, :, :, 0] = (yy - 6) ** 2 + (xx - 7) ** 2 <= 20
    full[0, :, :, 1] = (np.abs(yy - 16) <= 5) & (np.abs(xx - 15) <= 3)
    px = np.array([[1, 2, 12, 13], [10, 11, 23, 20]])
    gt_boxes = ref.norm_boxes(px, (H, W))[None]
    gt_ids = np.array([[2, 1]], np.int32)
    proposals = np.concatenate([gt_boxes[0], [[0.9, 0.0, 0.99, 0.1]]])[None]
    layer = DetectionTargetLayer(train_rois_per_image=6,
                                 roi_positive_ratio=0.5, bbox_std_dev=STD,
                                 mask_shape=(7, 9), use_mini_mask=False)
    rois, cls, bbox, masks = (np.asarray(x) for x in layer(
        [const(proposals), const(gt_ids, tf.int32), const(gt_boxes),
         const(full, tf.bool)]))
    for i in range(2):
        j = _row_index(rois[0, i], gt_boxes[0])
        assert cls[0, i] == gt_ids[0, j]
        np.testing.assert_allclose(bbox[0, i], 0, atol=1e-5)
        soft = ref.crop_and_resize(full[0][:, :, j:j + 1].astype(float),
                                   gt_boxes[0, j][None], (7, 9))[0, :, :, 0]
        sure = np.abs(soft - 0.5) > 1e-3
        assert sure.mean() > 0.9
        np.testing.assert_array_equal(masks[0, i][sure], np.round(soft)[sure])
    assert cls[0, 2] == 0 and (bbox[0, 2] == 0).all()
    np.testing.assert_allclose(rois[0, 2], proposals[0, 2])
    assert (rois[0, 3:] == 0).all()


# --------------------------------------------------------------------------
# 6. losses
# --------------------------------------------------------------------------

def test_rpn_class_loss_matches_numpy():
    rng = np.random.default_rng(20)
    match = rng.choice([-1, 0, 1], size=(2, 30, 1)).astype(np.int32)
    logits = rng.normal(size=(2, 30, 2)).astype(np.float32)
    got = float(rpn_class_loss_graph(const(match, tf.int32), const(logits)))
    m = match[..., 0].ravel()
    sel = m != 0
    want = ref.softmax_cross_entropy(logits.reshape(-1, 2)[sel],
                                     (m[sel] == 1).astype(int)).mean()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    zero = float(rpn_class_loss_graph(const(np.zeros_like(match), tf.int32),
                                      const(logits)))
    assert zero == 0.0


def test_rpn_bbox_loss_pairs_ith_positive_with_ith_target_row():
    rng = np.random.default_rng(21)
    match = np.zeros((2, 12, 1), np.int32)
    match[0, [2, 5, 7], 0] = 1
    match[1, [0, 11], 0] = 1
    match[0, [1, 3], 0] = -1
    target = rng.normal(size=(2, 6, 4)).astype(np.float32)
    target[:, 3:] = 0                           # unused rows (padding)
    rpn_bbox = rng.normal(size=(2, 12, 4)).astype(np.float32) * 2
    got = float(rpn_bbox_loss_graph(None, const(target), const(match, tf.int32),
                                    const(rpn_bbox)))
    pairs = []
    for b in range(2):
        for i, a in enumerate(np.where(match[b, :, 0] == 1)[0]):
            pairs.append(ref.smooth_l1(target[b, i], rpn_bbox[b, a]))
    want = np.mean(pairs)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    zero = float(rpn_bbox_loss_graph(None, const(target),
                                     const(np.zeros_like(match), tf.int32),
                                     const(rpn_bbox)))
    assert zero == 0.0


def test_mrcnn_class_loss_masks_inactive_class_predictions():
    rng = np.random.default_rng(22)
    B, T, K = 2, 8, 4
    logits = rng.normal(size=(B, T, K)).astype(np.float32)
    logits[0, :3, 2] += 5.0                      # predicted class 2 (inactive)
    target = rng.integers(0, K, size=(B, T)).astype(np.int32)
    target[target == 2] = 1
    active = np.array([[1, 1, 0, 1]] * B, np.float32)
    got = float(mrcnn_class_loss_graph(const(target, tf.int32), const(logits),
                                       const(active)))
    ce = ref.softmax_cross_entropy(logits.reshape(-1, K), target.ravel())
    w = active[0][np.argmax(logits.reshape(-1, K), axis=1)]
    assert (w == 0).sum() >= 3
    want = (ce * w).sum() / w.sum()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    none_active = float(mrcnn_class_loss_graph(
        const(target, tf.int32), const(logits), const(np.zeros_like(active))))
    assert none_active == 0.0


def test_mrcnn_bbox_loss_uses_gt_class_deltas():
    rng = np.random.default_rng(23)
    B, T, K = 2, 5, 3
    target_ids = np.array([[1, 0, 2, 0, 0], [0, 2, 0, 0, 1]], np.int32)
    target_bbox = rng.normal(size=(B, T, 4)).astype(np.float32)
    pred = rng.normal(size=(B, T, K, 4)).astype(np.float32) * 2
    got = float(mrcnn_bbox_loss_graph(const(target_bbox),
                                      const(target_ids, tf.int32),
                                      const(pred)))
    terms = [ref.smooth_l1(target_bbox[b, t], pred[b, t, target_ids[b, t]])
             for b in range(B) for t in range(T) if target_ids[b, t] > 0]
    np.testing.assert_allclose(got, np.mean(terms), rtol=1e-5)
    zero = float(mrcnn_bbox_loss_graph(const(target_bbox),
                                       const(np.zeros_like(target_ids),
                                             tf.int32), const(pred)))
    assert zero == 0.0


def test_mrcnn_mask_loss_uses_gt_class_mask():
    rng = np.random.default_rng(24)
    B, T, h, w, K = 2, 4, 5, 6, 3
    target_ids = np.array([[2, 0, 1, 0], [0, 0, 2, 0]], np.int32)
    target_masks = (rng.uniform(size=(B, T, h, w)) > 0.5).astype(np.float32)
    pred = rng.uniform(0.02, 0.98, size=(B, T, h, w, K)).astype(np.float32)
    got = float(mrcnn_mask_loss_graph(const(target_masks),
                                      const(target_ids, tf.int32),
                                      const(pred)))
    terms = [ref.binary_cross_entropy(target_masks[b, t],
                                      pred[b, t, :, :, target_ids[b, t]])
             for b in range(B) for t in range(T) if target_ids[b, t] > 0]
    np.testing.assert_allclose(got, np.mean(terms), rtol=1e-5)
    zero = float(mrcnn_mask_loss_graph(const(target_masks),
                                       const(np.zeros_like(target_ids),
                                             tf.int32), const(pred)))
    assert zero == 0.0


def test_apply_box_deltas_graph_caps_log_scale():
    """Huge log(dh)/log(dw) (a diverging head) stay finite: capped at
    log(1000/16); ordinary deltas are untouched."""
    import tensorflow as tf
    from mrcnn.layers.box_ops import BBOX_XFORM_CLIP, apply_box_deltas_graph
    boxes = tf.constant([[0.0, 0.0, 0.1, 0.2], [0.4, 0.4, 0.6, 0.6]])
    deltas = tf.constant([[0.0, 0.0, 500.0, 90.0], [0.0, 0.0, 0.5, -0.5]])
    out = apply_box_deltas_graph(boxes, deltas).numpy()
    assert np.all(np.isfinite(out))
    g = np.exp(BBOX_XFORM_CLIP)
    np.testing.assert_allclose(out[0], [0.05 - 0.05 * g, 0.1 - 0.1 * g,
                                        0.05 + 0.05 * g, 0.1 + 0.1 * g], rtol=1e-5)
    h, w = 0.2 * np.exp(0.5), 0.2 * np.exp(-0.5)
    np.testing.assert_allclose(out[1], [0.5 - h / 2, 0.5 - w / 2, 0.5 + h / 2,
                                        0.5 + w / 2], rtol=1e-5)


# --------------------------------------------------------------------------
# the references themselves: hand-computed values, no product imports
# --------------------------------------------------------------------------

def test_numpy_refs_import_nothing_from_mrcnn():
    import ast
    tree = ast.parse(open(ref.__file__).read())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] == "mrcnn"], names


def test_numpy_refs_box_helpers_hand_computed():
    # centre y 5 -> 5 + 0.1 * 10 = 6, height 10 -> 20: y 6 +- 10
    np.testing.assert_allclose(
        ref.apply_box_deltas([[0, 0, 10, 10]], [[0.1, 0.0, np.log(2.0), 0.0]]),
        [[-4, 0, 16, 10]])
    np.testing.assert_allclose(
        ref.box_refinement([[0, 0, 10, 10]], [[-4, 0, 16, 10]]),
        [[0.1, 0.0, np.log(2.0), 0.0]])
    # IoU of [0,0,10,10] and [0,1,10,11]: 90 / 110
    assert ref.box_iou([0, 0, 10, 10], [0, 1, 10, 11]) == pytest.approx(90 / 110)
    boxes = [[0, 0, 10, 10], [0, 1, 10, 11], [20, 20, 30, 30]]
    assert ref.non_max_suppression(boxes, [0.9, 0.8, 0.7], 0.5).tolist() == [0, 2]
    assert ref.non_max_suppression(boxes, [0.9, 0.8, 0.7], 0.85).tolist() == [0, 1, 2]
    assert ref.non_max_suppression(boxes, [0.7, 0.8, 0.9], 0.5).tolist() == [2, 1]
    np.testing.assert_allclose(ref.norm_boxes([[0, 0, 11, 21]], (11, 21)),
                               [[0, 0, 1, 1]])
    np.testing.assert_array_equal(ref.denorm_boxes([[0, 0, 1, 1]], (11, 21)),
                                  [[0, 0, 11, 21]])
