"""utils.non_max_suppression (NumPy) and tf.image.non_max_suppression (the
graph's ProposalLayer / DetectionLayer) keep the same boxes in the same
order when scores tie. Untrained weights give many float32 probabilities
that tie (near 0 and 1); the two used to break ties in different orders,
which made the inspect_phone_model notebook's NumPy-vs-graph comparison
fail at random."""
import numpy as np
import pytest
import tensorflow as tf

from mrcnn import utils


def random_boxes(rng, n):
    y1x1 = rng.uniform(0, 0.8, (n, 2))
    hw = rng.uniform(0.05, 0.3, (n, 2))
    return np.concatenate([y1x1, y1x1 + hw], axis=1).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_tied_scores_same_order_as_tensorflow(seed):
    rng = np.random.default_rng(seed)
    n = 300
    boxes = random_boxes(rng, n)
    # scores on a coarse grid: nearly every score is tied with others
    scores = (rng.integers(0, 12, n) / 12.0).astype(np.float32)
    ours = utils.non_max_suppression(boxes, scores, 0.5)
    theirs = tf.image.non_max_suppression(boxes, scores, n, 0.5).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_equal_scores_keep_index_order():
    # four disjoint boxes, one score: kept in index order (hand-computed)
    boxes = np.array([[0, 0, 1, 1], [0, 2, 1, 3], [2, 0, 3, 1], [2, 2, 3, 3]],
                     np.float32)
    scores = np.full(4, 0.5, np.float32)
    assert utils.non_max_suppression(boxes, scores, 0.5).tolist() == [0, 1, 2, 3]
    # a copy of box 0 at index 2: suppressed by the earlier one
    boxes[2] = boxes[0]
    assert utils.non_max_suppression(boxes, scores, 0.5).tolist() == [0, 1, 3]
