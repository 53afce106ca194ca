"""phone.PhoneModel: one model object from its file to every use.

- ``PhoneModel("shipped").segment(rgb)`` gives the mask that Matterport-style
  code gives (a MaskRCNN built from the file's stored config, detect(), the
  union of the masks), and that mask fits the hand-drawn polygon;
- ``phone segment --image`` opens the weights file once (h5py opens counted);
- ``phone train --weights shipped`` builds the architecture the file holds
  (LightResNet, the 56x56 mask head, the class names) with no --config, and
  ``--weights last`` resumes that run with no --config;
- ``m.evaluate`` gives what ``phone evaluate`` gives.
"""
import json
import pathlib
import shutil

import h5py
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SHIPPED = REPO / "phone" / "models" / "mask_rcnn_phone.h5"
FRAME = REPO / "datasets" / "phone" / "val" / "C_01_08_000.png"


def _gt_mask(frame=FRAME):
    import skimage.draw
    via = json.loads((frame.parent / "via_region_data.json").read_text())
    entry = next(v for v in via.values() if v["filename"] == frame.name)
    sa = entry["regions"][0]["shape_attributes"]
    gt = np.zeros((128, 128), bool)
    gt[skimage.draw.polygon(sa["all_points_y"], sa["all_points_x"], (128, 128))] = True
    return gt


@pytest.fixture(scope="module")
def shipped_model():
    from phone import PhoneModel
    return PhoneModel("shipped", say=False)


def test_segment_matches_matterport_style_code_and_the_polygon(shipped_model):
    import skimage.io
    import mrcnn.model as modellib
    from mrcnn.weights import read_config
    image = skimage.io.imread(FRAME)[..., :3]
    bw, r = shipped_model.segment(image)

    # Matterport-style: build from the stored config, load by name, detect
    config = read_config(str(SHIPPED))
    config.IMAGES_PER_GPU = 1
    config.BATCH_SIZE = 1
    model = modellib.MaskRCNN(mode="inference", config=config, model_dir=str(REPO / "logs"))
    model.load_weights(str(SHIPPED), by_name=True)
    ref = model.detect([image])[0]
    union = np.any(ref["masks"], axis=-1)
    assert bw.dtype == np.uint8 and set(np.unique(bw)) <= {0, 255}
    np.testing.assert_array_equal(bw > 0, union)
    np.testing.assert_array_equal(r["rois"], ref["rois"])
    gt = _gt_mask()
    iou = np.logical_and(bw > 0, gt).sum() / np.logical_or(bw > 0, gt).sum()
    assert iou > 0.9          # 0.931 (model card)
    assert shipped_model.config.MASK_SHAPE == [56, 56] or \
        list(shipped_model.config.MASK_SHAPE) == [56, 56]
    assert type(shipped_model.config.BACKBONE).__name__ == "LightResNet"
    assert shipped_model.class_names == ["BG", "phone"]
    # detect() is Matterport's, through the same model
    d = shipped_model.detect([image])[0]
    np.testing.assert_array_equal(d["masks"], r["masks"])


def test_segment_command_opens_the_weights_file_once(tmp_path, monkeypatch, capsys):
    from phone.cli import main
    opened = []
    real_init = h5py.File.__init__

    def counting(self, name, *a, **kw):
        if isinstance(name, (str, bytes, pathlib.PurePath)):
            opened.append(str(name))
        return real_init(self, name, *a, **kw)
    monkeypatch.setattr(h5py.File, "__init__", counting)
    decoded = []
    import phone.imageio
    real_read = phone.imageio.read_image

    def reading(path):
        decoded.append(str(path))
        return real_read(path)
    monkeypatch.setattr(phone.imageio, "read_image", reading)
    monkeypatch.setattr("phone.commands.segment.read_image", reading, raising=False)
    monkeypatch.setattr("phone.segment.read_image", reading)
    code = main(["segment", "--image", str(FRAME), "--out", str(tmp_path), "--weights", "shipped"])
    assert code == 0, capsys.readouterr().err
    assert opened == [str(SHIPPED)]
    assert decoded == [str(FRAME)]
    mask = (tmp_path / "C_01_08_000_mask.png")
    assert mask.is_file()


def test_evaluate_gives_what_the_command_gives(shipped_model, tmp_path, capsys):
    from phone.cli import main
    report = shipped_model.evaluate(str(REPO / "datasets" / "phone"), "val")
    code = main(["evaluate", "--dataset", str(REPO / "datasets" / "phone"), "--weights", "shipped",
                 "--out", str(tmp_path)])
    assert code == 0
    cmd = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["mean"]["mask_iou"] == pytest.approx(cmd["mean"]["mask_iou"], abs=1e-9)
    assert report["images"][0]["image"] == "C_01_08_000.png"
    assert report["mean"]["mask_iou"] > 0.9


def _small_user_dataset(root):
    """datasets/phone's annotated frames: train/ (2) and val/ (1)."""
    shutil.copytree(REPO / "datasets" / "phone" / "train", root / "train")
    shutil.copytree(REPO / "datasets" / "phone" / "val", root / "val")
    return root


@pytest.mark.slow
def test_train_shipped_builds_the_file_architecture_and_last_resumes_it(tmp_path, monkeypatch,
                                                                         capsys):
    from mrcnn.weights import read_config
    from phone import finetune
    from phone.cli import main
    # a short small-set run: fewer generated frames, 2 steps an epoch
    small = finetune.RECIPES["small-set"].replace(n_synthetic=8, real_repeats=1,
                                                   inpainted_repeats=1)
    monkeypatch.setitem(finetune.RECIPES, "small-set", small)
    data = _small_user_dataset(tmp_path / "data")
    logs = tmp_path / "logs"
    opened = []
    real_init = h5py.File.__init__

    def counting(self, name, *a, **kw):
        if isinstance(name, (str, bytes, pathlib.PurePath)):
            opened.append(str(name))
        return real_init(self, name, *a, **kw)
    monkeypatch.setattr(h5py.File, "__init__", counting)
    code = main(["train", "--dataset", str(data), "--weights", "shipped", "--logs", str(logs),
                 "--epochs", "1", "--steps-per-epoch", "2", "--seed", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    # the start file is read once: class count, stored config, the training model's and
    # the validation model's weights all come from that read
    assert opened.count(str(SHIPPED)) == 1, opened
    assert "recipe small-set" in out
    runs = sorted(logs.glob("phone*"))
    assert len(runs) == 1
    ckpt = runs[0] / "mask_rcnn_phone_0001.h5"
    stored = read_config(str(ckpt))
    assert type(stored.BACKBONE).__name__ == "LightResNet"
    assert stored.BACKBONE.widths == (16, 32, 64, 128)
    assert list(stored.MASK_SHAPE) == [56, 56] and stored.MASK_POOL_SIZE == 28
    assert list(stored.CLASS_NAMES) == ["BG", "phone"]
    assert stored.MASK_HEAD_CHANNELS == 64
    summary = json.loads((runs[0] / finetune.RUN_SUMMARY_NAME).read_text())
    assert [h["epoch"] for h in summary["history"]] == [0, 1]
    assert summary["recipe"] == "small-set"

    code = main(["train", "--dataset", str(data), "--weights", "last", "--logs", str(logs),
                 "--epochs", "2", "--steps-per-epoch", "2", "--seed", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "from epoch 1 to 2" in out
    assert sorted(p.name for p in logs.glob("phone*")) == [runs[0].name]     # the same run
    second = read_config(str(runs[0] / "mask_rcnn_phone_0002.h5"))
    assert type(second.BACKBONE).__name__ == "LightResNet"
    assert list(second.MASK_SHAPE) == [56, 56]
    summary = json.loads((runs[0] / finetune.RUN_SUMMARY_NAME).read_text())
    assert [h["epoch"] for h in summary["history"]] == [0, 1, 2]


def test_segment_command_does_not_import_the_notebook_visualize_module(tmp_path):
    """The overlays of `phone segment` come from mrcnn.render (numpy + cv2):
    the command never imports mrcnn.visualize, Matterport's matplotlib
    notebook API. (pyplot itself is imported by `import keras` 3.15 when
    matplotlib is installed, so it is not asserted on.)"""
    import subprocess
    import sys
    code = ("import sys; from phone.cli import main; "
            f"rc = main(['segment', '--image', {str(FRAME)!r}, '--out', {str(tmp_path)!r}, "
            "'--weights', 'shipped']); "
            "print('RC', rc, 'VISUALIZE', 'mrcnn.visualize' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=str(REPO), timeout=300)
    assert "RC 0 VISUALIZE False" in r.stdout, r.stdout + r.stderr[-2000:]
    assert (tmp_path / "C_01_08_000_overlay.png").is_file()


@pytest.mark.slow
def test_export_gives_what_segment_gives(shipped_model, tmp_path):
    """m.export writes the whole detect() pipeline; the exported SavedModel
    segments the frame as m.segment does (verified before it is written)."""
    import skimage.io
    from phone.export import ExportedSegmenter
    image = skimage.io.imread(FRAME)[..., :3]
    out = tmp_path / "phone_sm"
    report = shipped_model.export("saved_model", str(out), verify_images=[("frame", image)],
                                  quiet=True)
    assert report["verification"]["ok"] and report["path"] == str(out)
    bw, _ = shipped_model.segment(image)
    exported, _ = ExportedSegmenter(str(out)).segment_images([image])[0]
    inter = np.logical_and(bw > 0, exported > 0).sum()
    assert inter / np.logical_or(bw > 0, exported > 0).sum() >= 0.99
