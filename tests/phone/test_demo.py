"""make demo's pipeline on tiny settings: data, training, masks, scores."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

# slow: marked per test (the notebook / demo runs); the rest is fast
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REAL = ["C_01_06_001", "C_01_07_000", "C_01_08_000", "C_01_09_002", "C_02_08_005",
        "C_02_10_012", "C_03_07_009", "C_06_08_012"]
SUBSET = {"C_01_06_001": "train", "C_01_07_000": "train", "C_01_08_000": "val"}


@pytest.mark.slow
def test_demo_writes_masks_overlays_and_scores(tmp_path):
    out = tmp_path / "outputs"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(ROOT, "Mask_RCNN"), ROOT]))
    proc = subprocess.run(
        [sys.executable, "-m", "phone", "demo", "--steps", "4", "--n-train", "12",
         "--n-val", "4", "--out", str(out), "--coco", str(tmp_path / "none.h5"),
         "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for name in REAL:
        mask = cv2.imread(str(out / f"{name}_mask.png"), cv2.IMREAD_UNCHANGED)
        assert mask is not None and mask.shape == (128, 128)
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        overlay = cv2.imread(str(out / f"{name}_overlay.png"), cv2.IMREAD_UNCHANGED)
        assert overlay.shape == (128, 128, 3)
    report = json.loads((out / "demo_evaluation.json").read_text())
    demo_model = out / "demo" / "mask_rcnn_phone.h5"
    # the fine-tuned model is kept (and becomes the default) only when it beat
    # the shipped one on its validation frame
    assert demo_model.exists() == report["kept"]
    if report["kept"]:
        assert demo_model.stat().st_size > 100_000
    roles = report["roles"]
    assert roles == {"C_01_06_001.png": "train (fine-tuned on)",
                     "C_01_07_000.png": "train (fine-tuned on)",
                     "C_01_08_000.png": "validation (chose the epoch)",
                     "C_02_08_005.png": "unseen", "C_02_10_012.png": "unseen",
                     "C_03_07_009.png": "unseen", "C_06_08_012.png": "unseen"}
    for row in report["images"]:
        assert 0.0 <= row["mask_iou"] <= 1.0
        # the IoU reported is the IoU of the written mask with the VIA polygon
        stem = row["image"][:-4]
        mask = cv2.imread(str(out / f"{stem}_mask.png"), cv2.IMREAD_UNCHANGED) > 0
        from phone.dataset import PhoneDataset
        ds = PhoneDataset()
        subset = SUBSET.get(stem, "more")
        ds.load_phone(os.path.join(ROOT, "datasets", "phone"), subset)
        ds.prepare()
        i = [k for k, info in enumerate(ds.image_info) if stem in info["path"]][0]
        gt = ds.load_mask(i)[0].any(-1)
        union = (gt | mask).sum()
        expected = (gt & mask).sum() / union if union else 1.0
        assert row["mask_iou"] == pytest.approx(expected, abs=1e-6)
    assert "unseen mean" in proc.stdout and "C_02_08_005.png" in proc.stdout
    assert "Improved:" in proc.stdout and "Worse:" in proc.stdout
    # the demo starts from the shipped model: its validation frame scores what the model
    # card documents (0.931; >= 0.85 here), before and after the 4-step fine-tune
    models = report["models"]
    assert set(models) == {"shipped", "fine-tuned"}
    for name in models:
        held = [r for r in models[name]["images"] if r["image"] == "C_01_08_000.png"][0]
        assert held["mask_iou"] >= 0.85, (name, held)
    assert report["model_paths"]["fine-tuned"] == (str(demo_model) if report["kept"] else None)


@pytest.mark.slow
def test_demo_from_scratch_without_a_shipped_model(tmp_path):
    """The from-scratch demo for real, with --work: the generated frames
    and the training run land in WORK, OUT/demo holds the model only."""
    out, work = tmp_path / "outputs", tmp_path / "scratch"
    proc = subprocess.run(
        [sys.executable, "-m", "phone", "demo", "--from-scratch", "--steps", "2",
         "--n-train", "6", "--n-val", "2", "--out", str(out), "--work", str(work), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "demo_evaluation.json").read_text())
    assert set(report["models"]) == {"from scratch"} and report["model_paths"]["start"] is None
    from mrcnn.weights import read_config
    config = read_config(out / "demo" / "mask_rcnn_phone.h5")   # the demo model describes itself
    assert config.BACKBONE.widths == (16, 32, 64, 128) and config.NUM_CLASSES == 2
    assert len(list((work / "synthetic_train").glob("*.png"))) == 6
    assert len(list((work / "synthetic_val").glob("*.png"))) == 2
    checkpoints = list((work / "logs").glob("*/mask_rcnn_*.h5"))
    assert checkpoints, sorted(str(p) for p in work.rglob("*"))
    # the kept model is the run's last checkpoint, copied out of WORK
    assert (out / "demo" / "mask_rcnn_phone.h5").read_bytes() == max(checkpoints).read_bytes()
    assert [p.name for p in (out / "demo").iterdir()] == ["mask_rcnn_phone.h5"]


def test_demo_work_option_puts_the_scratch_data_and_logs_there(tmp_path, monkeypatch, capsys):
    """`phone demo --from-scratch --work WORK --out OUT`, with training and
    the model replaced by stand-ins (the data generation is real): the 3 + 2
    synthetic frames are written to WORK/synthetic_train and
    WORK/synthetic_val, training is given WORK/logs, the model segmenting
    the frames is that run's checkpoint, copied to OUT/demo; OUT/demo (the
    default WORK) gets nothing else."""
    import phone.learning
    import phone.segmenter
    from phone.cli import main
    trained, built = [], []

    def train_scratch(train_ds, val_ds, steps, logs_dir, seed=0, **kw):
        trained.append((train_ds.num_images, val_ds.num_images, steps, logs_dir))
        ckpt = os.path.join(logs_dir, "phone_run", "mask_rcnn_phone_0001.h5")
        os.makedirs(os.path.dirname(ckpt))
        with open(ckpt, "wb") as f:
            f.write(b"stand-in weights")
        return ckpt, None, 0.0

    class StandInSegmenter:
        batch_size = 1

        def __init__(self, weights=None, **kw):
            built.append(weights)

        def segment_images(self, images):
            return [self.segment_image(im) for im in images]

        def segment_image(self, image):
            h, w = image.shape[:2]
            return np.zeros((h, w), np.uint8), {
                "rois": np.zeros((0, 4), np.int32), "class_ids": np.zeros(0, np.int32),
                "scores": np.zeros(0, np.float32), "masks": np.zeros((h, w, 0), bool)}

        def overlay(self, image, r):
            return image

    monkeypatch.setattr(phone.learning, "train_scratch", train_scratch)
    monkeypatch.setattr(phone.segmenter, "Segmenter", StandInSegmenter)
    out, work = tmp_path / "outputs", tmp_path / "scratch"
    code = main(["demo", "--from-scratch", "--steps", "1", "--n-train", "3", "--n-val", "2",
                 "--out", str(out), "--work", str(work), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert trained == [(3, 2, 1, str(work / "logs"))]
    assert len(list((work / "synthetic_train").glob("*.png"))) == 3
    assert len(list((work / "synthetic_val").glob("*.png"))) == 2
    ckpt = work / "logs" / "phone_run" / "mask_rcnn_phone_0001.h5"
    assert built == [str(ckpt)]
    assert (out / "demo" / "mask_rcnn_phone.h5").read_bytes() == b"stand-in weights"
    assert [p.name for p in (out / "demo").iterdir()] == ["mask_rcnn_phone.h5"]
    assert sorted(p.name for p in work.iterdir()) == ["logs", "synthetic_train", "synthetic_val"]


@pytest.mark.slow
def test_demo_fine_tunes_from_coco_weights_when_given(tmp_path):
    """`phone demo --coco FILE` (the branch for users who have
    mask_rcnn_coco.h5): the heads of the ResNet-50 phone config are trained
    from that file; the backbone stays COCO's (layers="heads"), the class
    layers start over with 2 classes, the report names the COCO model."""
    import h5py
    from mrcnn.model import MaskRCNN
    from phone.config import PhoneConfig, derive_config
    coco = tmp_path / "mask_rcnn_coco.h5"
    config = derive_config(PhoneConfig(), NUM_CLASSES=81, GPU_COUNT=1, IMAGES_PER_GPU=1)
    MaskRCNN("inference", config, str(tmp_path)).save_weights(str(coco))
    with h5py.File(coco, "r") as f:
        conv1 = np.asarray(f["conv1"]["conv1/kernel:0"])
    out = tmp_path / "outputs"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "Mask_RCNN"), ROOT]))
    proc = subprocess.run(
        [sys.executable, "-m", "phone", "demo", "--coco", str(coco), "--steps", "2",
         "--n-train", "6", "--n-val", "2", "--out", str(out), "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "demo_evaluation.json").read_text())
    assert set(report["models"]) == {"COCO fine-tuned"}
    assert report["model_paths"]["start"] is None
    demo_model = out / "demo" / "mask_rcnn_phone.h5"
    with h5py.File(demo_model, "r") as f:
        np.testing.assert_array_equal(np.asarray(f["conv1"]["conv1/kernel:0"]), conv1)
        assert f["mrcnn_class_logits"]["mrcnn_class_logits/bias:0"].shape == (2,)
    for name in REAL:
        assert cv2.imread(str(out / f"{name}_mask.png"), cv2.IMREAD_UNCHANGED).shape == (128, 128)


def test_synthetic_split_is_cached_and_deterministic(tmp_path):
    from phone import learning
    a = learning.make_synthetic_split(str(tmp_path / "a"), 3, seed=5)
    b = learning.make_synthetic_split(str(tmp_path / "b"), 3, seed=5)
    files = sorted(f for f in os.listdir(a) if f.endswith(".png"))
    assert len(files) == 3
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    mtime = os.path.getmtime(os.path.join(a, files[0]))
    learning.make_synthetic_split(str(tmp_path / "a"), 3, seed=5)  # reused
    assert os.path.getmtime(os.path.join(a, files[0])) == mtime
    learning.make_synthetic_split(str(tmp_path / "a"), 2, seed=6)  # regenerated
    assert len([f for f in os.listdir(a) if f.endswith(".png")]) == 2
    before = (tmp_path / "a" / "synth_6_00000.png").read_bytes()
    learning.make_synthetic_split(str(tmp_path / "a"), 2, seed=6, version=3)  # another drawing
    assert (tmp_path / "a" / "synth_6_00000.png").read_bytes() != before
    with open(tmp_path / "a" / ".params.json") as f:
        assert json.load(f)["version"] == 3


def test_scratch_config_splits_steps_into_epochs():
    from phone import learning
    cfg, epochs = learning.scratch_config(450)
    assert epochs == 4 and cfg.STEPS_PER_EPOCH * epochs >= 450
    assert cfg.STEPS_PER_EPOCH * (epochs - 1) < 450
    cfg, epochs = learning.scratch_config(4, batch_size=2)
    assert epochs == 1 and cfg.STEPS_PER_EPOCH == 4 and cfg.BATCH_SIZE == 2
    assert cfg.BACKBONE_NORM == "group" and cfg.NUM_CLASSES == 2
