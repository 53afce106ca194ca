"""Long runs: repeated detect() calls on same-size frames never retrace the
graph and give the same answer for the same frame. The 1000-call memory run
is benchmarks/long_run.py (smoke-tested here with a few calls)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from robust_helpers import REPO, TinyInferenceConfig, noise_image, subprocess_env


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import keras
    from mrcnn.model import MaskRCNN
    keras.utils.set_random_seed(1)
    return MaskRCNN("inference", TinyInferenceConfig(), str(tmp_path_factory.mktemp("logs")))


def test_same_size_frames_trace_once(model):
    first = noise_image(64, 64, seed=100)
    r0 = model.detect([first])[0]
    traces = model.trace_count
    assert traces == 1
    for i in range(30):
        model.detect([noise_image(64, 64, seed=i)])
        assert model.trace_count == traces, f"retraced at call {i + 2}"
    # frames of other sizes are molded to the same 64 x 64 input: no retrace
    for h, w in [(48, 64), (100, 30), (64, 200), (1, 1)]:
        (r,) = model.detect([noise_image(h, w, seed=h + w)])
        assert r["masks"].shape[:2] == (h, w)
    assert model.trace_count == traces
    # no state carried between calls: the first frame gives the same result
    r1 = model.detect([first])[0]
    for key in ("rois", "class_ids", "scores", "masks"):
        np.testing.assert_array_equal(r1[key], r0[key])


def test_one_trace_per_molded_shape(tmp_path):
    """pad64 keeps the aspect ratio, so two frame sizes give two molded
    shapes: one trace each, however often they alternate."""
    from mrcnn.model import MaskRCNN

    class Pad64(TinyInferenceConfig):
        IMAGE_RESIZE_MODE = "pad64"
        IMAGE_MIN_DIM = 64
        IMAGE_MAX_DIM = 128

    model = MaskRCNN("inference", Pad64(), str(tmp_path))
    for i in range(8):
        shape = (64, 64) if i % 2 else (64, 128)
        (r,) = model.detect([noise_image(*shape, seed=i)])
        assert r["masks"].shape[:2] == shape
    assert model.trace_count == 2


def test_segmenter_batches_trace_once(model):
    """Segmenter pads the last batch by repetition, so a folder of odd-sized
    frames still runs one graph."""
    from phone.segmenter import Segmenter
    seg = Segmenter(model=model)
    before = model.trace_count
    out = seg.segment_images([noise_image(30 + i, 50 - i, seed=i) for i in range(7)])
    assert [bw.shape for bw, _ in out] == [(30 + i, 50 - i) for i in range(7)]
    assert model.trace_count == before == 1


def test_long_run_benchmark_smoke(tmp_path):
    out = tmp_path / "long_run.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "long_run.py"), "--calls",
                           "30", "--every", "10", "--json", str(out), "--quiet"],
                          cwd=str(tmp_path), env=subprocess_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [r["calls"] for r in result["rows"]] == [10, 20, 30]
    assert result["traces"] == 1 and all(r["traces"] == 1 for r in result["rows"])
    assert all(r["rss_mb"] > 50 for r in result["rows"]) and result["rows"][0]["delta_mb"] == 0
    assert "calls  rss_mb  delta_mb  traces  median_ms" in proc.stdout
    assert "(never retraced)" in proc.stdout
