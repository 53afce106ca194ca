"""phone.segment: Segmenter batching/filtering, mask files, `phone segment` CLI.

A tiny randomly initialised model (64 px input, ResNet-50) is built once per
module and its weights saved; CLI runs load them. Where exact pixels are
asserted, MaskRCNN.detect is replaced by a fixed detector so the expected
mask (union of the fixed instance masks) is known independently.
"""
import os
import time

import cv2
import numpy as np
import pytest

from cli_calls import run_cli
from tiny_configs import TINY, TINY_COCO, TinyCocoConfig, TinyInferenceConfig
from video_frames import read_frames


# ----------------------------------------------------------------- helpers
def fixed_instances(h, w):
    """Two overlapping rectangles (class 1) and one class-2 blob, as detect()
    would return them for an image of h x w."""
    masks = np.zeros((h, w, 3), bool)
    masks[h // 4:h // 2, w // 4:w // 2, 0] = True
    masks[h // 3:3 * h // 4, w // 2 - 2:3 * w // 4, 1] = True
    masks[0:3, 0:3, 2] = True
    rois = np.array([[h // 4, w // 4, h // 2, w // 2],
                     [h // 3, w // 2 - 2, 3 * h // 4, 3 * w // 4],
                     [0, 0, 3, 3]], np.int32)
    return {"rois": rois, "class_ids": np.array([1, 1, 2], np.int32),
            "scores": np.array([0.95, 0.8, 0.9], np.float32), "masks": masks}


def expected_union(h, w, keep=(0, 1)):
    exp = np.zeros((h, w), np.uint8)
    m = fixed_instances(h, w)["masks"]
    for i in keep:
        exp[m[:, :, i]] = 255
    return exp


def fake_detect(self, images, verbose=0):
    assert len(images) == self.config.BATCH_SIZE
    fake_detect.calls.append([im.shape for im in images])
    return [fixed_instances(*np.asarray(im).shape[:2]) for im in images]


fake_detect.calls = []


@pytest.fixture
def fixed_detector(monkeypatch):
    from mrcnn.model import MaskRCNN
    fake_detect.calls = []
    monkeypatch.setattr(MaskRCNN, "detect", fake_detect)
    return fake_detect


def noise_image(h, w, seed):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8)


def write_rgb(path, image):
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, image[:, :, ::-1])


def read_mask(path):
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert m is not None, path
    return m


class FakeModel:
    """Stands in for MaskRCNN: records detect() batches."""

    def __init__(self, batch):
        class C(TinyInferenceConfig):
            IMAGES_PER_GPU = batch
        self.config = C()
        self.calls = []

    def detect(self, images, verbose=0):
        assert len(images) == self.config.BATCH_SIZE
        self.calls.append([np.asarray(im).copy() for im in images])
        return [fixed_instances(*np.asarray(im).shape[:2]) for im in images]


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, weights path) of a random tiny inference model, seeded: its
    random classifier keeps some non-background detections (an unseeded one
    may call every ROI background, seen in about one run in ten)."""
    import keras
    from mrcnn.model import MaskRCNN
    keras.utils.set_random_seed(0)
    d = tmp_path_factory.mktemp("tiny_model")
    model = MaskRCNN("inference", TinyInferenceConfig(), str(d / "logs"))
    path = str(d / "tiny.h5")
    model.save_weights(path)
    return model, path


# ----------------------------------------------------------------- unit tests
def test_coco_class_names():
    from phone.coco_classes import CELL_PHONE, COCO_CLASS_NAMES, coco_class_id
    assert len(COCO_CLASS_NAMES) == 81 and COCO_CLASS_NAMES[0] == "BG"
    assert COCO_CLASS_NAMES[1] == "person" and COCO_CLASS_NAMES[-1] == "toothbrush"
    assert len(set(COCO_CLASS_NAMES)) == 81
    # Matterport's model numbers the 80 classes contiguously: cell phone is 68
    # (77 is its id in the COCO annotation files, which skip numbers).
    assert CELL_PHONE == 68 and COCO_CLASS_NAMES[68] == "cell phone"
    assert coco_class_id("Cell_Phone") == 68
    assert coco_class_id("teddy bear") == 78
    with pytest.raises(ValueError, match="cell phone"):
        coco_class_id("cellphone")


def test_segmenter_batches_pads_and_drops_padding():
    from phone.segmenter import Segmenter
    model = FakeModel(batch=2)
    seg = Segmenter(model=model, keep_class_ids=[1])
    images = [noise_image(40, 60, 0), noise_image(64, 64, 1), noise_image(30, 50, 2)]
    out = seg.segment_images(images)
    assert len(out) == 3
    # two detect() calls; the last batch is padded with a copy of image 3
    assert len(model.calls) == 2
    np.testing.assert_array_equal(model.calls[1][0], images[2])
    np.testing.assert_array_equal(model.calls[1][1], images[2])
    for image, (bw, r) in zip(images, out):
        h, w = image.shape[:2]
        assert bw.shape == (h, w) and bw.dtype == np.uint8
        np.testing.assert_array_equal(bw, expected_union(h, w))
        assert list(r["class_ids"]) == [1, 1]
        assert r["masks"].shape == (h, w, 2)


def test_segmenter_score_and_class_filter():
    from phone.segmenter import Segmenter
    h, w = 48, 48
    seg = Segmenter(model=FakeModel(1), score=0.85)          # all classes, score >= 0.85
    bw, r = seg.segment_image(noise_image(h, w, 3))
    assert sorted(r["scores"].tolist()) == pytest.approx([0.9, 0.95])
    np.testing.assert_array_equal(bw, expected_union(h, w, keep=(0, 2)))
    seg = Segmenter(model=FakeModel(1), keep_class_ids=[2])  # class 2 only
    bw, r = seg.segment_image(noise_image(h, w, 3))
    assert r["class_ids"].tolist() == [2]
    np.testing.assert_array_equal(bw, expected_union(h, w, keep=(2,)))
    seg = Segmenter(model=FakeModel(1), keep_class_ids=[68])  # nothing kept: all black
    bw, r = seg.segment_image(noise_image(h, w, 3))
    assert bw.shape == (h, w) and not bw.any() and r["masks"].shape == (h, w, 0)


def test_color_splash_values():
    from phone.segment import color_splash
    image = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], np.uint8)
    mask = np.array([[0, 255], [0, 0]], np.uint8)
    out = color_splash(image, mask)
    # grey = round(0.2125 R + 0.7154 G + 0.0721 B), copied to 3 channels
    assert out[0, 0].tolist() == [54, 54, 54]
    assert out[0, 1].tolist() == [0, 255, 0]      # inside the mask: colour kept
    assert out[1, 0].tolist() == [18, 18, 18]
    assert out[1, 1].tolist() == [round(0.2125 * 10 + 0.7154 * 20 + 0.0721 * 30)] * 3


def test_list_images_skips_outputs_and_other_files(tmp_path):
    from phone.segment import list_images
    for rel in ["a.png", "b.JPG", "sub/c.jpeg", "sub/d.bmp", "notes.txt", ".hidden.png",
                "a_mask.png", "out/z.png"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    names = [rel for _, rel in list_images(tmp_path, tmp_path / "out")]
    # out/ (inside the input folder) is not searched; a_mask.png is an input
    # there since the outputs go elsewhere
    assert names == ["a", "a_mask", "b", os.path.join("sub", "c"), os.path.join("sub", "d")]
    names = [rel for _, rel in list_images(tmp_path, tmp_path)]
    assert "a_mask" not in names and os.path.join("out", "z") in names


def test_real_model_masks_match_detections(tiny):
    """No monkeypatching: the Segmenter's mask is the union of what
    Matterport's API (MaskRCNN.detect, one image per call) returns for the
    same image, unioned here with numpy; the random model (confidence 0)
    finds instances, so an all-black mask cannot pass."""
    from phone.segmenter import Segmenter
    model, _ = tiny
    seg = Segmenter(model=model)
    images = [noise_image(50, 70, 4), noise_image(128, 96, 5)]
    found = 0
    for image, (bw, r) in zip(images, seg.segment_images(images)):
        ref = model.detect([image], verbose=0)[0]
        expected = np.zeros(image.shape[:2], np.uint8)
        for i in range(ref["masks"].shape[2]):
            expected[ref["masks"][:, :, i]] = 255
        assert bw.dtype == np.uint8
        np.testing.assert_array_equal(bw, expected)
        np.testing.assert_array_equal(r["rois"], ref["rois"])
        np.testing.assert_array_equal(r["class_ids"], ref["class_ids"])
        assert len(ref["class_ids"]) >= 1       # seeded: 3 instances each, scores 0.52-0.98
        found += int((bw == 255).sum() > 0)
    assert found >= 1                           # a non-empty mask (the other image's are empty)


# ----------------------------------------------------------------- CLI
def test_one_phone_per_frame_keeps_the_best_detection(tmp_path, tiny, fixed_detector, capsys):
    from phone.segmenter import Segmenter
    h, w = 48, 40
    bw, r = Segmenter(model=FakeModel(1), one_per_frame=True).segment_image(noise_image(h, w, 3))
    assert r["scores"].tolist() == pytest.approx([0.95]) and r["masks"].shape[2] == 1
    np.testing.assert_array_equal(bw, expected_union(h, w, keep=(0,)))
    # applied after the score / class filter: the better of the two class-1 instances
    seg = Segmenter(model=FakeModel(1), keep_class_ids=[1], one_per_frame=True, score=0.85)
    assert seg.segment_image(noise_image(h, w, 3))[1]["scores"].tolist() == pytest.approx([0.95])
    seg = Segmenter(model=FakeModel(1), one_per_frame=True, score=0.99)      # nothing left
    assert seg.segment_image(noise_image(h, w, 3))[1]["masks"].shape == (h, w, 0)
    # the command's --one-phone
    _, weights = tiny
    write_rgb(tmp_path / "f.png", noise_image(h, w, 4))
    code, _, err = run_cli(["segment", "--image", tmp_path / "f.png", "--out", tmp_path / "o",
                            "--weights", weights, "--config", TINY, "--one-phone"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(read_mask(tmp_path / "o" / "f_mask.png"),
                                  expected_union(h, w, keep=(0,)))


def test_cli_image_writes_exact_mask_and_overlay(tmp_path, tiny, fixed_detector, capsys):
    _, weights = tiny
    image = noise_image(45, 77, 6)
    write_rgb(tmp_path / "in" / "frame.png", image)
    code, out, err = run_cli(["segment", "--image", tmp_path / "in" / "frame.png", "--out",
                              tmp_path / "out", "--weights", weights, "--config", TINY], capsys)
    assert code == 0, err
    mask = read_mask(tmp_path / "out" / "frame_mask.png")
    assert mask.ndim == 2 and mask.dtype == np.uint8 and mask.shape == (45, 77)
    assert set(np.unique(mask).tolist()) == {0, 255}
    # the phone model keeps every class: union of all three fixed instances
    np.testing.assert_array_equal(mask, expected_union(45, 77, keep=(0, 1, 2)))
    overlay = cv2.imread(str(tmp_path / "out" / "frame_overlay.png"), cv2.IMREAD_UNCHANGED)
    assert overlay.shape == (45, 77, 3)
    inside = mask > 0
    assert (overlay[:, :, ::-1][inside] != image[inside]).any()   # instances tinted
    # no temp files left behind
    assert sorted(os.listdir(tmp_path / "out")) == ["frame_mask.png", "frame_overlay.png"]


def test_cli_image_real_model_matches_library(tmp_path, tiny, capsys):
    """The CLI (loading the saved weights) writes the mask the in-memory
    model computes."""
    from phone.segmenter import Segmenter
    model, weights = tiny
    image = noise_image(64, 80, 7)
    write_rgb(tmp_path / "f.png", image)
    code, out, err = run_cli(["segment", "--image", tmp_path / "f.png", "--out", tmp_path / "o",
                              "--weights", weights, "--config", TINY, "--splash"], capsys)
    assert code == 0, err
    bw, _ = Segmenter(model=model).segment_image(image)
    np.testing.assert_array_equal(read_mask(tmp_path / "o" / "f_mask.png"), bw)
    splash = cv2.imread(str(tmp_path / "o" / "f_splash.png"))[:, :, ::-1]
    from phone.segment import color_splash
    np.testing.assert_array_equal(splash, color_splash(image, bw))


def _make_dir(root):
    images = {"a": noise_image(40, 40, 10), "b": noise_image(33, 50, 11),
              os.path.join("sub", "c"): noise_image(64, 48, 12)}
    write_rgb(root / "a.png", images["a"])
    cv2.imwrite(str(root / "b.jpg"), images["b"][:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    write_rgb(root / "sub" / "c.png", images[os.path.join("sub", "c")])
    return images


def test_cli_dir_resume_skips_existing_masks(tmp_path, tiny, fixed_detector, capsys):
    _, weights = tiny
    images = _make_dir(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    done = out / "a_mask.png"
    done.write_bytes(b"previous run")
    old = time.time() - 3600
    os.utime(done, (old, old))
    code, stdout, err = run_cli(["segment", "--dir", tmp_path / "in", "--out", out, "--weights",
                                 weights, "--config", TINY, "--batch-size", "2", "--quiet"], capsys)
    assert code == 0, err
    assert done.read_bytes() == b"previous run" and done.stat().st_mtime == pytest.approx(old)
    assert "1 of 3 images already have a mask" in err
    assert "2 segmented, 1 skipped" in stdout
    for rel in ["b", os.path.join("sub", "c")]:
        h, w = images[rel].shape[:2]
        np.testing.assert_array_equal(read_mask(out / (rel + "_mask.png")),
                                      expected_union(h, w, keep=(0, 1, 2)))
        assert (out / (rel + "_overlay.png")).is_file()
    # b and sub/c went through one padded batch of 2
    assert len(fixed_detector.calls) == 1 and len(fixed_detector.calls[0]) == 2
    # everything done now: a second run builds nothing and detects nothing
    fixed_detector.calls.clear()
    code, stdout, err = run_cli(["segment", "--dir", tmp_path / "in", "--out", out, "--weights",
                                 weights, "--config", TINY, "--quiet"], capsys)
    assert code == 0 and "0 segmented, 3 skipped" in stdout and fixed_detector.calls == []


def test_cli_dir_bad_file_reported_and_skipped(tmp_path, tiny, fixed_detector, capsys):
    _, weights = tiny
    images = _make_dir(tmp_path / "in")
    (tmp_path / "in" / "x.png").write_text("this is not an image\n")
    out = tmp_path / "out"
    code, stdout, err = run_cli(["segment", "--dir", tmp_path / "in", "--out", out, "--weights",
                                 weights, "--config", TINY, "--no-overlay", "--quiet"], capsys)
    assert code == 1
    assert "Traceback" not in err
    bad = [line for line in err.splitlines() if "x.png" in line]
    assert bad and all("not a readable image" in line for line in bad)
    assert "3 segmented, 0 skipped (mask exists), 1 failed of 4" in stdout
    assert not (out / "x_mask.png").exists()
    for rel, image in images.items():
        assert read_mask(out / (rel + "_mask.png")).shape == image.shape[:2]
        assert not (out / (rel + "_overlay.png")).exists()      # --no-overlay


def test_cli_video_frames_and_overlay_video(tmp_path, tiny, fixed_detector, capsys):
    _, weights = tiny
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (80, 64))
    assert writer.isOpened()
    for i in range(3):
        writer.write(np.full((64, 80, 3), 40 * i, np.uint8))
    writer.release()
    code, stdout, err = run_cli(["segment", "--video", video, "--out", tmp_path / "o",
                                 "--out-video", tmp_path / "o" / "over.avi", "--weights", weights,
                                 "--config", TINY, "--batch-size", "2", "--quiet"], capsys)
    assert code == 0, err
    for i in range(3):
        np.testing.assert_array_equal(read_mask(tmp_path / "o" / f"clip_{i:06d}_mask.png"),
                                      expected_union(64, 80, keep=(0, 1, 2)))
    assert len(read_frames(tmp_path / "o" / "over.avi")) == 3
    assert not [f for f in os.listdir(tmp_path / "o") if f.startswith(".")]   # temp file renamed


def test_cli_video_without_frames_is_a_clear_error(tmp_path, tiny, capsys):
    _, weights = tiny
    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, (80, 64))
    writer.release()
    zero = tmp_path / "zero.avi"
    zero.write_bytes(b"")
    for video in (empty, zero):
        code, _, err = run_cli(["segment", "--video", video, "--out", tmp_path / "o",
                                "--weights", weights, "--config", TINY], capsys)
        assert code == 2
        lines = [ln for ln in err.splitlines() if ln.startswith("phone segment: error:")]
        assert len(lines) == 1 and str(video) in lines[0] and "Traceback" not in err
        assert "no frames" in lines[0] or "cannot open video" in lines[0]


def test_cli_coco_class_keeps_only_that_class(tmp_path, capsys, monkeypatch):
    """--coco-class with an 81-class (tiny) model keeps only that class id."""
    from mrcnn.model import MaskRCNN
    import phone.coco_classes as cc

    def coco_detect(self, images, verbose=0):
        outs = []
        for im in images:
            r = fixed_instances(*im.shape[:2])
            r["class_ids"] = np.array([cc.CELL_PHONE, 1, cc.CELL_PHONE], np.int32)
            outs.append(r)
        return outs
    monkeypatch.setattr(MaskRCNN, "detect", coco_detect)
    model = MaskRCNN("inference", TinyCocoConfig(), str(tmp_path))
    model.save_weights(str(tmp_path / "coco.h5"))
    monkeypatch.setenv("PHONE_COCO_WEIGHTS", str(tmp_path / "coco.h5"))
    write_rgb(tmp_path / "p.png", noise_image(60, 60, 13))
    code, out, err = run_cli(["segment", "--image", tmp_path / "p.png", "--out", tmp_path / "o",
                              "--coco-class", "cell phone", "--config", TINY_COCO], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(read_mask(tmp_path / "o" / "p_mask.png"),
                                  expected_union(60, 60, keep=(0, 2)))
    # the same 81-class file without --coco-class: clear hint, no model build
    code, _, err = run_cli(["segment", "--image", tmp_path / "p.png", "--out", tmp_path / "o",
                            "--weights", "coco", "--config", TINY], capsys)
    assert code == 2 and "81 classes" in err and "--coco-class" in err


# ----------------------------------------------------------------- --precision auto, --image-size
@pytest.fixture
def built_models(monkeypatch):
    """The models of every Segmenter built during the test, in order."""
    import phone.segmenter
    built = []
    real = phone.segmenter.Segmenter.__init__

    def record(self, *a, **kw):
        real(self, *a, **kw)
        built.append(self.model)
    monkeypatch.setattr(phone.segmenter.Segmenter, "__init__", record)
    return built


@pytest.mark.parametrize("faster, policy, dtype", [("mixed_bfloat16", "mixed_bfloat16", "bfloat16"),
                                                   ("float32", "float32", "float32")])
def test_cli_precision_auto_follows_the_probe(tmp_path, tiny, capsys, monkeypatch,
                                              built_models, faster, policy, dtype):
    """`phone segment --precision auto` on a CPU with bfloat16 instructions:
    the (faked) probe's verdict decides the policy the model is built under,
    and the command prints it with the reason; the mask is still written."""
    import mrcnn.precision as P
    times = {"float32": 2.0, "mixed_bfloat16": 2.0}
    times[faster] = 1.0
    monkeypatch.setattr(P, "measure_probe", lambda specs, use: dict(times))
    monkeypatch.setattr(P, "cpu_flags", lambda path=None: {"avx512_bf16"})
    monkeypatch.setenv("MRCNN_HOME", str(tmp_path / "home"))
    _, weights = tiny
    write_rgb(tmp_path / "p.png", noise_image(50, 70, 3))
    code, out, err = run_cli(["segment", "--image", tmp_path / "p.png", "--out", tmp_path / "o",
                              "--weights", weights, "--config", TINY, "--precision", "auto"],
                             capsys)
    assert code == 0, err
    assert f"Precision: {policy} (auto: probe for inference on this CPU" in out + err
    assert len(built_models) == 1
    assert built_models[0].keras_model.get_layer("conv1").compute_dtype == dtype
    assert read_mask(tmp_path / "o" / "p_mask.png").shape == (50, 70)


def test_cli_image_size_builds_the_model_for_that_size(tmp_path, tiny, capsys, built_models):
    """--image-size N: the model is built for N x N inputs (IMAGE_MIN_DIM =
    IMAGE_MAX_DIM = N, anchors scaled by the phone config's for_size), the
    same weights load (no layer depends on the size) and frames of any size
    come back as masks of their own size; a size the backbone cannot take
    is a one-line error."""
    _, weights = tiny
    write_rgb(tmp_path / "p.png", noise_image(90, 60, 4))
    code, out, err = run_cli(["segment", "--image", tmp_path / "p.png", "--out", tmp_path / "o",
                              "--weights", weights, "--config", TINY, "--image-size", "128"],
                             capsys)
    assert code == 0, err
    config = built_models[0].config
    assert (config.IMAGE_MIN_DIM, config.IMAGE_MAX_DIM) == (128, 128)
    assert tuple(config.IMAGE_SHAPE) == (128, 128, 3)
    assert read_mask(tmp_path / "o" / "p_mask.png").shape == (90, 60)
    code, _, err = run_cli(["segment", "--image", tmp_path / "p.png", "--out", tmp_path / "o",
                            "--weights", weights, "--config", TINY, "--image-size", "0"], capsys)
    assert code == 2 and "--image-size" in err and "Traceback" not in err
