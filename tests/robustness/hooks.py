"""Helpers run inside the subprocesses of the interruption tests.

As a ``--config`` target (``phone train --config hooks.py:HookedTrainConfig``)
it is TinyTrainConfig plus a training hook chosen by environment variables:

    ROBUST_MARKER       file written when the process reaches the chosen point
    ROBUST_HANG_BATCH   "E:S": freeze at the start of step S of epoch E (1-based)
    ROBUST_NAN_BATCH    "E:S": after step S of epoch E, every trainable weight
                        becomes NaN (as after an exploding gradient)

As a script it runs ``phone segment`` with a fixed (fake) detector and an
optional freeze, so ``segment --dir`` can be killed at a known point without
building a network::

    python hooks.py segment [phone segment arguments]
        ROBUST_DETECT_DELAY  seconds per detect() call
        ROBUST_HANG_DETECT   "K": freeze inside the K-th detect() call (1-based),
                             after every earlier batch's masks were written
        ROBUST_HANG_MASK     "K": freeze while writing the K-th mask (1-based),
                             after half of its bytes went to the temp file

    python hooks.py save OUT.h5 [HANG_AFTER]
        saves a small Keras model with mrcnn.weights.save_weights_h5; with
        HANG_AFTER, freezes after that many datasets were written (and
        flushed) to the temp file.

Freezing writes ROBUST_MARKER and sleeps, so the test can SIGKILL the process
at exactly that point.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from robust_helpers import TinyTrainConfig  # noqa: E402


class HookedTrainConfig(TinyTrainConfig):
    """TinyTrainConfig; importing this module installs the training hook."""


def freeze(what):
    marker = os.environ.get("ROBUST_MARKER")
    if marker:
        tmp = marker + ".tmp"
        with open(tmp, "w") as f:
            f.write(what)
        os.replace(tmp, marker)
    print(f"[hooks] frozen: {what}", flush=True)
    time.sleep(600)


def _point(name):
    spec = os.environ.get(name)
    return tuple(int(v) for v in spec.split(":")) if spec else None


def _install_train_hook():
    hang, nan = _point("ROBUST_HANG_BATCH"), _point("ROBUST_NAN_BATCH")
    if not hang and not nan:
        return
    import keras
    import numpy as np
    from mrcnn.model import MaskRCNN
    if getattr(MaskRCNN.train, "_robust_hooked", False):
        return

    class Hang(keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_begin(self, batch, logs=None):
            if (self.epoch, batch) == hang:
                freeze(f"epoch {self.epoch} step {batch}")

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == nan:
                for v in self.model.trainable_weights:
                    v.assign(np.full(v.shape, np.nan, v.dtype))

    original = MaskRCNN.train

    def train(self, *args, custom_callbacks=None, **kwargs):
        callbacks = list(custom_callbacks or []) + [Hang()]
        return original(self, *args, custom_callbacks=callbacks, **kwargs)

    train._robust_hooked = True
    MaskRCNN.train = train


_install_train_hook()


# ------------------------------------------------------------------ segment
def segment_main(argv):
    import phone.commands.segment as segment_command
    import phone.imageio as imageio
    from phone.cli import main
    from phone.segmenter import Segmenter
    from robust_helpers import FixedModel

    delay = float(os.environ.get("ROBUST_DETECT_DELAY", "0"))

    hang_detect = int(os.environ.get("ROBUST_HANG_DETECT", "0"))

    def segmenter_from_args(args, batch_size):
        model = FixedModel(batch=batch_size, delay=delay)
        if hang_detect:
            real_detect = model.detect

            def detect(images, verbose=0):
                if len(model.calls) + 1 == hang_detect:
                    freeze(f"detect call {hang_detect}")
                return real_detect(images, verbose=verbose)
            model.detect = detect
        return Segmenter(model=model), "fixed", None

    segment_command.segmenter_from_args = segmenter_from_args

    hang_at = int(os.environ.get("ROBUST_HANG_MASK", "0"))
    real_write = imageio.write_bytes_atomic
    count = [0]

    def write_bytes_atomic(path, data):
        if str(path).endswith("_mask.png"):
            count[0] += 1
            if count[0] == hang_at:
                # what an interrupted write leaves: a partial temp file
                tmp = os.path.join(os.path.dirname(os.path.abspath(path)),
                                   "." + os.path.basename(path) + ".interrupted.tmp")
                with open(tmp, "wb") as f:
                    f.write(data[:len(data) // 2])
                freeze(f"writing {path}")
        return real_write(path, data)

    imageio.write_bytes_atomic = write_bytes_atomic
    return main(["segment"] + argv)


def save_main(out, hang_after=None):
    import h5py
    import keras
    from mrcnn.weights import save_weights_h5

    inputs = keras.Input((8,))
    x = inputs
    for i in range(6):
        x = keras.layers.Dense(8, name=f"fc{i}")(x)
    model = keras.Model(inputs, x)
    for i in range(6):
        layer = model.get_layer(f"fc{i}")
        layer.set_weights([w * 0 + (i + 1) for w in layer.get_weights()])
    if hang_after is not None:
        real = h5py.Group.create_dataset
        count = [0]

        def create_dataset(self, name, *args, **kwargs):
            if count[0] == hang_after:
                self.file.flush()
                freeze(f"after {hang_after} datasets of {out}")
            count[0] += 1
            return real(self, name, *args, **kwargs)

        h5py.Group.create_dataset = create_dataset
    save_weights_h5(model, out)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "segment":
        sys.exit(segment_main(sys.argv[2:]))
    if sys.argv[1] == "save":
        sys.exit(save_main(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None))
    sys.exit(f"unknown command {sys.argv[1]!r}")
