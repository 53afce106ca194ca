"""Shared pieces of the robustness tests: tiny configs (64 px, LightResNet),
hostile file makers, in-process and subprocess CLI runners."""
import os
import pathlib
import subprocess
import sys

import numpy as np

from phone.config import PhoneScratchConfig

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]


class TinyTrainConfig(PhoneScratchConfig):
    """64 px frames, a narrow LightResNet, few ROIs: builds and trains in
    seconds on a CPU."""
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 64
    IMAGES_PER_GPU = 2
    RPN_ANCHOR_SCALES = (4, 8, 16, 32, 64)
    RPN_TRAIN_ANCHORS_PER_IMAGE = 32
    PRE_NMS_LIMIT = 200
    POST_NMS_ROIS_TRAINING = 50
    POST_NMS_ROIS_INFERENCE = 20
    TRAIN_ROIS_PER_IMAGE = 16
    FPN_CLASSIF_FC_LAYERS_SIZE = 32
    TOP_DOWN_PYRAMID_SIZE = 32
    MASK_HEAD_CHANNELS = 16
    MAX_GT_INSTANCES = 4
    MINI_MASK_SHAPE = (28, 28)
    DETECTION_MAX_INSTANCES = 5
    LEARNING_RATE = 0.002
    LEARNING_RATE_SCHEDULE = None
    LEARNING_RATE_WARMUP_STEPS = 0
    STEPS_PER_EPOCH = 2
    VALIDATION_STEPS = 1


class TinyInferenceConfig(TinyTrainConfig):
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1
    DETECTION_MIN_CONFIDENCE = 0.0


class TinyInference3Config(TinyInferenceConfig):
    """Three classes (BG + 2): a weights file of another class count."""
    NUM_CLASSES = 3


def config_spec(name):
    """--config value for a class of this module."""
    return f"{HERE / 'robust_helpers.py'}:{name}"


def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "Mask_RCNN"), str(REPO), str(HERE)])
    env.pop("PHONE_DEBUG", None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_cli(argv, capsys):
    """phone.cli.main in this process -> (exit code, stdout, stderr)."""
    from phone.cli import main
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err, prog="phone segment"):
    return [ln for ln in err.splitlines() if ln.startswith(f"{prog}: error:")]


def noise_image(h, w, seed=0, channels=3, dtype=np.uint8):
    rng = np.random.RandomState(seed)
    top = 65536 if dtype == np.uint16 else 256
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.randint(0, top, shape).astype(dtype)


def spawn(args, cwd, **kwargs):
    """Popen of ``python args...`` with the repo on the path."""
    return subprocess.Popen([sys.executable] + [str(a) for a in args], cwd=str(cwd),
                            env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)
