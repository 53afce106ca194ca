"""One model file that every command understands (the weights policy).

- default_model: the newest model the user trained (logs or make demo), else
  the shipped one; a clear line when there is none;
- model_config: the configuration stored in our files, else read from the
  weight shapes, --config overriding both;
- segment / evaluate / realtime on a self-describing file with no --config,
  and on the make-demo model with no --weights at all.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from video_frames import read_frames

REPO = pathlib.Path(__file__).resolve().parents[2]
FRAME = REPO / "datasets" / "phone" / "val" / "C_01_08_000.png"
VIDEO = REPO / "datasets" / "videos" / "phone_demo.mp4"


def _touch(path, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, (mtime, mtime))
    return path


# ----------------------------------------------------------------- default_model
def test_default_model_prefers_the_newest_trained_model(tmp_path):
    from phone.weights import WeightsError, default_model
    logs, demo, shipped = tmp_path / "logs", tmp_path / "out/demo/m.h5", tmp_path / "ship.h5"
    kw = dict(demo_model=str(demo), shipped_model=str(shipped))
    with pytest.raises(WeightsError, match="make demo") as e:
        default_model(logs, **kw)
    assert "\n" not in str(e.value) and str(logs) in str(e.value)

    _touch(shipped, 1_000)
    path, why = default_model(logs, **kw)
    assert path == str(shipped) and "shipped" in why

    _touch(demo, 2_000)
    path, why = default_model(logs, **kw)
    assert path == str(demo) and "make demo" in why

    ckpt = _touch(logs / "phone20250101T0000" / "mask_rcnn_phone_0002.h5", 3_000)
    path, why = default_model(logs, **kw)
    assert path == str(ckpt) and str(logs) in why

    os.utime(demo, (4_000, 4_000))          # the demo model was trained later
    assert default_model(logs, **kw)[0] == str(demo)


def test_resolve_weights_shipped_keyword(tmp_path, monkeypatch):
    from phone import paths
    from phone.weights import WeightsError, resolve_weights
    missing = tmp_path / "nope.h5"
    monkeypatch.setattr(paths, "shipped_model_path", lambda: str(missing))
    with pytest.raises(WeightsError, match="shipped phone model is missing"):
        resolve_weights("shipped")
    _touch(missing, 1)
    assert resolve_weights("SHIPPED") == (str(missing), "shipped")


def test_coco_weights_go_to_the_user_cache(tmp_path, monkeypatch):
    from phone.weights import coco_weights_path
    monkeypatch.delenv("PHONE_COCO_WEIGHTS", raising=False)
    monkeypatch.setenv("MRCNN_HOME", str(tmp_path / "cache"))
    assert coco_weights_path() == str(tmp_path / "cache" / "mask_rcnn_coco.h5")
    monkeypatch.setenv("PHONE_COCO_WEIGHTS", str(tmp_path / "mine.h5"))
    assert coco_weights_path() == str(tmp_path / "mine.h5")


def test_paths_in_a_checkout_and_outputs_env(monkeypatch, tmp_path):
    from phone import paths
    assert paths.checkout_root() == str(REPO)
    assert paths.default_logs_dir() == str(REPO / "logs")
    monkeypatch.setenv("PHONE_OUTPUTS", str(tmp_path / "o"))
    assert paths.demo_model_path() == str(tmp_path / "o" / "demo" / "mask_rcnn_phone.h5")
    assert paths.bundled_dataset_dir() == str(REPO / "datasets" / "phone")


# ----------------------------------------------------------------- model files
@pytest.fixture(scope="module")
def scratch_file(tmp_path_factory):
    """A from-scratch phone model (LightResNet) saved by MaskRCNN.save_weights:
    self-describing. Also the same weights without the config attribute (an
    older checkpoint)."""
    from mrcnn.model import MaskRCNN
    from phone.config import PhoneScratchInferenceConfig
    d = tmp_path_factory.mktemp("model_files")
    model = MaskRCNN("inference", PhoneScratchInferenceConfig(), str(d))
    path = d / "mask_rcnn_phone.h5"
    model.save_weights(str(path))
    old = d / "old_checkpoint.h5"
    shutil.copyfile(path, old)
    with h5py.File(old, "a") as f:
        del f.attrs["mrcnn_config"]
    return path, old


def test_model_config_reads_the_stored_configuration(scratch_file):
    from phone.config import PhoneScratchInferenceConfig
    from phone.weights import model_config
    path, _ = scratch_file
    with h5py.File(path, "r") as f:           # Matterport's layout plus the attribute
        assert "layer_names" in f.attrs and "mrcnn_config" in f.attrs
        assert "weight_names" in f["conv1"].attrs
    config, how = model_config(str(path))
    ref = PhoneScratchInferenceConfig()
    assert "stored in the weights file" in how
    assert config.BACKBONE.widths == ref.BACKBONE.widths == (16, 32, 64, 128)
    assert config.BACKBONE.norm == "group" and config.NUM_CLASSES == 2
    assert config.TOP_DOWN_PYRAMID_SIZE == 64 and config.IMAGE_MAX_DIM == 128
    np.testing.assert_array_equal(config.IMAGE_SHAPE, ref.IMAGE_SHAPE)


def test_model_config_infers_an_old_file_from_its_shapes(scratch_file):
    from phone.weights import model_config
    _, old = scratch_file
    config, how = model_config(str(old))
    assert "weight shapes" in how and type(config).__name__ == "PhoneScratchInferenceConfig"
    assert config.BACKBONE.widths == (16, 32, 64, 128) and config.NUM_CLASSES == 2


def test_config_option_overrides_the_file_and_a_mismatch_names_the_backbone(scratch_file,
                                                                             tmp_path):
    path, _ = scratch_file
    r = subprocess.run([sys.executable, "-m", "phone", "segment", "--image", str(FRAME),
                        "--out", str(tmp_path), "--weights", str(path), "--config",
                        "phone.config:PhoneInferenceConfig"],
                       capture_output=True, text=True, cwd=str(REPO), timeout=600)
    assert r.returncode == 2, r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("phone segment: error:")]
    assert len(err) == 1 and "backbone" in err[0] and "mrcnn_class_logits" not in err[0]


# ----------------------------------------------------------------- commands
def _phone(args, env=None, cwd=REPO):
    e = dict(os.environ)
    e.pop("PHONE_DEBUG", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "phone"] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=str(cwd), env=e, timeout=600)


@pytest.mark.slow
def test_segment_with_no_flags_uses_the_demo_model(scratch_file, tmp_path):
    """After make demo (its model in OUTPUTS/demo), `phone segment --image F
    --out o/` needs nothing else: the file is found and describes itself."""
    path, _ = scratch_file
    outputs = tmp_path / "outputs"
    (outputs / "demo").mkdir(parents=True)
    shutil.copyfile(path, outputs / "demo" / "mask_rcnn_phone.h5")
    r = _phone(["segment", "--image", FRAME, "--out", tmp_path / "o", "--logs",
                tmp_path / "no_logs"], env={"PHONE_OUTPUTS": str(outputs)})
    assert r.returncode == 0, r.stderr
    assert f"Weights: {outputs / 'demo' / 'mask_rcnn_phone.h5'} (the 'make demo' model" in r.stderr
    assert "configuration stored in the weights file" in r.stderr
    import cv2
    mask = cv2.imread(str(tmp_path / "o" / "C_01_08_000_mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (128, 128) and set(np.unique(mask)) <= {0, 255}


@pytest.mark.slow
def test_segment_dir_evaluate_and_realtime_read_the_architecture_from_the_file(
        scratch_file, tmp_path):
    import cv2
    path, _ = scratch_file
    frames = tmp_path / "frames"
    frames.mkdir()
    for src in sorted((REPO / "datasets" / "phone").glob("[tv]*/*.png")):   # train/, val/
        shutil.copyfile(src, frames / src.name)
    r = _phone(["segment", "--weights", path, "--dir", frames, "--out", tmp_path / "o",
                "--quiet"])
    assert r.returncode == 0, r.stderr
    masks = sorted(p.name for p in (tmp_path / "o").glob("*_mask.png"))
    assert masks == sorted(p.stem + "_mask.png" for p in frames.glob("*.png")) and len(masks) == 4
    for m in masks:
        assert cv2.imread(str(tmp_path / "o" / m), cv2.IMREAD_UNCHANGED).shape == (128, 128)

    r = _phone(["evaluate", "--weights", path, "--out", tmp_path, "--quiet"])
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["config"] == "PhoneScratchInferenceConfig" and report["num_images"] == 1
    assert report["weights"] == str(path)

    out = tmp_path / "rt.mp4"
    r = _phone(["realtime", "--weights", path, "--source", VIDEO, "--no-display", "--out", out,
                "--every-frame", "--max-frames", "3", "--quiet"])
    assert r.returncode == 0, r.stderr
    assert len(read_frames(out)) == 3
