"""Mask R-CNN configurations for the CORe50 phone segmenter.

CORe50 frames are small (128x128, or 350x350 in the full-size release) and
hold one hand-held phone that covers roughly 15-70 % of the frame side, i.e.
about 20-90 px in a 128 px frame. Matterport's defaults are tuned for
1024 px COCO images with up to 100 objects of any size, so most of them are
scaled down here. Every value that differs from ``mrcnn.config.Config`` is
explained next to it.

    PhoneConfig            training, 128x128 input (native CORe50 size)
    PhoneInferenceConfig   one image per batch, for detect()
    PhoneConfig350         training on 350x350 frames, zero-padded to 384x384
    PhoneInferenceConfig350
    PhoneConfig.for_size(n) any frame size (same reasoning, scaled)
    PhoneScratchConfig     the from-scratch LightResNet model (make demo, the shipped model)
    CocoInferenceConfig    Matterport's COCO model (mask_rcnn_coco.h5) for inference

Configs from options (the one place the commands turn --config,
--image-size, --lr, --score, --precision... into a Config)::

    load_config_class("myconf.py:MyConfig")      -> class
    derive_config(config, LEARNING_RATE=0.002)    -> new instance
    sized_config(cls, 350)                        -> instance for 350 px frames
    training_config(config_spec, image_size=..., lr=..., steps_per_epoch=..., precision=...)
    inference_config(config, batch_size=..., score=..., precision=...)
"""
import importlib
import importlib.util
import math
import os
import sys

from mrcnn.config import Config

from phone.errors import CommandError, one_line

__all__ = ["PhoneConfig", "PhoneInferenceConfig", "PhoneConfig350",
           "PhoneInferenceConfig350", "PhoneScratchConfig",
           "PhoneScratchInferenceConfig", "CocoInferenceConfig", "input_dim_for", "BASE_DIM",
           "PHONE_CLASS_NAMES", "load_config_class", "derive_config", "sized_config",
           "training_config", "inference_config"]

#: class names of the phone models, indexed by class id
PHONE_CLASS_NAMES = ("BG", "phone")

#: input side of the base configuration (native CORe50 frame size)
BASE_DIM = 128


def input_dim_for(size):
    """Smallest multiple of 64 >= size (the FPN's deepest stride is 64).

    128 -> 128, 350 -> 384.
    """
    size = int(size)
    if size < 1:
        raise ValueError(f"image size must be positive, got {size}")
    return max(64, int(math.ceil(size / 64.0)) * 64)


class PhoneConfig(Config):
    """Training configuration for 128x128 CORe50 frames."""

    NAME = "phone"

    # Background + phone.
    NUM_CLASSES = 1 + 1

    # 128x128 images are cheap: 2 per step fits any GPU (and a CPU) and keeps
    # BatchNorm frozen as in Matterport (TRAIN_BN stays False).
    GPU_COUNT = 1
    IMAGES_PER_GPU = 2

    # "square" mode with min = max = 128: CORe50's native 128x128 frames go
    # in without resizing (scale 1, no padding), and 128 is divisible by 64.
    # Larger photos are scaled down to fit 128 (and padded to a square).
    IMAGE_RESIZE_MODE = "square"
    IMAGE_MIN_DIM = BASE_DIM
    IMAGE_MAX_DIM = BASE_DIM

    BACKBONE = "resnet50"   # enough capacity for one object class, ~2x faster than resnet101

    # One anchor side per pyramid level P2..P6 (strides 4, 8, 16, 32, 64).
    # The phone covers ~15-70 % of a 128 px frame, i.e. ~20-90 px, at aspect
    # ratios ~1:2 .. 2:1 (RPN_ANCHOR_RATIOS keeps 0.5, 1, 2). The default
    # (32 .. 512) would put most anchors beyond the image. With 8 .. 128
    # every phone size has a level whose anchor is within a factor ~1.4 of
    # it (IoU >= 0.5 possible), 128 covers a phone filling the frame and 8 /
    # 16 cover small visible parts of a phone mostly hidden by the hand.
    RPN_ANCHOR_SCALES = (8, 16, 32, 64, 128)

    # At most a few phones per frame (one in CORe50, 0-2 in our synthetic
    # frames), so far fewer proposals / ROIs than COCO's 2000 / 200 are needed;
    # this also makes a 128 px training step several times cheaper.
    PRE_NMS_LIMIT = 1000            # anchors at 128 px: 4092 in total
    POST_NMS_ROIS_TRAINING = 500
    POST_NMS_ROIS_INFERENCE = 200
    TRAIN_ROIS_PER_IMAGE = 64       # with ROI_POSITIVE_RATIO 0.33: ~21 positives max
    MAX_GT_INSTANCES = 10
    DETECTION_MAX_INSTANCES = 10

    # Mini masks store each GT mask inside its box. A phone box is at most
    # 128 px, typically 40-90 px: 28x28 keeps its outline (the head predicts
    # 28x28 masks anyway) and quarters the memory of 56x56.
    USE_MINI_MASK = True
    MINI_MASK_SHAPE = (28, 28)

    # Keep detections with >= 70 % confidence (Matterport's default, also
    # what the balloon sample uses); the segmenter keeps the best one.
    DETECTION_MIN_CONFIDENCE = 0.7

    # Small data set (a few real frames + synthetic ones): short epochs so
    # checkpoints and validation losses come often.
    STEPS_PER_EPOCH = 100
    VALIDATION_STEPS = 5

    @classmethod
    def for_size(cls, size):
        """A configuration instance for square frames of side ``size``.

        The input side is ``input_dim_for(size)`` (350 -> 384) and
        IMAGE_MIN_DIM is ``size``, so "square" mode pads the frame with zeros
        instead of resampling it (scale 1). The anchors
        are scaled by the same factor as the image, since phones cover the
        same fraction of a CORe50 frame at any resolution (384 -> 24 .. 384),
        and mini masks grow to 56x56 above 256 px. ``for_size(128)`` is an
        ordinary instance of this class.
        """
        dim = input_dim_for(size)
        if dim == cls.IMAGE_MAX_DIM and int(size) == cls.IMAGE_MIN_DIM:
            return cls()
        factor = dim / float(BASE_DIM)
        attrs = {
            "IMAGE_MIN_DIM": int(size),
            "IMAGE_MAX_DIM": dim,
            "RPN_ANCHOR_SCALES": tuple(int(round(s * factor)) for s in PhoneConfig.RPN_ANCHOR_SCALES),
            "MINI_MASK_SHAPE": (28, 28) if dim <= 256 else (56, 56),
            "__doc__": f"{cls.__name__} for {size}x{size} frames ({dim}x{dim} input).",
        }
        sub = type(f"{cls.__name__}{int(size)}", (cls,), attrs)
        return sub()


class PhoneInferenceConfig(PhoneConfig):
    """Inference: detect() takes exactly BATCH_SIZE images; use one."""
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1


class PhoneConfig350(PhoneConfig):
    """Training on the 350x350 CORe50 release: zero-padded to 384x384
    (the smallest multiple of 64 >= 350), anchors x3 of the 128 px ones.

    IMAGE_MIN_DIM = 350 so that "square" mode keeps scale 1 (a min dim of
    384 would upsample every frame by 384/350 first).
    """
    IMAGE_MIN_DIM = 350
    IMAGE_MAX_DIM = 384
    RPN_ANCHOR_SCALES = (24, 48, 96, 192, 384)
    MINI_MASK_SHAPE = (56, 56)


class PhoneInferenceConfig350(PhoneConfig350):
    """Inference on 350x350 frames, one image per batch."""
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1


def _light_backbone():
    # Imported lazily: mrcnn.backbones pulls in Keras.
    from mrcnn.backbones import LightResNet
    return LightResNet(widths=(16, 32, 64, 128), blocks=(1, 2, 2, 1),
                       stem=32, norm="group", groups=8)


class PhoneScratchConfig(PhoneConfig):
    """Training from scratch on a CPU, without COCO weights (``make demo``,
    benchmarks/learning.py).

    ResNet-50 with frozen BatchNorm only learns from pretrained weights; from
    random weights on two CPU cores it needs hours. This configuration swaps
    in a narrow ResNet with group normalisation (statistics per image, so a
    batch of 4 trains as well as a batch of 64), narrower FPN and heads, and a
    higher learning rate with warm-up and cosine decay. Everything is a Config
    option of mrcnn: no model code is forked.
    """
    NAME = "phone"
    BACKBONE = None                 # set in __init__ (LightResNet)
    BACKBONE_NORM = "group"         # heads use group norm too
    GROUP_NORM_GROUPS = 16
    TRAIN_BN = True
    TOP_DOWN_PYRAMID_SIZE = 64      # 256 in Matterport; one class needs less
    FPN_CLASSIF_FC_LAYERS_SIZE = 256
    MASK_HEAD_CHANNELS = 64
    IMAGES_PER_GPU = 4
    RPN_TRAIN_ANCHORS_PER_IMAGE = 128
    # 32 sampled ROIs (up to ~10 positives) instead of 64: the classifier
    # head costs half, and the mask head runs on the positive ones only
    # (MASK_HEAD_ON_POSITIVE_ROIS, the Config default).
    TRAIN_ROIS_PER_IMAGE = 32
    POST_NMS_ROIS_TRAINING = 300
    POST_NMS_ROIS_INFERENCE = 100
    LEARNING_RATE = 0.01            # 0.02 diverged (NaN) after ~300 steps; with
                                    # the delta cap it trains, but worse (benchmarks/RESULTS.md)
    # "auto": float16 on a GPU; on a CPU the faster of float32 and bfloat16
    # for training, measured once per machine (mrcnn.precision). On the
    # 2-core Zen 4 of benchmarks/RESULTS.md bfloat16 wins (0.16 s vs 0.21 s a
    # step, same accuracy at 2000 steps); on other CPUs it can lose.
    # Subclasses inherit it; an inference config that must match float32
    # bit for bit sets None (as PhoneScratchInferenceConfig does).
    MIXED_PRECISION = "auto"
    LEARNING_RATE_SCHEDULE = "cosine"
    LEARNING_RATE_WARMUP_STEPS = 30
    DETECTION_MIN_CONFIDENCE = 0.5
    # Full-size gt masks: at 128 px they cost nothing, and the mask head gets
    # exact targets instead of a 28x28 mini mask resampled a second time
    # (+0.027 synthetic mIoU at 2000 steps, benchmarks/RESULTS.md). The
    # shipped model (phone/models/) was trained this way.
    USE_MINI_MASK = False
    STEPS_PER_EPOCH = 100
    VALIDATION_STEPS = 2

    def __init__(self):
        if self.BACKBONE is None:
            self.BACKBONE = _light_backbone()
        if self.COMPUTE_BACKBONE_SHAPE is None and hasattr(
                self.BACKBONE, "compute_backbone_shape"):
            self.COMPUTE_BACKBONE_SHAPE = self.BACKBONE.compute_backbone_shape
        super().__init__()


class PhoneScratchInferenceConfig(PhoneScratchConfig):
    """Inference with the from-scratch model, one image per batch."""
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1
    # float32: the small model already runs at ~50 fps on two cores, and the
    # learning benchmark scores it in float32.
    MIXED_PRECISION = None


class CocoInferenceConfig(Config):
    """Matterport's COCO model (mask_rcnn_coco.h5) for inference:
    ResNet-101, 81 classes, Matterport's image sizes (800 / 1024)."""
    NAME = "coco"
    NUM_CLASSES = 1 + 80
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1


# ------------------------------------------------------------ configs from options
def load_config_class(spec):
    """Import a Config subclass from ``"package.module:ClassName"`` or
    ``"path/to/file.py:ClassName"``. Raises CommandError (one line)."""
    if ":" not in spec:
        raise CommandError(f"--config {spec!r}: expected MODULE:CLASS or FILE.py:CLASS")
    where, name = spec.rsplit(":", 1)
    try:
        if where.endswith(".py") or os.path.sep in where or "/" in where:
            path = os.path.abspath(where)
            if not os.path.isfile(path):
                raise CommandError(f"{where}: no such config file (--config)")
            mod_name = "_phone_config_" + os.path.splitext(os.path.basename(path))[0]
            mod_spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[mod_name] = module
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except CommandError:
        raise
    except Exception as e:  # the user's file: report its error on one line
        raise CommandError(f"--config {spec}: cannot import {where}: "
                           f"{type(e).__name__}: {one_line(e)}") from None
    cls = getattr(module, name, None)
    if cls is None:
        raise CommandError(f"--config {spec}: {where} has no {name!r}")
    if not isinstance(cls, type):
        raise CommandError(f"--config {spec}: {name!r} is not a class")
    return cls


def derive_config(config, **overrides):
    """A new config instance like ``config`` with some attributes changed
    (``None`` values are ignored).

    Matterport configs compute BATCH_SIZE, IMAGE_SHAPE and IMAGE_META_SIZE in
    ``__init__``, so overrides go into a subclass that is instantiated again.
    Attributes set on the instance after construction are carried over.
    """
    computed = {"BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE"}
    attrs = {k: v for k, v in vars(config).items() if k.isupper() and k not in computed}
    attrs.update({k: v for k, v in overrides.items() if v is not None})
    base = type(config)
    sub = type(base.__name__, (base,), dict(attrs, __doc__=base.__doc__,
                                            __module__=base.__module__))
    return sub()


def sized_config(config_or_class, size):
    """A config for square frames of side ``size``: the class's ``for_size``
    when it has one (phone configs scale their anchors), else the config with
    IMAGE_MIN_DIM = size and IMAGE_MAX_DIM = input_dim_for(size)."""
    cls = config_or_class if isinstance(config_or_class, type) else type(config_or_class)
    config = config_or_class() if isinstance(config_or_class, type) else config_or_class
    if hasattr(cls, "for_size") and isinstance(config_or_class, type):
        return cls.for_size(size)
    return derive_config(config, IMAGE_MIN_DIM=int(size), IMAGE_MAX_DIM=input_dim_for(size))


def training_config(config_spec=None, image_size=None, lr=None, steps_per_epoch=None,
                    precision=None, base=PhoneConfig):
    """The training config of ``phone train``: ``base`` (PhoneConfig) or the
    class named by ``config_spec`` ("MODULE:CLASS"), sized for ``image_size``,
    with the learning rate, steps per epoch and precision policy applied.
    Validated for training; raises CommandError / ValueError."""
    cls = load_config_class(config_spec) if config_spec else base
    config = sized_config(cls, image_size) if image_size else cls()
    config = derive_config(config, LEARNING_RATE=None if lr is None else float(lr),
                           STEPS_PER_EPOCH=None if steps_per_epoch is None else int(steps_per_epoch),
                           MIXED_PRECISION=precision)
    config.validate("training")
    return config


def inference_config(config, batch_size=None, score=None, precision=None, image_size=None):
    """``config`` (instance or class) turned into an inference config: one
    GPU, ``batch_size`` images per detect() call, DETECTION_MIN_CONFIDENCE =
    ``score`` and MIXED_PRECISION = ``precision`` when given."""
    if image_size:
        config = sized_config(config, image_size)
    elif isinstance(config, type):
        config = config()
    return derive_config(config, GPU_COUNT=1,
                         IMAGES_PER_GPU=None if batch_size is None else int(batch_size),
                         DETECTION_MIN_CONFIDENCE=None if score is None else float(score),
                         MIXED_PRECISION=precision)
