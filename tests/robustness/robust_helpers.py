"""Shared pieces of the robustness tests: tiny configs (64 px, LightResNet),
hostile file makers, in-process and subprocess CLI runners."""
import os
import pathlib
import signal
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
    # float32: these tests compare outputs bit for bit across batch sizes and
    # code paths (PhoneScratchConfig trains in bfloat16 where the CPU has it)
    MIXED_PRECISION = None


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


def spawn(args, cwd, env=None):
    """Popen of ``python args...`` with the repo on the path; ``env``: extra
    environment variables."""
    full = subprocess_env()
    full.update({k: str(v) for k, v in (env or {}).items()})
    return subprocess.Popen([sys.executable] + [str(a) for a in args], cwd=str(cwd),
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def _default_sigint():
    # A test run started in the background of a non-interactive shell
    # (`make test &`) inherits SIGINT as ignored, and Python then installs
    # no KeyboardInterrupt handler: the Ctrl-C tests need the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def fixed_instances(h, w):
    """What the fixed detector finds in an h x w image: two overlapping
    boxes' masks (class 1). Rows/columns are clipped to the image, so a
    1 x 1 image gets one-pixel masks."""
    masks = np.zeros((h, w, 2), bool)
    masks[h // 4:max(h // 2, 1), w // 4:max(w // 2, 1), 0] = True
    masks[h // 3:max(3 * h // 4, 1), w // 2:max(3 * w // 4, 1), 1] = True
    rois = np.array([[h // 4, w // 4, max(h // 2, 1), max(w // 2, 1)],
                     [h // 3, w // 2, max(3 * h // 4, 1), max(3 * w // 4, 1)]], np.int32)
    return {"rois": rois, "class_ids": np.array([1, 1], np.int32),
            "scores": np.array([0.9, 0.8], np.float32), "masks": masks}


def expected_mask(h, w):
    """The 0/255 mask file content for the fixed detector's instances."""
    return np.where(fixed_instances(h, w)["masks"].any(axis=2), 255, 0).astype(np.uint8)


class FixedModel:
    """Stands in for a MaskRCNN in inference mode: records the images it is
    given and returns fixed_instances for each."""

    def __init__(self, batch=1, delay=0.0):
        class C(TinyInferenceConfig):
            IMAGES_PER_GPU = batch
        self.config = C()
        self.delay = delay
        self.calls = []

    def detect(self, images, verbose=0):
        import time
        assert len(images) == self.config.BATCH_SIZE
        if self.delay:
            time.sleep(self.delay)
        self.calls.append([np.asarray(im).copy() for im in images])
        return [fixed_instances(*np.asarray(im).shape[:2]) for im in images]
