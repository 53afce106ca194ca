"""Interruptions: SIGKILL during training, during a checkpoint write and
during ``segment --dir``; Ctrl-C; NaN losses.

Nothing finished may be lost or half-written: checkpoints and masks are
written to a temp file and renamed, so after a kill every file under its
final name is complete, and the next run resumes after the last one.
"""
import glob
import hashlib
import os
import signal
import time

import cv2
import h5py
import numpy as np
import pytest

from robust_helpers import HERE, REPO, expected_mask, noise_image, spawn

HOOKS = HERE / "hooks.py"


# ----------------------------------------------------------------- helpers
def wait_for(path, proc, timeout=240):
    """Poll until ``path`` exists; fail with the process output if it exits
    or the time runs out."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process ended ({proc.returncode}) before {path}:\n{out[-3000:]}\n{err[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"timed out waiting for {path}:\n{out[-3000:]}\n{err[-3000:]}")
        time.sleep(0.2)


def kill(proc):
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return out, err


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def check_checkpoint(path):
    """A complete checkpoint: opens with h5py, has layer_names, every listed
    weight is readable and finite."""
    from mrcnn.weights import read_weights_h5
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
    assert "mrcnn_mask" in names and "rpn_model" in names
    stored = read_weights_h5(path)
    assert sum(len(w) for w in stored.values()) > 50


def empty_start_weights(path):
    """A valid Keras-2 layout file with no layer of the model: training
    starts from the random initialisation."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"unused"])
        f.create_group("unused").attrs["weight_names"] = np.array([], dtype="S1")
    return path


@pytest.fixture(scope="module")
def phone_dataset(tmp_path_factory):
    """datasets/synthetic frames (64 px) in train/ and val/ with VIA files."""
    from phone.synthetic import generate
    root = tmp_path_factory.mktemp("synthetic")
    generate(root / "train", 4, size=64, seed=0)
    generate(root / "val", 2, size=64, seed=1)
    return root


def train_args(dataset, logs, weights, epochs):
    spec = f"{HOOKS}:HookedTrainConfig"
    return ["-m", "phone", "train", "--config", spec, "--dataset", dataset, "--logs", logs,
            "--weights", weights, "--epochs", epochs, "--layers", "all"]


# ----------------------------------------------------------------- training
@pytest.mark.slow
def test_sigkill_mid_epoch_resume_then_nan_keeps_last_good(tmp_path, phone_dataset):
    """`phone train` SIGKILLed in the middle of epoch 2: epoch 1's checkpoint
    is complete and the only one. `--weights last` resumes at epoch 2 in the
    same run folder. In that run the weights go NaN after the first step of
    epoch 3: training stops with one error line (exit 1) and epoch 2's
    checkpoint stays the last one. (One test for both, to train only twice.)"""
    logs = tmp_path / "logs"
    start = empty_start_weights(tmp_path / "start.h5")
    marker = tmp_path / "frozen"
    proc = spawn(train_args(phone_dataset, logs, start, 2), REPO,
                 env={"ROBUST_MARKER": marker, "ROBUST_HANG_BATCH": "2:1"})  # epoch 2, step 1
    wait_for(marker, proc)
    assert open(marker).read() == "epoch 2 step 1"
    kill(proc)

    run_dirs = glob.glob(str(logs / "phone*"))
    assert len(run_dirs) == 1
    run = run_dirs[0]
    ckpts = sorted(glob.glob(os.path.join(run, "*.h5")))
    assert [os.path.basename(p) for p in ckpts] == ["mask_rcnn_phone_0001.h5"]
    check_checkpoint(ckpts[0])
    assert not [f for f in os.listdir(run) if f.startswith(".tmp_")]   # no save was running
    first = sha(ckpts[0])

    # resume: --weights last picks epoch 1; epoch 2 trains and is saved, epoch 3 diverges
    proc = spawn(train_args(phone_dataset, logs, "last", 3), REPO,
                 env={"ROBUST_NAN_BATCH": "3:0"})
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 1, err[-3000:]
    assert "Traceback" not in err
    assert f"Loaded last weights: {ckpts[0]}" in out
    assert "from epoch 1 to 3" in out
    last_good = os.path.join(run, "mask_rcnn_phone_0002.h5")
    assert "Training stopped: loss is nan at epoch 3" in out
    errors = [ln for ln in err.splitlines() if ln.startswith("phone train: error:")]
    assert len(errors) == 1, err[-3000:]
    assert "diverged (NaN loss) at epoch 3" in errors[0] and last_good in errors[0]
    assert sorted(f for f in os.listdir(run) if f.endswith(".h5")) == [
        "mask_rcnn_phone_0001.h5", "mask_rcnn_phone_0002.h5"]
    assert sha(ckpts[0]) == first                   # epoch 1 was not redone
    check_checkpoint(last_good)
    from phone.weights import find_last_checkpoint
    assert find_last_checkpoint(logs, "phone") == last_good


def test_sigkill_while_a_checkpoint_is_written(tmp_path):
    """Killed half-way through writing epoch 3's file: the earlier
    checkpoint is intact, nothing exists under the new name, and the partial
    temp file is never taken for a checkpoint."""
    from mrcnn.weights import read_weights_h5
    from phone.weights import find_last_checkpoint
    run = tmp_path / "logs" / "phone20240101T1200"
    run.mkdir(parents=True)
    good = run / "mask_rcnn_phone_0002.h5"
    proc = spawn([HOOKS, "save", good], tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    good_sha = sha(good)

    marker = tmp_path / "frozen"
    proc = spawn([HOOKS, "save", run / "mask_rcnn_phone_0003.h5", "5"], tmp_path,
                 env={"ROBUST_MARKER": marker})
    wait_for(marker, proc)
    kill(proc)

    names = sorted(os.listdir(run))
    temps = [n for n in names if n.startswith(".tmp_")]
    assert names == sorted(temps + ["mask_rcnn_phone_0002.h5"]) and len(temps) == 1
    assert os.path.getsize(run / temps[0]) > 0          # the half-written file is there...
    assert sha(good) == good_sha
    stored = read_weights_h5(str(good))                 # ...the last complete one is intact
    assert [float(stored[f"fc{i}"][0][1].mean()) for i in range(6)] == [1, 2, 3, 4, 5, 6]
    assert find_last_checkpoint(tmp_path / "logs", "phone") == str(good)


def test_checkpoint_refuses_nan_weights_even_when_the_loss_is_finite(tmp_path, capsys):
    """A NaN gradient in an epoch's last step leaves that epoch's mean loss
    finite but the weights broken: no checkpoint may be written."""
    import keras
    from mrcnn.training import CheckpointCallback, NaNGuard
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="fc")(inputs))
    path = str(tmp_path / "run" / "mask_rcnn_x_{epoch:04d}.h5")
    cb = CheckpointCallback(path, model)
    cb.set_model(model)
    cb.on_epoch_end(0, {"loss": 0.5})
    assert os.path.isfile(path.format(epoch=1)) and cb.saved == [path.format(epoch=1)]
    kernel, bias = model.get_layer("fc").get_weights()
    kernel[0, 1] = np.nan
    model.get_layer("fc").set_weights([kernel, bias])
    cb.on_epoch_end(1, {"loss": 0.4})
    assert not os.path.exists(path.format(epoch=2))
    assert cb.nan_epoch == 2 and model.stop_training is True
    assert "fc" in cb.reason and "NaN" in cb.reason
    assert "kept the last good checkpoint" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "run")) == ["mask_rcnn_x_0001.h5"]
    # a NaN loss stops as well, and NaNGuard stops at the first bad batch
    model.stop_training = False
    cb.on_epoch_end(2, {"loss": float("inf")})
    assert cb.nan_epoch == 3 and "loss is inf" in cb.reason and model.stop_training
    guard = NaNGuard()
    guard.set_model(model)
    model.stop_training = False
    guard.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    guard.on_train_batch_end(1, {"loss": float("nan")})
    assert model.stop_training and guard.stopped_at == 1


# ----------------------------------------------------------------- segment --dir
def make_frames(folder, n=8):
    images = {}
    for i in range(n):
        h, w = 30 + 3 * i, 40 + 2 * i
        image = noise_image(h, w, seed=i)
        name = f"f{i:02d}"
        assert cv2.imwrite(str(folder / f"{name}.png"), image[:, :, ::-1])
        images[name] = image
    return images


def read_mask(path):
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert m is not None, path
    return m


def segment_args(frames, out, batch=2):
    return ["segment", "--dir", frames, "--out", out, "--no-overlay", "--quiet",
            "--batch-size", batch]


def test_segment_dir_sigkill_mid_write_then_resume(tmp_path):
    """Killed while writing the 5th mask (half of it in the temp file): the
    4 finished masks are complete, the 5th has no file under its name; the
    rerun does only the 4 missing images and leaves the finished ones alone."""
    frames, out = tmp_path / "frames", tmp_path / "out"
    frames.mkdir()
    images = make_frames(frames)
    marker = tmp_path / "frozen"
    proc = spawn([HOOKS] + segment_args(frames, out), tmp_path,
                 env={"ROBUST_MARKER": marker, "ROBUST_HANG_MASK": 5})
    wait_for(marker, proc, timeout=120)
    kill(proc)

    done = sorted(f for f in os.listdir(out) if f.endswith("_mask.png"))
    assert done == [f"f{i:02d}_mask.png" for i in range(4)]
    for f in done:
        h, w = images[f[:3]].shape[:2]
        np.testing.assert_array_equal(read_mask(out / f), expected_mask(h, w))
    assert [f for f in os.listdir(out) if f.startswith(".")] == [".f04_mask.png.interrupted.tmp"]
    before = {f: (os.stat(out / f).st_mtime_ns, sha(out / f)) for f in done}

    proc = spawn([HOOKS] + segment_args(frames, out), tmp_path)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "4 segmented, 4 skipped (mask exists), 0 failed of 8" in stdout
    assert "Resuming: 4 of 8 images already have a mask" in stderr
    for f, stamp in before.items():
        assert (os.stat(out / f).st_mtime_ns, sha(out / f)) == stamp
    for name, image in images.items():
        np.testing.assert_array_equal(read_mask(out / f"{name}_mask.png"),
                                      expected_mask(*image.shape[:2]))


@pytest.mark.parametrize("hang_at", [1, 4])
def test_segment_dir_sigkill_mid_detect_then_resume(tmp_path, hang_at):
    """Killed inside the detector (batch size 1, frozen in its hang_at-th
    call, so exactly hang_at - 1 images are finished): those masks are
    complete and correct, nothing else is left behind, and the rerun does
    the rest only. No sleep or timing decides where the kill lands."""
    frames, out = tmp_path / "frames", tmp_path / "out"
    frames.mkdir()
    images = make_frames(frames, n=10)
    marker = tmp_path / "frozen"
    proc = spawn([HOOKS] + segment_args(frames, out, batch=1), tmp_path,
                 env={"ROBUST_MARKER": marker, "ROBUST_HANG_DETECT": hang_at})
    wait_for(marker, proc, timeout=120)
    kill(proc)
    n_done = hang_at - 1
    done = sorted(f for f in os.listdir(out) if f.endswith("_mask.png")) if out.exists() else []
    assert done == [f"f{i:02d}_mask.png" for i in range(n_done)]
    for f in done:
        np.testing.assert_array_equal(read_mask(out / f), expected_mask(*images[f[:3]].shape[:2]))
    if out.exists():
        assert not [f for f in os.listdir(out) if f.startswith(".")]
    proc = spawn([HOOKS] + segment_args(frames, out), tmp_path)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert f"{10 - n_done} segmented, {n_done} skipped" in stdout
    assert len([f for f in os.listdir(out) if f.endswith("_mask.png")]) == 10


def test_segment_dir_ctrl_c_exits_130_with_resume_hint(tmp_path):
    """Ctrl-C while the detector works on the 3rd image (frozen there, so
    the process is surely still running when SIGINT arrives): exit 130, a
    one-line message, the 2 finished masks kept, no temp file left."""
    frames, out = tmp_path / "frames", tmp_path / "out"
    frames.mkdir()
    images = make_frames(frames, n=10)
    marker = tmp_path / "frozen"
    proc = spawn([HOOKS] + segment_args(frames, out, batch=1), tmp_path,
                 env={"ROBUST_MARKER": marker, "ROBUST_HANG_DETECT": 3})
    wait_for(marker, proc, timeout=120)
    os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in stderr
    assert "every mask written so far is complete; run the same command again to resume" in stderr
    assert stderr.strip().splitlines()[-1] == "phone segment: interrupted"
    assert sorted(os.listdir(out)) == ["f00_mask.png", "f01_mask.png"]
    for f in ("f00", "f01"):
        np.testing.assert_array_equal(read_mask(out / f"{f}_mask.png"),
                                      expected_mask(*images[f].shape[:2]))
