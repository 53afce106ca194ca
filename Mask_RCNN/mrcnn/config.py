"""Mask R-CNN configuration.

Subclass `Config` and override the class attributes you need, as with
Matterport's release::

    class ShapesConfig(Config):
        NAME = "shapes"
        NUM_CLASSES = 1 + 3
        IMAGES_PER_GPU = 8

Derived values (BATCH_SIZE, IMAGE_SHAPE, IMAGE_META_SIZE) are computed in
``__init__`` from the overridden attributes.
"""
import warnings

import numpy as np

from .precision import POLICIES


_RESIZE_MODES = ("none", "square", "pad64", "crop")
_LR_SCHEDULES = (None, "cosine", "step")
_NORMS = ("batch", "group")
#: How the detection-target layer counts negative ROIs (ROI_SAMPLING).
ROI_SAMPLING_RULES = ("ratio", "fill")


class Config(object):
    """Base configuration. Override attributes in a subclass."""

    # ---- run ---------------------------------------------------------
    # Name of the configuration (used in log dirs and checkpoint names).
    NAME = None
    # Number of devices: > 1 trains and detects with tf.distribute's
    # MirroredStrategy over that many GPUs (else logical CPUs); the batch is
    # IMAGES_PER_GPU * GPU_COUNT.
    GPU_COUNT = 1
    # Images per GPU per step.
    IMAGES_PER_GPU = 2
    # Training steps per epoch and validation steps at the end of each epoch.
    STEPS_PER_EPOCH = 1000
    VALIDATION_STEPS = 50

    # ---- backbone ----------------------------------------------------
    # "resnet50", "resnet101", or a callable graph builder. A callable needs
    # COMPUTE_BACKBONE_SHAPE(image_shape) -> [levels, (height, width)].
    BACKBONE = "resnet101"
    COMPUTE_BACKBONE_SHAPE = None
    # Strides of the FPN levels P2..P6.
    BACKBONE_STRIDES = [4, 8, 16, 32, 64]

    # ---- heads -------------------------------------------------------
    FPN_CLASSIF_FC_LAYERS_SIZE = 1024
    TOP_DOWN_PYRAMID_SIZE = 256
    # Number of classes including background.
    NUM_CLASSES = 1
    # Class names indexed by class id, "BG" first (stored in checkpoints so a
    # model file says what it detects); None: unknown.
    CLASS_NAMES = None

    # ---- RPN ---------------------------------------------------------
    # Square anchor side lengths in pixels, one per pyramid level.
    RPN_ANCHOR_SCALES = (32, 64, 128, 256, 512)
    # Width/height ratios of anchors at each cell.
    RPN_ANCHOR_RATIOS = [0.5, 1, 2]
    # 1: an anchor at every feature-map cell; 2: every other cell...
    RPN_ANCHOR_STRIDE = 1
    RPN_NMS_THRESHOLD = 0.7
    # Anchors per image used to train the RPN.
    RPN_TRAIN_ANCHORS_PER_IMAGE = 256
    # ROIs kept after tf.nn.top_k and before NMS.
    PRE_NMS_LIMIT = 6000
    # ROIs kept after NMS.
    POST_NMS_ROIS_TRAINING = 2000
    POST_NMS_ROIS_INFERENCE = 1000

    # Train on images without any instance too (Matterport's generator
    # skips them): their anchors are all RPN negatives, which teaches the RPN
    # what is *not* an object (e.g. an empty hand for a phone detector); the
    # classifier head learns it too with ROI_SAMPLING = "fill". Off by
    # default, as Matterport.
    TRAIN_ON_EMPTY_IMAGES = False

    # ---- masks -------------------------------------------------------
    # Store instance masks resized to MINI_MASK_SHAPE inside their box.
    USE_MINI_MASK = True
    MINI_MASK_SHAPE = (56, 56)  # (height, width)
    MASK_POOL_SIZE = 14
    MASK_SHAPE = [28, 28]

    # ---- images ------------------------------------------------------
    # "none", "square", "pad64" or "crop" (see mrcnn.core.images.resize_image).
    IMAGE_RESIZE_MODE = "square"
    IMAGE_MIN_DIM = 800
    IMAGE_MAX_DIM = 1024
    IMAGE_MIN_SCALE = 0
    IMAGE_CHANNEL_COUNT = 3
    # Image mean (RGB), subtracted by mold_image.
    MEAN_PIXEL = np.array([123.7, 116.8, 103.9])

    # ---- ROIs --------------------------------------------------------
    TRAIN_ROIS_PER_IMAGE = 200
    ROI_POSITIVE_RATIO = 0.33
    # How many negative ROIs the head trains on. "ratio" (Matterport):
    # positives / ROI_POSITIVE_RATIO - positives, so an image with no
    # positive ROI (an empty image, or early in training) trains the heads
    # on no ROI at all. "fill" (torchvision and detectron2): negatives fill
    # TRAIN_ROIS_PER_IMAGE, so empty images teach the classifier what is
    # not an object (use it with TRAIN_ON_EMPTY_IMAGES).
    ROI_SAMPLING = "ratio"
    POOL_SIZE = 7
    MAX_GT_INSTANCES = 100

    # ---- boxes -------------------------------------------------------
    RPN_BBOX_STD_DEV = np.array([0.1, 0.1, 0.2, 0.2])
    BBOX_STD_DEV = np.array([0.1, 0.1, 0.2, 0.2])

    # ---- detection ---------------------------------------------------
    DETECTION_MAX_INSTANCES = 100
    DETECTION_MIN_CONFIDENCE = 0.7
    DETECTION_NMS_THRESHOLD = 0.3

    # ---- optimiser ---------------------------------------------------
    LEARNING_RATE = 0.001
    LEARNING_MOMENTUM = 0.9
    WEIGHT_DECAY = 0.0001
    GRADIENT_CLIP_NORM = 5.0

    # ---- losses ------------------------------------------------------
    LOSS_WEIGHTS = {
        "rpn_class_loss": 1.,
        "rpn_bbox_loss": 1.,
        "mrcnn_class_loss": 1.,
        "mrcnn_bbox_loss": 1.,
        "mrcnn_mask_loss": 1.,
    }

    # ---- other -------------------------------------------------------
    # Train with ROIs from the RPN (True) or from an external source (False).
    USE_RPN_ROIS = True
    # Train BatchNorm layers (False: frozen, as with small batches).
    TRAIN_BN = False

    # ---- extras of this port (not in Matterport's release) -------------
    # Normalisation in the ResNet backbone: "batch" (Matterport, needed for
    # the COCO weights) or "group" (GroupNorm, better for tiny batches).
    BACKBONE_NORM = "batch"
    # Number of groups when BACKBONE_NORM is "group" (heads included).
    GROUP_NORM_GROUPS = 32
    # Learning-rate schedule inside one train() call: None (constant, as
    # Matterport), "cosine" (cosine decay to 0 over the call's steps) or
    # "step" (x0.1 at 2/3 and 8/9 of the steps).
    LEARNING_RATE_SCHEDULE = None
    # Linear warm-up from 0 to LEARNING_RATE over this many steps (0 = off).
    LEARNING_RATE_WARMUP_STEPS = 0
    # Compile the inference function of detect() with XLA (jit_compile=True,
    # MaskRCNN._inference_fn). Measured on CPU (benchmarks/RESULTS.md): our
    # graph does not compile as a whole (CropAndResize, NMS and
    # data-dependent shapes have no XLA kernels), so inference falls back to
    # the plain graph with a warning, once. Training never uses XLA (the
    # train step cannot compile). Leave False.
    XLA = False

    # Keras dtype policy the model is built under: None (float32, as
    # Matterport), "mixed_bfloat16", "mixed_float16" or "auto" (see
    # mrcnn/precision.py). Convolutions and dense layers then compute in 16
    # bits while weights stay float32 (the weight files do not change);
    # boxes, anchors, NMS, ROI align, the class / mask probabilities and the
    # losses stay float32. "mixed_float16" is for GPUs (training uses dynamic
    # loss scaling); "mixed_bfloat16" also speeds up CPUs with AVX512_BF16 or
    # AMX (benchmarks/RESULTS.md); "auto" picks one of them for the machine.
    MIXED_PRECISION = None

    # Training: run the mask head on the sampled positive ROIs only (the
    # first int(TRAIN_ROIS_PER_IMAGE * ROI_POSITIVE_RATIO) rows of the
    # targets, where DetectionTargetLayer puts them), not on all
    # TRAIN_ROIS_PER_IMAGE. The mask loss only reads positive ROIs, so the
    # loss and gradients are Matterport's (with frozen BatchNorm or group
    # norm; trainable BatchNorm then takes its statistics over positives),
    # at about a third of the mask head's cost. The training graph's
    # mrcnn_mask output then has that many ROIs. False: Matterport's graph.
    MASK_HEAD_ON_POSITIVE_ROIS = True

    # Channels of the four 3x3 convs and the deconv of the mask head.
    # Matterport (and the COCO weights) use 256; a from-scratch model for one
    # class trains about 4x faster on a CPU with 64 and loses little.
    MASK_HEAD_CHANNELS = 256

    def __init__(self):
        """Compute the derived attributes."""
        # Effective batch size.
        self.BATCH_SIZE = self.IMAGES_PER_GPU * self.GPU_COUNT

        # Input image shape [H, W, C].
        if self.IMAGE_RESIZE_MODE == "crop":
            self.IMAGE_SHAPE = np.array([self.IMAGE_MIN_DIM, self.IMAGE_MIN_DIM,
                                         self.IMAGE_CHANNEL_COUNT])
        else:
            self.IMAGE_SHAPE = np.array([self.IMAGE_MAX_DIM, self.IMAGE_MAX_DIM,
                                         self.IMAGE_CHANNEL_COUNT])

        # image_id(1) + original_image_shape(3) + image_shape(3)
        # + window(4) + scale(1) + active_class_ids(NUM_CLASSES)
        self.IMAGE_META_SIZE = 1 + 3 + 3 + 4 + 1 + self.NUM_CLASSES

    # ------------------------------------------------------------------
    def to_dict(self):
        """Return {name: value} of every UPPERCASE attribute (class and
        instance), including the computed ones."""
        return {a: getattr(self, a) for a in sorted(dir(self))
                if a.isupper() and not a.startswith("_")}

    def to_json_dict(self):
        """The configuration as a JSON-safe dict: every UPPERCASE attribute
        of ``to_dict()`` except the computed ones (BATCH_SIZE, IMAGE_SHAPE,
        IMAGE_META_SIZE, recomputed by ``__init__``) and callables that
        cannot be described. Numpy arrays and tuples become lists; a
        ``LightResNet`` BACKBONE becomes ``{"class": "LightResNet", ...}``
        (its bound COMPUTE_BACKBONE_SHAPE is not stored: it is rebuilt).
        ``"__class__"`` holds ``"<module>.<QualName>"`` of the config
        (informational; ``config_from_dict`` never imports it)."""
        out = {"__class__": "%s.%s" % (type(self).__module__,
                                       type(self).__qualname__)}
        backbone = self.BACKBONE
        for key, value in self.to_dict().items():
            if key in _COMPUTED:
                continue
            if key == "BACKBONE":
                out[key] = _backbone_to_json(value)
                continue
            if key == "COMPUTE_BACKBONE_SHAPE":
                if value is None:
                    out[key] = None
                elif not _is_bound_to(value, backbone):
                    warnings.warn("Config.to_json_dict: COMPUTE_BACKBONE_SHAPE "
                                  "%r cannot be stored; a file with it needs "
                                  "--config to be read back" % (value,))
                continue
            try:
                out[key] = _json_safe(value)
            except TypeError as e:
                warnings.warn("Config.to_json_dict: %s is not stored (%s)"
                              % (key, e))
        return out

    def display(self):
        """Print every configuration value, sorted by name."""
        print("\nConfigurations:")
        for key, val in self.to_dict().items():
            print("{:30} {}".format(key, val))
        print("\n")

    # ------------------------------------------------------------------
    def validate(self, mode="training"):
        """Raise ValueError on settings that cannot work.

        mode: "training" or "inference" (NUM_CLASSES >= 2 only needed when
        training).
        """
        if mode not in ("training", "inference"):
            raise ValueError("Config.validate: mode must be 'training' or "
                             "'inference', got %r" % (mode,))
        name = type(self).__name__
        problems = []
        if int(self.IMAGES_PER_GPU) < 1:
            problems.append("IMAGES_PER_GPU must be >= 1, got %r"
                            % (self.IMAGES_PER_GPU,))
        if int(self.GPU_COUNT) < 1:
            problems.append("GPU_COUNT must be >= 1, got %r" % (self.GPU_COUNT,))
        if self.IMAGE_RESIZE_MODE not in _RESIZE_MODES:
            problems.append("IMAGE_RESIZE_MODE must be one of %s, got %r"
                            % (_RESIZE_MODES, self.IMAGE_RESIZE_MODE))
        if self.IMAGE_RESIZE_MODE in ("square", "crop"):
            h, w = int(self.IMAGE_SHAPE[0]), int(self.IMAGE_SHAPE[1])
            if h % 64 or w % 64:
                key = "IMAGE_MIN_DIM" if self.IMAGE_RESIZE_MODE == "crop" \
                    else "IMAGE_MAX_DIM"
                problems.append(
                    "image size %dx%d (from %s) must be divisible by 64 "
                    "(2**6, the FPN's deepest stride); use e.g. 256, 512, 1024"
                    % (h, w, key))
        if mode == "training" and int(self.NUM_CLASSES) < 2:
            problems.append("NUM_CLASSES must be >= 2 for training (background "
                            "+ at least one class), got %r" % (self.NUM_CLASSES,))
        if int(self.NUM_CLASSES) < 1:
            problems.append("NUM_CLASSES must be >= 1, got %r" % (self.NUM_CLASSES,))
        if len(self.RPN_ANCHOR_SCALES) != len(self.BACKBONE_STRIDES):
            problems.append(
                "len(RPN_ANCHOR_SCALES)=%d must equal len(BACKBONE_STRIDES)=%d "
                "(one anchor scale per pyramid level)"
                % (len(self.RPN_ANCHOR_SCALES), len(self.BACKBONE_STRIDES)))
        if list(self.MASK_SHAPE) != [2 * self.MASK_POOL_SIZE] * 2:
            problems.append(
                "MASK_SHAPE=%r must be [2*MASK_POOL_SIZE]*2 = %r (the mask head "
                "upsamples its pooled features once by 2)"
                % (list(self.MASK_SHAPE), [2 * self.MASK_POOL_SIZE] * 2))
        if callable(self.BACKBONE):
            if not callable(self.COMPUTE_BACKBONE_SHAPE):
                problems.append("a callable BACKBONE needs COMPUTE_BACKBONE_SHAPE")
        elif self.BACKBONE not in ("resnet50", "resnet101"):
            problems.append("BACKBONE must be 'resnet50', 'resnet101' or a "
                            "callable, got %r" % (self.BACKBONE,))
        if self.BACKBONE_NORM not in _NORMS:
            problems.append("BACKBONE_NORM must be one of %s, got %r"
                            % (_NORMS, self.BACKBONE_NORM))
        if self.MIXED_PRECISION not in POLICIES:
            problems.append("MIXED_PRECISION must be one of %s, got %r"
                            % (POLICIES, self.MIXED_PRECISION))
        if self.LEARNING_RATE_SCHEDULE not in _LR_SCHEDULES:
            problems.append("LEARNING_RATE_SCHEDULE must be one of %s, got %r"
                            % (_LR_SCHEDULES, self.LEARNING_RATE_SCHEDULE))
        if int(self.LEARNING_RATE_WARMUP_STEPS) < 0:
            problems.append("LEARNING_RATE_WARMUP_STEPS must be >= 0")
        if int(self.GROUP_NORM_GROUPS) < 1:
            problems.append("GROUP_NORM_GROUPS must be >= 1")
        if not 0 < float(self.ROI_POSITIVE_RATIO) <= 1:
            problems.append("ROI_POSITIVE_RATIO must be in (0, 1], got %r"
                            % (self.ROI_POSITIVE_RATIO,))
        if self.ROI_SAMPLING not in ROI_SAMPLING_RULES:
            problems.append("ROI_SAMPLING must be one of %s, got %r"
                            % (ROI_SAMPLING_RULES, self.ROI_SAMPLING))
        if int(self.MAX_GT_INSTANCES) < 1:
            problems.append("MAX_GT_INSTANCES must be >= 1")
        if int(self.IMAGE_CHANNEL_COUNT) < 1:
            problems.append("IMAGE_CHANNEL_COUNT must be >= 1")
        if len(np.ravel(self.MEAN_PIXEL)) != int(self.IMAGE_CHANNEL_COUNT):
            problems.append("MEAN_PIXEL has %d values but IMAGE_CHANNEL_COUNT "
                            "is %d" % (len(np.ravel(self.MEAN_PIXEL)),
                                       self.IMAGE_CHANNEL_COUNT))
        if self.CLASS_NAMES is not None and \
                len(self.CLASS_NAMES) != int(self.NUM_CLASSES):
            problems.append("CLASS_NAMES has %d names but NUM_CLASSES is %d "
                            "(one name per class id, 'BG' first)"
                            % (len(self.CLASS_NAMES), self.NUM_CLASSES))
        if problems:
            raise ValueError("%s: %s" % (name, "; ".join(problems)))
        return self


# ----------------------------------------------------------------------
# JSON round trip (checkpoints store the config, mrcnn/weights.py)

#: attributes that __init__ computes from the others
_COMPUTED = ("BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE")


def _is_bound_to(fn, obj):
    return getattr(fn, "__self__", None) is obj and obj is not None


def _json_safe(value):
    """value with numpy arrays / scalars and tuples turned into plain JSON
    types; TypeError for what JSON cannot hold (callables, objects)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    raise TypeError("%s is not JSON-describable" % type(value).__name__)


def _backbone_to_json(backbone):
    if isinstance(backbone, str) or backbone is None:
        return backbone
    from .backbones import backbone_class
    name = backbone_class(backbone)
    if name is not None:
        return dict({"class": name}, **backbone.get_config())
    warnings.warn("Config.to_json_dict: BACKBONE %r cannot be described (register its "
                  "class with mrcnn.backbones.register_backbone); the file records only "
                  "its class" % (backbone,))
    return {"class": "%s.%s" % (type(backbone).__module__,
                                type(backbone).__qualname__),
            "describable": False}


def _backbone_from_json(value, base):
    """BACKBONE value from its JSON form; (backbone, compute_backbone_shape
    or None). Backbones of the classes in mrcnn.backbones.BACKBONES are
    rebuilt (LightResNet, and what register_backbone added)."""
    if value is None or isinstance(value, str):
        return value, None
    from .backbones import BACKBONES
    if isinstance(value, dict) and value.get("class") in BACKBONES:
        backbone = BACKBONES[value["class"]].from_config(value)
        return backbone, backbone.compute_backbone_shape
    warnings.warn("config_from_dict: backbone %r cannot be rebuilt from a "
                  "file; keeping %s's BACKBONE" % (value, base.__name__))
    return base.BACKBONE, base.COMPUTE_BACKBONE_SHAPE


def _like(value, default):
    """JSON value in the type of the base's default (tuple, numpy array)."""
    if isinstance(default, np.ndarray) and isinstance(value, list):
        return np.array(value, dtype=default.dtype if default.dtype.kind == "f"
                        else None)
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    return value


def config_from_dict(d, base=None):
    """A NEW Config instance from ``Config.to_json_dict()`` output.

    Its class is a dynamic subclass of ``base`` (default ``Config``) named
    after the stored class, whose attributes are the stored values (lists
    back to tuples / numpy arrays where the base's default is one);
    computed attributes are recomputed by ``__init__``. Keys that ``base``
    does not know (from a newer version) are ignored with a warning; missing
    keys keep the base's defaults. Nothing named in ``d`` is imported.
    """
    base = Config if base is None else base
    if not (isinstance(base, type) and issubclass(base, Config)):
        raise TypeError("config_from_dict: base must be a Config subclass, "
                        "got %r" % (base,))
    if not isinstance(d, dict):
        raise TypeError("config_from_dict: expected a dict, got %s"
                        % type(d).__name__)
    stored_class = str(d.get("__class__") or "Config")
    name = stored_class.rsplit(".", 1)[-1]
    name = name if name.isidentifier() else "Config"
    attrs, unknown = {}, []
    for key, value in d.items():
        if key == "__class__":
            continue
        if key in _COMPUTED:
            continue
        if not (key.isupper() and not key.startswith("_")
                and hasattr(base, key)):
            unknown.append(key)
            continue
        if key == "BACKBONE":
            backbone, shape_fn = _backbone_from_json(value, base)
            attrs["BACKBONE"] = backbone
            if shape_fn is not None:
                attrs["COMPUTE_BACKBONE_SHAPE"] = shape_fn
            continue
        if key == "COMPUTE_BACKBONE_SHAPE" and "COMPUTE_BACKBONE_SHAPE" in attrs:
            continue
        attrs[key] = _like(value, getattr(base, key))
    if unknown:
        warnings.warn("config_from_dict: ignored unknown setting(s) %s (written "
                      "by a newer version?)" % ", ".join(sorted(unknown)))
    attrs["__doc__"] = "Configuration read back from a file (stored class %s)." \
        % stored_class
    attrs["__module__"] = __name__
    cls = type(name, (base,), attrs)
    config = cls()
    # A base whose __init__ fills settings (PhoneScratchConfig's BACKBONE)
    # must not override what the file says.
    for key, value in attrs.items():
        if key.isupper() and getattr(config, key) is not value:
            setattr(config, key, value)
    return config
