"""MIXED_PRECISION = "auto" decides by measurement (issue 16): the probe's
timings are injected here (no timing in tests), the decision is cached per
machine / TensorFlow version / use / probe sizes, and can be shown and reset."""
import json
import os

import pytest

from mrcnn import precision as P
from mrcnn.backbones import LightResNet
from mrcnn.model import MaskRCNN
from shapes import TinyConfig

BF16 = {"avx2", "avx512f", "avx512_bf16"}


class FakeProbe:
    """Returns fixed timings (seconds) per use and counts its calls."""

    def __init__(self, f32, bf16, per_use=None):
        self.timings = {"float32": f32, "mixed_bfloat16": bf16}
        self.per_use = per_use or {}
        self.calls = []

    def __call__(self, specs, use):
        self.calls.append(use)
        return self.per_use.get(use, self.timings)


def _resolve(probe, cache, use="inference", **kw):
    return P.resolve_mixed_precision_with_reason(
        "auto", use, gpus=0, flags=BF16, probe=probe, cache_file=str(cache), **kw)


def test_auto_picks_float32_where_bfloat16_measures_slower(tmp_path):
    probe = FakeProbe(f32=0.0276, bf16=0.0384)        # the Xeon, phone-scratch
    policy, reason = _resolve(probe, tmp_path / "p.json")
    assert policy is None and probe.calls == ["inference"]
    assert "bfloat16 38.4 ms vs float32 27.6 ms" in reason and "slower -> float32" in reason
    assert "\n" not in reason


def test_auto_picks_bfloat16_where_faster(tmp_path):
    probe = FakeProbe(f32=4.0, bf16=2.3)               # Zen 4, COCO
    policy, reason = _resolve(probe, tmp_path / "p.json")
    assert policy == "mixed_bfloat16"
    assert "bfloat16 2300.0 ms vs float32 4000.0 ms -> mixed_bfloat16" in reason
    assert P.resolve_mixed_precision("auto", gpus=0, flags=BF16, probe=probe,
                                     cache_file=str(tmp_path / "p.json")) == "mixed_bfloat16"


def test_auto_needs_a_clear_win(tmp_path):
    # 3 % faster is inside the margin: float32 (a close call is measured twice)
    probe = FakeProbe(f32=1.0, bf16=1.0 - P.PROBE_MARGIN * 0.6)
    policy, reason = _resolve(probe, tmp_path / "p.json")
    assert policy is None and "less than 5% faster" in reason
    assert probe.calls == ["inference", "inference"]


def test_close_call_is_measured_again_and_best_times_kept(tmp_path):
    runs = iter([{"float32": 1.00, "mixed_bfloat16": 0.97},     # close: again
                 {"float32": 1.20, "mixed_bfloat16": 0.80}])    # f32 unlucky here
    calls = []

    def probe(specs, use):
        calls.append(use)
        return next(runs)
    policy, reason = _resolve(probe, tmp_path / "p.json")
    assert calls == ["inference", "inference"]
    assert policy == "mixed_bfloat16" and "bfloat16 800.0 ms vs float32 1000.0 ms" in reason
    # a clear result is measured once
    clear = FakeProbe(f32=1.0, bf16=0.5)
    _resolve(clear, tmp_path / "q.json")
    assert clear.calls == ["inference"]


def test_train_and_inference_decided_apart(tmp_path):
    # the Xeon: inference slower in bfloat16, training faster
    probe = FakeProbe(1, 1, per_use={"inference": {"float32": 0.205, "mixed_bfloat16": 0.265},
                                     "train": {"float32": 0.367, "mixed_bfloat16": 0.335}})
    cache = tmp_path / "p.json"
    assert _resolve(probe, cache, "inference")[0] is None
    assert _resolve(probe, cache, "train")[0] == "mixed_bfloat16"
    # 0.335 / 0.367 = 0.91 is a close call: measured twice
    assert probe.calls == ["inference", "train", "train"]


def test_cache_read_write_show_reset(tmp_path):
    cache = tmp_path / "sub" / "precision.json"
    probe = FakeProbe(f32=0.010, bf16=0.020)
    cfg = TinyConfig()
    assert _resolve(probe, cache, config=cfg)[0] is None
    assert probe.calls == ["inference"]
    doc = json.loads(cache.read_text())
    assert doc["format"] == 1 and len(doc["decisions"]) == 1
    (key, entry), = doc["decisions"].items()
    assert entry["policy"] is None and entry["use"] == "inference"
    assert entry["float32_ms"] == 10.0 and entry["bfloat16_ms"] == 20.0
    assert "tensorflow" in key and "inference" in key

    # second time: from the cache, no probe; the reason says so
    policy, reason = _resolve(FakeProbe(1.0, 0.1), cache, config=cfg)
    assert policy is None and "cached" in reason and str(cache) in reason
    # another model size is another probe
    other = FakeProbe(f32=0.010, bf16=0.005)

    class Big(TinyConfig):
        IMAGE_MIN_DIM = IMAGE_MAX_DIM = 256
    assert _resolve(other, cache, config=Big())[0] == "mixed_bfloat16"
    assert other.calls == ["inference"]

    shown = P.show_decisions(str(cache))
    # (both measured within the same second: their order is not asserted)
    assert sorted(str(d["policy"]) for d in shown) == ["None", "mixed_bfloat16"]
    assert all(d["machine"] == P.machine_key(BF16) for d in shown)
    assert P.reset_decisions(str(cache)) == 2
    assert not cache.exists() and P.show_decisions(str(cache)) == []
    assert P.reset_decisions(str(cache)) == 0
    again = FakeProbe(f32=0.010, bf16=0.005)
    assert _resolve(again, cache, config=cfg)[0] == "mixed_bfloat16"    # measured anew
    assert again.calls == ["inference"]


def test_broken_cache_is_measured_again(tmp_path):
    cache = tmp_path / "precision.json"
    cache.write_text("{not json")
    probe = FakeProbe(f32=2.0, bf16=1.0)
    assert _resolve(probe, cache)[0] == "mixed_bfloat16" and probe.calls == ["inference"]
    assert json.loads(cache.read_text())["format"] == 1


def test_failing_probe_gives_float32_and_is_not_cached(tmp_path):
    def broken(specs, use):
        raise RuntimeError("no bfloat16 kernel\nsecond line")
    cache = tmp_path / "precision.json"
    policy, reason = _resolve(broken, cache)
    assert policy is None and "probe failed (RuntimeError: no bfloat16 kernel)" in reason
    assert "\n" not in reason and not cache.exists()


def test_gpu_gives_mixed_float16_without_probe(tmp_path):
    probe = FakeProbe(f32=1.0, bf16=0.5)
    policy, reason = P.resolve_mixed_precision_with_reason(
        "auto", "train", gpus=1, flags=BF16, probe=probe,
        cache_file=str(tmp_path / "p.json"))
    assert policy == "mixed_float16" and "GPU" in reason
    assert probe.calls == [] and not (tmp_path / "p.json").exists()


def test_cpu_without_bfloat16_instructions_skips_the_probe(tmp_path):
    probe = FakeProbe(f32=1.0, bf16=0.5)
    policy, reason = P.resolve_mixed_precision_with_reason(
        "auto", "inference", gpus=0, flags={"avx2", "avx512f"}, probe=probe,
        cache_file=str(tmp_path / "p.json"))
    assert policy is None and "no bfloat16 instructions" in reason and probe.calls == []


def test_explicit_policies_and_bad_values():
    assert P.resolve_mixed_precision_with_reason(None, "train") == (
        None, "MIXED_PRECISION = None: float32")
    assert P.resolve_mixed_precision_with_reason("mixed_bfloat16", "inference")[0] == \
        "mixed_bfloat16"
    with pytest.raises(ValueError, match="use must be one of"):
        P.resolve_mixed_precision_with_reason("auto", "training")
    with pytest.raises(ValueError, match="MIXED_PRECISION"):
        P.resolve_mixed_precision_with_reason("bf16", "train")


def test_probe_specs_follow_the_model_sizes():
    class Light(TinyConfig):
        BACKBONE = LightResNet(widths=(8, 16, 24, 32), blocks=(1, 2, 1, 1), stem=16)
        COMPUTE_BACKBONE_SHAPE = BACKBONE.compute_backbone_shape
        MASK_HEAD_CHANNELS = 16
        TOP_DOWN_PYRAMID_SIZE = 32
        FPN_CLASSIF_FC_LAYERS_SIZE = 64
    specs = P.probe_specs(Light(), "inference", max_op_macs=1e12)   # nothing cut
    assert specs[0] == {"op": "conv", "shape": [1, 64, 64, 3, 16, 7], "layers": 1.0,
                        "weight": 1.0, "norm": True}
    # stage 4 (widths[2] = 24) at 128/16 = 8, one block
    assert {"op": "conv", "shape": [1, 8, 8, 24, 24, 3], "layers": 1.0,
            "weight": 1.0, "norm": True} in specs
    # FPN: 3x3 on P2 (128/4 = 32), no norm (FPN_NORM None), 4/3 for P2..P6
    assert {"op": "conv", "shape": [1, 32, 32, 32, 32, 3], "layers": 4 / 3,
            "weight": 4 / 3, "norm": False} in specs
    # mask head on DETECTION_MAX_INSTANCES = 5 ROIs of 14x14, 5 layers
    assert {"op": "conv", "shape": [5, 14, 14, 16, 16, 3], "layers": 5.0,
            "weight": 5.0, "norm": True} in specs
    # classifier: POST_NMS_ROIS_INFERENCE = 50 rows of 7*7*32
    assert {"op": "dense", "shape": [50, 7 * 7 * 32, 64], "layers": 1.0,
            "weight": 1.0, "norm": True} in specs
    train = P.probe_specs(Light(), "train", max_op_macs=1e12)
    # training: batch IMAGES_PER_GPU = 2, mask head on 2 * int(32 * 0.33) ROIs
    assert train[0]["shape"][0] == 2
    assert {"op": "conv", "shape": [20, 14, 14, 16, 16, 3], "layers": 5.0,
            "weight": 5.0, "norm": True} in train


def test_probe_specs_cut_big_layers_and_scale_back():
    from mrcnn.config import Config

    class Coco(Config):
        NUM_CLASSES = 81
    specs = P.probe_specs(Coco(), "inference", max_op_macs=5e7)
    dense = [s for s in specs if s["op"] == "dense"][0]
    # 1000 x 12544 x 1024 multiply-adds: cut to the 64 rows a dense layer
    # keeps (fewer would only stream the kernel), channels kept
    assert dense["shape"] == [64, 12544, 1024]
    assert dense["weight"] == pytest.approx(1000 / 64)
    for s in specs:
        n = s["shape"]
        macs = (n[0] * n[1] * n[2] * n[3] * n[4] * n[5] ** 2 if s["op"] == "conv"
                else n[0] * n[1] * n[2])
        assert macs <= 5e7 or min(n[1:3]) == 8 or s["op"] == "dense"
    stem = specs[0]
    # 512x512x3 -> 64, 7x7: 2.47e9 multiply-adds, cut to 5e7 -> weight ~49
    assert stem["shape"][3:] == [3, 64, 7]
    real = 512 * 512 * 3 * 64 * 49
    n, h, w = stem["shape"][:3]
    assert stem["weight"] == pytest.approx(real / (n * h * w * 3 * 64 * 49))


def test_real_probe_runs(tmp_path):
    """The real probe on a tiny spec list returns two positive times (their
    values are not asserted: no timing in tests)."""
    specs = P.probe_specs(TinyConfig(), "train", max_op_macs=2e5)
    got = P.measure_probe(specs[:3], "train", rounds=1)
    assert set(got) == {"float32", "mixed_bfloat16"}
    assert all(v > 0 for v in got.values())


@pytest.mark.parametrize("mode,use", [("inference", "inference"), ("training", "train")])
def test_model_resolves_auto_for_its_use(tmp_path, monkeypatch, mode, use):
    """MaskRCNN in training mode decides for "train", in inference mode for
    "inference", with its own sizes, and records the reason."""
    seen = []

    def probe(specs, u):
        seen.append((u, specs))
        return {"inference": {"float32": 1.0, "mixed_bfloat16": 2.0},
                "train": {"float32": 2.0, "mixed_bfloat16": 1.0}}[u]
    monkeypatch.setattr(P, "measure_probe", probe)
    monkeypatch.setattr(P, "cpu_flags", lambda path=None: set(BF16))
    monkeypatch.setenv("MRCNN_HOME", str(tmp_path / "home"))

    class C(TinyConfig):
        MIXED_PRECISION = "auto"
        BACKBONE = LightResNet(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), stem=8)
        COMPUTE_BACKBONE_SHAPE = BACKBONE.compute_backbone_shape
        BACKBONE_NORM = "group"
        GROUP_NORM_GROUPS = 4
    model = MaskRCNN(mode, C(), str(tmp_path))
    assert [u for u, _ in seen] == [use]
    assert seen[0][1] == P.probe_specs(model.config, use)
    want = "mixed_bfloat16" if use == "train" else None
    assert model.mixed_precision == want
    assert f"probe for {use}" in model.mixed_precision_reason
    assert model.keras_model.get_layer("conv1").compute_dtype == (
        "bfloat16" if want else "float32")
    assert os.path.isfile(tmp_path / "home" / "precision.json")


def test_command_line_show_and_reset(tmp_path, capsys):
    cache = tmp_path / "precision.json"
    assert P.main(["show", "--cache-file", str(cache)]) == 0
    assert "no 'auto' decision cached" in capsys.readouterr().out
    _resolve(FakeProbe(f32=0.02, bf16=0.01), cache, "train")
    assert P.main(["--cache-file", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "1 decision(s)" in out and "train" in out and "mixed_bfloat16" in out
    assert P.main(["reset", "--cache-file", str(cache)]) == 0
    assert "forgot 1 decision(s)" in capsys.readouterr().out and not cache.exists()
