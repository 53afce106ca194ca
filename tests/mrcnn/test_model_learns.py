"""The model learns to segment: the from-scratch phone configuration
(PhoneScratchConfig: LightResNet, group norm) overfits a handful of synthetic
phone frames, and on those frames every phone is found with a good box and a
good mask. The same check fails for the same model with shuffled or zeroed
weights, so it cannot pass for a model that outputs noise.

Determinism: op determinism on, keras.utils.set_random_seed, the data
sequence seeded (frame order, sampling; one loader thread), float32
(MIXED_PRECISION=None: no dependence on the CPU's bfloat16 support). One
source of run-to-run noise is left on purpose: TensorFlow's oneDNN CPU
kernels are not bit-reproducible (with TF_ENABLE_ONEDNN_OPTS=0 two runs give
identical weights, but training is then >10x slower on 2 cores), so the
IoUs move in the third decimal between runs.

ROI sampling: "fill" (negative ROIs fill TRAIN_ROIS_PER_IMAGE), not
Matterport's "ratio". Under "ratio" the classifier sees two negatives per
positive ROI; early in training the small phones get few positive
proposals, so few negatives, and in about 1 run of 10 the classifier then
scored a loose box (box IoU 0.35-0.40 with the phone) above the tight one
and NMS dropped the tight one (frame 1, a 24x43 px phone). Measured as the
score of the best tight box (IoU >= 0.7) minus the best loose box
(IoU < 0.5), NMS off: "ratio" 0.04-0.999 per frame over 4 seeds, "fill"
0.990-0.999. The bounds below stay as they were.

Bounds: after TRAIN_STEPS steps on N_FRAMES frames of 128 px every frame's
best detection has box IoU >= BOX_IOU_MIN and mask IoU >= MASK_IOU_MIN with
its phone. Measured in 10 runs in a row (2 cores): box IoU 1.0 and mask
IoU 0.87-0.99 on every frame. The mask bound is 0.8, not 0.7: with the mask
loss zeroed on purpose (the mask head never trains) the boxes were still
perfect and the mask IoUs 0.44, 0.79, 0.75 and 0.76 (0.38-0.74 under
"ratio") -- a mask that roughly fills a good box can reach 0.7. That run is
a test here (test_same_check_fails_when_the_mask_head_never_trains). With
shuffled or zeroed weights no frame passes.

Op determinism is process-wide: the module turns it on for its own runs and
off again afterwards (tests/conftest.py fails a module that leaves it on).
The references (box from the mask's extent, IoU by counting pixels) are
computed here with numpy, not with mrcnn.utils.
"""
import numpy as np
import pytest
import tensorflow as tf
import keras

from mrcnn import utils
from mrcnn.model import MaskRCNN

pytestmark = pytest.mark.slow

N_FRAMES = 4
SIZE = 128
TRAIN_STEPS = 240
SEED = 3
BOX_IOU_MIN = 0.7
MASK_IOU_MIN = 0.8


class FramesDataset(utils.Dataset):
    """In-memory synthetic phone frames (one phone each)."""

    def load_frames(self, frames):
        self.add_class("phone", 1, "phone")
        for i, (image, masks) in enumerate(frames):
            self.add_image("phone", image_id=i, path=None, image=image, masks=masks)

    def load_image(self, image_id):
        return self.image_info[image_id]["image"]

    def load_mask(self, image_id):
        masks = self.image_info[image_id]["masks"]
        return masks, np.ones(masks.shape[-1], np.int32)


def make_frames(n=N_FRAMES, size=SIZE, seed=SEED):
    from phone import synthetic
    frames = []
    for i in range(n):
        image, masks = synthetic.make_sample(np.random.default_rng([seed, i]), size,
                                             max_phones=1)
        assert masks.shape[-1] == 1
        frames.append((image, masks))
    return frames


def box_of(mask):
    """[y1, x1, y2, x2] (y2, x2 exclusive) of a boolean mask, by loops."""
    rows = [y for y in range(mask.shape[0]) if mask[y].any()]
    cols = [x for x in range(mask.shape[1]) if mask[:, x].any()]
    return np.array([rows[0], cols[0], rows[-1] + 1, cols[-1] + 1])


def box_iou(a, b):
    ih = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iw = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ih * iw
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
    return inter / float(area(a) + area(b) - inter)


def mask_iou(a, b):
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum()) / union if union else 0.0


def quality(model, frames):
    """Per frame (box IoU, mask IoU) of the top-scoring detection; (0, 0)
    when nothing is detected."""
    out = []
    for image, masks in frames:
        r = model.detect([image])[0]
        if len(r["class_ids"]) == 0:
            out.append((0.0, 0.0))
            continue
        gt = masks[..., 0]
        out.append((box_iou(r["rois"][0], box_of(gt)),
                    mask_iou(r["masks"][..., 0], gt)))
    return out


def failures(scores):
    """Frames that miss the bounds (empty list: the check passes)."""
    return [(i, b, m) for i, (b, m) in enumerate(scores)
            if not (b >= BOX_IOU_MIN and m >= MASK_IOU_MIN)]


def scratch_configs():
    from phone.config import derive_config
    from phone.config import PhoneScratchConfig, PhoneScratchInferenceConfig
    common = dict(MIXED_PRECISION=None, IMAGE_MIN_DIM=SIZE, IMAGE_MAX_DIM=SIZE)
    train = derive_config(PhoneScratchConfig(), IMAGES_PER_GPU=N_FRAMES,
                          STEPS_PER_EPOCH=TRAIN_STEPS, VALIDATION_STEPS=1,
                          ROI_SAMPLING="fill", **common)
    infer = derive_config(PhoneScratchInferenceConfig(),
                          DETECTION_MIN_CONFIDENCE=0.5, **common)
    return train, infer


@pytest.fixture(scope="module")
def op_determinism():
    """TensorFlow op determinism on for this module's training runs, and
    back to what it was after them."""
    from tensorflow.python.framework import config as tf_config
    was = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was:
        tf_config.disable_op_determinism()


def train_and_load(logs, **overrides):
    """(inference model, frames, history) after TRAIN_STEPS steps on the
    frames with the scratch config (plus ``overrides``)."""
    keras.utils.set_random_seed(SEED)
    frames = make_frames()
    ds = FramesDataset()
    ds.load_frames(frames)
    ds.prepare()
    train_cfg, infer_cfg = scratch_configs()
    if overrides:
        from phone.config import derive_config
        train_cfg = derive_config(train_cfg, **overrides)
    model = MaskRCNN("training", train_cfg, logs)
    history = model.train(ds, ds, learning_rate=train_cfg.LEARNING_RATE, epochs=1,
                          layers="all", verbose=0, seed=SEED, workers=1)
    inf = MaskRCNN("inference", infer_cfg, logs)
    inf.load_weights(model.find_last(), by_name=True)
    return inf, frames, history


@pytest.fixture(scope="module")
def learned(tmp_path_factory, op_determinism):
    return train_and_load(str(tmp_path_factory.mktemp("logs")))


def test_overfits_a_handful_of_frames(learned):
    model, frames, history = learned
    scores = quality(model, frames)
    print("box IoU, mask IoU per frame:", scores)
    assert not failures(scores), scores


def test_same_check_fails_with_shuffled_or_zeroed_weights(learned):
    model, frames, _ = learned
    saved = [w.numpy() for w in model.keras_model.weights]
    rng = np.random.default_rng(0)
    try:
        for w, v in zip(model.keras_model.weights, saved):
            w.assign(rng.permutation(v.ravel()).reshape(v.shape))
        shuffled = quality(model, frames)
        for w, v in zip(model.keras_model.weights, saved):
            w.assign(np.zeros_like(v))
        zeroed = quality(model, frames)
    finally:
        for w, v in zip(model.keras_model.weights, saved):
            w.assign(v)
    assert failures(shuffled), shuffled
    assert failures(zeroed), zeroed
    # restored: the check passes again
    assert not failures(quality(model, frames))


def test_same_check_fails_when_the_mask_head_never_trains(tmp_path, op_determinism):
    """The control the 0.8 mask bound is set against: the same run with the
    mask loss weighted 0 (boxes still train, the mask head keeps its initial
    weights) fails the check on some frame."""
    _, infer_cfg = scratch_configs()
    weights = dict(infer_cfg.LOSS_WEIGHTS, mrcnn_mask_loss=0.0)
    model, frames, _ = train_and_load(str(tmp_path), LOSS_WEIGHTS=weights)
    scores = quality(model, frames)
    print("mask loss 0: box IoU, mask IoU per frame:", scores)
    assert sum(b >= BOX_IOU_MIN for b, _ in scores) >= 3, scores   # the boxes did train
    assert failures(scores), scores
