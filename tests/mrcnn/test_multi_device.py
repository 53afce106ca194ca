"""GPU_COUNT > 1 trains with tf.distribute.MirroredStrategy. Tested on the
CPU split into two logical devices (in a subprocess: the split must happen
before TensorFlow initialises its devices).

The check that can fail: one training step on two replicas (one image each)
gives the same loss and the same weight update as one step on one device
with the same two images and the same initial weights. To make the two runs
comparable exactly, both images of the batch are the same frame (every loss
is a mean over equal counts, so the batch mean equals the mean of the
replica means), ROI_POSITIVE_RATIO = 1 and TRAIN_ROIS_PER_IMAGE =
POST_NMS_ROIS_TRAINING (the target layer's random sampling keeps every
positive proposal and no negative, so the sampled set does not depend on the
replica's random stream), and gradient clipping is off (a clipped gradient
would hide a doubled one). A replica that forgets to divide its loss by the
number of replicas doubles the update; one that sums instead of averaging
the logged loss doubles the loss.
"""
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
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from mrcnn.model import MaskRCNN
    from shapes import TinyConfig, make_datasets

    class One(TinyConfig):
        GPU_COUNT = 1
        IMAGES_PER_GPU = 2
        ROI_POSITIVE_RATIO = 1.0
        TRAIN_ROIS_PER_IMAGE = TinyConfig.POST_NMS_ROIS_TRAINING
        GRADIENT_CLIP_NORM = 1e9
        STEPS_PER_EPOCH = 1
        VALIDATION_STEPS = 1

    class Two(One):
        GPU_COUNT = 2
        IMAGES_PER_GPU = 1

    out = sys.argv[1]
    # One frame: a batch of 2 is that frame twice (items 0 and 1 of the
    # seeded sequence, the same on one device and on two replicas).
    train, val = make_datasets(n_train=1, n_val=1)

    def one_step(cfg, init):
        keras.utils.set_random_seed(0)
        model = MaskRCNN("training", cfg, os.path.join(out, type(cfg).__name__))
        if init is None:
            init = os.path.join(out, "init.h5")
            model.save_weights(init)
        else:
            model.load_weights(init, by_name=True)
        km = model.keras_model
        before = [v.numpy().copy() for v in km.weights]
        h = model.train(train, val, learning_rate=0.01, epochs=1, layers="all",
                        verbose=0, seed=0, workers=1)
        # by position: both models have the same variables in the same order
        # (a second model in one process gets uniquified variable paths)
        delta = [(v.path, v.numpy() - b) for v, b in zip(km.weights, before)]
        return model, init, h.history["loss"][0], delta

    m1, init, loss1, d1 = one_step(One(), None)
    m2, _, loss2, d2 = one_step(Two(), init)
    same_shapes = len(d1) == len(d2) and all(
        a.shape == b.shape for (_, a), (_, b) in zip(d1, d2))
    v1 = np.concatenate([a.ravel() for _, a in d1])
    v2 = np.concatenate([b.ravel() for _, b in d2])
    mask_kernel = [i for i, (p, _) in enumerate(d1)
                   if p.startswith("mrcnn_mask/") and p.endswith("kernel")]
    print("RESULT " + json.dumps({
        "strategy": type(m2.strategy).__name__,
        "replicas": m2.strategy.num_replicas_in_sync,
        "batch": m2.config.BATCH_SIZE,
        "single_strategy_replicas": m1.strategy.num_replicas_in_sync,
        "n_vars": [len(d1), len(d2)],
        "same_shapes": same_shapes,
        "loss": [loss1, loss2],
        "update_norm": [float(np.linalg.norm(v1)), float(np.linalg.norm(v2))],
        "update_diff": float(np.linalg.norm(v1 - v2)),
        "checkpoints": sorted(os.listdir(m2.log_dir)),
        "head_update": [float(np.abs(d[i][1]).max()) for d in (d1, d2)
                        for i in mask_kernel],
    }))
""")


def test_two_replicas_match_one_device_on_the_first_step(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(ROOT, "Mask_RCNN"), HERE, env.get("PYTHONPATH", "")])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=900)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    r = json.loads(lines[-1][len("RESULT "):])
    assert r["strategy"] == "MirroredStrategy"
    assert r["replicas"] == 2 and r["batch"] == 2
    assert r["single_strategy_replicas"] == 1
    n1, n2 = r["n_vars"]
    assert n1 == n2 > 100 and r["same_shapes"]
    loss1, loss2 = r["loss"]
    assert loss1 > 0.1
    assert loss2 == pytest.approx(loss1, rel=1e-3)
    norm1, norm2 = r["update_norm"]
    assert norm1 > 1e-4                      # the step moved the weights
    assert r["update_diff"] <= 1e-3 * norm1  # ... by the same amount on 2 replicas
    # the last layer of the mask head moved, by the same amount on both
    head1, head2 = r["head_update"]
    assert head1 > 0 and head2 == pytest.approx(head1, rel=1e-3)
    assert "mask_rcnn_shapes_0001.h5" in r["checkpoints"]
