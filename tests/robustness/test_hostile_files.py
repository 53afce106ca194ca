"""Hostile files: degenerate image sizes, broken images, broken weights
files, empty videos, through the library and the ``phone`` CLI.

Every case ends either with a correct result or with a one-line
``phone ...: error: FILE: problem`` and a non-zero exit; never a traceback.
Where exact mask pixels are asserted, MaskRCNN.detect is replaced by a fixed
detector so the expected mask is known independently of the network.
"""
import os
import warnings

import numpy as np
import pytest

from mrcnn.core.images import resize_image, resize_mask


# ----------------------------------------------------------------- resizing
@pytest.mark.parametrize("h,w", [(1, 5000), (5000, 1), (3, 5000), (1, 1)])
def test_resize_image_keeps_thin_images_one_pixel_thick(h, w):
    """1 x 5000 scaled to fit 64 px would be round(1 * 64/5000) = 0 rows:
    skimage then fails deep inside. At least one row/column is kept."""
    image = np.full((h, w, 3), 200, np.uint8)
    out, window, scale, padding, _ = resize_image(image, min_dim=64, max_dim=64, mode="square")
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    y1, x1, y2, x2 = window
    exp_h = max(1, round(h * scale))
    exp_w = max(1, round(w * scale))
    assert (y2 - y1, x2 - x1) == (exp_h, exp_w)
    assert min(exp_h, exp_w) >= 1 and max(exp_h, exp_w) == 64
    # the window holds the (constant) image, the padding is zero
    assert (out[y1:y2, x1:x2] == 200).all()
    assert out.sum() == 200 * 3 * exp_h * exp_w
    assert padding[0] == (y1, 64 - y2) and padding[1] == (x1, 64 - x2)

    mask = np.ones((h, w, 2), bool)
    mask[..., 1] = False
    m = resize_mask(mask, scale, padding)
    assert m.shape == (64, 64, 2)
    assert m[y1:y2, x1:x2, 0].all() and m[..., 0].sum() == exp_h * exp_w
    assert not m[..., 1].any()
    # masks without instances get the same size
    assert resize_mask(np.zeros((h, w, 0), bool), scale, padding).shape == (64, 64, 0)


def test_resize_unchanged_for_ordinary_sizes():
    """Matterport's round(h * scale) is kept where it is not 0."""
    image = np.zeros((100, 250, 3), np.uint8)
    out, window, scale, _, _ = resize_image(image, min_dim=64, max_dim=64, mode="square")
    assert scale == pytest.approx(64 / 250)
    assert window == (19, 0, 19 + round(100 * 64 / 250), 64)


# ----------------------------------------------------------------- weights files
def _write_keras2_h5(path, layers):
    """A minimal file in the mask_rcnn_coco.h5 layout: {layer: {weight_name: array}}."""
    import h5py
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        for name, weights in layers.items():
            g = f.create_group(name)
            g.attrs["weight_names"] = np.array([w.encode() for w in weights])
            for w, value in weights.items():
                g.create_dataset(w, data=value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_a_damaged_file(tmp_path, bad):
    from mrcnn.weights import WeightsFileError, read_weights_h5
    kernel = np.ones((3, 3, 3, 4), np.float32)
    kernel[1, 2, 0, 3] = bad
    path = tmp_path / "w.h5"
    _write_keras2_h5(path, {"conv1": {"conv1/kernel:0": kernel,
                                      "conv1/bias:0": np.zeros(4, np.float32)}})
    with pytest.raises(WeightsFileError) as e:
        read_weights_h5(str(path))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path))
    assert "'conv1'" in msg and "conv1/kernel:0" in msg and "1 NaN/infinite" in msg
    # the same file with finite values reads back exactly
    kernel[1, 2, 0, 3] = 7.0
    _write_keras2_h5(path, {"conv1": {"conv1/kernel:0": kernel,
                                      "conv1/bias:0": np.zeros(4, np.float32)}})
    got = read_weights_h5(str(path))
    np.testing.assert_array_equal(got["conv1"][0][1], kernel)


# ----------------------------------------------------------------- CLI fixtures
import cv2  # noqa: E402

from robust_helpers import (config_spec, error_lines, expected_mask, fixed_instances,  # noqa: E402
                            noise_image, run_cli)

TINY = config_spec("TinyInferenceConfig")


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """Weights of a random tiny 2-class model, and of a 3-class one."""
    from mrcnn.model import MaskRCNN
    from robust_helpers import TinyInference3Config, TinyInferenceConfig
    d = tmp_path_factory.mktemp("weights")
    MaskRCNN("inference", TinyInferenceConfig(), str(d)).save_weights(str(d / "tiny.h5"))
    MaskRCNN("inference", TinyInference3Config(), str(d)).save_weights(str(d / "tiny3.h5"))
    return {"ok": str(d / "tiny.h5"), "3 classes": str(d / "tiny3.h5")}


@pytest.fixture
def fixed_detector(monkeypatch):
    """MaskRCNN.detect replaced: records the images, returns fixed_instances."""
    from mrcnn.model import MaskRCNN
    seen = []

    def detect(self, images, verbose=0):
        assert len(images) == self.config.BATCH_SIZE
        seen.extend(np.asarray(im).copy() for im in images)
        return [fixed_instances(*np.asarray(im).shape[:2]) for im in images]

    monkeypatch.setattr(MaskRCNN, "detect", detect)
    return seen


def png_bytes(image):
    ok, enc = cv2.imencode(".png", image)
    assert ok
    return enc.tobytes()


def jpeg_bytes(image):
    ok, enc = cv2.imencode(".jpg", image)
    assert ok
    return enc.tobytes()


RGB = noise_image(24, 36, seed=3)           # what a good file holds (RGB)
BGR = np.ascontiguousarray(RGB[:, :, ::-1])

# name -> (file bytes, problem the one-line error must name)
BAD_IMAGES = {
    "zero.png": (b"", "empty image file (0 bytes)"),
    "half.png": (png_bytes(BGR)[:600], "truncated PNG"),
    "header_only.png": (png_bytes(BGR)[:33], "truncated PNG"),
    "cut.jpg": (jpeg_bytes(BGR)[:len(jpeg_bytes(BGR)) // 2], "truncated JPEG"),
    "text.png": (b"this is not an image\n", "not a readable image"),
    "garbage.jpg": (bytes(np.random.RandomState(0).randint(0, 256, 3000, dtype=np.uint8)),
                    "not a readable image"),
}


def write_odd_images(folder):
    """Readable but unusual files -> the RGB uint8 image each must come back
    as (computed here independently of phone.imageio)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    grey = RGB[:, :, 0]
    cv2.imwrite(str(folder / "grey.png"), grey)
    out["grey"] = np.repeat(grey[:, :, None], 3, axis=2)
    grey16 = grey.astype(np.uint16) * 257 + 3
    cv2.imwrite(str(folder / "grey16.png"), grey16)
    out["grey16"] = np.repeat((grey16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2)
    rgb16 = RGB.astype(np.uint16) * 256 + 255
    cv2.imwrite(str(folder / "rgb16.png"), np.ascontiguousarray(rgb16[:, :, ::-1]))
    out["rgb16"] = RGB.copy()
    alpha = np.tile(np.linspace(0, 255, RGB.shape[1]).astype(np.uint8), (RGB.shape[0], 1))
    cv2.imwrite(str(folder / "rgba.png"), np.dstack([BGR, alpha]))
    out["rgba"] = ((RGB.astype(np.uint32) * alpha[:, :, None] + 127) // 255).astype(np.uint8)
    (folder / "jpeg_named.png").write_bytes(jpeg_bytes(BGR))
    out["jpeg_named"] = cv2.imread(str(folder / "jpeg_named.png"))[:, :, ::-1]
    for name, shape in [("one", (1, 1)), ("wide", (1, 5000)), ("tall", (5000, 1))]:
        image = noise_image(*shape, seed=7)
        cv2.imwrite(str(folder / f"{name}.png"), np.ascontiguousarray(image[:, :, ::-1]))
        out[name] = image
    return out


def read_mask(path):
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert m is not None, path
    return m


# ----------------------------------------------------------------- bad images
@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_image_is_one_line_exit_2(tmp_path, tiny_weights, capsys, name):
    data, problem = BAD_IMAGES[name]
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run_cli(["segment", "--image", path, "--out", tmp_path / "out",
                              "--weights", tiny_weights["ok"], "--config", TINY], capsys)
    assert code == 2
    assert "Traceback" not in err
    assert err.strip().splitlines() == [f"phone segment: error: {path}: {problem}"] or (
        len(error_lines(err)) == 1 and f"{path}: {problem}" in error_lines(err)[0])
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_folder_named_like_an_image(tmp_path, tiny_weights, capsys):
    (tmp_path / "x.png").mkdir()
    code, _, err = run_cli(["segment", "--image", tmp_path / "x.png", "--weights",
                            tiny_weights["ok"], "--config", TINY], capsys)
    assert code == 2 and error_lines(err) == [f"phone segment: error: {tmp_path / 'x.png'}: "
                                              f"no such image file"]


# ----------------------------------------------------------------- odd images
@pytest.mark.parametrize("name", ["grey", "grey16", "rgb16", "rgba", "jpeg_named", "one", "wide",
                                  "tall"])
def test_odd_image_gives_exact_mask(tmp_path, tiny_weights, fixed_detector, capsys, name):
    expected = write_odd_images(tmp_path / "in")[name]
    code, out, err = run_cli(["segment", "--image", tmp_path / "in" / f"{name}.png", "--out",
                              tmp_path / "out", "--weights", tiny_weights["ok"], "--config",
                              TINY], capsys)
    assert code == 0, err
    (seen,) = fixed_detector
    assert seen.dtype == np.uint8 and seen.shape == expected.shape
    np.testing.assert_array_equal(seen, expected)     # the network saw the right RGB pixels
    h, w = expected.shape[:2]
    mask = read_mask(tmp_path / "out" / f"{name}_mask.png")
    assert mask.dtype == np.uint8 and mask.shape == (h, w)
    np.testing.assert_array_equal(mask, expected_mask(h, w))
    overlay = cv2.imread(str(tmp_path / "out" / f"{name}_overlay.png"), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == (h, w, 3)


def test_real_model_on_tiny_and_thin_images(tmp_path, tiny_weights, capsys):
    """No fake detector: 1x1, 1x5000 and 5000x1 frames go through the real
    resize/mold/detect/unmold path and come back as masks of their size,
    equal to what the library computes for the same weights. Batch size 1 on
    both sides: with the command's default (4 images a batch) oneDNN's
    float32 sums can differ in the last bit from batch 1, which flipped one
    pixel of the 5000 x 1 mask in about 1 run of 5."""
    from mrcnn.model import MaskRCNN
    from phone.segmenter import Segmenter
    from robust_helpers import TinyInferenceConfig
    images = write_odd_images(tmp_path / "in")
    for name in ("grey", "grey16", "rgb16", "rgba", "jpeg_named"):
        os.remove(tmp_path / "in" / f"{name}.png")
    code, out, err = run_cli(["segment", "--dir", tmp_path / "in", "--out", tmp_path / "out",
                              "--weights", tiny_weights["ok"], "--config", TINY, "--quiet",
                              "--no-overlay", "--batch-size", "1"], capsys)
    assert code == 0, err
    assert "3 segmented, 0 skipped (mask exists), 0 failed of 3" in out
    model = MaskRCNN("inference", TinyInferenceConfig(), str(tmp_path))
    model.load_weights(tiny_weights["ok"], by_name=True)
    seg = Segmenter(model=model)
    for name in ("one", "wide", "tall"):
        mask = read_mask(tmp_path / "out" / f"{name}_mask.png")
        assert mask.shape == images[name].shape[:2]
        assert set(np.unique(mask).tolist()) <= {0, 255}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            bw, _ = seg.segment_image(images[name])
        np.testing.assert_array_equal(mask, bw)


def test_thin_image_detection_is_unmolded(tmp_path):
    """A detection over the one-row window of a 1 x 5000 frame maps back to
    row 0 of the frame."""
    from mrcnn.core.boxes import norm_boxes
    from mrcnn.model import MaskRCNN
    from robust_helpers import TinyInferenceConfig
    model = MaskRCNN("inference", TinyInferenceConfig(), str(tmp_path))
    _, window, _, _, _ = resize_image(np.zeros((1, 5000, 3), np.uint8), min_dim=64, max_dim=64)
    assert window == (31, 0, 32, 64)
    box = norm_boxes(np.array([[28, 16, 36, 32]]), (64, 64))[0]
    detections = np.zeros((5, 6), np.float32)
    detections[0] = list(box) + [1, 0.9]
    masks = np.zeros((5, 28, 28), np.float32)
    masks[0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rois, class_ids, scores, full = model.unmold_detections(
            detections, masks, (1, 5000, 3), (64, 64, 3), window)
    assert class_ids.tolist() == [1] and rois.shape == (1, 4)
    y1, x1, y2, x2 = rois[0]
    assert (y1, y2) == (0, 1) and abs(x1 - 1250) <= 80 and abs(x2 - 2500) <= 80
    assert full.shape == (1, 5000, 1) and full[0, x1 + 1:x2 - 1, 0].all()


@pytest.mark.slow
def test_8000x8000_image(tmp_path, tiny_weights, capsys):
    """A frame 60x larger than the model input: resized down, detections
    pasted back at full size; the mask file holds what the command reports."""
    image = np.zeros((8000, 8000, 3), np.uint8)
    image[2000:6000, 3000:5000] = (200, 120, 40)
    path = tmp_path / "huge.png"
    assert cv2.imwrite(str(path), image)
    del image
    code, out, err = run_cli(["segment", "--image", path, "--out", tmp_path / "out",
                              "--weights", tiny_weights["ok"], "--config", TINY,
                              "--no-overlay"], capsys)
    assert code == 0, err
    mask = read_mask(tmp_path / "out" / "huge_mask.png")
    assert mask.shape == (8000, 8000) and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) <= {0, 255}
    pixels = int(out.split(" mask pixels")[0].rsplit(" ", 1)[-1])
    assert pixels == int((mask == 255).sum())


# ----------------------------------------------------------------- --dir batch
def test_dir_batch_reports_bad_files_and_processes_the_rest(tmp_path, tiny_weights,
                                                             fixed_detector, capsys):
    folder = tmp_path / "in"
    good = write_odd_images(folder)
    for name, (data, _) in BAD_IMAGES.items():
        (folder / name).write_bytes(data)
    os.symlink(tmp_path / "gone.png", folder / "dangling.png")
    code, out, err = run_cli(["segment", "--dir", folder, "--out", tmp_path / "out",
                              "--weights", tiny_weights["ok"], "--config", TINY, "--quiet",
                              "--no-overlay", "--batch-size", "3"], capsys)
    assert code == 1
    assert "Traceback" not in err
    n_bad = len(BAD_IMAGES) + 1
    assert (f"{len(good)} segmented, 0 skipped (mask exists), {n_bad} failed of "
            f"{len(good) + n_bad}") in out
    problems = dict(BAD_IMAGES, **{"dangling.png": (None, "no such image file")})
    for name, (_, problem) in problems.items():
        lines = [ln for ln in err.splitlines() if f"{folder / name}:" in ln]
        assert lines and all(problem in ln for ln in lines), (name, lines)
        assert not (tmp_path / "out" / (os.path.splitext(name)[0] + "_mask.png")).exists()
    assert f"{n_bad} file(s) failed:" in err
    for name, image in good.items():
        h, w = image.shape[:2]
        np.testing.assert_array_equal(read_mask(tmp_path / "out" / f"{name}_mask.png"),
                                      expected_mask(h, w))
    # a rerun skips the finished masks and fails the same files again
    fixed_detector.clear()
    code, out, err = run_cli(["segment", "--dir", folder, "--out", tmp_path / "out",
                              "--weights", tiny_weights["ok"], "--config", TINY, "--quiet",
                              "--no-overlay"], capsys)
    assert code == 1 and fixed_detector == []
    assert f"0 segmented, {len(good)} skipped (mask exists), {n_bad} failed" in out


# ----------------------------------------------------------------- weights files
def _largest_dataset(path):
    import h5py
    found = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.append(
            (obj.id.get_storage_size(), obj.id.get_offset(), name))
            if isinstance(obj, h5py.Dataset) else None)
    return max(found)


def hostile_weights(folder, good):
    """name -> (path, problem the error line must name)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = open(good, "rb").read()
    out = {}

    def put(name, content, problem):
        path = folder / name
        path.write_bytes(content)
        out[name] = (str(path), problem)

    put("empty.h5", b"", "empty (0 bytes)")
    put("first_kb.h5", data[:1024], "not a readable HDF5 weights file")
    put("half.h5", data[:len(data) // 2], "not a readable HDF5 weights file")
    put("all_but_last_byte.h5", data[:-1], "not a readable HDF5 weights file")
    put("random.h5", bytes(np.random.RandomState(1).randint(0, 256, 50000, dtype=np.uint8)),
        "not a readable HDF5 weights file")
    put("html.h5", b"<html><body>Rate limit exceeded</body></html>\n",
        "not a readable HDF5 weights file")
    size, offset, name = _largest_dataset(good)
    damaged = bytearray(data)
    damaged[offset:offset + 256] = b"\xff" * 256        # 0xffffffff is a float32 NaN
    put("damaged.h5", bytes(damaged), "the file is damaged")
    import h5py
    with h5py.File(folder / "no_layout.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    out["no_layout.h5"] = (str(folder / "no_layout.h5"), "without 'layer_names'")
    return out


def test_hostile_weights_files_for_segment(tmp_path, tiny_weights, capsys):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), BGR)
    cases = hostile_weights(tmp_path / "w", tiny_weights["ok"])
    cases["3 classes"] = (tiny_weights["3 classes"], "trained for 3 classes")
    for name, (path, problem) in cases.items():
        code, out, err = run_cli(["segment", "--image", image, "--out", tmp_path / "out",
                                  "--weights", path, "--config", TINY], capsys)
        lines = error_lines(err)
        assert code == 2, (name, err)
        assert "Traceback" not in err and len(lines) == 1, (name, err)
        assert lines[0].startswith(f"phone segment: error: {path}:"), (name, lines)
        assert problem in lines[0], (name, lines)
        assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    from phone.synthetic import generate
    root = tmp_path_factory.mktemp("phone_ds")
    generate(root / "train", 2, size=64, seed=0)
    generate(root / "val", 1, size=64, seed=1)
    return root


@pytest.mark.parametrize("name", ["half.h5", "random.h5", "damaged.h5"])
def test_hostile_weights_files_for_train(tmp_path, tiny_weights, small_dataset, capsys, name):
    path, problem = hostile_weights(tmp_path / "w", tiny_weights["ok"])[name]
    code, out, err = run_cli(["train", "--dataset", small_dataset, "--weights", path, "--logs",
                              tmp_path / "logs", "--config", config_spec("TinyTrainConfig"),
                              "--epochs", "1"], capsys)
    lines = error_lines(err, "phone train")
    assert code == 2 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith(f"phone train: error: {path}:")
    assert problem in lines[0]
    assert not (tmp_path / "logs").exists() or not any(
        f.endswith(".h5") for _, _, files in os.walk(tmp_path / "logs") for f in files)


# ----------------------------------------------------------------- videos, camera
def test_hostile_videos(tmp_path, tiny_weights, capsys):
    good = tmp_path / "good.avi"
    writer = cv2.VideoWriter(str(good), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(6):
        writer.write(np.full((48, 64, 3), 30 * i, np.uint8))
    writer.release()
    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.release()
    data = good.read_bytes()
    cases = {"empty.avi": empty, "zero.mp4": b"", "text.mp4": b"not a video at all\n",
             "half.avi": data[:len(data) // 2], "header.avi": data[:300]}
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        code, out, err = run_cli(["segment", "--video", path, "--out", tmp_path / "out",
                                  "--weights", tiny_weights["ok"], "--config", TINY], capsys)
        lines = error_lines(err)
        assert code == 2 and "Traceback" not in err and len(lines) == 1, (name, err)
        assert lines[0].startswith(f"phone segment: error: {path}:")
        assert "no frames" in lines[0] or "cannot open video" in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_missing_camera_and_unreadable_source_for_realtime(tmp_path, tiny_weights, capsys,
                                                          fake_cameras):
    """`phone realtime` with a camera index that does not exist (fake
    cameras: only camera 0 exists, whatever this machine has), and with a
    text file as the video: exit 2, one line naming the source."""
    from phone.cli import build_parser
    try:
        build_parser().parse_args(["realtime", "--help"])
    except SystemExit:
        pass
    if "realtime" not in capsys.readouterr().out:
        pytest.skip("phone realtime is not available")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    fake_cameras({0: text})
    for source, named in [("1", "camera 1"), (str(text), str(text))]:
        code, out, err = run_cli(["realtime", "--source", source, "--no-display", "--weights",
                                  tiny_weights["ok"], "--config", TINY, "--camera-timeout", "2",
                                  "--out", tmp_path / "o.mp4"], capsys)
        lines = error_lines(err, "phone realtime")
        assert code == 2 and "Traceback" not in err and len(lines) == 1, err
        assert named in lines[0], lines
    assert not (tmp_path / "o.mp4").exists()


def test_train_reports_corrupt_frames_before_building_the_model(tmp_path, capsys, monkeypatch):
    """A training frame whose header is intact but whose data is cut off
    (an interrupted copy) would stop `phone train` when its turn comes, maybe
    hours in; it is reported up front, with every other bad frame."""
    from phone.synthetic import generate
    import mrcnn.model
    root = tmp_path / "ds"
    generate(root / "train", 3, size=64, seed=0)
    generate(root / "val", 1, size=64, seed=1)
    frames = sorted((root / "train").glob("*.png"))
    data = frames[1].read_bytes()
    frames[1].write_bytes(data[:len(data) // 2])          # header intact, IEND gone
    frames[2].write_bytes(b"\x89PNG\r\n\x1a\n" + data[8:40] + b"garbage" * 20 + data[-12:])

    def no_build(*args, **kwargs):
        raise AssertionError("the model must not be built")
    monkeypatch.setattr(mrcnn.model, "MaskRCNN", no_build)
    code, out, err = run_cli(["train", "--dataset", root, "--weights", tmp_path / "none.h5",
                              "--logs", tmp_path / "logs", "--config",
                              config_spec("TinyTrainConfig")], capsys)
    lines = error_lines(err, "phone train")
    assert code == 2 and "Traceback" not in err and len(lines) == 1
    assert "2 of 3 images cannot be used" in lines[0]
    assert f"{frames[1]}: truncated PNG" in lines[0] and "(and 1 more, listed above)" in lines[0]
    listed = [ln.strip() for ln in err.splitlines() if ln.startswith("  ")]
    assert len(listed) == 2 and listed[1].startswith(f"{frames[2]}: ")
    assert not (tmp_path / "logs").exists()
