"""Smoke test of benchmarks/bench_inference.py: a tiny configuration, one
repeat, in this process; checks the JSON report's structure, types and that
the graph was traced once. No timing assertions."""
import importlib.util
import json
import math
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
    path = os.path.join(ROOT, "benchmarks", name + ".py")
    spec = importlib.util.spec_from_file_location("bench_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _load("bench_inference")


@pytest.fixture(scope="module")
def report(bench, tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "inference.json"
    rc = bench.main(["--configs", "tiny", "--repeats", "1", "--warmup", "1",
                     "--no-torch", "--no-isolate", "--json", str(path)])
    assert rc == 0
    with open(path) as f:
        return json.load(f)


def test_report_structure(bench, report):
    assert report["benchmark"] == "inference"
    for k in ("cpu", "cores", "tensorflow", "numpy", "loadavg"):
        assert k in report["machine"]
    assert report["settings"]["repeats"] == 1 and report["settings"]["batch"] == 1
    assert report["comparison"] == [] and report["paired"] == []
    assert any("torchvision comparison skipped" in n for n in report["notes"])
    [row] = report["results"]
    assert set(bench.RESULT_KEYS) <= set(row)
    assert row["config"] == "tiny" and row["framework"] == "mrcnn"
    assert row["input_size"] == 64 and row["proposals"] == 50
    assert row["max_detections"] == 5 and row["num_classes"] == 2
    assert row["backbone"] == "LightResNet"
    assert isinstance(row["detections"], int) and 0 <= row["detections"] <= 5


def test_timings_and_trace_count(bench, report):
    row = report["results"][0]
    for part in ("e2e", "model", "pre", "post"):
        t = row[part]
        assert set(bench.TIMING_KEYS) <= set(t)
        assert t["n"] == 1
        assert isinstance(t["median_ms"], float) and t["median_ms"] > 0
        assert t["min_ms"] <= t["median_ms"] <= t["p90_ms"] <= t["max_ms"]
    assert math.isclose(row["fps"], 1000.0 / row["e2e"]["median_ms"])
    assert isinstance(row["peak_rss_mb"], float) and row["peak_rss_mb"] > 50
    # warm-up + timed detect() calls and the model-only calls share one graph
    assert row["trace_count"] == 1
    assert row["threads"]["intra_op"] >= 0 and row["xla"] is False


def test_summarize_hand_computed():
    import sys
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import _common as C
    s = C.summarize([0.001, 0.004, 0.002, 0.003, 0.010])
    assert s["median_ms"] == pytest.approx(3.0)
    # p90 by linear interpolation: sorted 1,2,3,4,10 -> 4 + 0.6 * (10 - 4)
    assert s["p90_ms"] == pytest.approx(7.6)
    assert s["min_ms"] == pytest.approx(1.0) and s["max_ms"] == pytest.approx(10.0)
    assert s["n"] == 5
    assert C.summarize([])["median_ms"] is None


def test_compare_ratio_from_pairs(bench):
    def row(fw, e2e, model, dets):
        return {"label": "sweep@256/p1000", "framework": fw, "input_size": 256,
                "proposals": 1000, "max_detections": 100, "detections": dets,
                "e2e": {"median_ms": e2e, "n": 5},
                "model": {"median_ms": model, "n": 5}, "peak_rss_mb": 900.0}
    [c] = bench.compare([{"ours": row("mrcnn", 300.0, 250.0, 100),
                          "torchvision": row("torchvision", 400.0, 200.0, 98)}])
    assert c["e2e_ratio"] == pytest.approx(0.75)
    assert c["model_ratio"] == pytest.approx(1.25)
    assert (c["ours_detections"], c["torchvision_detections"]) == (100, 98)


@pytest.mark.parametrize("have_torch", [True, False])
def test_plan_pairs_torch_only_for_resnet50_points(bench, monkeypatch, have_torch):
    """Both branches on every machine: torch_available() is injected."""
    monkeypatch.setattr(bench, "torch_available", lambda: have_torch)
    args = bench.parse_args(["--configs", "phone,phone-scratch,coco,sweep",
                             "--sizes", "128,1024", "--proposals", "1000",
                             "--proposal-sweep", "300", "--repeats", "7",
                             "--slow-repeats", "2"])
    specs = bench.plan(args)
    tf_labels = [s["label"] for s in specs if s["framework"] == "tf"]
    assert tf_labels == ["phone@128/p200", "phone-scratch@128/p100",
                         "coco@1024/p1000", "sweep@128/p1000",
                         "sweep@1024/p1000", "sweep@512/p300"]
    reps = {s["label"]: s["repeats"] for s in specs if s["framework"] == "tf"}
    assert reps["coco@1024/p1000"] == 2 and reps["sweep@128/p1000"] == 7
    paired = [s["label"] for s in specs if s["framework"] == "pair"]
    if have_torch:
        assert paired == ["phone@128/p200", "sweep@128/p1000", "sweep@1024/p1000"]
    else:
        assert paired == []


@pytest.mark.parametrize("found,expected", [
    ({"torch", "torchvision"}, True), ({"torch"}, False), (set(), False)])
def test_torch_available_reads_find_spec(bench, monkeypatch, found, expected):
    import importlib.util
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name in found else None)
    assert bench.torch_available() is expected


def test_torch_available_survives_a_broken_spec(bench, monkeypatch):
    import importlib.util

    def broken(name, *a):
        raise ValueError("torch.__spec__ is None")
    monkeypatch.setattr(importlib.util, "find_spec", broken)
    assert bench.torch_available() is False


def test_unknown_config_is_a_one_line_error(bench, capsys):
    assert bench.main(["--configs", "nope", "--no-isolate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown configuration 'nope'" in err[0]
