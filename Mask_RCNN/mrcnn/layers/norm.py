"""Normalisation layers.

``BatchNorm`` is Matterport's frozen-capable batch normalisation: with
``train_bn=False`` (Matterport's TRAIN_BN default) it always normalises with the
moving statistics, even while the model trains, because detection batches are
too small for useful batch statistics. Its gamma/beta still train when the layer
is trainable. ``make_norm`` picks batch or group normalisation by name, so a
config switch (Config.BACKBONE_NORM) changes the backbone without forking it.
"""
import keras


@keras.saving.register_keras_serializable(package="mrcnn")
class BatchNorm(keras.layers.BatchNormalization):
    """BatchNormalization that uses moving statistics unless ``train_bn``.

    train_bn: bool. When False the layer runs in inference mode whatever the
        ``training`` flag says. When True it follows the ``training`` flag.
    """

    def __init__(self, train_bn=False, **kwargs):
        super().__init__(**kwargs)
        self.train_bn = bool(train_bn)

    def call(self, inputs, training=None):
        return super().call(inputs, training=bool(training) and self.train_bn)

    def get_config(self):
        config = super().get_config()
        config["train_bn"] = self.train_bn
        return config


def make_norm(kind, name, train_bn=False, groups=32, axis=-1):
    """Builds a normalisation layer.

    kind: "batch" (BatchNorm, COCO-weight compatible) or "group"
        (GroupNormalization: batch-size independent, trains from scratch).
    """
    if kind in (None, "batch", "bn"):
        return BatchNorm(train_bn=train_bn, axis=axis, name=name)
    if kind in ("group", "gn"):
        return keras.layers.GroupNormalization(groups=groups, axis=axis,
                                               name=name)
    raise ValueError(f"unknown normalisation {kind!r}: use 'batch' or 'group'")
