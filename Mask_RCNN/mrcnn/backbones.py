"""Backbones that can be passed as ``Config.BACKBONE``.

``Config.BACKBONE`` accepts "resnet50", "resnet101" or a callable
``backbone(input_image, stage5=True, train_bn=...) -> [C1, C2, C3, C4, C5]``
with ``Config.COMPUTE_BACKBONE_SHAPE(image_shape) -> [levels, (h, w)]``.
The classes here are such callables. They are objects, not functions, so
storing one as a class attribute of a Config does not turn it into a bound
method.

``LightResNet`` is a narrow ResNet with the same layer names as Matterport's
(``conv1``, ``res2a_branch2a``, ``bn2a_branch2a``, ...), so the ``layers=``
regexes (``3+``, ``4+``, ...) keep working. It trains from scratch on a CPU
in minutes at 128x128, where ResNet-50 needs hours and COCO weights.

Shape shorthand for LightResNet(widths=(w2, w3, w4, w5)) on [B, H, W, 3]:
    C2: [B, H/4, W/4, 4*w2]   C3: [B, H/8, W/8, 4*w3]
    C4: [B, H/16, W/16, 4*w4] C5: [B, H/32, W/32, 4*w5]
"""
import math

import numpy as np

__all__ = ["LightResNet", "register_backbone", "backbone_class"]


class LightResNet:
    """A narrow bottleneck ResNet usable as Config.BACKBONE.

    widths: bottleneck widths of stages 2..5 (outputs are 4x these).
    blocks: blocks per stage 2..5 (first one is a conv block).
    stem: filters of conv1.
    norm: "batch" or "group"; groups: groups for group norm (clipped to the
        channel count).
    strides: the BACKBONE_STRIDES these levels produce (P6 included).
    """

    def __init__(self, widths=(16, 32, 64, 128), blocks=(1, 2, 2, 1), stem=32,
                 norm="group", groups=8, strides=(4, 8, 16, 32, 64)):
        if len(widths) != 4 or len(blocks) != 4:
            raise ValueError("LightResNet needs 4 widths and 4 block counts "
                             "(stages 2..5)")
        self.widths = tuple(int(w) for w in widths)
        self.blocks = tuple(int(b) for b in blocks)
        self.stem = int(stem)
        self.norm = norm
        self.groups = int(groups)
        self.strides = tuple(int(s) for s in strides)

    def __repr__(self):
        return (f"LightResNet(widths={self.widths}, blocks={self.blocks}, "
                f"stem={self.stem}, norm={self.norm!r}, groups={self.groups})")

    def get_config(self):
        """The constructor arguments, JSON-safe (stored in checkpoints)."""
        return {"widths": list(self.widths), "blocks": list(self.blocks),
                "stem": self.stem, "norm": self.norm, "groups": self.groups,
                "strides": list(self.strides)}

    @classmethod
    def from_config(cls, config):
        """A LightResNet from ``get_config()`` output (other keys, such as
        "class", are ignored)."""
        keys = ("widths", "blocks", "stem", "norm", "groups", "strides")
        return cls(**{k: config[k] for k in keys if k in config})

    def __eq__(self, other):
        return isinstance(other, LightResNet) and \
            self.get_config() == other.get_config()

    def __hash__(self):
        return hash(repr(self))

    def compute_backbone_shape(self, image_shape):
        """[levels, (height, width)] of the feature maps for an input."""
        return np.array([[int(math.ceil(image_shape[0] / s)),
                          int(math.ceil(image_shape[1] / s))]
                         for s in self.strides])

    def __call__(self, input_image, stage5=True, train_bn=True):
        # Keras is imported here, not at module level: reading a LightResNet
        # config back from a weights file (mrcnn.weights.read_config) needs
        # no TensorFlow.
        from keras import layers as KL

        from .layers.backbone import conv_block, identity_block
        from .layers.norm import make_norm
        g = self.groups
        x = KL.ZeroPadding2D((3, 3))(input_image)
        x = KL.Conv2D(self.stem, (7, 7), strides=(2, 2), name="conv1")(x)
        x = make_norm(self.norm, "bn_conv1", train_bn, min(g, self.stem))(x)
        x = KL.Activation("relu")(x)
        C1 = x = KL.MaxPooling2D((3, 3), strides=(2, 2), padding="same")(x)
        outs = [C1]
        for i, (w, n) in enumerate(zip(self.widths, self.blocks)):
            stage = i + 2
            filters = [w, w, 4 * w]
            kw = dict(train_bn=train_bn, norm=self.norm, groups=min(g, w))
            x = conv_block(x, 3, filters, stage=stage, block="a",
                           strides=(1, 1) if stage == 2 else (2, 2), **kw)
            for b in range(1, n):
                x = identity_block(x, 3, filters, stage=stage,
                                   block=chr(97 + b), **kw)
            outs.append(x)
        if not stage5:
            outs[-1] = None
        return outs


# ---------------------------------------------------------------------------
# Backbones a weights file can describe

#: name -> class of the backbone objects that survive save and load: a file
#: stores {"class": name, **backbone.get_config()} (Config.to_json_dict) and
#: mrcnn.weights.read_config rebuilds it with ``cls.from_config``. A plain
#: table: LightResNet is in it, register_backbone adds yours.
BACKBONES = {"LightResNet": LightResNet}


def register_backbone(cls, name=None):
    """Let backbone objects of ``cls`` survive save and load. ``cls`` needs
    ``get_config()`` (JSON-safe constructor arguments), a ``from_config``
    classmethod and ``compute_backbone_shape``. ``name`` (default: the class
    name) is what files store. Returns ``cls``, so it also works as a class
    decorator. Raises ValueError when the name is taken by another class."""
    name = name or cls.__name__
    for needed in ("get_config", "from_config", "compute_backbone_shape", "__call__"):
        if not hasattr(cls, needed):
            raise ValueError(f"register_backbone: {cls.__name__} has no {needed}")
    if BACKBONES.get(name, cls) is not cls:
        raise ValueError(f"register_backbone: {name!r} is already {BACKBONES[name]!r}")
    BACKBONES[name] = cls
    return cls


def backbone_class(obj):
    """The registered name of a backbone object, or None."""
    for name, cls in BACKBONES.items():
        if type(obj) is cls:
            return name
    return None

