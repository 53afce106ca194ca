"""Graph pieces of mrcnn.export against their NumPy / TensorFlow references:
paste_masks_graph vs core.masks.paste_masks, resize_image_graph vs
core.images.resize_image, crop_and_resize_gather vs tf.image.crop_and_resize,
nms_graph vs tf.image.non_max_suppression."""
import numpy as np
import pytest
import tensorflow as tf

from mrcnn.core.images import resize_image
from mrcnn.core.masks import paste_masks
from mrcnn.export import linear_resample_weights, paste_masks_graph, resize_image_graph
from mrcnn.layers.box_ops import nms_graph
from mrcnn.layers.roi_align import crop_and_resize_gather


def test_linear_weights_identity_and_hand_values():
    w = linear_resample_weights(4, 4).numpy()
    np.testing.assert_array_equal(w, np.eye(4, dtype=np.float32))
    # 2 -> 4 samples: p = (j + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25;
    # zeros outside the input (skimage mode="constant")
    w = linear_resample_weights(2, 4).numpy()
    expected = np.array([[0.75, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 0.75]], np.float32)
    np.testing.assert_allclose(w, expected, atol=1e-6)


def test_paste_masks_graph_matches_numpy():
    rng = np.random.default_rng(0)
    n, H, W = 40, 57, 71
    masks = rng.uniform(0, 1, size=(n, 28, 28)).astype(np.float32)
    masks[:5] = np.clip(masks[:5], 0.6, 1.0)    # minimum >= 0.5: fills its box
    masks[5:8] = masks[5:8] * 0.4                # maximum < 0.5: empty
    y1 = rng.integers(-10, H, n)
    x1 = rng.integers(-10, W, n)
    boxes = np.stack([y1, x1, y1 + rng.integers(1, 40, n), x1 + rng.integers(1, 40, n)], 1)
    boxes[8] = [5, 5, 5, 9]                      # zero height: empty
    # boxes much larger than 28 px blend zeros in at their edges (below 0.5):
    # only skimage's clip rule keeps those edge pixels of a full mask on
    boxes[:5, 2:] = boxes[:5, :2] + 80
    ref = paste_masks(masks, boxes, (H, W))       # [H, W, N]
    got = paste_masks_graph(tf.constant(masks), tf.constant(boxes, tf.int32), H, W).numpy()
    assert got.shape == (n, H, W)
    got = np.moveaxis(got, 0, -1)
    # float32 matmul vs element-wise: a value within rounding of 0.5 may flip
    assert (got != ref).sum() <= 3, (got != ref).sum()
    assert ref[:, :, :5].any() and not ref[:, :, 5:9].any()
    np.testing.assert_array_equal(got[:, :, :9], ref[:, :, :9])


@pytest.mark.parametrize("shape", [(128, 128), (100, 77), (250, 301), (40, 200), (30, 20)])
def test_resize_image_graph_matches_numpy(shape):
    class C:
        IMAGE_RESIZE_MODE = "square"
        IMAGE_MIN_DIM = 128
        IMAGE_MAX_DIM = 128
        IMAGE_MIN_SCALE = 0
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, size=shape + (3,), dtype=np.uint8)
    image[: shape[0] // 2] = 200                  # flat areas: exact integers
    ref, window, scale, _, _ = resize_image(image, min_dim=128, max_dim=128, mode="square")
    got, gwin, gscale = resize_image_graph(tf.constant(image), C)
    assert tuple(gwin.numpy().astype(int)) == tuple(window)
    assert float(gscale) == pytest.approx(scale, rel=1e-6)
    diff = np.abs(got.numpy().astype(int) - ref.astype(int))
    # float32 vs skimage's float64 sums before truncation to uint8: off by one
    # level where a sum lies within rounding of an integer (skimage turns a flat
    # 200 into 199.999... -> 199 at some positions; measured 1.6 % of pixels)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.03


def test_crop_and_resize_gather_matches_tf():
    rng = np.random.default_rng(1)
    image = rng.normal(size=(2, 13, 17, 5)).astype(np.float32)
    boxes = rng.uniform(-0.3, 1.3, size=(60, 4)).astype(np.float32)
    boxes[:4, 2] = boxes[:4, 0]
    idx = rng.integers(0, 2, 60).astype(np.int32)
    for size in [(7, 7), (14, 14), (1, 3)]:
        ref = tf.image.crop_and_resize(image, boxes, idx, size).numpy()
        got = crop_and_resize_gather(tf.constant(image), tf.constant(boxes),
                                     tf.constant(idx), size).numpy()
        np.testing.assert_allclose(got, ref, atol=1e-6)


def test_nms_graph_same_indices():
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 0.8, size=(300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0.02, 0.2, size=(300, 2))], 1).astype(np.float32)
    scores = rng.uniform(size=300).astype(np.float32)
    for k, thr in [(100, 0.3), (10, 0.7), (500, 0.5)]:
        ref = tf.image.non_max_suppression(boxes, scores, k, thr).numpy()
        got = nms_graph(tf.constant(boxes), tf.constant(scores), k, thr).numpy()
        np.testing.assert_array_equal(got, ref)
    empty = nms_graph(tf.zeros([0, 4]), tf.zeros([0]), 10, 0.5).numpy()
    assert empty.shape == (0,)
