"""Training machinery: the Keras model whose ``train_step`` sums the five
losses plus L2 weight decay, the ``layers=`` regexes, the optimiser and the
checkpoint callback.

Keras 3 has no symbolic ``add_loss`` on functional outputs, so the training
graph outputs the five losses (LossLayer) and ``MaskRCNNTrainModel`` turns
them into a gradient step. Logged metrics: ``loss`` and each of the five
losses, for training and (``val_``) validation.
"""
import datetime
import math
import os
import re

import keras
import numpy as np
import tensorflow as tf

from .layers.losses import LOSS_NAMES
from . import weights as weights_io

# Matterport's named layer groups for train(layers=...).
LAYER_REGEX = {
    # all layers but the backbone
    "heads": r"(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    # From a specific ResNet stage and up
    "3+": r"(res3.*)|(bn3.*)|(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    "4+": r"(res4.*)|(bn4.*)|(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    "5+": r"(res5.*)|(bn5.*)|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)",
    # All layers
    "all": ".*",
}


def is_decayed(variable):
    """L2 weight decay applies to kernels, not to normalisation gamma/beta."""
    name = weights_io.weight_basename(variable)
    return name not in ("gamma", "beta", "moving_mean", "moving_variance")


def _several_workers(strategy):
    """True for a MultiWorkerMirroredStrategy over more than one worker."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


class MaskRCNNTrainModel(keras.Model):
    """Functional training graph with a custom train/test step.

    loss_weights: {loss name: weight} (Config.LOSS_WEIGHTS)
    weight_decay: L2 factor; each kernel contributes
        weight_decay * sum(w**2) / size(w), as in Matterport.
    The five loss outputs are found by layer name.
    """

    def __init__(self, *args, loss_weights=None, weight_decay=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_weights_map = dict(loss_weights or {})
        self.weight_decay = float(weight_decay)
        names = [t._keras_history[0].name if hasattr(t, "_keras_history")
                 else None for t in self.outputs]
        self._loss_index = {n: names.index(n) for n in LOSS_NAMES
                            if n in names}
        self._trackers = {n: keras.metrics.Mean(name=n)
                          for n in ("loss",) + LOSS_NAMES}

    @property
    def metrics(self):
        return list(self._trackers.values())

    def _loss_values(self, x, training):
        outputs = self(x, training=training)
        losses = {n: tf.reduce_mean(outputs[i]) * float(
            self.loss_weights_map.get(n, 1.0))
            for n, i in self._loss_index.items()}
        return losses

    def _regularization(self):
        terms = [tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) /
                 tf.cast(tf.size(v), tf.float32)
                 for v in self.trainable_weights if is_decayed(v)]
        if not terms or not self.weight_decay:
            return tf.constant(0.0)
        return self.weight_decay * tf.add_n(terms)

    def _update(self, losses, total):
        self._trackers["loss"].update_state(total)
        for n, v in losses.items():
            self._trackers[n].update_state(v)
        logs = {m.name: m.result() for m in self.metrics}
        if _several_workers(tf.distribute.get_strategy()):
            # Keras 3 reduces each replica's logs with strategy.reduce(MEAN,
            # v, axis=0) when several workers train: a scalar has no axis 0
            # ("Invalid reduction dimension 0 for input with 0 dimensions").
            # Shaped [1], the reduction is the mean over the replicas.
            logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs

    @staticmethod
    def _unpack(data):
        if isinstance(data, tuple) and len(data) == 1:
            return data[0]
        if isinstance(data, tuple) and isinstance(data[0], dict):
            return data[0]
        return data

    def train_step(self, data):
        x = self._unpack(data)
        with tf.GradientTape() as tape:
            losses = self._loss_values(x, training=True)
            total = tf.add_n(list(losses.values())) + self._regularization()
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = total / float(replicas)
            # LossScaleOptimizer (mixed_float16) scales up here and unscales
            # the gradients in apply_gradients; other optimisers: identity.
            scaled = self.optimizer.scale_loss(scaled)
        variables = self.trainable_variables
        grads = tape.gradient(scaled, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        self.optimizer.apply_gradients(pairs)
        return self._update(losses, total)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3 (TF backend) peeks at the first batch under a strategy and
        # reduces it with strategy.reduce("MEAN", batch): with several
        # workers MultiWorkerMirroredStrategy cannot reduce a dict of inputs
        # (ValueError: Attempt to convert a value ({'input_gt_boxes':
        # PerReplica...}) ... to a Tensor; keras-team/keras#20329). The build
        # only needs shapes and dtypes: take this worker's first replica.
        strategy = getattr(self, "_distribute_strategy", None)
        if iterator is None or not _several_workers(strategy):
            return super()._maybe_symbolic_build(iterator=iterator,
                                                 data_batch=data_batch)
        for _, _, it in iterator:
            data_batch = tf.nest.map_structure(
                lambda v: strategy.experimental_local_results(v)[0]
                if isinstance(v, tf.distribute.DistributedValues) else v,
                next(it))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def test_step(self, data):
        x = self._unpack(data)
        losses = self._loss_values(x, training=False)
        total = tf.add_n(list(losses.values())) + self._regularization()
        return self._update(losses, total)


def make_optimizer(learning_rate, momentum, clipnorm, schedule=None,
                   total_steps=None, warmup_steps=0):
    """SGD with momentum and per-gradient norm clipping (Matterport's).

    schedule: None (constant), "cosine" (cosine decay over total_steps with
    linear warm-up) or "step" (x0.1 at 2/3 and 8/9 of total_steps).
    """
    lr = learning_rate
    if schedule == "cosine" and total_steps:
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=learning_rate * (0.1 if warmup_steps else 1.0),
            decay_steps=max(1, total_steps - warmup_steps),
            warmup_target=learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps, alpha=0.01)
    elif schedule == "step" and total_steps:
        bounds = [int(total_steps * 2 / 3), int(total_steps * 8 / 9)]
        lr = keras.optimizers.schedules.PiecewiseConstantDecay(
            bounds, [learning_rate, learning_rate * 0.1, learning_rate * 0.01])
    kwargs = {}
    if clipnorm:
        kwargs["clipnorm"] = clipnorm
    return keras.optimizers.SGD(learning_rate=lr, momentum=momentum, **kwargs)


def first_non_finite_weight(keras_model):
    """Path of the first weight of ``keras_model`` holding a NaN or an
    infinity, or None when all are finite."""
    for v in keras_model.weights:
        value = np.asarray(v.numpy())
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            return getattr(v, "path", None) or v.name
    return None


class CheckpointCallback(keras.callbacks.Callback):
    """Writes ``model_dir/.../mask_rcnn_{name}_{epoch:04d}.h5`` at each epoch
    end in the Keras 2 layout, atomically. If the epoch's loss is NaN or
    infinite, or a weight is (a NaN gradient in the epoch's last step leaves
    a finite loss but broken weights), nothing is written (the last good
    checkpoint stays) and training stops with a clear message."""

    def __init__(self, checkpoint_path, keras_model, config=None):
        super().__init__()
        self.checkpoint_path = checkpoint_path
        self.target = keras_model
        #: stored in every checkpoint (mrcnn.weights.read_config)
        self.config = config
        self.saved = []
        self.nan_epoch = None
        self.reason = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            reason = f"loss is {loss}"
        else:
            bad = first_non_finite_weight(self.target)
            reason = None if bad is None else f"weight {bad} is NaN/infinite"
        if reason is not None:
            self.nan_epoch = epoch + 1
            self.reason = reason
            print(f"\nTraining stopped: {reason} at epoch {epoch + 1}; "
                  f"kept the last good checkpoint "
                  f"{self.saved[-1] if self.saved else '(none yet)'}.")
            self.model.stop_training = True
            return
        path = self.checkpoint_path.format(epoch=epoch + 1)
        weights_io.save_weights_h5(self.target, path, config=self.config)
        self.saved.append(path)


class NaNGuard(keras.callbacks.Callback):
    """Stops at the first non-finite batch loss (before a NaN epoch could be
    checkpointed)."""

    def __init__(self):
        super().__init__()
        self.stopped_at = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.stopped_at = batch
            self.model.stop_training = True


def now_stamp():
    return "{:%Y%m%dT%H%M}".format(datetime.datetime.now())


LOG_DIR_REGEX = r".*[/\\][\w-]+(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})[/\\]mask\_rcnn\_[\w-]+(\d{4})\.h5"


def parse_checkpoint_path(model_path):
    """(datetime, epoch) from a checkpoint path, or None."""
    m = re.match(LOG_DIR_REGEX, os.path.abspath(model_path))
    if not m:
        return None
    when = datetime.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)),
                             int(m.group(4)), int(m.group(5)))
    return when, int(m.group(6))


__all__ = ["LAYER_REGEX", "MaskRCNNTrainModel", "make_optimizer",
           "CheckpointCallback", "NaNGuard", "is_decayed", "first_non_finite_weight"]
