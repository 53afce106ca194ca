"""phone.learning helpers of the shipped-model recipe: negatives, the
"one phone per frame" rule, full reports, the learning-curve PNG; and the
shipped weights themselves (phone/models/)."""
import hashlib
import os
import re

import numpy as np
import pytest

from phone import learning

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(ROOT, "phone", "models", "mask_rcnn_phone.h5")
CARD = os.path.join(ROOT, "phone", "models", "MODEL_CARD.md")


class _FakeSegmenter:
    """Reports a phone in the images whose mean brightness is above
    ``level`` (None: in none); remembers the images it saw."""
    batch_size = 2

    def __init__(self, level=100):
        self.level = level
        self.seen = []

    def segment_images(self, images):
        self.seen.extend(images)
        out = []
        for im in images:
            found = self.level is not None and im.mean() > self.level
            out.append((np.full(im.shape[:2], 255 if found else 0, np.uint8), {}))
        return out


def test_hand_only_frames_are_deterministic_and_phone_free():
    a = learning.hand_only_frames(3, seed=4)
    b = learning.hand_only_frames(3, seed=4)
    assert len(a) == 3 and all(x.shape == (128, 128, 3) and x.dtype == np.uint8 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], learning.hand_only_frames(1, seed=5)[0])


def test_no_phone_rate_counts_empty_masks():
    images = [np.full((8, 8, 3), v, np.uint8) for v in (0, 50, 200, 10, 255)]
    assert learning.no_phone_rate(_FakeSegmenter(), images) == pytest.approx(3 / 5)
    assert learning.no_phone_rate(_FakeSegmenter(), []) is None


def test_selection_scores_are_balanced_and_use_their_own_seeds():
    """A model that reports a phone everywhere, or nowhere, scores 0.5; the
    frames are the selection seeds', not the model card's test frames."""
    everywhere, nowhere = _FakeSegmenter(-1.0), _FakeSegmenter(None)
    s = learning.selection_scores(everywhere, n=4)
    assert (s["hand"], s["held"], s["objects"], s["phone_found"]) == (0.0, 0.0, 0.0, 1.0)
    assert s["balanced"] == 0.5
    # a whole-frame mask: each phone frame's IoU is its phones' share of the frame
    from phone import synthetic
    shares = [synthetic.make_sample(synthetic.frame_rng(learning.SELECTION_SEEDS["phone"], i),
                                    version=learning.BENCHMARK_VERSION)[1].any(-1).mean()
              for i in range(4)]
    assert 0.0 < min(shares) and s["phone_mask_iou"] == pytest.approx(np.mean(shares))
    s = learning.selection_scores(nowhere, n=4)
    assert (s["hand"], s["phone_found"], s["balanced"]) == (1.0, 0.0, 0.5)
    assert s["phone_mask_iou"] == 0.0           # every phone frame shows a phone
    assert len(everywhere.seen) == 16
    test_frames = learning.hand_only_frames(4, 3000)          # the card's hand-only seed
    assert not any(np.array_equal(a, b) for a in everywhere.seen[:4] for b in test_frames)
    assert set(learning.SELECTION_SEEDS.values()).isdisjoint({1000, 2000, 3000, 4000, 5000})


def test_keep_best_keeps_the_highest_score():
    masks = np.zeros((4, 4, 3), bool)
    masks[0, 0, 0] = masks[1, 1, 1] = masks[2, 2, 2] = True
    r = {"rois": np.arange(12).reshape(3, 4), "class_ids": np.array([1, 1, 1]),
         "scores": np.array([0.6, 0.95, 0.7]), "masks": masks}
    b = learning.keep_best(r)
    assert b["scores"].tolist() == [pytest.approx(0.95)] and b["rois"].tolist() == [[4, 5, 6, 7]]
    assert b["masks"].shape == (4, 4, 1) and b["masks"][1, 1, 0] and b["masks"].sum() == 1
    empty = {"rois": np.zeros((0, 4)), "class_ids": np.zeros(0), "scores": np.zeros(0),
             "masks": np.zeros((4, 4, 0), bool)}
    assert learning.keep_best(empty)["masks"].shape == (4, 4, 0)


def test_plot_curve_writes_a_png(tmp_path):
    import cv2
    points = [{"step": 500 * k, "seconds": 60.0 * k, "synthetic_miou": 0.1 * k,
               "synthetic_map50": 0.15 * k, "real_heldout_iou": None if k == 1 else 0.2 * k,
               "hand_only_no_phone": 0.9} for k in range(1, 5)]
    path = learning.plot_curve(points, str(tmp_path / "curve.png"))
    img = cv2.imread(path)
    assert img is not None and img.shape[0] > 200 and img.shape[1] > 600
    assert img.std() > 10                                   # not a blank canvas
    assert not any(f.endswith(".tmp") for f in os.listdir(tmp_path))


def test_full_report_union_and_best(phone_data_dir):
    # A "segmenter" that returns the ground truth plus a wrong, lower-scored
    # detection: the union loses IoU, the best-only rule recovers 1.0.
    ds = learning.load_real(("val",))

    class GtSegmenter:
        batch_size = 1

        def segment_images(self, images):
            gt = ds.load_mask(ds.image_ids[0])[0]
            wrong = np.zeros_like(gt[..., :1])
            wrong[:10, :10] = True
            masks = np.concatenate([gt, wrong], axis=-1)
            r = {"rois": np.array([[0, 0, 1, 1]] * masks.shape[2]),
                 "class_ids": np.ones(masks.shape[2], int),
                 "scores": np.array([0.9] * gt.shape[2] + [0.6]), "masks": masks}
            return [(masks.any(-1).astype(np.uint8) * 255, r)]

    rep = learning.full_report(GtSegmenter(), ds)
    gt = ds.load_mask(ds.image_ids[0])[0].any(-1)
    wrong = np.zeros_like(gt)
    wrong[:10, :10] = True
    expected = gt.sum() / (gt | wrong).sum()
    assert rep["num_images"] == 1
    assert rep["mean"]["mask_iou"] == pytest.approx(expected)
    assert rep["mean"]["best_mask_iou"] == pytest.approx(1.0)
    assert rep["coco_best"]["ap"] == pytest.approx(1.0)
    assert rep["coco"]["ap50"] == pytest.approx(1.0)     # the extra one is ranked last


@pytest.mark.slow
def test_shipped_model_matches_its_card_and_finds_the_held_out_phone(phone_data_dir):
    if not os.path.isfile(SHIPPED):
        pytest.skip("phone/models/mask_rcnn_phone.h5 not present")
    data = open(SHIPPED, "rb").read()
    assert len(data) <= 20 * 1024 * 1024
    sha = hashlib.sha256(data).hexdigest()
    assert sha in open(CARD).read(), "MODEL_CARD.md does not give the file's sha256"
    from phone.segment import Segmenter
    seg = Segmenter(weights=SHIPPED)                   # the configuration stored in the file
    side = 2 * int(seg.config.MASK_POOL_SIZE)
    assert list(seg.config.MASK_SHAPE) == [side, side]
    assert f"{side}x{side} mask head" in open(CARD).read(), "the card names another mask head"
    ds = learning.load_real(("val",))                 # C_01_08_000: no cut-out in training
    (bw, r), = seg.segment_images([ds.load_image(ds.image_ids[0])])
    gt = ds.load_mask(ds.image_ids[0])[0].any(-1)
    iou = (gt & (bw > 0)).sum() / (gt | (bw > 0)).sum()
    # The card's number for this frame, to 0.01 (float32 inference is deterministic).
    m = re.search(r"C_01_08_000\.png[^|\n]*\|\s*held out[^|\n]*\|\s*([0-9.]+)", open(CARD).read())
    assert m, "MODEL_CARD.md has no held-out row for C_01_08_000.png"
    assert iou == pytest.approx(float(m.group(1)), abs=0.01)
    assert iou >= 0.8


@pytest.mark.slow
def test_train_scratch_from_a_checkpoint_is_a_fine_tune_not_a_resume(tmp_path):
    """init= a checkpoint of another run (mask_rcnn_phone_0010.h5 in a
    phoneYYYYmmddTHHMM folder). MaskRCNN.load_weights takes the epoch from
    such a name, as Matterport's does (a resume), and train(epochs=1) would
    then train nothing and write no checkpoint. train_scratch fine-tunes:
    it starts at epoch 0 in a new run folder and the weights move."""
    from mrcnn.model import MaskRCNN
    from mrcnn.weights import read_weights_h5
    split = learning.make_synthetic_split(str(tmp_path / "syn"), 2, seed=3)
    ds = learning.load_split(split)
    tiny = dict(MIXED_PRECISION=None, VALIDATION_STEPS=1, LEARNING_RATE_WARMUP_STEPS=0)
    cfg, _ = learning.scratch_config(2, batch_size=1, epochs=1, **tiny)
    old_run = tmp_path / "logs" / "phone20260101T0000"
    old_run.mkdir(parents=True)
    init = old_run / "mask_rcnn_phone_0010.h5"
    MaskRCNN("training", cfg, str(tmp_path / "logs")).keras_model.save_weights(str(init))
    ckpt, history, _ = learning.train_scratch(ds, ds, 2, str(tmp_path / "logs"), seed=0,
                                              batch_size=1, epochs=1, verbose=0,
                                              init=str(init), **tiny)
    assert os.path.basename(ckpt) == "mask_rcnn_phone_0001.h5"
    assert os.path.dirname(ckpt) != str(old_run)
    assert len(history.history["loss"]) == 1
    before, after = read_weights_h5(str(init)), read_weights_h5(ckpt)
    moved = [name for name, ws in before.items() if name in after and
             any(not np.array_equal(a, b) for (_, a), (_, b) in zip(ws, after[name]))]
    # (an untrained RPN proposes no positive ROI: the mask and box heads get
    # no gradient in 2 steps; the classifier and the RPN do)
    assert {"mrcnn_class_logits", "rpn_model"} <= set(moved), sorted(set(before) - set(moved))


@pytest.mark.slow
def test_inference_segmenter_builds_the_architecture_stored_in_the_file(tmp_path):
    """A model trained with another mask head (MASK_POOL_SIZE 7, 14x14 masks)
    is scored with that head, not PhoneScratchInferenceConfig's 28x28 one:
    the mask head's weights do not depend on the pool size, so loading them
    into the default graph would not fail, only give other masks."""
    from mrcnn.model import MaskRCNN
    from phone.config import PhoneScratchConfig, derive_config
    cfg = derive_config(PhoneScratchConfig(), MASK_POOL_SIZE=7, MASK_SHAPE=[14, 14],
                        MIXED_PRECISION="auto")
    path = str(tmp_path / "mask14.h5")
    MaskRCNN("training", cfg, str(tmp_path)).save_weights(path)      # stores cfg
    seg = learning.inference_segmenter(path, USE_MINI_MASK=False)
    c = seg.model.config
    assert (c.MASK_POOL_SIZE, list(c.MASK_SHAPE), c.BATCH_SIZE) == (7, [14, 14], 1)
    assert c.MIXED_PRECISION == "float32" and c.USE_MINI_MASK is False
    image = np.zeros((128, 128, 3), np.uint8)
    detections, masks = seg.model._predict(*seg.model.mold_inputs([image])[:2])
    assert masks.shape[2:] == (14, 14)
