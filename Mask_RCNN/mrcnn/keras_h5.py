"""``keras_model.save_weights("x.h5")`` / ``load_weights("x.h5", by_name=True)``
as in Keras 2, on the Keras model that MaskRCNN builds.

Matterport's notebooks call the Keras model's own methods::

    model.keras_model.save_weights("mask_rcnn_shapes.h5")
    model.keras_model.load_weights(path, by_name=True)

Keras 3 refuses a name that does not end in ``.weights.h5`` and writes its
own layout. ``attach_h5_methods`` replaces the two methods on one model
object: a name ending in ``.h5`` (but not ``.weights.h5``) is written and
read in the Keras 2 layout of ``mask_rcnn_coco.h5`` (mrcnn.weights, the same
code as MaskRCNN.save_weights / load_weights, atomic writes included); any
other name goes to Keras 3's own method unchanged.
"""
import os
import types

from . import weights as weights_io

__all__ = ["attach_h5_methods", "is_keras2_h5_name"]


def is_keras2_h5_name(filepath):
    """True for ``x.h5`` (Keras 2 / Matterport layout), False for
    ``x.weights.h5`` (Keras 3's layout) and every other name."""
    name = os.fspath(filepath).lower() if not hasattr(filepath, "write") else ""
    return name.endswith(".h5") and not name.endswith(".weights.h5")


def _mismatched_layers(keras_model, filepath):
    """Layers of keras_model whose weights exist in the file under the same
    layer name but with other shapes (Keras 2's skip_mismatch)."""
    stored = weights_io.read_weights_h5(filepath)
    bad = []
    for name, variables in weights_io.weighted_layers(keras_model):
        if name not in stored:
            continue
        arrays = [a for _, a in stored[name]]
        if len(arrays) != len(variables) or any(
                tuple(v.shape) != tuple(a.shape)
                for v, a in zip(variables, arrays)):
            bad.append(name)
    return bad


def attach_h5_methods(keras_model):
    """Gives keras_model Keras 2's ``.h5`` behaviour for ``save_weights`` and
    ``load_weights`` (see the module docstring). Returns keras_model."""
    keras_save = keras_model.save_weights
    keras_load = keras_model.load_weights

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Keras 2 layout for ``*.h5`` (not ``*.weights.h5``), else Keras 3."""
        if not is_keras2_h5_name(filepath):
            return keras_save(filepath, overwrite=overwrite, **kwargs)
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{os.fspath(filepath)} exists and "
                                  f"overwrite=False")
        weights_io.save_weights_h5(self, filepath)

    def load_weights(self, filepath, by_name=False, skip_mismatch=False,
                     exclude=None, **kwargs):
        """Keras 2 layout for ``*.h5`` (by_name, skip_mismatch as in Keras 2,
        plus exclude=[layer names]); ``*.weights.h5`` goes to Keras 3."""
        if not is_keras2_h5_name(filepath):
            if by_name or exclude:
                raise ValueError(
                    f"{os.fspath(filepath)}: by_name/exclude need a Keras 2 "
                    f"layout .h5 file, not Keras 3's .weights.h5")
            return keras_load(filepath, skip_mismatch=skip_mismatch, **kwargs)
        exclude = list(exclude or [])
        if skip_mismatch:
            if not by_name:
                raise ValueError("skip_mismatch=True needs by_name=True "
                                 "(as in Keras 2)")
            exclude += _mismatched_layers(self, filepath)
        return weights_io.load_weights_h5(self, filepath, by_name=by_name,
                                          exclude=exclude)

    keras_model.save_weights = types.MethodType(save_weights, keras_model)
    keras_model.load_weights = types.MethodType(load_weights, keras_model)
    return keras_model
