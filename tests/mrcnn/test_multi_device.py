"""GPU_COUNT > 1 trains with tf.distribute.MirroredStrategy. Tested on the
CPU split into two logical devices (in a subprocess: the split must happen
before TensorFlow initialises its devices)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from mrcnn.model import MaskRCNN
    from shapes import TinyConfig, make_datasets

    class Two(TinyConfig):
        GPU_COUNT = 2
        IMAGES_PER_GPU = 1
        STEPS_PER_EPOCH = 2
        VALIDATION_STEPS = 1

    keras.utils.set_random_seed(0)
    train, val = make_datasets(n_train=4, n_val=2)
    cfg = Two()
    model = MaskRCNN("training", cfg, sys.argv[1])
    h = model.train(train, val, learning_rate=0.001, epochs=1, layers="heads",
                    verbose=0, seed=0)
    print("RESULT " + json.dumps({
        "strategy": type(model.strategy).__name__,
        "replicas": model.strategy.num_replicas_in_sync,
        "batch": cfg.BATCH_SIZE,
        "loss": h.history["loss"],
        "checkpoints": sorted(os.listdir(model.log_dir)),
    }))
""")


def test_two_logical_devices_train_with_mirrored_strategy(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(ROOT, "Mask_RCNN"), HERE, env.get("PYTHONPATH", "")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["strategy"] == "MirroredStrategy"
    assert result["replicas"] == 2 and result["batch"] == 2
    assert len(result["loss"]) == 1 and result["loss"][0] > 0
    assert result["loss"][0] < 1e6
    assert "mask_rcnn_shapes_0001.h5" in result["checkpoints"]
