"""paste_masks (the fast mask pasting of detect()) against unmold_mask (the
skimage reference, Matterport's per-detection loop), by hand-computed values,
and detect() against a reference pipeline built from the Keras model."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import numpy_refs as ref

from mrcnn.core.images import resize
from mrcnn.core.masks import _linear_weights, paste_masks

# Documented tolerance: paste_masks resamples in float32, skimage in float64;
# a pixel may differ only where skimage's value is this close to 0.5.
TOL = 1e-5


def _reference(masks, boxes, shape):
    """Matterport's per-detection unmold_mask, written with skimage in
    tests/mrcnn/numpy_refs.py (not mrcnn's)."""
    return np.stack([ref.unmold_mask(m, b, shape) for m, b in zip(masks, boxes)],
                    axis=-1)


def _reference_values(mask, box, shape):
    """skimage's float resampled mask inside the image, clipped like
    unmold_mask (None for an empty box)."""
    H, W = shape[:2]
    y1, x1, y2, x2 = [int(v) for v in box]
    if y2 <= y1 or x2 <= x1:
        return None
    full = np.full((H, W), np.nan)
    m = resize(np.asarray(mask, np.float32), (y2 - y1, x2 - x1))
    cy1, cx1, cy2, cx2 = max(y1, 0), max(x1, 0), min(y2, H), min(x2, W)
    if cy2 > cy1 and cx2 > cx1:
        full[cy1:cy2, cx1:cx2] = m[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1]
    return full


def _random_case(rng, n, H, W, smooth=True):
    y1 = rng.integers(-H // 4, H, n)
    x1 = rng.integers(-W // 4, W, n)
    h = rng.integers(1, max(2, int(H * 0.9)), n)
    w = rng.integers(1, max(2, int(W * 0.9)), n)
    boxes = np.stack([y1, x1, y1 + h, x1 + w], axis=1)
    masks = rng.uniform(0, 1, (n, 28, 28)).astype(np.float32)
    if smooth:  # network-like masks: smooth, many values near 0.5
        masks = np.stack([ndi.gaussian_filter(m, 2.0) for m in masks])
        lo = masks.min(axis=(1, 2), keepdims=True)
        hi = masks.max(axis=(1, 2), keepdims=True)
        masks = ((masks - lo) / (hi - lo)).astype(np.float32)
    return masks, boxes


def _assert_matches_reference(masks, boxes, shape):
    out = paste_masks(masks, boxes, shape)
    ref = _reference(masks, boxes, shape)
    assert out.shape == ref.shape and out.dtype == np.bool_
    diff = np.argwhere(out != ref)
    for y, x, i in diff:  # only threshold ties may differ
        v = _reference_values(masks[i], boxes[i], shape)[y, x]
        assert abs(v - 0.5) < TOL, (i, y, x, v)
    return out, ref, len(diff)


def test_linear_weights_equal_skimage_resize_of_unit_vectors():
    for n_in, n_out in [(28, 5), (28, 28), (28, 97), (3, 8), (7, 2)]:
        w = _linear_weights(n_in, n_out)
        assert w.shape == (n_out, n_in) and w.dtype == np.float32
        eye = np.eye(n_in, dtype=np.float32)
        # resizing column k of the identity gives weight column k; with
        # clip=True off the value range (0..1) is already respected
        cols = np.stack([resize(eye[:, k:k + 1], (n_out, 1))[:, 0]
                         for k in range(n_in)], axis=1)
        np.testing.assert_allclose(w, cols, atol=1e-6)


def test_hand_computed_upsampling():
    # 2x2 -> 4x4: output j reads (j + .5) / 2 - .5 = -.25, .25, .75, 1.25;
    # row/col weights on input 0 are .75, .75, .25, 0 (outside taps are 0).
    m = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    np.testing.assert_allclose(_linear_weights(2, 4)[:, 0],
                               [0.75, 0.75, 0.25, 0.0])
    out = paste_masks(m[None], np.array([[1, 2, 5, 6]]), (8, 8))[:, :, 0]
    expected = np.zeros((8, 8), bool)
    expected[1:3, 2:4] = True      # .75 * .75 = .5625 >= .5; .75 * .25 < .5
    assert np.array_equal(out, expected)
    assert np.array_equal(out, ref.unmold_mask(m, (1, 2, 5, 6), (8, 8)))


def test_constant_masks_follow_skimage_clipping():
    # upsampling interpolates towards 0 at the box border (.6 * .75 = .45),
    # but skimage clips the result to the input range: the box stays full
    # (28 -> 100: the first row reads position -.36, .6 * .64 = .38 < .5)
    boxes = np.array([[5, 6, 105, 116], [0, 0, 10, 10], [5, 5, 6, 6]])
    masks = np.stack([np.full((28, 28), v, np.float32) for v in (0.6, 0.4, 0.5)])
    out = paste_masks(masks, boxes, (120, 130))
    assert out[:, :, 0].sum() == 100 * 110 and out[5:105, 6:116, 0].all()
    assert not out[:, :, 1].any()
    assert out[:, :, 2].sum() == 1 and out[5, 5, 2]
    assert np.array_equal(out, _reference(masks, boxes, (120, 130)))


@pytest.mark.parametrize("shape,n,seed", [((60, 80), 12, 0), ((128, 128), 10, 1),
                                          ((200, 90), 20, 2), ((33, 257), 8, 3)])
def test_random_masks_and_boxes_match_unmold_mask(shape, n, seed):
    rng = np.random.default_rng(seed)
    masks, boxes = _random_case(rng, n, *shape)
    out, ref, ndiff = _assert_matches_reference(masks, boxes, shape)
    assert ndiff <= 2
    assert out.any()  # the case is not trivially empty
    raw, rboxes = _random_case(rng, n, *shape, smooth=False)
    _assert_matches_reference(raw, rboxes, shape)


def test_boxes_outside_empty_and_degenerate():
    m = np.ones((4, 28, 28), np.float32)
    boxes = np.array([[-10, -10, -2, -2],     # entirely outside
                      [5, 5, 5, 9],           # zero height
                      [8, 9, 3, 12],          # inverted
                      [-5, 50, 10, 70]])      # partly outside (clipped)
    out = paste_masks(m, boxes, (50, 60, 3))
    assert out.shape == (50, 60, 4)
    assert not out[:, :, :3].any()
    assert out[:, :, 3].sum() == 10 * 10 and out[0:10, 50:60, 3].all()
    empty = paste_masks(np.zeros((0, 28, 28)), np.zeros((0, 4)), (10, 12))
    assert empty.shape == (10, 12, 0) and empty.dtype == np.bool_


def test_output_is_c_contiguous_like_stacked_masks():
    rng = np.random.default_rng(5)
    masks, boxes = _random_case(rng, 3, 40, 50)
    out = paste_masks(masks, boxes, (40, 50, 3))
    assert out.flags["C_CONTIGUOUS"]


def test_large_image_many_detections_match_reference():
    rng = np.random.default_rng(7)
    masks, boxes = _random_case(rng, 30, 512, 512)
    _, ref, ndiff = _assert_matches_reference(masks, boxes, (512, 512))
    assert ndiff <= 5 and ref.sum() > 10000


# ------------------------------------------------------------ detect() fast path
def test_detect_fast_path_equals_keras_model_reference(tmp_path):
    """detect() (graph-side class-mask gather, cached compiled function,
    paste_masks) equals Matterport's pipeline written out by hand: the Keras
    model's seven outputs, per-detection class masks picked in NumPy and
    pasted one by one with unmold_mask."""
    import keras
    from mrcnn.core.boxes import denorm_boxes, norm_boxes
    from mrcnn.model import MaskRCNN
    from phone.config import PhoneScratchInferenceConfig

    class Cfg(PhoneScratchInferenceConfig):
        IMAGE_MIN_DIM = 64
        IMAGE_MAX_DIM = 64
        POST_NMS_ROIS_INFERENCE = 40
        DETECTION_MAX_INSTANCES = 8
        DETECTION_MIN_CONFIDENCE = 0.0

    keras.utils.set_random_seed(3)
    model = MaskRCNN("inference", Cfg(), str(tmp_path))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (48, 60, 3)).astype(np.uint8)  # padded to 64
    r = model.detect([image])[0]
    r2 = model.detect([image])[0]
    assert model.trace_count == 1
    assert set(model.last_detect_timing) == {"mold_s", "model_s", "unmold_s",
                                             "total_s"}

    molded, metas, windows = model.mold_inputs([image])
    anchors = model.get_anchors(molded[0].shape)[None]
    outs = model.keras_model([molded, metas, anchors], training=False)
    detections, mrcnn_mask = np.asarray(outs[0])[0], np.asarray(outs[3])[0]
    zero = np.flatnonzero(detections[:, 4] == 0)
    n = zero[0] if zero.size else len(detections)
    class_ids = detections[:n, 4].astype(np.int32)
    w = norm_boxes(windows[0], molded[0].shape[:2])
    boxes = (detections[:n, :4] - w[[0, 1, 0, 1]]) / (
        np.array([w[2] - w[0], w[3] - w[1]] * 2))
    boxes = denorm_boxes(boxes, image.shape[:2]).astype(np.int32)
    keep = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) > 0
    idx = np.flatnonzero(keep)
    ref_masks = np.stack([ref.unmold_mask(mrcnn_mask[i, :, :, class_ids[i]],
                                      boxes[i], image.shape) for i in idx], -1) \
        if len(idx) else np.zeros(image.shape[:2] + (0,), bool)

    assert len(idx) >= 1
    np.testing.assert_array_equal(r["rois"], boxes[keep])
    np.testing.assert_array_equal(r["class_ids"], class_ids[keep])
    np.testing.assert_allclose(r["scores"], detections[:n, 5][keep], rtol=1e-6)
    assert r["masks"].shape == (48, 60, len(idx)) and r["masks"].dtype == bool
    # the graph-side gather is exact; pasting may only differ at 0.5 ties
    assert (r["masks"] != ref_masks).sum() <= 2
    for k in ("rois", "class_ids", "scores", "masks"):
        np.testing.assert_array_equal(r[k], r2[k])
