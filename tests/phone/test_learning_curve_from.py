"""The epoch log a training run keeps (phone.learning.read_epoch_log) and
``benchmarks/learning.py --curve-from RUN_DIR``, which scores the
checkpoints of a finished run without training again."""
import importlib.util
import json
import os

import pytest

from phone import learning

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _benchmark():
    spec = importlib.util.spec_from_file_location(
        "bench_learning", os.path.join(ROOT, "benchmarks", "learning.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_read_epoch_log_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="no epoch log") as e:
        learning.read_epoch_log(tmp_path)
    assert str(tmp_path / "epoch_log.json") in str(e.value)
    (tmp_path / "epoch_log.json").write_text("{broken")
    with pytest.raises(ValueError, match="unreadable epoch log"):
        learning.read_epoch_log(tmp_path)
    (tmp_path / "epoch_log.json").write_text(json.dumps(
        [{"epoch": 1, "step": 5, "checkpoint": str(tmp_path / "gone.h5")}]))
    with pytest.raises(ValueError, match="names no checkpoint that exists"):
        learning.read_epoch_log(tmp_path)


def test_read_epoch_log_finds_checkpoints_of_a_moved_run(tmp_path):
    (tmp_path / "mask_rcnn_phone_0002.h5").write_bytes(b"x")
    (tmp_path / "mask_rcnn_phone_0001.h5").write_bytes(b"x")
    old = "/elsewhere/phone20260101T0000"
    (tmp_path / "epoch_log.json").write_text(json.dumps([
        {"epoch": 2, "step": 10, "seconds": 8.0, "checkpoint": f"{old}/mask_rcnn_phone_0002.h5"},
        {"epoch": 1, "step": 5, "seconds": 4.0, "checkpoint": f"{old}/mask_rcnn_phone_0001.h5"},
        {"epoch": 3, "step": 15, "seconds": 12.0, "checkpoint": f"{old}/mask_rcnn_phone_0003.h5"}]))
    got = learning.read_epoch_log(tmp_path)
    assert [e["step"] for e in got] == [5, 10]
    assert [e["checkpoint"] for e in got] == [str(tmp_path / "mask_rcnn_phone_0001.h5"),
                                             str(tmp_path / "mask_rcnn_phone_0002.h5")]


@pytest.mark.slow
def test_curve_from_a_finished_run(tmp_path):
    split = learning.make_synthetic_split(str(tmp_path / "syn"), 2, seed=3)
    ds = learning.load_split(split)
    tiny = dict(MIXED_PRECISION=None, VALIDATION_STEPS=1, LEARNING_RATE_WARMUP_STEPS=0)
    log = []
    ckpt, _, _ = learning.train_scratch(ds, ds, 2, str(tmp_path / "logs"), seed=0, batch_size=1,
                                        epochs=2, verbose=0, epoch_log=log, **tiny)
    run_dir = os.path.dirname(ckpt)
    # the run folder keeps the same log as the list, one entry per epoch
    with open(os.path.join(run_dir, "epoch_log.json")) as f:
        on_disk = json.load(f)
    assert on_disk == json.loads(json.dumps(log))
    assert [e["step"] for e in on_disk] == [1, 2] and on_disk[-1]["checkpoint"] == ckpt
    assert 0 < on_disk[0]["seconds"] <= on_disk[1]["seconds"]

    png, out = tmp_path / "curve.png", tmp_path / "curve.json"
    rc = _benchmark().main(["--curve-from", run_dir, "--work", str(tmp_path / "work"),
                            "--n-test", "2", "--n-hand", "2", "--curve", str(png),
                            "--json", str(out)])
    assert rc == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(out.read_text())
    assert report["real_scored"] == ["C_01_08_000.png"]
    points = report["curve"]
    assert [p["step"] for p in points] == [1, 2]
    assert [p["seconds"] for p in points] == [e["seconds"] for e in on_disk]
    for p in points:
        for key in ("synthetic_miou", "real_heldout_iou", "hand_only_no_phone"):
            assert 0.0 <= p[key] <= 1.0
