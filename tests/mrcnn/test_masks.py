import numpy as np
import numpy_refs as ref

from mrcnn.core.boxes import extract_bboxes
from mrcnn.core.masks import expand_mask, minimize_mask, paste_masks, unmold_mask


def _shapes():
    m = np.zeros((64, 80, 2), bool)
    m[5:25, 10:50, 0] = True
    yy, xx = np.mgrid[:64, :80]
    m[:, :, 1] = ((yy - 40) / 15.0) ** 2 + ((xx - 55) / 20.0) ** 2 <= 1
    return m


def test_minimize_expand_round_trip():
    m = _shapes()
    b = extract_bboxes(m)
    mini = minimize_mask(b, m, (28, 28))
    assert mini.shape == (28, 28, 2) and mini.dtype == np.bool_
    assert mini[:, :, 0].all()        # a full rectangle fills its mini mask
    back = expand_mask(b, mini, (64, 80, 3))
    assert back.shape == (64, 80, 2)
    assert np.array_equal(back[:, :, 0], m[:, :, 0])
    inter = np.logical_and(back[:, :, 1], m[:, :, 1]).sum()
    union = np.logical_or(back[:, :, 1], m[:, :, 1]).sum()
    assert inter / union > 0.93


def test_unmold_mask_threshold_and_placement():
    full = unmold_mask(np.full((28, 28), 0.6, np.float32), (10, 20, 30, 40), (50, 60))
    assert full.dtype == np.bool_ and full.shape == (50, 60)
    assert full.sum() == 400 and full[10:30, 20:40].all()
    assert not unmold_mask(np.full((28, 28), 0.4), (10, 20, 30, 40), (50, 60)).any()
    half = np.zeros((28, 28), np.float32)
    half[:, :14] = 1.0
    m = unmold_mask(half, (10, 10, 30, 50), (50, 60))
    assert m[10:30, 10:30].all() and not m[:, 30:].any()
    # box partly outside the image is clipped
    m = unmold_mask(np.ones((28, 28)), (-5, 50, 10, 70), (50, 60))
    assert m.sum() == 10 * 10


def test_paste_masks_equals_unmold():
    rng = np.random.default_rng(0)
    masks = rng.uniform(0, 1, (3, 28, 28)).astype(np.float32)
    boxes = np.array([[0, 0, 20, 30], [5, 7, 45, 33], [30, 40, 70, 90]])
    out = paste_masks(masks, boxes, (60, 80, 3))
    assert out.shape == (60, 80, 3) and out.dtype == np.bool_
    for i in range(3):
        expected = ref.unmold_mask(masks[i], boxes[i], (60, 80))    # skimage, not mrcnn
        assert np.array_equal(out[:, :, i], expected)
        assert np.array_equal(unmold_mask(masks[i], boxes[i], (60, 80)), expected)
    assert paste_masks(np.zeros((0, 28, 28)), np.zeros((0, 4)), (10, 10)).shape == (10, 10, 0)
