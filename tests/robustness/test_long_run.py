"""Long runs: repeated detect() calls on same-size frames never retrace the
graph and give the same answer for the same frame. The 1000-call memory run
is benchmarks/long_run.py (smoke-tested here with a few calls)."""
import json
import mmap
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
    """60 calls of the tiny model: no retrace, and --check passes with a
    growth bound of 200 MiB per 1000 calls (a leak of 0.2 MiB a call fails;
    see the next test); the resident memory after the last block is within
    30 MiB of the first sample."""
    out = tmp_path / "long_run.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "long_run.py"), "--calls",
                           "60", "--every", "15", "--json", str(out), "--quiet",
                           "--check", "--max-growth-mb", "200"],
                          cwd=str(tmp_path), env=subprocess_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [r["calls"] for r in result["rows"]] == [15, 30, 45, 60]
    assert result["traces"] == 1 and all(r["traces"] == 1 for r in result["rows"])
    rss = [r["rss_mb"] for r in result["rows"]]
    assert [r["delta_mb"] for r in result["rows"]] == pytest.approx([x - rss[0] for x in rss])
    assert max(rss) - rss[0] < 30.0, rss
    assert result["growth_mb_per_1000"] <= 200.0
    assert "calls  rss_mb  delta_mb  traces  median_ms" in proc.stdout
    assert "(never retraced)" in proc.stdout


def _long_run_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "long_run_under_test", str(REPO / "benchmarks" / "long_run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_long_run_check_fails_on_a_leak(monkeypatch, capsys):
    """The same bound fails when detect() leaks 1 MiB a call (injected)."""
    from mrcnn.model import MaskRCNN
    long_run = _long_run_module()
    kept = []
    real_detect = MaskRCNN.detect

    def leaky_detect(self, images, verbose=0):
        # 1 MiB of fresh anonymous pages a call, every page written: new
        # resident memory whatever the heap holds. (np.ones(2**18) came from
        # memory malloc had already freed in a worker that ran many modules
        # before this one, and the RSS grew by 0.42 MiB a call.)
        block = mmap.mmap(-1, 2 ** 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        block.write(bytes([len(kept) % 251 + 1]) * 2 ** 20)
        kept.append(block)
        return real_detect(self, images, verbose)

    monkeypatch.setattr(MaskRCNN, "detect", leaky_detect)
    status = long_run.main(["--calls", "60", "--every", "15", "--quiet", "--check",
                            "--max-growth-mb", "200"])
    out = capsys.readouterr().out
    assert len(kept) == 60
    assert status == 1, out
    growth = float(out.split("memory growth:")[1].split("MiB")[0])
    assert growth > 500, out      # ~1000 MiB per 1000 calls


def test_slope_per_1000_hand_computed():
    long_run = _long_run_module()
    assert long_run.slope_per_1000([10, 20, 30], [100.0, 101.0, 102.0]) == pytest.approx(100.0)
    assert long_run.slope_per_1000([10, 20, 30], [100.0, 100.0, 100.0]) == 0.0
    assert long_run.slope_per_1000([10], [5.0]) == 0.0
