"""Config.MIXED_PRECISION: which Keras dtype policy a model is built under.

    None / "float32"   float32 everywhere (Matterport)
    "mixed_bfloat16"   bfloat16 compute, float32 weights: CPUs with AVX512_BF16
                       or AMX (about 1.8x faster convolutions on such a CPU,
                       benchmarks/RESULTS.md), TPUs, recent GPUs
    "mixed_float16"    float16 compute with loss scaling: NVIDIA GPUs
    "auto"             "mixed_float16" when TensorFlow sees a GPU,
                       "mixed_bfloat16" on a CPU that has bfloat16
                       instructions, else None (bfloat16 without hardware
                       support is emulated, and slower than float32)
"""
import os

__all__ = ["POLICIES", "BF16_CPU_FLAGS", "cpu_flags", "resolve_mixed_precision"]

POLICIES = (None, "float32", "mixed_bfloat16", "mixed_float16", "auto")

#: /proc/cpuinfo flags of x86 CPUs with bfloat16 dot products
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


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


def resolve_mixed_precision(value, gpus=None, flags=None):
    """The Keras dtype policy name for a Config.MIXED_PRECISION value, or
    None for plain float32.

    gpus: number of visible GPUs (default: asks TensorFlow);
    flags: CPU flags (default: cpu_flags()).
    """
    if value not in POLICIES:
        raise ValueError(f"MIXED_PRECISION must be one of {POLICIES}, got {value!r}")
    if value in (None, "float32"):
        return None
    if value != "auto":
        return value
    if gpus is None:
        import tensorflow as tf
        gpus = len(tf.config.list_physical_devices("GPU"))
    if gpus:
        return "mixed_float16"
    if flags is None:
        flags = cpu_flags()
    if set(BF16_CPU_FLAGS) & set(flags):
        return "mixed_bfloat16"
    return None
