"""Matterport's ``mrcnn.parallel_model.ParallelModel``, as a thin shim.

Matterport's class copied the Keras 2 graph once per GPU, split each batch
across the copies and merged their outputs on the CPU. Here ``MaskRCNN``
does that itself: with ``Config.GPU_COUNT = N > 1`` it builds the model under
``tf.distribute.MirroredStrategy`` over N devices (GPUs, else logical CPUs)
and ``train()`` splits every batch of ``BATCH_SIZE = GPU_COUNT *
IMAGES_PER_GPU`` images across them.

So ``ParallelModel(keras_model, gpu_count)`` returns ``keras_model`` itself
when it already runs on ``gpu_count`` replicas (or when ``gpu_count`` is 1),
and otherwise raises one line telling to set ``GPU_COUNT`` instead.
"""

__all__ = ["ParallelModel", "ParallelModelError"]


class ParallelModelError(ValueError):
    """ParallelModel cannot replicate an already built Keras 3 model."""


def replica_count(keras_model):
    """How many replicas keras_model was built for (1 without a
    tf.distribute strategy)."""
    strategy = getattr(keras_model, "distribute_strategy", None)
    return int(getattr(strategy, "num_replicas_in_sync", 1) or 1)


class ParallelModel(object):
    """``ParallelModel(keras_model, gpu_count)``: the data-parallel model.

    Returns keras_model itself (no wrapper) when gpu_count <= 1 or when
    MaskRCNN already built it over gpu_count replicas (GPU_COUNT).
    Raises ParallelModelError otherwise.
    """

    def __new__(cls, keras_model, gpu_count):
        gpu_count = int(gpu_count)
        replicas = replica_count(keras_model)
        if gpu_count <= 1 or replicas == gpu_count:
            return keras_model
        raise ParallelModelError(
            f"ParallelModel(keras_model, {gpu_count}) cannot replicate a built "
            f"Keras 3 model (it runs on {replicas} replica(s)); set GPU_COUNT = "
            f"{gpu_count} in your Config instead: MaskRCNN then builds the model "
            f"under tf.distribute.MirroredStrategy and splits each batch across "
            f"the {gpu_count} devices")
