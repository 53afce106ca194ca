"""The Ray engine (phone/distributed.py): ``phone segment --engine ray`` and
``phone train --workers N``, on one local Ray cluster of 2 CPUs started once
for the module.

What the checks compare against:
- Ray masks against the local command's masks of the same frames (and
  both against the hand-drawn annotations, so two empty masks cannot pass);
- the sharded input of each worker against a plain MaskRCNNSequence with
  the global batch (which images, in which order, over two epochs);
- the first step of a 2-worker run (1 image each) against one process with
  a batch of 2 from the same start weights: logged losses and the weight
  update. Both images of the batch are the same frame (a one-frame
  dataset): every loss is a mean over equal counts only then, so the mean of
  the two workers' losses equals the batch loss; the sampling of RPN anchors
  and of ROIs is switched off by the configuration (more anchor slots than
  anchors, ROI_POSITIVE_RATIO = 1 with as many ROI slots as proposals),
  since it draws from per-image random streams that differ between the two
  layouts; gradient clipping is off (it would hide a doubled gradient);
- the checkpoint of a resumed run that a killed worker stopped: complete,
  loadable, and segmenting like the same file loaded in this process.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from cli_calls import error_lines, run_cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_FRAMES = os.path.join(REPO, "datasets", "phone", "train")
INSTALL_LINE = "pip install 'mrcnn-phone[distributed]'"


def _has_ray():
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


needs_ray = pytest.mark.skipif(not _has_ray(), reason=f"Ray is not installed: {INSTALL_LINE}")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster (2 CPUs, no dashboard, small object store) for
    the module, stopped at its end. Classes of this module travel to the
    workers by value (the workers cannot import a test module)."""
    pytest.importorskip("ray", reason=f"Ray is not installed: {INSTALL_LINE}")
    import ray.cloudpickle
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    from phone.distributed import ray_cluster
    with ray_cluster(num_cpus=2) as ray:
        yield ray


def _gt_masks(folder):
    """{frame name: union of its annotated phone masks [H, W] bool}."""
    from phone.dataset import PhoneDataset
    ds = PhoneDataset()
    ds.load_phone(os.path.dirname(folder), os.path.basename(folder))
    ds.prepare()
    out = {}
    for image_id in ds.image_ids:
        name = os.path.splitext(os.path.basename(ds.image_info[image_id]["path"]))[0]
        out[name] = ds.load_mask(image_id)[0].any(axis=-1)
    return out


def _read_mask(path):
    import cv2
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _iou(a, b):
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else np.logical_and(a, b).sum() / union


# ------------------------------------------------------------- segmentation
LOCAL_SEGMENT = (
    "import sys\n"
    "from phone.cli import main\n"
    "code = main(['segment', '--dir', sys.argv[1], '--out', sys.argv[2], '--weights', 'shipped',"
    " '--quiet'])\n"
    "print('RAY' if 'ray' in sys.modules else 'NO RAY')\n"
    "sys.exit(code)\n")


@needs_ray
@pytest.mark.slow
def test_ray_masks_equal_local_masks_and_a_rerun_skips_them(cluster, tmp_path, capsys):
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    # The local command, in a fresh process: it must not import Ray.
    proc = subprocess.run([sys.executable, "-c", LOCAL_SEGMENT, TRAIN_FRAMES, str(local_out)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("NO RAY"), proc.stdout
    code, out, err = run_cli(["segment", "--engine", "ray", "--workers", 2, "--batch-size", 1,
                              "--dir", TRAIN_FRAMES, "--out", ray_out, "--weights", "shipped",
                              "--quiet"], capsys)
    assert code == 0, err
    assert "Done: 2 segmented, 0 skipped (mask exists), 0 failed of 2" in out
    assert sorted(os.listdir(ray_out)) == sorted(os.listdir(local_out)) == [
        "C_01_06_001_mask.png", "C_01_06_001_overlay.png",
        "C_01_07_000_mask.png", "C_01_07_000_overlay.png"]
    gt = _gt_masks(TRAIN_FRAMES)
    for name, truth in gt.items():
        local, remote = _read_mask(local_out / f"{name}_mask.png"), _read_mask(ray_out /
                                                                             f"{name}_mask.png")
        assert remote.dtype == np.uint8 and remote.shape == truth.shape
        assert set(np.unique(remote)) <= {0, 255}
        assert _iou(remote, local) >= 0.99, name
        assert _iou(remote, truth) > 0.5, name       # a phone mask, not two empty ones

    # A rerun skips what is done: remove one frame's outputs, the other stays untouched.
    kept = ray_out / "C_01_06_001_mask.png"
    stamp = kept.stat().st_mtime_ns
    for f in ("C_01_07_000_mask.png", "C_01_07_000_overlay.png"):
        (ray_out / f).unlink()
    code, out, err = run_cli(["segment", "--engine", "ray", "--workers", 1, "--dir",
                              TRAIN_FRAMES, "--out", ray_out, "--weights", "shipped", "--quiet"],
                             capsys)
    assert code == 0, err
    assert "Resuming: 1 of 2 images already have a mask" in err
    assert "Done: 1 segmented, 1 skipped (mask exists), 0 failed of 2" in out
    assert kept.stat().st_mtime_ns == stamp
    again = _read_mask(ray_out / "C_01_07_000_mask.png")
    assert _iou(again, _read_mask(local_out / "C_01_07_000_mask.png")) >= 0.99
    assert not [f for f in os.listdir(ray_out) if f.startswith(".")]   # no temp files left


@needs_ray
def test_a_bad_address_is_one_line(tmp_path, capsys):
    for argv in (["segment", "--engine", "ray", "--dir", TRAIN_FRAMES, "--out", tmp_path],
                 ["train", "--workers", 2, "--dataset", tmp_path]):
        for address, says in (("127.0.0.1:1", "no Ray cluster answers there"),
                              ("headnode", "expected HOST:PORT")):
            code, out, err = run_cli(argv + ["--address", address], capsys)
            prog = f"phone {argv[0]}"
            assert code == 2, err
            assert len(error_lines(err, prog)) == 1 and says in err, err
            assert "Traceback" not in err
            assert err.strip().count("\n") == 0, err
    assert os.listdir(tmp_path) == []


WITHOUT_RAY = (
    "import sys\n"
    "sys.modules['ray'] = None          # import ray -> ImportError, as when not installed\n"
    "from phone.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n")


@pytest.mark.parametrize("argv", [
    ["segment", "--engine", "ray", "--dir", TRAIN_FRAMES, "--out", "OUT"],
    ["train", "--workers", "2"],
])
def test_without_ray_the_engine_says_what_to_install(argv, tmp_path):
    # In a fresh process: blocking Ray here would break the threads of the
    # module's running cluster.
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    proc = subprocess.run([sys.executable, "-c", WITHOUT_RAY] + argv, capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"phone {argv[0]}: error:"), proc.stderr
    assert lines[0].endswith(INSTALL_LINE), proc.stderr
    assert not (tmp_path / "out").exists()


def test_phone_and_its_help_do_not_import_ray():
    code = (
        "import sys, phone, phone.cli, phone.distributed, phone.segment\n"
        "from phone.cli import main\n"
        "for argv in (['--help'], ['segment', '--help'], ['train', '--help']):\n"
        "    assert main(argv) == 0\n"
        "print('RAY' if 'ray' in sys.modules else 'NO RAY')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("NO RAY")
    assert "--engine {local,ray}" in proc.stdout and "--workers N" in proc.stdout


def test_the_ray_options_need_the_ray_engine(tmp_path, capsys):
    for argv, says in (
            (["segment", "--dir", TRAIN_FRAMES, "--out", tmp_path, "--workers", 2],
             "--workers needs --engine ray"),
            (["segment", "--dir", TRAIN_FRAMES, "--out", tmp_path, "--address", "auto"],
             "--address needs --engine ray"),
            (["segment", "--image", os.path.join(TRAIN_FRAMES, "C_01_06_001.png"), "--out",
              tmp_path, "--engine", "ray"], "--engine ray works with --dir"),
            (["train", "--address", "auto"], "--address needs --workers")):
        code, out, err = run_cli(argv, capsys)
        assert code == 2 and len(error_lines(err, f"phone {argv[0]}")) == 1, err
        assert says in err, err
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------- sharding
class _FakeStrategy:
    """What distribute_sequence asks of a MultiWorkerMirroredStrategy, for
    worker ``pipeline`` of ``pipelines`` with ``local`` replicas each."""

    def __init__(self, pipeline, pipelines, local=1):
        from types import SimpleNamespace
        self.pipeline, self.pipelines = pipeline, pipelines
        self.num_replicas_in_sync = pipelines * local
        self.extended = SimpleNamespace(worker_devices=["/cpu:0"] * local)

    def distribute_datasets_from_function(self, fn):
        import tensorflow as tf
        return fn(tf.distribute.InputContext(num_input_pipelines=self.pipelines,
                                             input_pipeline_id=self.pipeline,
                                             num_replicas_in_sync=self.num_replicas_in_sync))


def _ids(batch):
    return [int(i) for i in np.asarray(batch["input_image_meta"])[:, 0]]


@pytest.mark.parametrize("workers,local", [(2, 1), (3, 1), (2, 2)])
def test_each_worker_reads_its_share_of_the_global_batch(workers, local):
    from mrcnn.data.generator import MaskRCNNSequence, distribute_sequence
    from shapes import ShapesDataset, TinyConfig

    class Config(TinyConfig):
        IMAGE_MIN_DIM = IMAGE_MAX_DIM = 64
        RPN_ANCHOR_SCALES = (4, 8, 16, 32, 64)
        GPU_COUNT = local
        IMAGES_PER_GPU = 2

    ds = ShapesDataset()
    ds.load_shapes(7, 64, seed=3)          # 7 images: global batches wrap around
    ds.prepare()
    config, steps, epochs = Config(), 3, 2
    per_replica, replicas = config.IMAGES_PER_GPU, workers * local
    # One process with the global batch: the reference order.
    one = MaskRCNNSequence(ds, config, seed=11, steps=steps, workers=1,
                           batch_size=replicas * per_replica)
    expected = []
    for _ in range(epochs):
        expected += [_ids(one[s]) for s in range(steps)]
        one.on_epoch_end()
    got = [[] for _ in expected]
    for w in range(workers):
        seq = MaskRCNNSequence(ds, config, seed=11, steps=steps, workers=1)
        assert seq.batch_size == local * per_replica       # BATCH_SIZE of the worker
        data = iter(distribute_sequence(_FakeStrategy(w, workers, local), seq))
        for step in range(steps * epochs):
            for j in range(local):                          # its replicas, in order
                got[step].append((w * local + j, _ids(next(data))))
    merged = [[i for _, ids in sorted(parts) for i in ids] for parts in got]
    assert merged == expected
    assert expected[0] != expected[steps]                   # the order changes per epoch


def test_an_unseeded_sequence_is_refused_for_several_workers():
    from mrcnn.data.generator import MaskRCNNSequence, distribute_sequence
    from shapes import ShapesDataset, TinyConfig
    ds = ShapesDataset()
    ds.load_shapes(2, 64, seed=3)
    ds.prepare()
    seq = MaskRCNNSequence(ds, TinyConfig(), workers=1)
    with pytest.raises(ValueError, match="no seed"):
        distribute_sequence(_FakeStrategy(0, 2), seq)


# ----------------------------------------------------------------- training
def _equivalence_config(images):
    """The shipped model's architecture (trained weights: its proposals
    find the phone, so the mask and box heads get positive ROIs) with every
    random draw of the targets switched off (see the module docstring)."""
    from phone.weights import read_weights_file, resolve_weights
    path, _ = resolve_weights("shipped")
    base = read_weights_file(path).config()
    attrs = dict(GPU_COUNT=1, IMAGES_PER_GPU=images,
                 RPN_TRAIN_ANCHORS_PER_IMAGE=4096,          # > the 4092 anchors at 128 px
                 POST_NMS_ROIS_TRAINING=64, TRAIN_ROIS_PER_IMAGE=64, ROI_POSITIVE_RATIO=1.0,
                 GRADIENT_CLIP_NORM=1e9, LEARNING_RATE=0.001, LEARNING_RATE_SCHEDULE=None,
                 LEARNING_RATE_WARMUP_STEPS=0, STEPS_PER_EPOCH=1, VALIDATION_STEPS=1,
                 MIXED_PRECISION=None)
    return type("EquivalenceConfig", (type(base),), attrs)()


def _one_frame_dataset(root):
    """train/ and val/ holding the same one annotated frame."""
    via = json.load(open(os.path.join(TRAIN_FRAMES, "via_region_data.json")))
    key = next(k for k in via if via[k]["filename"] == "C_01_06_001.png")
    for sub in ("train", "val"):
        os.makedirs(os.path.join(root, sub))
        shutil.copy(os.path.join(TRAIN_FRAMES, "C_01_06_001.png"), os.path.join(root, sub))
        with open(os.path.join(root, sub, "via_region_data.json"), "w") as f:
            json.dump({key: via[key]}, f)
    return root


@pytest.fixture(scope="module")
def first_step(cluster, tmp_path_factory):
    """One step from the shipped weights: in this process with a batch of 2,
    and on 2 Ray workers with 1 image each (phone.distributed.train_ray)."""
    from phone.distributed import train_ray
    from phone.train import train
    root = tmp_path_factory.mktemp("distributed_training")
    data = _one_frame_dataset(str(root / "data"))
    common = dict(weights="shipped", epochs=1, recipe="balloon", layers="all", seed=0)
    one = train(_equivalence_config(2), data, logs_dir=str(root / "one"), verbose=0,
                say=lambda m: None, **common)
    two = train_ray(2, data, config=_equivalence_config(1), logs_dir=str(root / "two"),
                    say=lambda m: None, **common)
    return dict(root=root, data=data, one=one, two=two)


def _weights(path):
    from mrcnn.weights import read_weights_h5
    return {(layer, name): np.asarray(v, np.float64)
            for layer, ws in read_weights_h5(path).items() for name, v in ws}


@needs_ray
@pytest.mark.slow
def test_two_workers_make_the_first_step_of_one_process(first_step):
    from phone.weights import resolve_weights
    one, two = first_step["one"], first_step["two"]
    assert set(two["history"]) == set(one["history"])
    for name, values in one["history"].items():
        assert two["history"][name] == pytest.approx(values, rel=1e-4, abs=1e-6), name
    assert one["history"]["mrcnn_mask_loss"][0] > 0.05       # the mask head took part
    start = _weights(resolve_weights("shipped")[0])
    a, b = _weights(one["last"]), _weights(two["last"])
    assert set(a) == set(b) == set(start)
    keys = sorted(a)
    da = np.concatenate([(a[k] - start[k]).ravel() for k in keys])
    db = np.concatenate([(b[k] - start[k]).ravel() for k in keys])
    assert np.linalg.norm(da) > 1e-3                          # the step moved the weights
    assert np.linalg.norm(da - db) <= 1e-3 * np.linalg.norm(da)
    for k in [k for k in keys if k[0] == "mrcnn_mask"]:       # ... the last mask layer too
        moved = np.abs(a[k] - start[k]).max()
        assert moved > 0 and np.abs(b[k] - start[k]).max() == pytest.approx(moved, rel=1e-3)
    # Written once, by the chief, in the layout of phone train.
    logs = first_step["root"] / "two"
    runs = [d for d in os.listdir(logs) if not d.startswith(".")]
    assert len(runs) == 1 and runs[0].startswith("phone")
    assert os.path.dirname(two["last"]) == str(logs / runs[0])
    assert sorted(f for f in os.listdir(logs / runs[0]) if f.endswith(".h5")) == [
        "mask_rcnn_phone_0001.h5"]
    # one TensorBoard writer (a worker writing there too would add its own file)
    assert len(os.listdir(logs / runs[0] / "train")) == 1
    assert os.listdir(logs) == runs                           # Ray's run records removed


class KillWorker:
    """A Keras callback factory: on worker ``rank``, at the first batch of
    epoch ``epoch`` (0-based), the process is killed (SIGKILL: no Python
    clean-up, as a crash or the OOM killer)."""

    def __init__(self, rank, epoch):
        self.rank, self.epoch = rank, epoch

    def __call__(self):
        import keras
        import ray.train
        rank, epoch = self.rank, self.epoch
        mine = ray.train.get_context().get_world_rank() == rank

        class Kill(keras.callbacks.Callback):
            def on_epoch_begin(self, e, logs=None):
                self.e = e

            def on_train_batch_begin(self, batch, logs=None):
                if mine and self.e == epoch:
                    import signal
                    os.kill(os.getpid(), signal.SIGKILL)
        return Kill()


@needs_ray
@pytest.mark.slow
def test_a_killed_worker_is_one_line_and_its_run_resumes_and_segments(first_step, capsys,
                                                                       monkeypatch):
    import phone.distributed as engine
    logs = first_step["root"] / "two"
    run = os.path.dirname(first_step["two"]["last"])
    original = engine.train_ray

    def killing(*args, **kwargs):
        return original(*args, callback_factories=[KillWorker(rank=1, epoch=2)], **kwargs)
    # --weights last resumes the 1-epoch run (config from its checkpoint);
    # worker 1 dies at the start of epoch 3, after checkpoint 2.
    monkeypatch.setattr(engine, "train_ray", killing)
    code, out, err = run_cli(["train", "--workers", 2, "--dataset", first_step["data"],
                              "--weights", "last", "--logs", logs, "--epochs", 3, "--recipe",
                              "balloon", "--layers", "all", "--seed", 0], capsys)
    assert code == 1, err
    lines = error_lines(err, "phone train")
    assert len(lines) == 1, err
    assert "worker 1 died" in lines[0] and "mask_rcnn_phone_0002.h5" in lines[0], lines
    assert "resume with --weights last" in lines[0]
    assert "Traceback" not in err
    files = sorted(os.listdir(run))
    assert [f for f in files if f.endswith(".h5")] == ["mask_rcnn_phone_0001.h5",
                                                       "mask_rcnn_phone_0002.h5"]
    assert not [f for f in files if f.startswith(".tmp")]
    # nothing else: no second run folder, no scratch left by the killed worker
    assert os.listdir(logs) == [os.path.basename(run)]

    # The checkpoint the killed run left loads, and segments as in this process.
    from phone.model import PhoneModel
    frame = os.path.join(TRAIN_FRAMES, "C_01_06_001.png")
    out_dir = first_step["root"] / "masks"
    code, _, err = run_cli(["segment", "--image", frame, "--weights", "last", "--logs", logs,
                            "--out", out_dir], capsys)
    assert code == 0, err
    from phone.imageio import read_image
    mine, _ = PhoneModel(os.path.join(run, "mask_rcnn_phone_0002.h5"), say=False).segment(
        read_image(frame))
    written = _read_mask(out_dir / "C_01_06_001_mask.png")
    assert np.array_equal(written, mine)
    assert _iou(written, _gt_masks(TRAIN_FRAMES)["C_01_06_001"]) > 0.5
