"""Config.MIXED_PRECISION: which Keras dtype policy a model is built under.

    None / "float32"   float32 everywhere (Matterport)
    "mixed_bfloat16"   bfloat16 compute, float32 weights: TPUs, recent GPUs,
                       and some CPUs with AVX512_BF16 or AMX (faster on some,
                       slower on others: benchmarks/RESULTS.md)
    "mixed_float16"    float16 compute with loss scaling: NVIDIA GPUs
    "auto"             decided per machine and per use by measurement:
                       "mixed_float16" when TensorFlow sees a GPU; on a CPU,
                       float32 unless a short probe (a few convolutions of the
                       model's own sizes, timed in both policies) measures
                       bfloat16 faster, by at least PROBE_MARGIN

Why measure: CPU flags do not predict it. On an AMD Zen 4 (AVX512_BF16)
bfloat16 runs the COCO model 1.7x faster; on an Intel Xeon with AVX512_BF16
(no AMX) it runs inference 1.3-1.65x slower while training gains 9 %.

The probe's decision is cached per machine (CPU model, core count, bfloat16
flags), TensorFlow version, use ("train" / "inference") and probe sizes in
``cache_dir()/precision.json`` ($MRCNN_HOME, see mrcnn/core/download.py):
``show_decisions()`` lists them, ``reset_decisions()`` forgets them (the next
"auto" measures again). Tests inject the probe (``probe=``) and the cache
file (``cache_file=``); nothing here times anything unless "auto" runs on a
CPU without a cached decision.

Shape shorthand of the probe ops (the model's layer sizes from its Config;
each op cut to at most PROBE_MACS / 4 multiply-adds, batch / ROIs first,
channels kept, and its time scaled back up by its weight = layers of that
kind x real size / probe size):
    stem     [B, H/2, W/2, 3] -> 7x7 conv -> [B, H/2, W/2, stem]
    stage s  [B, H/2^s, W/2^s, w_s] -> 3x3 conv -> same (x blocks);
             1x1 conv -> 4*w_s (x 2 blocks)
    FPN/RPN  [B, H/4, W/4, D] -> 3x3 conv -> D and 512 (x 4/3: P2..P6)
    mask     [R, 14, 14, M] -> 3x3 conv -> same (x 5)
    class    [C, P*P*D] x [P*P*D, FC], [C, FC] x [FC, FC]
B: 1 (inference) or IMAGES_PER_GPU (train: forward + gradients);
R: DETECTION_MAX_INSTANCES (inference) or the positive training ROIs;
C: POST_NMS_ROIS_INFERENCE or all training ROIs.
Small layers (where bfloat16 often loses on a CPU) and big ones (where it
wins) thus count as much as they do in the model.
"""
import datetime
import hashlib
import json
import math
import os
import platform
import tempfile
import time

__all__ = ["POLICIES", "USES", "BF16_CPU_FLAGS", "PROBE_MARGIN", "PROBE_MACS",
           "cpu_flags", "cpu_model", "machine_key", "probe_specs",
           "measure_probe", "precision_cache_path", "auto_decision",
           "resolve_mixed_precision", "resolve_mixed_precision_with_reason",
           "show_decisions", "reset_decisions"]

POLICIES = (None, "float32", "mixed_bfloat16", "mixed_float16", "auto")
USES = ("train", "inference")

#: /proc/cpuinfo flags of x86 CPUs with bfloat16 dot products
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")

#: bfloat16 must measure at least this much faster (fraction of the float32
#: time) to be chosen: the probe leaves out the model's casts and float32
#: layers, and a tie is not worth bfloat16's rounding
PROBE_MARGIN = 0.05

#: at most PROBE_MACS / 4 multiply-adds per probe op (big layers are cut to
#: that, and their time scaled back up): a few ms per op on a 2-core CPU
PROBE_MACS = 2.4e9

#: cache file format
_CACHE_FORMAT = 1


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU feature flags the kernel reports (Linux); empty elsewhere."""
    if not os.path.exists(path):
        return set()
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model(path="/proc/cpuinfo"):
    """The CPU model name ("AMD EPYC", "Intel(R) Xeon(R) ..."), or
    platform.processor() / "unknown CPU"."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _tf_version():
    import tensorflow as tf
    return tf.__version__


def machine_key(flags=None):
    """What a cached decision is valid for: CPU model, cores, bfloat16 flags
    and the TensorFlow version."""
    flags = cpu_flags() if flags is None else set(flags)
    bf16 = ",".join(sorted(set(BF16_CPU_FLAGS) & flags)) or "no-bf16-flags"
    return (f"{cpu_model()} x{os.cpu_count()} [{bf16}] "
            f"tensorflow {_tf_version()}")


# --------------------------------------------------------------------- probe

def _backbone_sizes(config):
    """(stem filters, [w2, w3, w4, w5], [blocks per stage]) of the config's
    backbone."""
    b = getattr(config, "BACKBONE", "resnet101")
    if isinstance(b, str) or b is None:
        blocks = [3, 4, 23, 3] if b == "resnet101" else [3, 4, 6, 3]
        return 64, [64, 128, 256, 512], blocks
    stem = int(getattr(b, "stem", 64))
    widths = [int(w) for w in getattr(b, "widths", (64, 128, 256, 512))]
    blocks = [int(n) for n in getattr(b, "blocks", (3, 4, 6, 3))]
    return stem, widths, blocks


def probe_specs(config=None, use="inference", max_op_macs=None):
    """The probe's operations for a config, a list of dicts

        {"op": "conv", "shape": [n, h, w, cin, cout, k], "weight": x}
        {"op": "dense", "shape": [rows, cin, cout], "weight": x}

    each the size of one of the model's layers, cut (batch / ROIs first,
    then the spatial size; channels kept) to at most ``max_op_macs``
    multiply-adds (default PROBE_MACS / 4). ``weight`` is how many times
    the probe's time of that op counts in the estimate of the model's time:
    ``layers`` (the number of such layers in the model) times (real size /
    probe size).
    config None: a 128x128 ResNet-50 model of one class."""
    if use not in USES:
        raise ValueError(f"use must be one of {USES}, got {use!r}")
    cap = PROBE_MACS / 4 if max_op_macs is None else max_op_macs
    if config is not None and getattr(config, "IMAGE_SHAPE", None) is not None:
        size = int(config.IMAGE_SHAPE[0])
    else:
        size = int(getattr(config, "IMAGE_MAX_DIM", 128) or 128)
    stem, widths, blocks = _backbone_sizes(config) if config is not None \
        else (64, [64, 128, 256, 512], [3, 4, 6, 3])
    depth = int(getattr(config, "TOP_DOWN_PYRAMID_SIZE", 256))
    mask_ch = int(getattr(config, "MASK_HEAD_CHANNELS", 256))
    fc = int(getattr(config, "FPN_CLASSIF_FC_LAYERS_SIZE", 1024))
    pool = int(getattr(config, "POOL_SIZE", 7))
    mask_pool = int(getattr(config, "MASK_POOL_SIZE", 14))
    if use == "train":
        batch = int(getattr(config, "IMAGES_PER_GPU", 1))
        per_image = int(getattr(config, "TRAIN_ROIS_PER_IMAGE", 200))
        mask_rois = batch * max(1, int(per_image * float(
            getattr(config, "ROI_POSITIVE_RATIO", 0.33))))
        class_rois = batch * per_image
    else:
        batch = 1
        mask_rois = int(getattr(config, "DETECTION_MAX_INSTANCES", 100))
        class_rois = int(getattr(config, "POST_NMS_ROIS_INFERENCE", 1000))
    # (op, shape, layers of that kind in the model, followed by a norm
    # layer: Keras' batch / group norm compute in float32, so under a mixed
    # policy each costs two casts of the activations)
    ops = [("conv", [batch, size // 2, size // 2, 3, stem, 7], 1, True)]
    for i, (w, n) in enumerate(zip(widths, blocks)):
        s = max(1, size // (4 * 2 ** i))
        ops.append(("conv", [batch, s, s, w, w, 3], n, True))
        ops.append(("conv", [batch, s, s, w, 4 * w, 1], 2 * n, True))
    # FPN output convs and the RPN's shared conv on P2..P6: ~4/3 of P2's
    ops.append(("conv", [batch, size // 4, size // 4, depth, depth, 3], 4 / 3, False))
    ops.append(("conv", [batch, size // 4, size // 4, depth, 512, 3], 4 / 3, False))
    # mask head: 4 convs and the deconvolution
    ops.append(("conv", [mask_rois, mask_pool, mask_pool, mask_ch, mask_ch, 3], 5, True))
    # classifier head: the PxP "conv" is a dense layer on each ROI
    ops.append(("dense", [class_rois, pool * pool * depth, fc], 1, True))
    ops.append(("dense", [class_rois, fc, fc], 1, True))
    out = []
    for kind, shape, count, norm in ops:
        real = _macs(kind, shape)
        small = _shrink(kind, shape, cap)
        out.append({"op": kind, "shape": [int(v) for v in small],
                    "layers": float(count), "norm": norm,
                    "weight": float(count) * real / _macs(kind, small)})
    return out


def _macs(kind, shape):
    if kind == "conv":
        n, h, w, cin, cout, k = shape
        return max(1, n * h * w * cin * cout * k * k)
    rows, cin, cout = shape
    return max(1, rows * cin * cout)


def _shrink(kind, shape, cap):
    """shape cut to about ``cap`` multiply-adds: rows / batch first (a
    dense layer to no fewer than 64 rows), then (for convs) the spatial
    size, never below 8x8."""
    shape = list(shape)
    f = cap / _macs(kind, shape)
    if f >= 1:
        return shape
    # a dense layer keeps at least 64 rows: with fewer it only streams its
    # kernel from memory, which is not what it does in the model
    keep = min(shape[0], 64) if kind == "dense" else 1
    shape[0] = max(keep, int(shape[0] * f))
    if kind == "conv":
        f = cap / _macs(kind, shape)
        if f < 1:
            side = math.sqrt(f)
            shape[1] = max(min(8, shape[1]), int(shape[1] * side))
            shape[2] = max(min(8, shape[2]), int(shape[2] * side))
    return shape


def _probe_ops(spec, use):
    """Eager callables for one probe op: {"float32": fn, "mixed_bfloat16":
    fn, "cast": fn}. The float32 / bfloat16 ones run the layer (conv or
    matmul, bias, for a layer followed by a norm layer the casts to float32
    and back that the norm does under a mixed policy, ReLU) on activations
    of that dtype, forward only for
    "inference", forward and gradients for "train"; "cast" is the
    float32 -> bfloat16 cast of the kernel that Keras' mixed policy does
    once per layer and call (its cost does not shrink with the batch, so it
    is timed apart and counted once per layer). Each is a tf.function, as
    in the model: eager dispatch overhead (per op, and bfloat16 has more
    ops: the casts) would be multiplied by the op's weight."""
    import tensorflow as tf
    rng = tf.random.Generator.from_seed(0)
    if spec["op"] == "conv":
        n, h, w, cin, cout, k = spec["shape"]
        x32 = rng.normal([n, h, w, cin])
        k32 = rng.normal([k, k, cin, cout]) * 0.05
    else:
        rows, cin, cout = spec["shape"]
        x32 = rng.normal([rows, cin])
        k32 = rng.normal([cin, cout]) * 0.05
    b32 = tf.zeros([cout])

    def layer(x, kernel, bias):
        if spec["op"] == "conv":
            y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
        else:
            y = tf.matmul(x, kernel)
        y = tf.nn.bias_add(y, bias)
        if spec.get("norm") and y.dtype != tf.float32:
            # the norm layer's round trip through float32
            y = tf.cast(tf.cast(y, tf.float32), y.dtype)
        return tf.nn.relu(y)

    def make(dtype):
        x, kernel, bias = (tf.cast(t, dtype) for t in (x32, k32, b32))
        if use == "inference":
            return tf.function(lambda: layer(x, kernel, bias))

        def step():
            with tf.GradientTape() as tape:
                tape.watch([x, kernel, bias])
                y = layer(x, kernel, bias)
            return tape.gradient(y, [x, kernel, bias], output_gradients=y)
        return tf.function(step)

    cast_count = 1 if use == "inference" else 2      # and the gradient back
    return {"float32": make(tf.float32), "mixed_bfloat16": make(tf.bfloat16),
            "cast": tf.function(lambda: [tf.cast(k32, tf.bfloat16)
                                         for _ in range(cast_count)]),
            "_sync": lambda out: [t.numpy().flat[0] if hasattr(t, "numpy") else t
                                  for t in (out if isinstance(out, (list, tuple))
                                            else [out])][:1]}


def measure_probe(specs, use="inference", rounds=None, budget_s=1.0):
    """Times the probe in float32 and in mixed_bfloat16 and returns the
    estimated time of the model's layers in each, {"float32": s,
    "mixed_bfloat16": s}: per op the best of alternating rounds (the
    minimum is what the machine can do; other processes only add time),
    times the op's weight; bfloat16 adds each layer's kernel cast. Runs
    ``rounds`` rounds, else until ``budget_s`` is spent (at least 5, at
    most 30)."""
    import tensorflow as tf
    keys = ("float32", "mixed_bfloat16", "cast")
    ops = [_probe_ops(spec, use) for spec in specs]
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")         # each probe op is its own tf.function: traced
    try:                             # once on purpose, not a "retracing" problem
        for fns in ops:              # warm up (oneDNN primitive creation)
            for k in keys:
                fns["_sync"](fns[k]())
    finally:
        logger.setLevel(level)
    best = [{k: float("inf") for k in keys} for _ in specs]
    start = time.perf_counter()
    n = 0
    while True:
        for i, fns in enumerate(ops):
            for k in (keys if n % 2 == 0 else keys[::-1]):
                t0 = time.perf_counter()
                fns["_sync"](fns[k]())
                best[i][k] = min(best[i][k], time.perf_counter() - t0)
        n += 1
        if rounds is not None:
            if n >= rounds:
                break
        elif n >= 30 or (n >= 5 and time.perf_counter() - start > budget_s):
            break
    return {
        "float32": sum(s["weight"] * b["float32"] for s, b in zip(specs, best)),
        "mixed_bfloat16": sum(s["weight"] * b["mixed_bfloat16"] + s["layers"] * b["cast"]
                              for s, b in zip(specs, best))}


def _decide(timings, margin=PROBE_MARGIN):
    """(policy, why) from probe timings: bfloat16 only when it measured at
    least ``margin`` faster than float32."""
    f32, bf16 = float(timings["float32"]), float(timings["mixed_bfloat16"])
    measured = f"bfloat16 {bf16 * 1e3:.1f} ms vs float32 {f32 * 1e3:.1f} ms"
    if bf16 < f32 * (1.0 - margin):
        return "mixed_bfloat16", f"{measured} -> mixed_bfloat16"
    if bf16 < f32:
        return None, (f"{measured}: bfloat16 less than {margin:.0%} faster "
                      f"-> float32")
    return None, f"{measured}: bfloat16 slower -> float32"


# --------------------------------------------------------------------- cache

def precision_cache_path():
    """cache_dir()/precision.json (see mrcnn.core.download.cache_dir)."""
    from .core.download import cache_dir
    return os.path.join(cache_dir(), "precision.json")


def _read_cache(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != _CACHE_FORMAT or \
            not isinstance(doc.get("decisions"), dict):
        return {}
    return doc["decisions"]


def _write_cache(path, decisions):
    """Atomic (temp file + rename); a cache that cannot be written is only
    a lost shortcut, never an error."""
    try:
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp_precision_", suffix=".json",
                                   dir=folder)
        with os.fdopen(fd, "w") as f:
            json.dump({"format": _CACHE_FORMAT, "decisions": decisions}, f,
                      indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        try:
            os.remove(tmp)
        except (OSError, UnboundLocalError):
            pass


def _signature(specs):
    text = json.dumps(specs)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def show_decisions(cache_file=None):
    """The cached "auto" decisions: a list of dicts (machine, use, policy,
    reason, float32_ms, bfloat16_ms, measured, key), oldest first."""
    path = cache_file or precision_cache_path()
    out = [dict(v, key=k) for k, v in _read_cache(path).items()
           if isinstance(v, dict)]
    return sorted(out, key=lambda d: str(d.get("measured", "")))


def reset_decisions(cache_file=None):
    """Forgets every cached decision (the next "auto" measures again).
    Returns how many there were."""
    path = cache_file or precision_cache_path()
    n = len(_read_cache(path))
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    return n


def auto_decision(use="inference", config=None, probe=None, cache_file=None,
                  flags=None, refresh=False):
    """The CPU decision of "auto" for ``use``: a dict with policy (None or
    "mixed_bfloat16"), reason, float32_ms, bfloat16_ms, machine, use,
    measured (ISO time) and cached (True when read from the cache).

    probe: callable(specs, use) -> {"float32": s, "mixed_bfloat16": s}
    (default measure_probe); cache_file: default precision_cache_path();
    refresh: measure even when a decision is cached.
    """
    specs = probe_specs(config, use)
    machine = machine_key(flags)
    key = f"{machine} | {use} | probe {_signature(specs)}"
    path = cache_file or precision_cache_path()
    decisions = _read_cache(path)
    hit = decisions.get(key)
    if not refresh and isinstance(hit, dict) and hit.get("policy") in (
            None, "mixed_bfloat16") and "reason" in hit:
        return dict(hit, cached=True, cache_file=path)
    try:
        run = probe or measure_probe
        timings = dict(run(specs, use))
        ratio = float(timings["mixed_bfloat16"]) / max(float(timings["float32"]), 1e-12)
        if 1.0 - 3 * PROBE_MARGIN < ratio < 1.0 + PROBE_MARGIN:
            # close call: measure again and keep each policy's best (on a
            # busy machine one pass can be unlucky for either side)
            again = run(specs, use)
            timings = {p: min(float(timings[p]), float(again[p]))
                       for p in ("float32", "mixed_bfloat16")}
        policy, why = _decide(timings)
        entry = {"policy": policy, "reason": why,
                 "float32_ms": round(float(timings["float32"]) * 1e3, 3),
                 "bfloat16_ms": round(float(timings["mixed_bfloat16"]) * 1e3, 3)}
    except Exception as e:  # a probe that cannot run must not stop the model
        entry = {"policy": None, "float32_ms": None, "bfloat16_ms": None,
                 "reason": f"probe failed ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}) -> float32"}
        return dict(entry, machine=machine, use=use, cached=False,
                    measured=None, cache_file=path)
    entry.update(machine=machine, use=use,
                 measured=datetime.datetime.now().isoformat(timespec="seconds"))
    decisions[key] = entry
    _write_cache(path, decisions)
    return dict(entry, cached=False, cache_file=path)


# ------------------------------------------------------------------ resolve

def resolve_mixed_precision_with_reason(value, use="inference", gpus=None,
                                        flags=None, config=None, probe=None,
                                        cache_file=None):
    """(Keras dtype policy name or None for float32, one-line reason) for a
    Config.MIXED_PRECISION value.

    use: "train" or "inference" ("auto" decides each separately);
    gpus: number of visible GPUs (default: asks TensorFlow);
    flags: CPU flags (default: cpu_flags()); a CPU whose flags show no
        bfloat16 instructions gets float32 without a probe (bfloat16 is then
        emulated); config: the model's Config (probe sizes);
    probe / cache_file: see auto_decision.
    """
    if value not in POLICIES:
        raise ValueError(f"MIXED_PRECISION must be one of {POLICIES}, got {value!r}")
    if use not in USES:
        raise ValueError(f"use must be one of {USES}, got {use!r}")
    if value in (None, "float32"):
        return None, f"MIXED_PRECISION = {value!r}: float32"
    if value != "auto":
        return value, f"MIXED_PRECISION = {value!r}"
    if gpus is None:
        import tensorflow as tf
        gpus = len(tf.config.list_physical_devices("GPU"))
    if gpus:
        return "mixed_float16", "auto: a GPU is visible -> mixed_float16"
    flags = cpu_flags() if flags is None else set(flags)
    if flags and not set(BF16_CPU_FLAGS) & flags:
        return None, ("auto: this CPU has no bfloat16 instructions "
                      "(avx512_bf16 / amx_bf16) -> float32")
    d = auto_decision(use, config=config, probe=probe, cache_file=cache_file,
                      flags=flags)
    when = (f"cached {d['measured']}" if d.get("cached")
            else "measured now" if d.get("measured") else "not cached")
    return d["policy"], (f"auto: probe for {use} on this CPU: {d['reason']} "
                         f"({when}; {d['cache_file']})")


def resolve_mixed_precision(value, gpus=None, flags=None, use="inference",
                            config=None, probe=None, cache_file=None):
    """The Keras dtype policy name for a Config.MIXED_PRECISION value, or
    None for plain float32 (see resolve_mixed_precision_with_reason)."""
    return resolve_mixed_precision_with_reason(
        value, use=use, gpus=gpus, flags=flags, config=config, probe=probe,
        cache_file=cache_file)[0]


# ---------------------------------------------------------------------- CLI

def main(argv=None):
    """``python -m mrcnn.precision [show|reset]``: list or forget the cached
    "auto" decisions of this user (cache_dir()/precision.json)."""
    import argparse
    p = argparse.ArgumentParser(
        prog="python -m mrcnn.precision",
        description="Show or reset the cached MIXED_PRECISION='auto' decisions "
                    "(one per machine, TensorFlow version, use and model size).")
    p.add_argument("action", nargs="?", default="show", choices=("show", "reset"))
    p.add_argument("--cache-file", help="default: %(default)s",
                   default=None)
    args = p.parse_args(argv)
    path = args.cache_file or precision_cache_path()
    if args.action == "reset":
        n = reset_decisions(path)
        print(f"forgot {n} decision(s) in {path}; the next 'auto' measures again")
        return 0
    decisions = show_decisions(path)
    if not decisions:
        print(f"no 'auto' decision cached in {path}")
        return 0
    print(f"{len(decisions)} decision(s) in {path}:")
    for d in decisions:
        policy = d.get("policy") or "float32"
        print(f"  {d.get('measured')}  {d.get('use'):9s}  {policy:14s}  "
              f"{d.get('reason')}  [{d.get('machine')}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
