"""The MaskRCNN class: builds the training or inference graph and wraps
training, detection and weight I/O behind Matterport's API.

Graph inputs (training):
    input_image        [B, H, W, C] molded (MEAN_PIXEL subtracted)
    input_image_meta   [B, IMAGE_META_SIZE]
    input_rpn_match    [B, A, 1] int32
    input_rpn_bbox     [B, RPN_TRAIN_ANCHORS_PER_IMAGE, 4]
    input_gt_class_ids [B, MAX_GT_INSTANCES] int32
    input_gt_boxes     [B, MAX_GT_INSTANCES, (y1, x1, y2, x2)] pixels
    input_gt_masks     [B, mh, mw, MAX_GT_INSTANCES] bool
Graph inputs (inference): input_image, input_image_meta,
    input_anchors [B, A, 4] normalised.
Inference outputs: detections [B, D, 6], mrcnn_class [B, P, K],
    mrcnn_bbox [B, P, K, 4], mrcnn_mask [B, D, mh, mw, K], rpn_rois [B, P, 4],
    rpn_class [B, A, 2], rpn_bbox [B, A, 4].
"""
import contextlib
import logging
import multiprocessing
import os
import re
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers as KL

from . import weights as weights_io
from .core.anchors import compute_backbone_shapes, get_anchors_normalized
from .core.boxes import denorm_boxes, norm_boxes
from .core.fileio import find_last_checkpoint
from .core.images import as_rgb, resize_image
from .core.masks import paste_masks
from .core.meta import compose_image_meta, mold_image
from .keras_h5 import attach_h5_methods
from .layers.backbone import resnet_graph
from .layers.detection import DetectionLayer
from .layers.detection_target import DetectionTargetLayer
from .layers.fpn import fpn_graph
from .layers.heads import build_fpn_mask_graph, fpn_classifier_graph
from .layers.losses import LossLayer
from .layers.misc import (ActiveClassIds, ConstantAnchors, Identity,
                          NormBoxes, SliceLastAxis, SliceROIs)
from .layers.proposal import ProposalLayer
from .layers.rpn import build_rpn_model
from . import training as T
from .precision import resolve_mixed_precision_with_reason

logger = logging.getLogger("mrcnn")


def log(text, array=None):
    """Prints a text message, and optionally a numpy array's shape, min and
    max (Matterport's ``log``)."""
    if array is not None:
        text = text.ljust(25)
        array = np.asarray(array)
        text += "shape: {:20}  ".format(str(array.shape))
        if array.size:
            text += "min: {:10.5f}  max: {:10.5f}".format(array.min(), array.max())
        else:
            text += "min: {:10}  max: {:10}".format("", "")
        text += "  {}".format(array.dtype)
    print(text)


@contextlib.contextmanager
def _dtype_policy(name):
    """Sets Keras' global dtype policy to ``name`` (None: leave it) while
    the model is built, then restores it: the layers keep the policy they
    were made with, other models in the process are not affected."""
    if not name:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class MaskRCNN:
    """Encapsulates the Mask R-CNN model functionality.

    The actual Keras model is in the keras_model property.

    mode: "training" or "inference"
    config: a Config subclass instance
    model_dir: directory for training logs and checkpoints
    strategy: a tf.distribute.Strategy to build and train under, e.g. the
        tf.distribute.MultiWorkerMirroredStrategy of one worker of a
        multi-machine run (phone.distributed); its local replicas must
        number config.GPU_COUNT. Default: made from config.GPU_COUNT
        (MirroredStrategy for N > 1, else the default strategy).
    """

    def __init__(self, mode, config, model_dir, strategy=None):
        if mode not in ("training", "inference"):
            raise ValueError(f"mode must be 'training' or 'inference', not {mode!r}")
        config.validate(mode) if hasattr(config, "validate") else None
        self.mode = mode
        self.config = config
        self.model_dir = model_dir
        self.epoch = 0
        self.log_dir = None
        self.checkpoint_path = None
        self.trace_count = 0
        #: names of the layers the last load_weights call gave weights to
        self.loaded_layer_names = []
        self._predict_fns = {}
        self.strategy = self._make_strategy(config) if strategy is None \
            else self._check_strategy(strategy, config)
        self.set_log_dir()
        #: the Keras dtype policy the model was built under (None: float32),
        #: and why ("auto" decides per machine, for training or inference)
        self.mixed_precision, self.mixed_precision_reason = \
            resolve_mixed_precision_with_reason(
                config.MIXED_PRECISION,
                "train" if mode == "training" else "inference", config=config)
        with self.strategy.scope(), _dtype_policy(self.mixed_precision):
            self.keras_model = self.build(mode=mode, config=config)
        # keras_model.save_weights("x.h5") / load_weights("x.h5", by_name=True)
        # in Matterport's (Keras 2) layout, as Matterport's notebooks do.
        attach_h5_methods(self.keras_model)

    # ------------------------------------------------------------------ build
    @staticmethod
    def _make_strategy(config):
        """MirroredStrategy over GPU_COUNT devices (GPUs, else logical CPUs);
        the default strategy for one device."""
        count = int(config.GPU_COUNT)
        if count <= 1:
            return tf.distribute.get_strategy()
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus if len(gpus) >= count else tf.config.list_logical_devices("CPU")
        if len(devices) < count:
            raise ValueError(
                f"GPU_COUNT={count} but only {len(devices)} devices are visible "
                f"(GPUs: {len(gpus)}); lower GPU_COUNT")
        return tf.distribute.MirroredStrategy(
            devices=[d.name for d in devices[:count]])

    @staticmethod
    def _check_strategy(strategy, config):
        """A strategy passed in: its replicas on this machine must be the
        GPU_COUNT that BATCH_SIZE was computed for."""
        local = len(strategy.extended.worker_devices)
        if local != int(config.GPU_COUNT):
            raise ValueError(
                f"the strategy has {local} replica(s) on this machine but "
                f"GPU_COUNT={config.GPU_COUNT}; set GPU_COUNT={local}")
        return strategy

    def build(self, mode, config):
        """Builds the Mask R-CNN Keras model for ``mode``."""
        h, w = config.IMAGE_SHAPE[:2]
        if h / 2 ** 6 != int(h / 2 ** 6) or w / 2 ** 6 != int(w / 2 ** 6):
            raise ValueError("Image size must be dividable by 2 at least 6 "
                             "times to avoid fractions when downscaling and "
                             f"upscaling (got {h}x{w}); use 256, 320, 384, 448, "
                             "512, ... ")
        input_image = KL.Input(shape=[None, None, config.IMAGE_CHANNEL_COUNT],
                               name="input_image")
        input_image_meta = KL.Input(shape=[config.IMAGE_META_SIZE],
                                    name="input_image_meta")
        if mode == "training":
            input_rpn_match = KL.Input(shape=[None, 1], name="input_rpn_match",
                                       dtype="int32")
            input_rpn_bbox = KL.Input(shape=[None, 4], name="input_rpn_bbox",
                                      dtype="float32")
            input_gt_class_ids = KL.Input(shape=[None], name="input_gt_class_ids",
                                          dtype="int32")
            input_gt_boxes = KL.Input(shape=[None, 4], name="input_gt_boxes",
                                      dtype="float32")
            gt_boxes = NormBoxes(name="norm_gt_boxes")([input_gt_boxes,
                                                        input_image])
            if config.USE_MINI_MASK:
                mshape = [config.MINI_MASK_SHAPE[0], config.MINI_MASK_SHAPE[1], None]
            else:
                mshape = [config.IMAGE_SHAPE[0], config.IMAGE_SHAPE[1], None]
            # Masks travel as uint8 (0/1): tf.distribute cannot split or
            # concatenate bool batches across replicas. Bool arrays are cast.
            input_gt_masks = KL.Input(shape=mshape, name="input_gt_masks",
                                      dtype="uint8")
        else:
            input_anchors = KL.Input(shape=[None, 4], name="input_anchors")

        norm = config.BACKBONE_NORM
        groups = config.GROUP_NORM_GROUPS
        if callable(config.BACKBONE):
            _, C2, C3, C4, C5 = config.BACKBONE(input_image, stage5=True,
                                                train_bn=config.TRAIN_BN)
        else:
            _, C2, C3, C4, C5 = resnet_graph(input_image, config.BACKBONE,
                                             stage5=True,
                                             train_bn=config.TRAIN_BN,
                                             norm=norm, groups=groups)
        P2, P3, P4, P5, P6 = fpn_graph(C2, C3, C4, C5,
                                       config.TOP_DOWN_PYRAMID_SIZE)
        rpn_feature_maps = [P2, P3, P4, P5, P6]
        mrcnn_feature_maps = [P2, P3, P4, P5]

        if mode == "training":
            anchors = ConstantAnchors(self.get_anchors(config.IMAGE_SHAPE),
                                      name="anchors")(input_image)
        else:
            anchors = input_anchors

        rpn = build_rpn_model(config.RPN_ANCHOR_STRIDE,
                              len(config.RPN_ANCHOR_RATIOS),
                              config.TOP_DOWN_PYRAMID_SIZE)
        level_outputs = [rpn([p]) for p in rpn_feature_maps]
        rpn_class_logits, rpn_class, rpn_bbox = [
            KL.Concatenate(axis=1, name=n, dtype="float32")(
                [o[i] for o in level_outputs])
            for i, n in enumerate(["rpn_class_logits", "rpn_class", "rpn_bbox"])]

        proposal_count = (config.POST_NMS_ROIS_TRAINING if mode == "training"
                          else config.POST_NMS_ROIS_INFERENCE)
        rpn_rois = ProposalLayer(
            proposal_count=proposal_count,
            nms_threshold=config.RPN_NMS_THRESHOLD,
            rpn_bbox_std_dev=config.RPN_BBOX_STD_DEV,
            pre_nms_limit=config.PRE_NMS_LIMIT,
            name="ROI")([rpn_class, rpn_bbox, anchors])

        head_kw = dict(train_bn=config.TRAIN_BN, norm=norm, groups=groups)
        if mode == "training":
            active_class_ids = ActiveClassIds(name="active_class_ids")(
                input_image_meta)
            if not config.USE_RPN_ROIS:
                input_rois = KL.Input(shape=[config.POST_NMS_ROIS_TRAINING, 4],
                                      name="input_roi", dtype="float32")
                target_rois = NormBoxes(name="norm_input_rois")(
                    [input_rois, input_image])
            else:
                target_rois = rpn_rois
            rois, target_class_ids, target_bbox, target_mask = \
                DetectionTargetLayer(config, name="proposal_targets")([
                    target_rois, input_gt_class_ids, gt_boxes, input_gt_masks])
            mrcnn_class_logits, mrcnn_class, mrcnn_bbox = fpn_classifier_graph(
                rois, mrcnn_feature_maps, input_image_meta, config.POOL_SIZE,
                config.NUM_CLASSES, fc_layers_size=config.FPN_CLASSIF_FC_LAYERS_SIZE,
                **head_kw)
            # The mask loss only reads positive ROIs, which the target layer
            # puts first: at most int(T * ROI_POSITIVE_RATIO) of them.
            mask_rois, mask_class_ids, mask_targets = (
                rois, target_class_ids, target_mask)
            max_positive = int(config.TRAIN_ROIS_PER_IMAGE *
                               config.ROI_POSITIVE_RATIO)
            if (config.MASK_HEAD_ON_POSITIVE_ROIS
                    and 0 < max_positive < config.TRAIN_ROIS_PER_IMAGE):
                mask_rois, mask_class_ids, mask_targets = [
                    SliceROIs(max_positive, name=n)(t) for n, t in [
                        ("positive_rois", rois),
                        ("positive_class_ids", target_class_ids),
                        ("positive_masks", target_mask)]]
            mrcnn_mask = build_fpn_mask_graph(
                mask_rois, mrcnn_feature_maps, input_image_meta,
                config.MASK_POOL_SIZE, config.NUM_CLASSES,
                channels=config.MASK_HEAD_CHANNELS, **head_kw)
            output_rois = Identity(name="output_rois")(rois)

            rpn_class_loss = LossLayer("rpn_class_loss", name="rpn_class_loss")(
                [input_rpn_match, rpn_class_logits])
            rpn_bbox_loss = LossLayer("rpn_bbox_loss", name="rpn_bbox_loss")(
                [input_rpn_bbox, input_rpn_match, rpn_bbox])
            class_loss = LossLayer("mrcnn_class_loss", name="mrcnn_class_loss")(
                [target_class_ids, mrcnn_class_logits, active_class_ids])
            bbox_loss = LossLayer("mrcnn_bbox_loss", name="mrcnn_bbox_loss")(
                [target_bbox, target_class_ids, mrcnn_bbox])
            mask_loss = LossLayer("mrcnn_mask_loss", name="mrcnn_mask_loss")(
                [mask_targets, mask_class_ids, mrcnn_mask])

            inputs = [input_image, input_image_meta, input_rpn_match,
                      input_rpn_bbox, input_gt_class_ids, input_gt_boxes,
                      input_gt_masks]
            if not config.USE_RPN_ROIS:
                inputs.append(input_rois)
            outputs = [rpn_class_logits, rpn_class, rpn_bbox,
                       mrcnn_class_logits, mrcnn_class, mrcnn_bbox, mrcnn_mask,
                       rpn_rois, output_rois,
                       rpn_class_loss, rpn_bbox_loss, class_loss, bbox_loss,
                       mask_loss]
            return T.MaskRCNNTrainModel(
                inputs, outputs, name="mask_rcnn",
                loss_weights=config.LOSS_WEIGHTS,
                weight_decay=config.WEIGHT_DECAY)

        mrcnn_class_logits, mrcnn_class, mrcnn_bbox = fpn_classifier_graph(
            rpn_rois, mrcnn_feature_maps, input_image_meta, config.POOL_SIZE,
            config.NUM_CLASSES, fc_layers_size=config.FPN_CLASSIF_FC_LAYERS_SIZE,
            **head_kw)
        detections = DetectionLayer(config, name="mrcnn_detection")(
            [rpn_rois, mrcnn_class, mrcnn_bbox, input_image_meta])
        detection_boxes = SliceLastAxis(0, 4, name="detection_boxes")(detections)
        mrcnn_mask = build_fpn_mask_graph(
            detection_boxes, mrcnn_feature_maps, input_image_meta,
            config.MASK_POOL_SIZE, config.NUM_CLASSES,
            channels=config.MASK_HEAD_CHANNELS, **head_kw)
        return keras.Model(
            [input_image, input_image_meta, input_anchors],
            [detections, mrcnn_class, mrcnn_bbox, mrcnn_mask, rpn_rois,
             rpn_class, rpn_bbox], name="mask_rcnn")

    # ---------------------------------------------------------- checkpoints
    def find_last(self):
        """Path of the last checkpoint of the newest run of this model
        (``model_dir/{name}{YYYYmmddTHHMM}/mask_rcnn_{name}_{epoch:04d}.h5``).
        Raises FileNotFoundError when there is none."""
        key = self.config.NAME.lower()
        last = find_last_checkpoint(self.model_dir, key)
        if last:
            return last
        raise FileNotFoundError(
            f"Could not find a checkpoint of model {key!r} under "
            f"{self.model_dir!r}: no mask_rcnn_{key}_NNNN.h5 in any "
            f"{key}YYYYmmddTHHMM folder")

    def set_log_dir(self, model_path=None):
        """Sets the model log directory and epoch counter.

        model_path: None for a new run (epoch 0, new timestamped folder), or
        a checkpoint path of ours to continue that run from its epoch.
        """
        self.epoch = 0
        now_stamp = T.now_stamp()
        name = (self.config.NAME or "model").lower()
        if model_path:
            parsed = T.parse_checkpoint_path(model_path)
            if parsed:
                when, epoch = parsed
                self.epoch = epoch
                now_stamp = "{:%Y%m%dT%H%M}".format(when)
        self.log_dir = os.path.join(self.model_dir, f"{name}{now_stamp}")
        self.checkpoint_path = os.path.join(
            self.log_dir, f"mask_rcnn_{name}_" + "{epoch:04d}.h5")

    def load_weights(self, filepath, by_name=False, exclude=None):
        """Loads weights from a Keras 2 layout .h5 file (mask_rcnn_coco.h5 or
        one of our checkpoints).

        exclude: layer names to skip (implies by_name), e.g. the class-specific
        layers when fine-tuning on another class count.
        filepath may also be an already read mrcnn.weights.WeightsFile.

        Returns None, as Matterport's does (a notebook cell ending with it
        prints nothing); the names of the layers that received weights are
        in self.loaded_layer_names afterwards.
        """
        # One read of the file serves the weights and the stored config.
        source = filepath if isinstance(filepath, weights_io.WeightsFile) \
            else weights_io.WeightsFile(filepath)
        loaded = weights_io.load_weights_h5(self.keras_model, source,
                                            by_name=by_name, exclude=exclude)
        mismatch = weights_io.mask_head_mismatch(source, self.config)
        if mismatch:
            logger.warning(mismatch)
        self.set_log_dir(source.path)
        self.loaded_layer_names = list(loaded)

    def save_weights(self, filepath):
        """Writes this model's weights in the mask_rcnn_coco.h5 layout
        (atomically), with the model's config in the ``mrcnn_config``
        attribute (mrcnn.weights.read_config gives it back)."""
        weights_io.save_weights_h5(self.keras_model, filepath,
                                   config=self.config)

    def get_imagenet_weights(self):
        """Downloads the ImageNet-trained ResNet-50 weights (no top) and
        returns their path."""
        from .core.download import get_imagenet_weights
        return get_imagenet_weights()

    # -------------------------------------------------------------- training
    def compile(self, learning_rate, momentum, total_steps=None):
        """Attaches an SGD optimiser (momentum, gradient clipping, optional
        schedule) to the training model. Losses are the model's outputs."""
        c = self.config
        with self.strategy.scope():
            optimizer = T.make_optimizer(
                learning_rate, momentum, c.GRADIENT_CLIP_NORM,
                schedule=getattr(c, "LEARNING_RATE_SCHEDULE", None),
                total_steps=total_steps,
                warmup_steps=getattr(c, "LEARNING_RATE_WARMUP_STEPS", 0))
            # Never jit_compile the train step: NMS, CropAndResize and the
            # data-dependent shapes of the target layer have no XLA kernels.
            self.keras_model.compile(optimizer=optimizer, jit_compile=False)

    def set_trainable(self, layer_regex, keras_model=None, indent=0, verbose=1):
        """Sets model layers as trainable if their names match the regular
        expression (in full). Nested models (the RPN) are walked."""
        if verbose > 0 and keras_model is None:
            log("Selecting layers to train")
        keras_model = keras_model or self.keras_model
        for layer in keras_model.layers:
            if isinstance(layer, keras.Model):
                print_name = layer.name
                if re.fullmatch(layer_regex, layer.name):
                    # The whole nested model matches (e.g. rpn_model).
                    layer.trainable = True
                    for inner in layer.layers:
                        inner.trainable = True
                else:
                    layer.trainable = True
                    self.set_trainable(layer_regex, keras_model=layer,
                                       indent=indent + 4, verbose=verbose)
                continue
            if not layer.weights:
                continue
            trainable = bool(re.fullmatch(layer_regex, layer.name))
            layer.trainable = trainable
            if trainable and verbose > 0:
                log("{}{:20}   ({})".format(" " * indent, layer.name,
                                            layer.__class__.__name__))

    def find_trainable_layer(self, layer):
        """If a layer is wrapped (our TimeDistributed), the inner layer."""
        return getattr(layer, "layer", layer)

    def get_trainable_layers(self):
        """Layers that have weights."""
        return [self.find_trainable_layer(layer)
                for layer in self.keras_model.layers if layer.weights]

    def train(self, train_dataset, val_dataset, learning_rate, epochs, layers,
              augmentation=None, custom_callbacks=None,
              no_augmentation_sources=None, verbose=1, workers=None,
              seed=None):
        """Trains the model.

        train_dataset, val_dataset: prepared mrcnn.utils.Dataset objects.
        learning_rate: the learning rate.
        epochs: number of training epochs in total (not an increment): a run
            that already reached epoch 10 and is called with epochs=20 trains
            10 more.
        layers: "heads", "3+", "4+", "5+", "all" or a regex of layer names.
        augmentation: albumentations transform, imgaug-style augmenter or
            callable(image, mask) -> (image, mask); training data only.
        custom_callbacks: extra keras callbacks.
        no_augmentation_sources: dataset sources not to augment.
        verbose: Keras fit verbosity (1 = progress bar per epoch).
        workers: data-loading threads (default: up to 2).
        seed: makes the data order and sampling reproducible.
        Under a tf.distribute.MultiWorkerMirroredStrategy (``strategy=`` of
        the constructor) each worker reads its replicas' share of every
        global batch of num_replicas_in_sync * IMAGES_PER_GPU images
        (mrcnn.data.generator.distribute_sequence); seed is then required.
        Returns the keras History.
        """
        from .data.generator import MaskRCNNSequence
        if self.mode != "training":
            raise ValueError("Create model in training mode to train it.")
        c = self.config
        layers = T.LAYER_REGEX.get(layers, layers)
        workers = workers or min(2, multiprocessing.cpu_count())
        train_seq = MaskRCNNSequence(
            train_dataset, c, shuffle=True, augmentation=augmentation,
            no_augmentation_sources=no_augmentation_sources,
            steps=c.STEPS_PER_EPOCH, workers=workers, seed=seed)
        val_seq = MaskRCNNSequence(val_dataset, c, shuffle=True,
                                   steps=c.VALIDATION_STEPS, workers=workers,
                                   seed=None if seed is None else seed + 1)
        several = isinstance(self.strategy,
                             tf.distribute.MultiWorkerMirroredStrategy)
        if several:
            # One input pipeline per worker, each reading only its replicas'
            # share of every global batch, in the order the seed gives.
            from .data.generator import distribute_sequence
            train_seq = distribute_sequence(self.strategy, train_seq)
            val_seq = distribute_sequence(self.strategy, val_seq)
        os.makedirs(self.log_dir, exist_ok=True)
        checkpoint = T.CheckpointCallback(self.checkpoint_path, self.keras_model,
                                          config=self.config)
        callbacks = [keras.callbacks.TensorBoard(log_dir=self.log_dir,
                                                 histogram_freq=0,
                                                 write_graph=False),
                     T.NaNGuard(), checkpoint]
        callbacks += list(custom_callbacks or [])

        if verbose:
            log(f"\nStarting at epoch {self.epoch}. LR={learning_rate}\n")
            log(f"Checkpoint Path: {self.checkpoint_path}")
        self.set_trainable(layers, verbose=verbose)
        steps = max(0, epochs - self.epoch) * c.STEPS_PER_EPOCH
        self.compile(learning_rate, c.LEARNING_MOMENTUM, total_steps=steps)
        with self.strategy.scope():
            history = self.keras_model.fit(
                train_seq, initial_epoch=self.epoch, epochs=epochs,
                steps_per_epoch=c.STEPS_PER_EPOCH, callbacks=callbacks,
                validation_data=val_seq, validation_steps=c.VALIDATION_STEPS,
                verbose=verbose, shuffle=not several)
        self.epoch = max(self.epoch, epochs)
        self.last_checkpoints = checkpoint.saved
        if checkpoint.nan_epoch is not None:
            raise FloatingPointError(
                f"training diverged (NaN loss) at epoch {checkpoint.nan_epoch}; "
                f"last good checkpoint: "
                f"{checkpoint.saved[-1] if checkpoint.saved else 'none'}; try a "
                f"lower learning rate")
        return history

    # ------------------------------------------------------------- inference
    def get_anchors(self, image_shape):
        """Normalised anchors [A, (y1, x1, y2, x2)] for a molded image shape."""
        return get_anchors_normalized(self.config, image_shape)

    def mold_inputs(self, images):
        """Resizes, pads and normalises a list of images for the network.

        Returns: molded_images [N, h, w, 3], image_metas [N, meta],
        windows [N, (y1, x1, y2, x2)] (the image part of the molded image).
        """
        c = self.config
        molded_images, image_metas, windows = [], [], []
        for image in images:
            molded, window, scale, padding, crop = resize_image(
                image, min_dim=c.IMAGE_MIN_DIM, min_scale=c.IMAGE_MIN_SCALE,
                max_dim=c.IMAGE_MAX_DIM, mode=c.IMAGE_RESIZE_MODE)
            molded = mold_image(molded, c)
            meta = compose_image_meta(0, image.shape, molded.shape, window,
                                      scale, np.zeros([c.NUM_CLASSES],
                                                      dtype=np.int32))
            molded_images.append(molded)
            windows.append(window)
            image_metas.append(meta)
        return (np.stack(molded_images).astype(np.float32),
                np.stack(image_metas).astype(np.float32), np.stack(windows))

    def unmold_detections(self, detections, mrcnn_mask, original_image_shape,
                          image_shape, window):
        """Reformats one image's detections to the original image.

        detections: [D, (y1, x1, y2, x2, class_id, score)] normalised,
            zero-padded after the last detection
        mrcnn_mask: [D, mh, mw, K] (the graph's per-class masks), or
            [D, mh, mw] (each detection's own class mask, as _predict returns)
        original_image_shape: [H, W, C] before resizing
        image_shape: [h, w, C] molded; window: (y1, x1, y2, x2) pixels of the
            image inside the molded one
        Returns: boxes [N, (y1, x1, y2, x2)] int32 pixels, class_ids [N]
            int32, scores [N] float32, masks [H, W, N] bool (original size).
        Vectorised over detections except the per-mask resampling of
        paste_masks.
        """
        detections = np.asarray(detections)
        zero_ix = np.flatnonzero(detections[:, 4] == 0)
        n = int(zero_ix[0]) if zero_ix.size else detections.shape[0]
        boxes = detections[:n, :4]
        class_ids = detections[:n, 4].astype(np.int32)
        scores = detections[:n, 5].astype(np.float32)
        mrcnn_mask = np.asarray(mrcnn_mask)
        if mrcnn_mask.ndim == 4:
            masks = mrcnn_mask[np.arange(n), :, :, class_ids]
        else:
            masks = mrcnn_mask[:n]

        # Window -> normalised, then boxes from molded to original pixels.
        window = norm_boxes(window, image_shape[:2])
        wy1, wx1, wy2, wx2 = window
        shift = np.array([wy1, wx1, wy1, wx1])
        # A frame far wider than tall becomes a 1-pixel strip of the molded
        # image: keep the window at least one pixel so boxes stay finite.
        wh = max(wy2 - wy1, 1.0 / (image_shape[0] - 1))
        ww = max(wx2 - wx1, 1.0 / (image_shape[1] - 1))
        scale = np.array([wh, ww, wh, ww])
        boxes = np.divide(boxes - shift, scale)
        boxes = denorm_boxes(boxes, original_image_shape[:2]).astype(np.int32)

        keep = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) > 0
        boxes, class_ids, scores, masks = (boxes[keep], class_ids[keep],
                                           scores[keep], masks[keep])
        full_masks = paste_masks(masks, boxes, original_image_shape)
        return boxes, class_ids, scores, full_masks

    def _inference_parts(self):
        """The inference graph cut in two Keras models that share its layers
        (and weights): ``head`` [image, meta, anchors] -> [detections, P2,
        P3, P4, P5] and ``mask`` [boxes, meta, P2, P3, P4, P5] -> per-class
        masks (the mask branch after ``detection_boxes``). None when the
        graph cannot be cut (e.g. a custom graph without those layers)."""
        if hasattr(self, "_parts"):
            return self._parts
        km = self.keras_model
        try:
            feats = [km.get_layer(f"fpn_p{k}").output for k in (2, 3, 4, 5)]
            meta = km.get_layer("input_image_meta").output
            head = keras.Model(km.inputs,
                               [km.get_layer("mrcnn_detection").output] + feats,
                               name="mask_rcnn_head")
            mask = keras.Model([km.get_layer("detection_boxes").output, meta]
                               + feats, km.get_layer("mrcnn_mask").output,
                               name="mask_rcnn_mask_branch")
            self._parts = (head, mask)
        except Exception as e:  # keep detect() working on any graph
            logger.info("inference graph not split (%s); the mask head runs "
                        "on all DETECTION_MAX_INSTANCES slots", e)
            self._parts = None
        return self._parts

    def _inference_fn(self, shape):
        """The compiled inference function for molded inputs of ``shape``
        [B, h, w, C], built and traced once per shape.

        It runs the inference graph in two parts (see _inference_parts):
        backbone to detections, then the mask head on the detections only,
        not on the zero padding up to DETECTION_MAX_INSTANCES that
        Matterport's graph also feeds it (each ROI's mask is computed
        independently, so the masks are the same). Still inside the graph,
        each detection's own class mask is picked, so only detections
        [B, D, 6] and masks [B, D, mh, mw] leave TensorFlow (not the
        [B, D, mh, mw, K] per-class masks nor the RPN outputs); rows after
        the detections are zeros. Input shapes are fixed by an
        input_signature, so a call never retraces. With Config.XLA the
        function is first tried with jit_compile=True; graphs XLA cannot
        compile (CropAndResize, NMS and data-dependent shapes in our graph)
        fall back to the plain function with a warning, once.
        """
        key = tuple(int(v) for v in shape)
        entry = self._predict_fns.get(key)
        if entry is not None:
            return entry
        model = self.keras_model
        parts = self._inference_parts()
        c = self.config
        b, h, w, ch = key
        anchors_np = self.get_anchors((h, w, ch))
        anchors_np = np.ascontiguousarray(np.broadcast_to(
            anchors_np, (b,) + anchors_np.shape), dtype=np.float32)
        signature = [tf.TensorSpec(key, tf.float32),
                     tf.TensorSpec((b, int(c.IMAGE_META_SIZE)), tf.float32)]

        def class_masks(mrcnn_mask, class_ids):
            # [B, N, mh, mw, K] + [B, N] -> [B, N, mh, mw]
            ms = tf.shape(mrcnn_mask)
            flat = tf.reshape(mrcnn_mask, [ms[0] * ms[1], ms[2] * ms[3], ms[4]])
            picked = tf.gather(flat, tf.reshape(class_ids, [-1, 1]), axis=2,
                               batch_dims=1)
            return tf.reshape(picked, [ms[0], ms[1], ms[2], ms[3]])

        def forward(images, metas):
            self.trace_count += 1  # Python side effect: runs only when tracing
            # a constant of the traced graph, not a captured eager tensor, so
            # graphs that embed this function (mrcnn.export) stay self-contained
            anchors = tf.constant(anchors_np)
            if parts is None:
                outs = model([images, metas, anchors], training=False)
                detections = outs[0]
                return detections, class_masks(
                    outs[3], tf.cast(detections[..., 4], tf.int32))
            head, mask = parts
            detections, *feats = head([images, metas, anchors], training=False)
            class_ids = tf.cast(detections[..., 4], tf.int32)
            d = tf.shape(detections)[1]
            # detections are packed first (DetectionLayer zero-pads after
            # them); at least one row keeps every shape non-empty
            n = tf.maximum(tf.reduce_max(tf.reduce_sum(
                tf.cast(class_ids > 0, tf.int32), axis=1)), 1)
            mrcnn_mask = mask([detections[:, :n, :4], metas] + feats,
                              training=False)
            masks = class_masks(mrcnn_mask, class_ids[:, :n])
            masks = tf.pad(masks, [[0, 0], [0, d - n], [0, 0], [0, 0]])
            return detections, masks

        # autograph=False: forward has no tensor-dependent Python control
        # flow, and AutoGraph only warns that it cannot convert the model.
        fn = tf.function(forward, input_signature=signature, autograph=False,
                         jit_compile=bool(getattr(c, "XLA", False)))
        entry = {"fn": fn, "xla": bool(getattr(c, "XLA", False)),
                 "plain": forward, "signature": signature}
        self._predict_fns[key] = entry
        return entry

    def _predict(self, molded_images, image_metas):
        """Runs the inference graph on molded inputs (one compiled
        tf.function per input shape, see _inference_fn).

        molded_images: [B, h, w, C] float32; image_metas: [B, META]; the
            anchors of the shape are a constant of the compiled function.
        Returns: detections [B, D, (y1, x1, y2, x2, class_id, score)]
            normalised and masks [B, D, mh, mw] float32 (each detection's
            own class), as numpy arrays.
        """
        molded_images = np.asarray(molded_images, dtype=np.float32)
        image_metas = np.asarray(image_metas, dtype=np.float32)
        entry = self._inference_fn(molded_images.shape)
        args = (tf.constant(molded_images), tf.constant(image_metas))
        try:
            detections, masks = entry["fn"](*args)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError,
                tf.errors.InternalError) as e:
            if not entry["xla"]:
                raise
            logger.warning("Config.XLA: the inference graph does not compile "
                           "with XLA (%s); running it without XLA",
                           str(e).strip().splitlines()[0][:200])
            entry["fn"] = tf.function(entry["plain"], autograph=False,
                                      input_signature=entry["signature"])
            entry["xla"] = False
            detections, masks = entry["fn"](*args)
        return detections.numpy(), masks.numpy()

    def _check_batch(self, images):
        if len(images) != self.config.BATCH_SIZE:
            raise ValueError(f"len(images) must be equal to BATCH_SIZE "
                             f"({self.config.BATCH_SIZE}), got {len(images)}")

    def detect(self, images, verbose=0):
        """Runs the detection pipeline.

        images: list of images (HxWx3 uint8), len == BATCH_SIZE.
        Returns a list of dicts, one per image:
            rois: [N, (y1, x1, y2, x2)] int32 detection boxes
            class_ids: [N] int32
            scores: [N] float32
            masks: [H, W, N] bool instance masks at the original size

        This is the fast path for real-time use: one compiled graph per
        input size (MaskRCNN.trace_count counts the traces), only the
        detections and their own class masks leave the graph, and masks are
        pasted once at the end (mrcnn.core.masks.paste_masks). After each
        call ``self.last_detect_timing`` holds the seconds spent in
        {"mold_s", "model_s", "unmold_s", "total_s"}.
        """
        if self.mode != "inference":
            raise ValueError("Create model in inference mode to detect.")
        self._check_batch(images)
        images = [as_rgb(im) for im in images]
        if verbose:
            log("Processing {} images".format(len(images)))
            for image in images:
                log("image", image)
        t0 = time.perf_counter()
        molded_images, image_metas, windows = self.mold_inputs(images)
        image_shape = molded_images[0].shape
        for g in molded_images[1:]:
            if g.shape != image_shape:
                raise ValueError("After resizing, all images must have the "
                                 "same size. Check IMAGE_RESIZE_MODE and "
                                 "image sizes.")
        if verbose:
            log("molded_images", molded_images)
            log("image_metas", image_metas)
            anchors = self.get_anchors(image_shape)
            log("anchors", np.broadcast_to(anchors, (len(images),) +
                                           anchors.shape))
        t1 = time.perf_counter()
        detections, masks = self._predict(molded_images, image_metas)
        t2 = time.perf_counter()
        results = []
        for i, image in enumerate(images):
            rois, class_ids, scores, full_masks = self.unmold_detections(
                detections[i], masks[i], image.shape,
                molded_images[i].shape, windows[i])
            results.append({"rois": rois, "class_ids": class_ids,
                            "scores": scores, "masks": full_masks})
        t3 = time.perf_counter()
        self.last_detect_timing = {"mold_s": t1 - t0, "model_s": t2 - t1,
                                   "unmold_s": t3 - t2, "total_s": t3 - t0}
        return results

    def detect_molded(self, molded_images, image_metas, verbose=0):
        """Runs detection on images that are already molded (e.g. from
        load_image_gt). Masks come back at the molded size."""
        if self.mode != "inference":
            raise ValueError("Create model in inference mode to detect.")
        self._check_batch(molded_images)
        molded_images = np.asarray(molded_images, np.float32)
        image_metas = np.asarray(image_metas, np.float32)
        detections, masks = self._predict(molded_images, image_metas)
        results = []
        for i, image in enumerate(molded_images):
            window = [0, 0, image.shape[0], image.shape[1]]
            rois, class_ids, scores, full_masks = self.unmold_detections(
                detections[i], masks[i], image.shape,
                molded_images[i].shape, window)
            results.append({"rois": rois, "class_ids": class_ids,
                            "scores": scores, "masks": full_masks})
        return results

    def ancestor(self, tensor, name, checked=None):
        """Matterport's graph walk (find the ancestor of ``tensor`` named
        ``name``). Not available: see the error message."""
        raise NotImplementedError(
            "MaskRCNN.ancestor() cannot work with Keras 3: its symbolic tensors "
            "are not TensorFlow graph tensors and keep no op inputs or TF names "
            "to walk back through; take the layer's output instead, "
            "model.keras_model.get_layer(name).output, and evaluate it with "
            "model.run_graph(images, [(name, that_output)])")

    def run_graph(self, images, outputs, image_metas=None):
        """Runs a sub-graph and returns named intermediate values.

        outputs: list of (name, tensor) tuples, tensors from this model's graph
            (e.g. model.keras_model.get_layer("ROI").output).
        Returns an ordered dict of name -> numpy array.
        """
        from collections import OrderedDict
        model = self.keras_model
        names = [n for n, _ in outputs]
        tensors = [t for _, t in outputs]
        sub = keras.Model(model.inputs, tensors)
        molded_images, metas, _ = self.mold_inputs(images)
        if image_metas is not None:
            metas = np.asarray(image_metas, np.float32)
        inputs = [molded_images, metas]
        if self.mode == "inference":
            anchors = self.get_anchors(molded_images[0].shape)
            inputs.append(np.broadcast_to(anchors, (len(images),) + anchors.shape))
        values = sub(inputs, training=False)
        if not isinstance(values, (list, tuple)):
            values = [values]
        result = OrderedDict()
        for n, v in zip(names, values):
            result[n] = np.asarray(v)
            log(n, result[n])
        return result
