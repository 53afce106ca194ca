"""phone.cli / phone.weights / phone.train: entry points, errors, weights
resolution and the training wiring (MaskRCNN.train replaced by a recorder)."""
import os
import pathlib
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from phone.config import PhoneConfig

from cli_calls import error_lines, run_cli

REPO = pathlib.Path(__file__).resolve().parents[2]
THIS = pathlib.Path(__file__).resolve()


class TinyTrainConfig(PhoneConfig):
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 64
    RPN_ANCHOR_SCALES = (4, 8, 16, 32, 64)
    PRE_NMS_LIMIT = 200
    POST_NMS_ROIS_TRAINING = 50
    POST_NMS_ROIS_INFERENCE = 20
    TRAIN_ROIS_PER_IMAGE = 16
    FPN_CLASSIF_FC_LAYERS_SIZE = 64
    TOP_DOWN_PYRAMID_SIZE = 32
    STEPS_PER_EPOCH = 1
    VALIDATION_STEPS = 1


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "Mask_RCNN"), str(REPO)])
    env.pop("PHONE_DEBUG", None)
    return env


def _run(args, cwd):
    return subprocess.run([sys.executable] + args, cwd=str(cwd), env=_env(),
                          capture_output=True, text=True, timeout=120)


# ----------------------------------------------------------------- entry points
@pytest.mark.parametrize("args,cwd", [
    (["phone/phone.py", "--help"], REPO),
    (["phone.py", "--help"], REPO / "phone"),        # Matterport's balloon way
    (["-m", "phone", "--help"], REPO),
])
def test_help_exits_zero(args, cwd):
    r = _run(args, cwd)
    assert r.returncode == 0, r.stderr
    for command in ("train", "segment", "evaluate", "demo"):
        assert command in r.stdout
    assert "Traceback" not in r.stderr


def test_version_through_main(capsys):
    """`phone --version`: "phone X.Y.Z" on stdout, exit 0; X.Y.Z is both
    phone.__version__ and the installed distribution's version (pyproject
    reads it from phone.__version__: the two cannot drift apart)."""
    import importlib.metadata
    import phone
    code, out, err = run_cli(["--version"], capsys)
    assert (code, out, err) == (0, f"phone {phone.__version__}\n", "")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", phone.__version__)
    try:
        assert importlib.metadata.version("mrcnn-phone") == phone.__version__
    except importlib.metadata.PackageNotFoundError:
        pass                                   # a checkout that is not installed


def _console_script():
    """The `phone` console script of this interpreter's environment."""
    script = pathlib.Path(sys.executable).parent / ("phone.exe" if os.name == "nt" else "phone")
    return [str(script)] if script.is_file() else None


@pytest.mark.parametrize("how", ["console script", "python -m phone"])
def test_version_of_the_installed_command(how):
    import phone
    if how == "console script":
        cmd = _console_script()
        if cmd is None:
            pytest.skip("phone is not installed in this environment (no console script)")
    else:
        cmd = [sys.executable, "-m", "phone"]
    r = subprocess.run(cmd + ["--version"], cwd=str(REPO), env=_env(), capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, f"phone {phone.__version__}\n", "")


def test_phone_py_imports_the_package_not_itself(tmp_path):
    """Run from inside phone/, `import phone` must still be the package: the
    segment command reaches its own one-line error for a missing image."""
    r = _run(["phone.py", "segment", "--image", str(tmp_path / "nope.png"), "--weights",
              str(tmp_path / "w.h5")], REPO / "phone")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"phone segment: error: {tmp_path / 'nope.png'}: "
                                             f"no such image file"]
    r = _run(["phone.py", "segment", "--help"], REPO / "phone")
    assert r.returncode == 0 and "--coco-class" in r.stdout


def test_missing_weights_file_one_line_exit_2(tmp_path):
    import cv2
    img = tmp_path / "f.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    missing = tmp_path / "no_such_weights.h5"
    r = _run(["-m", "phone", "segment", "--image", str(img), "--weights", str(missing)], REPO)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phone segment: error: ")
    assert str(missing) in lines[0] and "not found" in lines[0]


@pytest.mark.parametrize("content,problem", [
    (b"this is not HDF5 at all", "not a readable HDF5"),
    (b"", "empty"),
])
def test_garbage_h5_one_line_error(tmp_path, capsys, content, problem):
    import cv2
    img = tmp_path / "f.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    bad = tmp_path / "bad.h5"
    bad.write_bytes(content)
    for argv in (["segment", "--image", img, "--weights", bad, "--out", tmp_path],
                 ["evaluate", "--dataset", REPO / "datasets" / "phone", "--weights", bad,
                  "--out", tmp_path],
                 ["train", "--dataset", REPO / "datasets" / "phone", "--weights", bad,
                  "--logs", tmp_path / "logs", "--config", f"{THIS}:TinyTrainConfig"]):
        code, out, err = run_cli(argv, capsys)
        prog = f"phone {argv[0]}"
        assert code == 2, (argv[0], err)
        lines = error_lines(err, prog)
        assert len(lines) == 1 and "bad.h5" in lines[0] and problem in lines[0], err
        assert "Traceback" not in err
        if argv[0] == "evaluate":     # stopped at the weights: no report written
            assert not (tmp_path / "evaluation.json").exists()
    assert not (tmp_path / "logs").exists() or not list((tmp_path / "logs").iterdir())


def test_h5_without_keras_layout(tmp_path, capsys):
    import h5py
    import cv2
    img = tmp_path / "f.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.arange(3)
    code, _, err = run_cli(["segment", "--image", img, "--weights", tmp_path / "other.h5"], capsys)
    assert code == 2 and "not a Keras weights file" in err


def test_usage_errors_exit_2(capsys):
    from phone.cli import main
    assert main(["segment", "--image", "a.png", "--dir", "d"]) == 2      # exclusive
    assert main(["segment", "--image", "a.png", "--score", "1.5"]) == 2
    assert main(["train", "--layers", "2+"]) == 2
    assert main(["segment", "--image", "a.png", "--bogus"]) == 2
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--score" in err


def test_unexpected_error_is_one_line_unless_debug(capsys, monkeypatch):
    import phone.commands.segment

    def boom(args):
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setattr(phone.commands.segment, "run", boom)
    code, _, err = run_cli(["segment", "--image", "x.png"], capsys)
    assert code == 1
    assert err.strip().splitlines() == ["phone segment: error: RuntimeError: boom second line "
                                        "(run with --debug for the traceback)"]
    with pytest.raises(RuntimeError):
        run_cli(["--debug", "segment", "--image", "x.png"], capsys)

    def huge(args):  # TensorFlow op errors carry pages of graph detail
        raise RuntimeError("node ProposalLayer failed " + "detail " * 500)
    monkeypatch.setattr(phone.commands.segment, "run", huge)
    code, _, err = run_cli(["segment", "--image", "x.png"], capsys)
    line, = err.strip().splitlines()
    assert code == 1 and len(line) < 420 and "node ProposalLayer failed" in line
    assert "…" in line

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(phone.commands.segment, "run", interrupted)
    assert run_cli(["segment", "--image", "x.png"], capsys)[0] == 130


def test_demo_command_passes_its_options_to_run_demo(monkeypatch, capsys):
    import phone.demo
    seen = {}

    def fake_run_demo(**kwargs):
        seen.update(kwargs)
        return {}
    monkeypatch.setattr(phone.demo, "run_demo", fake_run_demo)
    code, _, _ = run_cli(["demo", "--steps", "7", "--n-train", "9", "--seed", "3",
                          "--from-scratch", "--quiet"], capsys)
    assert code == 0
    assert (seen["steps"], seen["n_train"], seen["seed"]) == (7, 9, 3)
    assert seen["from_scratch"] is True and seen["quiet"] is True and seen["n_val"] == 40
    code, _, err = run_cli(["demo", "--fast", "x"], capsys)
    assert code == 2 and "unrecognized arguments: --fast x" in err


# ----------------------------------------------------------------- config helpers
def test_derive_config_recomputes_batch_size():
    from phone.config import PhoneInferenceConfig, derive_config
    base = PhoneInferenceConfig()
    d = derive_config(base, IMAGES_PER_GPU=3, DETECTION_MIN_CONFIDENCE=0.25)
    assert d.BATCH_SIZE == 3 and d.DETECTION_MIN_CONFIDENCE == 0.25
    assert isinstance(d, PhoneInferenceConfig) and d.IMAGE_MAX_DIM == base.IMAGE_MAX_DIM
    assert base.BATCH_SIZE == 1 and base.DETECTION_MIN_CONFIDENCE == 0.7


@pytest.mark.parametrize("command", ["train", "segment", "evaluate", "realtime"])
def test_precision_flag_reaches_the_config(command, monkeypatch):
    import phone.model
    from phone.cli import build_parser
    from phone.commands._args import segmenter_from_args
    from phone.config import PhoneInferenceConfig, inference_config, training_config
    argv = {"train": ["train", "--dataset", "d"], "segment": ["segment", "--image", "x.png"],
            "evaluate": ["evaluate", "--dataset", "d"], "realtime": ["realtime"]}[command]
    parser = build_parser()
    args = parser.parse_args(argv + ["--precision", "mixed_bfloat16"])
    assert args.precision == "mixed_bfloat16"
    seen = {}
    monkeypatch.setattr(phone.model, "build_segmenter", lambda **kw: seen.update(kw))
    if command == "train":
        assert training_config(args.config, precision=args.precision).MIXED_PRECISION == \
            "mixed_bfloat16"
    else:
        segmenter_from_args(args, 1)
        assert seen["precision"] == "mixed_bfloat16"
        assert inference_config(PhoneInferenceConfig, precision=seen["precision"]) \
            .MIXED_PRECISION == "mixed_bfloat16"
    plain = parser.parse_args(argv)
    if command == "train":
        config = training_config(plain.config, precision=plain.precision)
    else:
        segmenter_from_args(plain, 1)
        config = inference_config(PhoneInferenceConfig, precision=seen["precision"])
    assert config.MIXED_PRECISION is None
    with pytest.raises(SystemExit):
        parser.parse_args(argv + ["--precision", "half"])


def test_load_config_class_from_file_and_module(tmp_path):
    from phone.config import load_config_class
    from phone.errors import CommandError
    assert load_config_class(f"{THIS}:TinyTrainConfig")().IMAGE_SHAPE.tolist() == [64, 64, 3]
    assert load_config_class("phone.config:PhoneConfig") is PhoneConfig
    with pytest.raises(CommandError, match="no 'Nope'"):
        load_config_class("phone.config:Nope")
    with pytest.raises(CommandError, match="no such config file"):
        load_config_class(f"{tmp_path / 'x.py'}:C")
    (tmp_path / "broken.py").write_text("raise ValueError('bad\\nconfig')\n")
    with pytest.raises(CommandError, match="ValueError: bad config"):
        load_config_class(f"{tmp_path / 'broken.py'}:C")


# ----------------------------------------------------------------- weights
def _touch(path, size=10):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    return path


def test_find_last_checkpoint_matches_maskrcnn_find_last(tmp_path):
    from mrcnn.model import MaskRCNN
    from phone.weights import WeightsError, find_last_checkpoint
    logs = tmp_path / "logs"
    _touch(logs / "phone20240101T0000" / "mask_rcnn_phone_0001.h5")
    _touch(logs / "phone20240101T0000" / "mask_rcnn_phone_0012.h5")
    expected = _touch(logs / "phone20240301T0915" / "mask_rcnn_phone_0003.h5")
    (logs / "phone20250101T0000").mkdir()            # newer run without checkpoint
    _touch(logs / "coco20260101T0000" / "mask_rcnn_coco_0001.h5")  # other model
    assert find_last_checkpoint(logs, "phone") == str(expected)
    # same answer as Matterport's method (which only needs config and model_dir)
    stub = SimpleNamespace(config=SimpleNamespace(NAME="phone"), model_dir=str(logs))
    assert MaskRCNN.find_last(stub) == str(expected)
    with pytest.raises(WeightsError, match="no checkpoint"):
        find_last_checkpoint(tmp_path / "empty", "phone")


def test_resolve_weights(tmp_path, monkeypatch):
    from mrcnn import utils
    from phone.weights import WeightsError, resolve_weights
    coco = _touch(tmp_path / "coco.h5")
    monkeypatch.setenv("PHONE_COCO_WEIGHTS", str(coco))
    assert resolve_weights("COCO") == (str(coco), "coco")
    ckpt = _touch(tmp_path / "logs" / "phone20240101T0000" / "mask_rcnn_phone_0002.h5")
    assert resolve_weights("last", logs_dir=tmp_path / "logs", name="phone") == (str(ckpt), "last")
    assert resolve_weights(str(coco)) == (str(coco), "path")
    with pytest.raises(WeightsError, match="is a directory"):
        resolve_weights(str(tmp_path))
    with pytest.raises(WeightsError, match="empty"):
        resolve_weights(str(_touch(tmp_path / "zero.h5", 0)))

    # missing COCO file: downloaded to the configured place; offline -> one line
    target = tmp_path / "dl" / "mask_rcnn_coco.h5"
    monkeypatch.setenv("PHONE_COCO_WEIGHTS", str(target))
    calls = []

    def fake_download(path, verbose=1):
        calls.append(path)
        _touch(pathlib.Path(path))
        return path
    monkeypatch.setattr(utils, "download_trained_weights", fake_download)
    assert resolve_weights("coco") == (str(target), "coco") and calls == [str(target)]
    target.unlink()

    def offline(path, verbose=1):
        raise utils.WeightsDownloadError(f"COCO weights download failed (network error: "
                                         f"no route) from X; place it at {path}")
    monkeypatch.setattr(utils, "download_trained_weights", offline)
    with pytest.raises(WeightsError) as e:
        resolve_weights("coco")
    assert "\n" not in str(e.value) and str(target) in str(e.value)
    assert "network error" in str(e.value)


# ----------------------------------------------------------------- train wiring
@pytest.fixture(scope="module")
def fake_coco_weights(tmp_path_factory):
    """Weights of a tiny model whose class-specific layers have COCO's 81
    classes (like mask_rcnn_coco.h5 for the phone config)."""
    import h5py
    from mrcnn.model import MaskRCNN
    from phone.config import derive_config
    d = tmp_path_factory.mktemp("fake_coco")
    config = derive_config(TinyTrainConfig(), NUM_CLASSES=81, IMAGES_PER_GPU=1)
    model = MaskRCNN("inference", config, str(d))
    path = d / "mask_rcnn_coco.h5"
    model.save_weights(str(path))
    with h5py.File(path, "r") as f:
        conv1 = np.asarray(f["conv1"]["conv1/kernel:0"])
        assert f["mrcnn_class_logits"]["mrcnn_class_logits/bias:0"].shape == (81,)
    return path, conv1


def test_train_from_coco_excludes_class_layers(tmp_path, fake_coco_weights, monkeypatch, capsys):
    if not (REPO / "datasets/phone/val/via_region_data.json").is_file():
        pytest.skip("datasets/phone is not populated")
    from mrcnn.model import MaskRCNN
    path, conv1 = fake_coco_weights
    monkeypatch.setenv("PHONE_COCO_WEIGHTS", str(path))
    calls = []

    def fake_train(self, train_dataset, val_dataset, learning_rate, epochs, layers,
                   augmentation=None, **kw):
        calls.append(dict(self=self, train=train_dataset, val=val_dataset, lr=learning_rate,
                          epochs=epochs, layers=layers, aug=augmentation))
    monkeypatch.setattr(MaskRCNN, "train", fake_train)
    code, out, err = run_cli(["train", "--dataset", REPO / "datasets" / "phone", "--weights",
                              "coco", "--logs", tmp_path / "logs", "--epochs", "3", "--layers",
                              "4+", "--lr", "0.01", "--augment", "--config",
                              f"{THIS}:TinyTrainConfig"], capsys)
    assert code == 0, err
    assert len(calls) == 1
    c = calls[0]
    assert (c["epochs"], c["layers"], c["lr"]) == (3, "4+", 0.01)
    assert c["self"].config.LEARNING_RATE == 0.01 and c["self"].mode == "training"
    assert c["train"].num_images == 2 and c["val"].num_images >= 1
    assert type(c["aug"]).__name__ == "Compose"
    km = c["self"].keras_model
    # backbone from the file, class-specific head re-initialised with 2 classes
    np.testing.assert_array_equal(km.get_layer("conv1").get_weights()[0], conv1)
    assert km.get_layer("mrcnn_class_logits").get_weights()[1].shape == (2,)
    assert "start from scratch" in out
    assert f"Checkpoints: {tmp_path / 'logs'}" in out


def test_augmentation_keeps_masks_aligned():
    from mrcnn.data.augment import apply_augmentation
    from phone.train import build_augmentation
    aug = build_augmentation()
    image = np.zeros((64, 64, 3), np.uint8)
    image[10:30, 20:40] = 255
    mask = np.zeros((64, 64, 1), bool)
    mask[10:30, 20:40, 0] = True
    for _ in range(5):
        im2, m2 = apply_augmentation(image, mask, aug)
        assert im2.shape == image.shape and m2.shape == mask.shape and m2.dtype == bool
        # wherever the mask went, the bright square went too (colour jitter aside)
        bright = im2.mean(axis=2) > 100
        inter = np.logical_and(bright, m2[:, :, 0]).sum()
        assert inter >= 0.8 * max(1, m2[:, :, 0].sum())


def test_train_via_merges_a_corrected_project_with_the_hand_annotations(tmp_path, capsys):
    """phone train --train-via A.json B.json: the training set is the union of
    both files' frames, a frame in both takes B's regions (with a warning)."""
    import json
    import shutil
    import warnings
    from phone.errors import PhoneDataWarning
    from phone.train import load_datasets
    data = tmp_path / "data"
    shutil.copytree(REPO / "datasets" / "phone", data)
    hand = data / "train" / "via_region_data.json"
    entries = json.loads(hand.read_text())
    # a "corrected" project: the first frame's polygon moved 3 px right, plus the val frame
    first_key = sorted(entries)[0]
    moved = json.loads(json.dumps({first_key: entries[first_key]}))
    sa = moved[first_key]["regions"][0]["shape_attributes"]
    sa["all_points_x"] = [x + 3 for x in sa["all_points_x"]]
    shutil.copy(data / "val" / "C_01_08_000.png", data / "train" / "C_01_08_000.png")
    val = json.loads((data / "val" / "via_region_data.json").read_text())
    moved.update({k: v for k, v in val.items() if v["filename"] == "C_01_08_000.png"})
    corrected = data / "train" / "corrected.json"
    corrected.write_text(json.dumps(moved))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_set, _ = load_datasets(str(data), train_via=[str(hand), str(corrected)])
    names = sorted(i["path"].rsplit("/", 1)[-1] for i in train_set.image_info)
    assert names == ["C_01_06_001.png", "C_01_07_000.png", "C_01_08_000.png"]
    assert any(issubclass(w.category, PhoneDataWarning) and "corrected.json" in str(w.message)
               for w in caught)
    first = next(i for i in train_set.image_ids
                 if train_set.image_info[i]["path"].endswith(entries[first_key]["filename"]))
    import skimage.draw
    expected = np.zeros((128, 128), bool)     # the moved polygon, rasterised independently
    expected[skimage.draw.polygon(sa["all_points_y"], sa["all_points_x"], (128, 128))] = True
    np.testing.assert_array_equal(train_set.load_mask(first)[0][:, :, 0], expected)

    code, out, err = run_cli(["train", "--dataset", data, "--train-via", hand, corrected,
                              "--weights", "last", "--logs", tmp_path / "logs", "--config",
                              f"{THIS}:TinyTrainConfig"], capsys)
    assert code == 2 and "no checkpoint" in err      # reached the weights only after the data
    assert "Dataset" in out and "3 training" in out


def test_train_options_image_size_steps_and_imagenet(tmp_path, monkeypatch, capsys):
    """`phone train --weights imagenet --image-size 128 --steps-per-epoch 7`:
    the model is built for 128 px with 7 steps an epoch, and the backbone
    starts from the ImageNet file (a stand-in in the user cache with
    Matterport's layer names: its conv1 kernel is loaded, the heads are not
    touched)."""
    if not (REPO / "datasets/phone/val/via_region_data.json").is_file():
        pytest.skip("datasets/phone is not populated")
    import keras
    from mrcnn.core import download
    from mrcnn.model import MaskRCNN
    from mrcnn.weights import save_weights_h5
    monkeypatch.setenv("MRCNN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))     # no legacy copy
    inputs = keras.Input((32, 32, 3))
    stand_in = keras.Model(inputs, keras.layers.Conv2D(64, 7, strides=2, name="conv1")(inputs))
    kernel = np.random.default_rng(3).normal(size=(7, 7, 3, 64)).astype(np.float32)
    stand_in.get_layer("conv1").set_weights([kernel, np.full(64, 0.5, np.float32)])
    path = download.cache_dir() + os.sep + download.IMAGENET_RESNET50_FILENAME
    save_weights_h5(stand_in, path)
    calls = []

    def fake_train(self, train_dataset, val_dataset, learning_rate, epochs, layers, **kw):
        calls.append(self)
    monkeypatch.setattr(MaskRCNN, "train", fake_train)
    code, out, err = run_cli(["train", "--dataset", REPO / "datasets" / "phone", "--weights",
                              "imagenet", "--logs", tmp_path / "logs", "--epochs", "1",
                              "--image-size", "128", "--steps-per-epoch", "7", "--config",
                              f"{THIS}:TinyTrainConfig"], capsys)
    assert code == 0, err
    assert len(calls) == 1
    model = calls[0]
    assert (model.config.IMAGE_MIN_DIM, model.config.IMAGE_MAX_DIM) == (128, 128)
    assert model.config.STEPS_PER_EPOCH == 7
    assert tuple(model.config.IMAGE_SHAPE) == (128, 128, 3)
    km = model.keras_model
    np.testing.assert_array_equal(km.get_layer("conv1").get_weights()[0], kernel)
    np.testing.assert_array_equal(km.get_layer("conv1").get_weights()[1], 0.5)
    assert f"Loaded imagenet weights: {path}" in out
