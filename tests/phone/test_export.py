"""phone export: each format (SavedModel, TFLite, ONNX) gives the same masks
as phone segment (Segmenter.segment_images) on the 4 bundled real frames and
20 synthetic frames, for the same weights.

The model is the light from-scratch phone model (PhoneScratchInferenceConfig,
128 px) with random but seeded weights and DETECTION_MIN_CONFIDENCE 0.3:
untrained, it finds 2-10 "phones" per frame with non-empty masks, so counts,
boxes and mask pasting are all exercised. The reference masks come from the
Segmenter (NumPy molding / unmolding around the Keras model), which does not
use mrcnn.export.
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = {"saved_model": "phone_saved_model", "tflite": "phone.tflite", "onnx": "phone.onnx"}

#: what each format needs beyond TensorFlow (the export extra): a format whose
#: packages are missing skips its own tests only
NEEDS = {"saved_model": (), "tflite": (), "onnx": ("tf2onnx", "onnx", "onnxruntime")}
MISSING = {fmt: [m for m in mods if importlib.util.find_spec(m) is None]
           for fmt, mods in NEEDS.items()}


def _fmt(fmt):
    """pytest.param of a format, skipped when its packages are missing."""
    return pytest.param(fmt, marks=pytest.mark.skipif(
        bool(MISSING[fmt]), reason=f"{fmt} export needs {', '.join(MISSING[fmt])}"))


def _needs(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")


def _iou(a, b):
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    union = (a | b).sum()
    return 1.0 if union == 0 else (a & b).sum() / union


@pytest.fixture(scope="module")
def frames():
    """[(name, uint8 [128, 128, 3])]: 4 real CORe50 frames + 20 synthetic."""
    import glob
    from phone import synthetic
    from phone.imageio import read_image
    real = sorted(glob.glob(os.path.join(REPO, "datasets", "phone", "[tv]*", "*.png")))  # train, val
    assert len(real) == 4
    out = [(os.path.basename(p), read_image(p)) for p in real]
    for i in range(20):
        image, _ = synthetic.make_sample(np.random.default_rng([7, i]), size=128)
        out.append((f"synthetic {i}", image))
    return out


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory):
    """(Segmenter, weights .h5 path): seeded random weights, score >= 0.3."""
    import keras
    from phone.config import derive_config
    from phone.config import PhoneScratchInferenceConfig
    from phone.segmenter import Segmenter
    keras.utils.set_random_seed(1)
    config = derive_config(PhoneScratchInferenceConfig(), DETECTION_MIN_CONFIDENCE=0.3)
    seg = Segmenter(config=config, model_dir=str(tmp_path_factory.mktemp("logs")))
    path = str(tmp_path_factory.mktemp("weights") / "random_phone.h5")
    seg.model.save_weights(path)
    return seg, path


@pytest.fixture(scope="module")
def reference(segmenter, frames):
    """phone segment's (mask, instance count) per frame."""
    seg, _ = segmenter
    res = seg.segment_images([im for _, im in frames])
    counts = [len(r["class_ids"]) for _, r in res]
    assert sum(counts) >= 24 and sum(1 for c in counts if c) >= 20, counts  # masks to compare
    return [(bw, n) for (bw, _), n in zip(res, counts)]


@pytest.fixture(scope="module")
def exports(segmenter, frames, tmp_path_factory):
    """{format: (path, report)}: each format whose packages are installed,
    exported (and verified) once."""
    from phone.export import export_model
    seg, _ = segmenter
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for fmt, name in OUT.items():
        if MISSING[fmt]:
            continue
        path = str(root / name)
        out[fmt] = (path, export_model(seg, fmt, path, verify_images=frames[:2], quiet=True))
    return out


@pytest.mark.slow
def test_pipeline_in_process_matches_segmenter(segmenter, frames, reference):
    """The tf.Module itself, before any conversion, on 24 frames and on
    frames of other sizes (resized in the graph)."""
    import tensorflow as tf
    from phone.export import export_pipeline
    seg, _ = segmenter
    pipe = export_pipeline(seg)
    for (name, image), (ref_bw, n) in zip(frames, reference):
        out = pipe.serve(tf.constant(image))
        assert out["mask"].dtype == tf.uint8 and out["mask"].shape == image.shape[:2]
        assert set(np.unique(out["mask"].numpy())) <= {0, 255}
        assert int(out["scores"].shape[0]) == n, name
        assert _iou(out["mask"].numpy(), ref_bw) >= 0.99, name
    for image in [frames[0][1][:100, :77], np.repeat(frames[1][1], 2, axis=1)[:, :250]]:
        image = np.ascontiguousarray(image)
        ref_bw, r = seg.segment_image(image)
        out = pipe.serve(tf.constant(image))
        assert out["mask"].shape == image.shape[:2]
        assert int(out["scores"].shape[0]) == len(r["class_ids"])
        assert _iou(out["mask"].numpy(), ref_bw) >= 0.99
        np.testing.assert_array_equal(out["boxes"].numpy(), r["rois"])


_FRESH = r"""
import json, sys
import numpy as np
fmt, path, frames, out = sys.argv[1:5]
data = np.load(frames)
masks, counts = [], []
if fmt == "saved_model":
    import tensorflow as tf
    fn = tf.saved_model.load(path).signatures["serving_default"]
    spec = fn.structured_input_signature[1]["image"]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, None, 3], spec
    for im in data["images"]:
        o = fn(image=tf.constant(im))
        assert o["mask"].dtype == tf.uint8 and o["boxes"].dtype == tf.int32
        masks.append(o["mask"].numpy()); counts.append(int(o["scores"].shape[0]))
else:
    from phone.export import ExportedSegmenter
    seg = ExportedSegmenter(path)
    for bw, r in seg.segment_images(list(data["images"])):
        masks.append(bw); counts.append(len(r["class_ids"]))
np.savez(out, masks=np.stack(masks), counts=np.array(counts))
print("modules:", " ".join(sorted(m for m in ("keras", "tensorflow") if m in sys.modules)))
"""


@pytest.mark.slow
@pytest.mark.parametrize("fmt", [_fmt("saved_model"), _fmt("tflite"), _fmt("onnx")])
def test_export_matches_phone_segment(fmt, exports, frames, reference, tmp_path):
    """Loaded in a fresh process (as a server or an app would): mask IoU >=
    0.99 and the same number of instances as phone segment on all 24 frames."""
    path, report = exports[fmt]
    assert report["verification"]["ok"] and os.path.exists(path)
    assert report["format"] == fmt and report["bytes"] > 1e6
    parent = os.path.dirname(path)
    assert not [f for f in os.listdir(parent) if ".tmp-" in f or "staging" in f]
    if fmt == "tflite":
        assert report["input_shape"] == [128, 128, 3] and report["select_tf_ops"] == []
    npz = tmp_path / "frames.npz"
    np.savez(npz, images=np.stack([im for _, im in frames]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(REPO, "Mask_RCNN"), REPO, os.environ.get("PYTHONPATH", "")]))
    result = tmp_path / "out.npz"
    proc = subprocess.run([sys.executable, "-c", _FRESH, fmt, path, str(npz), str(result)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = np.load(result)
    misses = []
    for i, ((name, _), (ref_bw, n)) in enumerate(zip(frames, reference)):
        iou = _iou(got["masks"][i], ref_bw)
        if got["counts"][i] != n or iou < 0.99:
            misses.append(f"{name}: {got['counts'][i]} instances vs {n}, mask IoU {iou:.4f}")
    assert not misses, f"{fmt}: " + "; ".join(misses)


@pytest.mark.slow
@_needs("tf2onnx", "onnxruntime", "ai_edge_litert")
def test_tflite_and_onnx_run_without_keras(exports, frames, tmp_path):
    """The ONNX and TFLite files run with onnxruntime / LiteRT alone."""
    script = (
        "import sys, numpy as np, onnxruntime as ort\n"
        "from ai_edge_litert.interpreter import Interpreter\n"
        "im = np.load(sys.argv[3])\n"
        "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
        "o = dict(zip([x.name for x in s.get_outputs()], s.run(None, {'image': im})))\n"
        "r = Interpreter(model_path=sys.argv[2]).get_signature_runner('serving_default')\n"
        "t = r(image=im)\n"
        "assert (o['mask'] == t['mask']).mean() > 0.99 and o['mask'].shape == im.shape[:2]\n"
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules), int(o['scores'].shape[0]))\n")
    np.save(tmp_path / "im.npy", frames[0][1])
    proc = subprocess.run([sys.executable, "-c", script, exports["onnx"][0], exports["tflite"][0],
                           str(tmp_path / "im.npy")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().startswith("[]")   # neither keras nor tensorflow imported


@pytest.mark.slow
def test_verify_reports_a_mismatch(exports, segmenter, frames):
    """An export compared with a different segmenter (a higher score
    threshold) is reported as not matching, with the frame named."""
    from phone.export import verify_export
    from phone.segmenter import Segmenter
    seg, _ = segmenter
    stricter = Segmenter(model=seg.model, score=0.55)
    report = verify_export(exports["tflite"][0], stricter, frames[:4])
    assert not report["ok"]
    assert "instance" in report["problem"] and report["problem"].startswith(frames[0][0])
    assert verify_export(exports["tflite"][0], seg, frames[:4])["ok"]


@pytest.mark.slow
def test_export_that_does_not_verify_is_not_written(segmenter, frames, tmp_path):
    from phone.export import ExportError, export_model
    seg, _ = segmenter
    out = tmp_path / "never.tflite"
    with pytest.raises(ExportError, match="does not match detect"):
        export_model(seg, "tflite", str(out), verify_images=frames[:1], min_iou=1.01, quiet=True)
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_runner_rejects_bad_images(exports):
    from phone.errors import ImageReadError
    from phone.export import ExportedSegmenter
    seg = ExportedSegmenter(exports["tflite"][0])
    assert seg.input_shape == (128, 128)
    good = np.zeros((128, 128, 3), np.uint8)
    bw, r = seg.segment_image(good)
    assert bw.shape == (128, 128) and r["masks"].shape[:2] == (128, 128)
    bw4, _ = seg.segment_image(np.dstack([good, good[:, :, :1]]))     # RGBA: alpha dropped
    np.testing.assert_array_equal(bw4, bw)
    for bad, words in [(good.astype(np.float32), "dtype float32"),
                       (np.zeros((128, 128, 5), np.uint8), "shape"),
                       (np.zeros((1, 128, 128, 3), np.uint8), "shape"),
                       (np.zeros((64, 64, 3), np.uint8), "64x64 image")]:
        with pytest.raises(ImageReadError, match=words) as e:
            seg.segment_image(bad)
        assert "\n" not in str(e.value)


def test_export_argument_errors(tmp_path):
    from phone.errors import ExportError
    from phone.export import detect_format, export_model
    with pytest.raises(ExportError, match=r"\.onnx path"):
        export_model(object(), "onnx", str(tmp_path / "x.tflite"))
    with pytest.raises(ExportError, match="unknown export format"):
        export_model(object(), "pb", str(tmp_path / "x.pb"))
    with pytest.raises(ExportError, match="not an exported model"):
        detect_format(str(tmp_path / "x.h5"))
    keep = tmp_path / "photos"
    keep.mkdir()
    (keep / "a.png").write_bytes(b"x")
    with pytest.raises(ExportError, match="not a SavedModel; not replacing"):
        export_model(object(), "saved_model", str(keep))
    assert (keep / "a.png").read_bytes() == b"x"


def test_a_format_missing_its_packages_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    from phone.errors import ExportError
    from phone.export import check_destination
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tf2onnx", "onnxruntime") else real(name, *a))
    with pytest.raises(ExportError) as e:
        check_destination("onnx", str(tmp_path / "m.onnx"))
    assert str(e.value) == ("an ONNX export needs tf2onnx, onnxruntime (not installed): "
                            "pip install 'mrcnn-phone[export]'")
    check_destination("tflite", str(tmp_path / "m.tflite"))      # needs nothing more
    check_destination("saved_model", str(tmp_path / "m"))


# ------------------------------------------------------------------ command
def _parse(argv):
    import argparse
    from phone.commands import export as cmd
    parser = argparse.ArgumentParser(prog="phone")
    cmd.add_parser(parser.add_subparsers(dest="command"))
    return cmd, parser.parse_args(["export"] + [str(a) for a in argv])


@pytest.mark.slow
def test_command_exports_and_verifies(segmenter, exports, tmp_path, capsys):
    from phone.imageio import write_png_atomic
    _, weights = segmenter
    images = []
    for i, name in enumerate(["a.png", "b.png"]):
        from phone import synthetic
        im, _ = synthetic.make_sample(np.random.default_rng([9, i]), size=128)
        write_png_atomic(str(tmp_path / name), im)
        images.append(str(tmp_path / name))
    config = ["--config", "phone.config:PhoneScratchInferenceConfig", "--score", "0.3"]
    out = tmp_path / "cmd.tflite"
    cmd, args = _parse(["--weights", weights, "--out", out, "--verify-images", *images,
                        "--json", tmp_path / "r.json", "--quiet"] + config)
    assert cmd.run(args) == 0
    text = capsys.readouterr().out
    assert "tflite" in text and "input uint8 [128x128x3]" in text and "Select TF ops: none" in text
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verification"]["ok"] and len(report["verification"]["frames"]) == 2
    assert out.is_file()
    # --verify: an existing export against the weights it came from
    cmd, args = _parse(["--verify", exports["saved_model"][0], "--weights", weights,
                        "--verify-images", *images] + config)
    assert cmd.run(args) == 0
    assert "matches phone segment" in capsys.readouterr().out


def test_command_argument_errors(tmp_path):
    from phone.errors import CommandError, WeightsError
    for argv, words in [(["--weights", "w.h5"], "--out is required"),
                        (["--weights", "w.h5", "--out", tmp_path / "x.onnx",
                          "--format", "tflite"], r"\.tflite path"),
                        (["--weights", "w.h5", "--out", tmp_path / "x.onnx",
                          "--input-size", "12y"], "--input-size"),
                        (["--weights", tmp_path / "missing.h5", "--out", tmp_path / "x.onnx"],
                         "weights file not found"),
                        (["--weights", "w.h5", "--verify", tmp_path / "none.onnx"], "no such export"),
                        (["--weights", "w.h5", "--out", tmp_path / "x.onnx", "--verify-images",
                          tmp_path / "nope.png"], "no such image")]:
        cmd, args = _parse(argv)
        with pytest.raises((CommandError, WeightsError), match=words):
            cmd.run(args)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", [_fmt("saved_model"), _fmt("onnx"), _fmt("tflite")])
def test_shipped_model_exports_exactly(fmt, frames, tmp_path):
    """The issue's bar without tolerance, on the model users deploy: the
    shipped phone model's export, run in a fresh process, gives phone
    segment's instance count on every one of the 24 frames and mask IoU >=
    0.99 (the random-weights model above ties scores; this one does not)."""
    from phone import paths
    from phone.export import export_model
    from phone.segmenter import Segmenter
    seg = Segmenter(weights=paths.shipped_model_path())
    ref = seg.segment_images([im for _, im in frames])
    assert sum(len(r["class_ids"]) for _, r in ref) >= 20      # something to compare
    out = tmp_path / OUT[fmt]
    report = export_model(seg, fmt, str(out), verify_images=frames, quiet=True)
    assert report["verification"]["ok"]
    npz, result = tmp_path / "frames.npz", tmp_path / "out.npz"
    np.savez(npz, images=np.stack([im for _, im in frames]))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(REPO, "Mask_RCNN"), REPO, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _FRESH, fmt, str(out), str(npz),
                           str(result)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = np.load(result)
    for i, ((name, _), (ref_bw, r)) in enumerate(zip(frames, ref)):
        assert got["counts"][i] == len(r["class_ids"]), name
        assert _iou(got["masks"][i], ref_bw) >= 0.99, name


# ------------------------------------------------------------------ verification frames
#: phone.export.default_verify_images: the bundled CORe50 frames (every
#: annotated one: more/, train/, val/ of datasets/phone, in path order)
#: then 4 synthetic ones
DEFAULT_VERIFY_NAMES = [
    "phone-data/more/C_02_08_005.png", "phone-data/more/C_02_10_012.png",
    "phone-data/more/C_03_07_009.png", "phone-data/more/C_06_08_012.png",
    "phone-data/train/C_01_06_001.png", "phone-data/train/C_01_07_000.png",
    "phone-data/val/C_01_08_000.png", "phone-data/val/C_01_09_002.png",
    "synthetic 0", "synthetic 1", "synthetic 2", "synthetic 3"]


@pytest.mark.parametrize("min_dim,synthetic_side", [(128, 128), (64, 64), (16, 32)])
def test_default_verify_images_are_the_bundled_frames_and_4_synthetic(min_dim, synthetic_side):
    """The frames an export is verified on without --verify-images: the 8
    bundled 128x128 CORe50 frames as they are on disk (read back here with
    OpenCV), then synthetic frames 0-3 of seed 0 at the config's
    IMAGE_MIN_DIM (32 px at least), all uint8 RGB."""
    from types import SimpleNamespace
    import cv2
    from phone import synthetic
    from phone.export import default_verify_images
    images = default_verify_images(SimpleNamespace(IMAGE_MIN_DIM=min_dim))
    assert [name for name, _ in images] == DEFAULT_VERIFY_NAMES
    for name, image in images[:8]:
        path = os.path.join(REPO, "datasets", "phone", name[len("phone-data/"):])
        np.testing.assert_array_equal(image, cv2.imread(path)[:, :, ::-1])
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    for i, (name, image) in enumerate(images[8:]):
        assert image.shape == (synthetic_side, synthetic_side, 3) and image.dtype == np.uint8
        expected, _ = synthetic.make_sample(synthetic.frame_rng(0, i), size=synthetic_side)
        np.testing.assert_array_equal(image, expected)
    assert len({im.tobytes() for _, im in images[8:]}) == 4       # four different frames


# ------------------------------------------------------------------ --input-size, instance_masks
@pytest.mark.slow
def test_command_tflite_input_size_and_instance_masks(segmenter, tmp_path, capsys):
    """`phone export --input-size 96 --out m.tflite` (the model's own size is
    128): the report's input_shape is [96, 96, 3], the default verification
    frames (DEFAULT_VERIFY_NAMES) are resized to 96x96, and the file runs
    on 96x96 frames only. Its ``instance_masks`` output is [N, 96, 96]
    uint8 0/255, one mask per detection of phone segment's Segmenter on the
    same frame (same count, boxes, class ids and scores, each mask IoU >=
    0.99), and ``mask`` is their union."""
    import cv2
    from phone import synthetic
    from phone.cli import main
    from phone.errors import ImageReadError
    from phone.export import ExportedSegmenter
    from phone.imageio import read_image
    seg, weights = segmenter
    out, report_path = tmp_path / "m.tflite", tmp_path / "r.json"
    code = main(["export", "--weights", weights, "--config",
                 "phone.config:PhoneScratchInferenceConfig", "--score", "0.3",
                 "--input-size", "96", "--out", str(out), "--json", str(report_path), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "input uint8 [96x96x3]" in captured.out
    report = json.loads(report_path.read_text())
    assert report["format"] == "tflite" and report["input_shape"] == [96, 96, 3]
    assert [f["name"] for f in report["verification"]["frames"]] == [
        f"{name} (resized to 96x96)" for name in DEFAULT_VERIFY_NAMES]
    runner = ExportedSegmenter(str(out))
    assert runner.input_shape == (96, 96)
    real = read_image(os.path.join(REPO, "datasets", "phone", "val", "C_01_08_000.png"))
    frames = [cv2.resize(real, (96, 96), interpolation=cv2.INTER_AREA),
              synthetic.make_sample(np.random.default_rng([5, 1]), size=96)[0]]
    total = 0
    for image in frames:
        o = runner.run_image(image)
        ref_bw, ref = seg.segment_image(image)
        inst = np.asarray(o["instance_masks"])
        n = len(ref["class_ids"])
        total += n
        assert inst.dtype == np.uint8 and inst.shape == (n, 96, 96)
        assert set(np.unique(inst)) <= {0, 255}
        np.testing.assert_array_equal(o["boxes"], ref["rois"])
        np.testing.assert_array_equal(o["class_ids"], ref["class_ids"])
        np.testing.assert_allclose(o["scores"], ref["scores"], atol=1e-4)
        for i in range(n):
            assert _iou(inst[i], ref["masks"][:, :, i]) >= 0.99, i
        assert o["mask"].shape == (96, 96)
        np.testing.assert_array_equal(o["mask"] > 0, (inst > 0).any(axis=0))
        assert _iou(o["mask"], ref_bw) >= 0.99
    assert total >= 3                                   # masks to compare
    with pytest.raises(ImageReadError, match="takes 96x96"):
        runner.run_image(np.zeros((128, 128, 3), np.uint8))


# ------------------------------------------------------------------ --coco-class, --min-iou
#: a light 81-class model (COCO's class list) at 64 px: builds and exports
#: in seconds, unlike mask_rcnn_coco.h5's ResNet-101 (not downloadable here)
COCO81_CONFIG = '''
from phone.config import PhoneScratchInferenceConfig


class Coco81(PhoneScratchInferenceConfig):
    NAME = "coco"
    NUM_CLASSES = 81
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 64
    RPN_ANCHOR_SCALES = (4, 8, 16, 32, 64)
    POST_NMS_ROIS_INFERENCE = 50
    DETECTION_MIN_CONFIDENCE = 0.0
    DETECTION_MAX_INSTANCES = 5
'''


@pytest.fixture(scope="module")
def coco81(tmp_path_factory):
    """(MaskRCNN, weights path, --config spec, frames): an 81-class model
    whose classifier can only say "person" (1) or "cell phone" (68), about
    half and half, and whose mask head draws the whole box for both (random
    mask heads give empty masks). frames: two 64 px synthetic frames, each
    with both classes among detect()'s 5 detections."""
    import keras
    from mrcnn.model import MaskRCNN
    from phone import coco_classes as cc
    from phone import synthetic
    from phone.config import load_config_class
    d = tmp_path_factory.mktemp("coco81")
    (d / "coco81.py").write_text(COCO81_CONFIG)
    spec = f"{d / 'coco81.py'}:Coco81"
    keras.utils.set_random_seed(1)
    model = MaskRCNN("inference", load_config_class(spec)(), str(d))
    layer = model.keras_model.get_layer("mrcnn_class_logits")
    kernel, bias = layer.get_weights()
    w = np.random.default_rng(0).normal(0, 0.05, kernel.shape[0]).astype(np.float32)
    kernel[:] = 0
    kernel[:, 1], kernel[:, cc.CELL_PHONE] = w, -w
    bias[:] = -50
    bias[1], bias[cc.CELL_PHONE] = 0.0, -1.5
    layer.set_weights([kernel, bias])
    mask = model.keras_model.get_layer("mrcnn_mask")
    mk, mb = mask.get_weights()
    mb[[1, cc.CELL_PHONE]] = 3.0
    mask.set_weights([mk, mb])
    path = d / "coco81.h5"
    model.save_weights(str(path))
    frames = [synthetic.make_sample(synthetic.frame_rng(0, i), size=64)[0] for i in (3, 5)]
    return model, str(path), spec, frames


@pytest.mark.slow
def test_command_coco_class_exports_only_that_class(coco81, tmp_path, capsys):
    """`phone export --coco-class "cell phone"` of an 81-class model: the
    export keeps the cell-phone detections of Matterport's detect() and
    drops the others. Expected values from detect() itself (no phone
    filter involved): on each frame, the rows with class 68, in order:
    their boxes, scores and masks (IoU >= 0.99), and the union mask."""
    from phone import coco_classes as cc
    from phone.cli import main
    from phone.export import ExportedSegmenter
    from phone.imageio import write_png_atomic
    model, weights, spec, frames = coco81
    names = []
    for i, image in enumerate(frames):
        names.append(str(tmp_path / f"f{i}.png"))
        write_png_atomic(names[-1], image)
    out = tmp_path / "phone_sm"
    code = main(["export", "--weights", weights, "--config", spec, "--coco-class", "cell phone",
                 "--out", str(out), "--verify-images", *names, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "input uint8 [HxWx3]" in captured.out       # a SavedModel takes any frame size
    runner = ExportedSegmenter(str(out))
    for image in frames:
        r = model.detect([image])[0]
        assert set(r["class_ids"]) == {1, cc.CELL_PHONE}, r["class_ids"]   # something to drop
        phone = r["class_ids"] == cc.CELL_PHONE
        o = runner.run_image(image)
        np.testing.assert_array_equal(o["class_ids"], r["class_ids"][phone])
        np.testing.assert_array_equal(o["boxes"], r["rois"][phone])
        np.testing.assert_allclose(o["scores"], r["scores"][phone], atol=1e-4)
        want = r["masks"][:, :, phone]
        assert o["instance_masks"].shape == (int(phone.sum()), 64, 64)
        for k in range(want.shape[2]):
            assert want[:, :, k].any() and _iou(o["instance_masks"][k], want[:, :, k]) >= 0.99
        assert _iou(o["mask"], want.any(axis=2)) >= 0.99
        assert _iou(o["mask"], r["masks"].any(axis=2)) < 0.99      # the person is not in it


@pytest.mark.slow
def test_command_min_iou_above_one_fails_and_writes_nothing(coco81, tmp_path, capsys):
    """`--min-iou 1.01`: no mask IoU can reach it, so the export is built,
    fails its verification, and the command exits 1 with one line naming
    the frame; neither the export nor its temporary folder nor the --json
    report is left."""
    from phone.cli import main
    from phone.imageio import write_png_atomic
    _, weights, spec, frames = coco81
    d = tmp_path / "work"
    d.mkdir()
    frame = tmp_path / "f.png"
    write_png_atomic(str(frame), frames[0])
    code = main(["export", "--weights", weights, "--config", spec, "--out", str(d / "m_sm"),
                 "--verify-images", str(frame), "--min-iou", "1.01", "--json",
                 str(d / "r.json"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith(f"phone export: error: {d / 'm_sm'}: export does "
                                               f"not match detect(): {frame}: mask IoU ")
    assert "(needs >= 1.01)" in err[0] and err[0].endswith("nothing written")
    assert list(d.iterdir()) == []
