"""Run every notebook headless with tiny settings (nbclient, parameters
injected into the cell tagged ``parameters``) and check what it produced:
files written, numbers printed, shapes. Each run starts a kernel running this
interpreter (see notebooks/run_notebooks.py), works in a temporary folder and
never downloads anything.

Marked slow: about three minutes for all five on two CPU cores.
"""
import importlib.util
import os
import pathlib
import re

import cv2
import fakecam
import numpy as np
import pytest

from video_frames import read_frames

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
DATASET = REPO / "datasets" / "phone"

# slow: marked per test (the notebook / demo runs); the rest is fast


def _runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", NOTEBOOKS / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_notebooks = _runner()


def execute(name, tmp_path, env=None, **params):
    """Run notebooks/NAME.ipynb with params (env: extra kernel environment
    variables); returns (notebook, all printed text)."""
    out = tmp_path / f"{name}.executed.ipynb"
    nb = run_notebooks.execute_notebook(NOTEBOOKS / f"{name}.ipynb", parameters=params,
                                        out_path=str(out), timeout=600, env=env)
    assert out.is_file()
    text = "".join(run_notebooks.cell_text(c) for c in nb.cells if c.cell_type == "code")
    assert "Traceback" not in text
    return nb, text


def number(pattern, text):
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not printed"
    return float(m.group(1))


def images_in(nb):
    return sum(1 for c in nb.cells for o in c.get("outputs", [])
               if "image/png" in o.get("data", {}))


def gt_union(frame_name, subset="val"):
    from phone.dataset import PhoneDataset
    ds = PhoneDataset()
    ds.load_phone(str(DATASET), subset)
    ds.prepare()
    for i in ds.image_ids:
        if pathlib.Path(ds.image_reference(i)).name == frame_name:
            return ds.load_mask(i)[0].any(axis=2)
    raise AssertionError(f"{frame_name} not annotated in {subset}")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """Untrained weights of the from-scratch phone model (the demo model's
    architecture): enough to drive every step of the notebooks quickly. The
    file stores a batch of 4, as ``make demo``'s model does: a notebook that
    detects one image at a time must ask for its own batch size."""
    from mrcnn.model import MaskRCNN
    from phone.config import PhoneScratchInferenceConfig, derive_config
    d = tmp_path_factory.mktemp("nbweights")
    model = MaskRCNN("inference", derive_config(PhoneScratchInferenceConfig(), IMAGES_PER_GPU=4), str(d))
    path = d / "mask_rcnn_phone_random.h5"
    model.save_weights(str(path))
    return str(path)


# ----------------------------------------------------------------- parameters
def test_parameters_cell_injection_keeps_comments_and_rejects_unknown_names():
    import nbformat
    nb = nbformat.read(NOTEBOOKS / "mrcnn.ipynb", as_version=4)
    before = run_notebooks.notebook_parameters(nb)
    assert before["WEIGHTS"] == "auto" and before["NUM_IMAGES"] >= 1
    run_notebooks.inject_parameters(nb, {"NUM_IMAGES": 1, "OUTPUT_DIR": "/tmp/x"})
    src = run_notebooks.parameters_cell(nb).source
    assert "NUM_IMAGES = 1  " in src and "OUTPUT_DIR = '/tmp/x'" in src
    assert "# how many of those frames" in src
    after = run_notebooks.notebook_parameters(nb)
    assert after == dict(before, NUM_IMAGES=1, OUTPUT_DIR="/tmp/x")
    with pytest.raises(run_notebooks.NotebookError, match="unknown parameter"):
        run_notebooks.inject_parameters(nb, {"NO_SUCH_THING": 1})


def test_the_kernel_is_gone_when_the_notebook_has_run(tmp_path):
    """execute_notebook shuts its kernel down, after a good run and after a
    failing cell: the kernel's pid (printed by the notebook) no longer
    exists. (nbclient leaves a kernel it did not start itself running: 9 of
    them, 1-2 GB each, were alive at the end of a full test run.)"""
    import nbformat
    for fail in (False, True):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("import os\nprint('PID', os.getpid())")]
        if fail:
            nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('on purpose')"))
        path = tmp_path / f"k{int(fail)}.ipynb"
        nbformat.write(nb, str(path))
        if fail:
            with pytest.raises(run_notebooks.NotebookError, match="on purpose"):
                run_notebooks.execute_notebook(path, timeout=120)
        else:
            run_notebooks.execute_notebook(path, timeout=120)
        ran = nbformat.read(str(path), as_version=4)
        pid = int(run_notebooks.cell_text(ran.cells[0]).split()[1])
        assert pid != os.getpid()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize("name", [p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb"))])
def test_every_notebook_has_one_parameters_cell_first(name):
    import nbformat
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert set(run_notebooks.NOTEBOOKS) >= {f"{name}.ipynb"}
    for c in code:
        assert "filterwarnings" not in c.source and "simplefilter" not in c.source


# ----------------------------------------------------------------- notebooks


@pytest.mark.slow
def test_mrcnn_notebook_offline_trains_fallback_and_writes_the_mask(tmp_path):
    out = tmp_path / "out"
    nb, text = execute(
        "mrcnn", tmp_path, WEIGHTS="auto", DOWNLOAD_COCO=False,
        COCO_MODEL_PATH=str(tmp_path / "no_coco.h5"), DEMO_MODEL_PATH=str(tmp_path / "no_demo.h5"),
        TRAINED_LOGS_DIR=str(tmp_path / "no_logs"), SHIPPED_MODEL_PATH=str(tmp_path / "no_ship.h5"),
        NUM_IMAGES=1, FALLBACK_TRAIN_STEPS=2, FALLBACK_IMAGE_SIZE=64, FALLBACK_SYNTHETIC=4,
        OUTPUT_DIR=str(out), LOGS_DIR=str(tmp_path / "logs"))
    # the offline note and the choice are explicit
    assert "DOWNLOAD_COCO is False" in text
    assert "training a small phone model from scratch for 2 steps" in text
    assert list((tmp_path / "logs").glob("phone*/mask_rcnn_phone_0001.h5"))
    # the mask PNG: single channel, 0/255, the frame's size
    first = sorted(p.name for p in (DATASET / "val").glob("*.png"))[0]
    mask_path = out / first.replace(".png", "_mask.png")
    assert mask_path.is_file()
    mask = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
    frame = cv2.imread(str(DATASET / "val" / first))
    assert mask.ndim == 2 and mask.dtype == np.uint8 and mask.shape == frame.shape[:2]
    assert set(np.unique(mask).tolist()) <= {0, 255}
    # the printed IoU is the IoU of the written mask with the VIA polygon
    gt = gt_union(first)
    union = np.logical_or(mask > 0, gt).sum()
    expected = np.logical_and(mask > 0, gt).sum() / union if union else 1.0
    assert number(r"mask IoU: ([0-9.]+)", text) == pytest.approx(expected, abs=6e-4)
    assert images_in(nb) >= 3


@pytest.mark.slow
def test_train_phone_notebook_trains_plots_and_evaluates(tmp_path):
    logs = tmp_path / "logs"
    nb, text = execute(
        "train_phone", tmp_path, WEIGHTS="auto", DOWNLOAD_COCO=False,
        COCO_MODEL_PATH=str(tmp_path / "no_coco.h5"), DEMO_MODEL_PATH=str(tmp_path / "no_demo.h5"),
        TRAINED_LOGS_DIR=str(tmp_path / "no_logs"), SHIPPED_MODEL_PATH=str(tmp_path / "no_ship.h5"),
        SYNTHETIC_TRAIN=4, SYNTHETIC_VAL=2, IMAGE_SIZE=64, IMAGES_PER_STEP=1, STEPS_PER_EPOCH=1, VALIDATION_STEPS=1,
        HEADS_EPOCHS=1, ALL_EPOCHS=2, LOGS_DIR=str(logs), OUTPUT_DIR=str(tmp_path / "out"))
    assert "starting from random weights" in text
    assert "training images: 6 (2 real + 4 synthetic)" in text
    # one checkpoint per epoch, heads then deeper layers, in one run folder
    ckpts = sorted(p.name for p in logs.glob("phone*/mask_rcnn_phone_*.h5"))
    assert ckpts == ["mask_rcnn_phone_0001.h5", "mask_rcnn_phone_0002.h5"]
    # the five losses and the total, train and val, first and last epoch
    for name in ["loss", "rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss",
                 "mrcnn_bbox_loss", "mrcnn_mask_loss"]:
        assert re.search(rf"^{name}\s+train [0-9.]+ -> [0-9.]+\s+val [0-9.]+ -> [0-9.]+$", text, re.M), name
    iou = number(r"mask IoU: ([0-9.]+)", text)
    map50 = number(r"mAP@0\.5: ([0-9.]+)", text)
    assert 0.0 <= iou <= 1.0 and 0.0 <= map50 <= 1.0
    # evaluation table: one row per annotated validation frame + the mean row
    from phone.dataset import PhoneDataset
    val = PhoneDataset()
    n_val = val.load_phone(str(DATASET), "val")
    rows = re.findall(r"^C_\d\d_\d\d_\d{3}\.png\s+\d+\s+\d+\s+([0-9.]+)\s", text, re.M)
    assert len(rows) == n_val
    assert np.mean([float(r) for r in rows]) == pytest.approx(iou, abs=6e-4)
    assert images_in(nb) >= 1 + 2 + 1 + n_val   # masks, synthetic samples, losses, detections


@pytest.mark.slow
def test_train_phone_notebook_fewshot_section_fine_tunes_the_shipped_model(tmp_path):
    """The notebook's last section: PhoneModel("shipped").train with the
    small-set recipe on the bundled frames; it prints the architecture read
    from the file, the validation table (start against best), plots the
    per-epoch validation, and the run folder holds its summary."""
    import json
    logs = tmp_path / "logs"
    nb, text = execute(
        "train_phone", tmp_path, WEIGHTS="scratch", DOWNLOAD_COCO=False,
        COCO_MODEL_PATH=str(tmp_path / "no_coco.h5"), SYNTHETIC_TRAIN=2, SYNTHETIC_VAL=0,
        IMAGE_SIZE=64, IMAGES_PER_STEP=1, STEPS_PER_EPOCH=1, VALIDATION_STEPS=1, HEADS_EPOCHS=1,
        ALL_EPOCHS=1, LOGS_DIR=str(logs), OUTPUT_DIR=str(tmp_path / "out"),
        FEWSHOT_EPOCHS=1, FEWSHOT_STEPS=2, FEWSHOT_SYNTHETIC=8)
    assert re.search(r"start model: .*mask_rcnn_phone\.h5 \| LightResNet \| mask head \[56, 56\] "
                     r"\| classes \['BG', 'phone'\]", text), text[-3000:]
    assert re.search(r"^\s*validation frame\s+start\s+(best|start)$", text, re.M)
    assert re.search(r"^\s*C_01_08_000\.png\s+0\.9\d\d\s+0\.\d{3}$", text, re.M)
    assert "kept:" in text
    runs = sorted((logs / "fewshot").glob("phone*"))
    assert len(runs) == 1
    summary = json.loads((runs[0] / "finetune_summary.json").read_text())
    assert [h["epoch"] for h in summary["history"]] == [0, 1]
    assert summary["recipe"] == "small-set"


@pytest.mark.slow
def test_inspect_phone_data_notebook(tmp_path):
    nb, text = execute("inspect_phone_data", tmp_path, SYNTHETIC=2, RANDOM_ROIS=50,
                       OUTPUT_DIR=str(tmp_path / "out"))
    assert "Image Count: 4 (2 real, 2 synthetic)" in text
    # 3 ratios x (32^2 + 16^2 + 8^2 + 4^2 + 2^2) cells for a 128 px input
    assert number(r"(?m)^Count:\s+(\d+)", text) == 3 * sum((128 // s) ** 2 for s in (4, 8, 16, 32, 64))
    # the positive anchors' deltas bring them exactly onto the phone boxes
    assert number(r"max abs error ([0-9.e+-]+) px", text) < 1e-3
    assert number(r"best IoU min ([0-9.]+)", text) > 0.999
    assert 0.8 < number(r"IoU\(full mask, mini mask expanded back\) = ([0-9.]+)", text) <= 1.0
    assert re.search(r"window \(y1, x1, y2, x2\): \(16, 0, 112, 128\)", text)
    assert images_in(nb) >= 10


@pytest.mark.slow
def test_inspect_phone_model_notebook(tmp_path, random_weights):
    nb, text = execute("inspect_phone_model", tmp_path, WEIGHTS=random_weights,
                       LOGS_DIR=str(tmp_path / "logs"), OUTPUT_DIR=str(tmp_path / "out"))
    assert f"Using the weights file {random_weights}" in text
    # NumPy re-implementation of the ProposalLayer and DetectionLayer == graph
    m = re.search(r"proposals: graph (\d+), NumPy (\d+); max \|difference\| over the first \d+: "
                  r"([0-9.e+-]+)", text)
    assert m and m.group(1) == m.group(2) and float(m.group(3)) < 1e-5
    m = re.search(r"NumPy: (\d+) detection\(s\), graph: (\d+)", text)
    assert m and m.group(1) == m.group(2)
    if int(m.group(1)):
        assert number(r"max \|box difference\| NumPy vs graph: ([0-9.e+-]+)", text) < 1e-5
    assert 0.0 <= number(r"mAP@0\.5: ([0-9.]+)", text) <= 1.0
    assert re.search(r"res2\w+_out\s+shape: \(1, 32, 32, \d+\)", text)
    assert images_in(nb) >= 12


@pytest.mark.slow
def test_real_time_notebook_writes_the_overlay_video_and_drops_frames(tmp_path, random_weights):
    out = tmp_path / "out"
    # A machine without any camera (fake cameras: tests/fakecam), whatever
    # this one has: the webcam (0) is missing, a clear note, the bundled clip.
    cams = fakecam.env({})
    nb, text = execute("Real_time_segment", tmp_path, SOURCE=0, WEIGHTS=random_weights, MAX_FRAMES=8,
                       SLOW_DOWN_MS=150, LOGS_DIR=str(tmp_path / "logs"), OUTPUT_DIR=str(out),
                       env={k: cams[k] for k in ("FAKECAM", "PYTHONPATH")})
    assert re.search(r"NOTE: camera 0: .*\nUsing the bundled clip instead", text)
    video = out / "realtime.mp4"
    frames = read_frames(video)
    assert frames and frames[0].shape == (256, 256, 3)
    assert number(r"wrote \S+realtime\.mp4: (\d+) frames 256x256", text) == len(frames)
    first = re.search(r"stopped \(max frames\): 8 of (\d+) captured frames processed, (\d+) dropped",
                      text)
    assert first
    # the slowed-down run: frames dropped, the newest one always taken
    slow = re.findall(r"stopped \(max frames\): 8 of (\d+) captured frames processed, (\d+) dropped",
                      text)[-1]
    captured, dropped = int(slow[0]), int(slow[1])
    assert dropped > 0
    assert captured - 8 - dropped in (0, 1)        # at most one frame left in the slot
    assert "always the newest frame: True" in text
    ids = [int(x) for x in re.search(r"processed frame ids: \[([0-9, ]+)\]", text).group(1).split(",")]
    assert len(ids) == 8 and all(b > a for a, b in zip(ids, ids[1:])) and ids[-1] < captured
    assert images_in(nb) >= 4
