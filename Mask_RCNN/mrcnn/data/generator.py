"""Training data pipeline: load_image_gt, Matterport's data_generator, and
MaskRCNNSequence (a keras.utils.PyDataset yielding dicts of named inputs).

Shapes (B = batch size, A = anchors, G = MAX_GT_INSTANCES):
    input_image        [B, H, W, 3] float32 (molded: minus MEAN_PIXEL)
    input_image_meta   [B, IMAGE_META_SIZE] float32
    input_rpn_match    [B, A, 1] int32 (1 positive, -1 negative, 0 neutral)
    input_rpn_bbox     [B, RPN_TRAIN_ANCHORS_PER_IMAGE, (dy, dx, log(dh), log(dw))]
    input_gt_class_ids [B, G] int32 (0 = padding, negative = crowd)
    input_gt_boxes     [B, G, (y1, x1, y2, x2)] float32 pixels
    input_gt_masks     [B, MINI_MASK_SHAPE[0], MINI_MASK_SHAPE[1], G] uint8 0/1
                       ([B, H, W, G] without mini masks)
"""
import logging

import keras
import numpy as np

from mrcnn.core.anchors import compute_backbone_shapes, generate_pyramid_anchors
from mrcnn.core.boxes import extract_bboxes
from mrcnn.core.images import resize_image, resize_mask
from mrcnn.core.masks import minimize_mask
from mrcnn.core.meta import compose_image_meta, mold_image
from mrcnn.core.targets import build_detection_targets, build_rpn_targets
from mrcnn.data.augment import apply_augmentation

__all__ = ["load_image_gt", "data_generator", "generate_random_rois",
           "MaskRCNNSequence", "distribute_sequence", "ImageDataError",
           "INPUT_NAMES"]

INPUT_NAMES = ("input_image", "input_image_meta", "input_rpn_match",
               "input_rpn_bbox", "input_gt_class_ids", "input_gt_boxes",
               "input_gt_masks")


class ImageDataError(RuntimeError):
    """Loading or preparing one training image failed."""


def _describe(dataset, image_id):
    try:
        info = dataset.image_info[image_id]
        return "image id %s (%s)" % (image_id, info.get("path", "?"))
    except Exception:
        return "image id %s" % (image_id,)


_PIXEL_ANCHORS = {}


def pixel_anchors(config, image_shape):
    """Pyramid anchors in pixels for an input of image_shape (cached).

    Returns [N, (y1, x1, y2, x2)] float64 (read-only).
    """
    shapes = compute_backbone_shapes(config, image_shape)
    key = (int(image_shape[0]), int(image_shape[1]),
           tuple(np.ravel(config.RPN_ANCHOR_SCALES).tolist()),
           tuple(np.ravel(config.RPN_ANCHOR_RATIOS).tolist()),
           tuple(np.ravel(config.BACKBONE_STRIDES).tolist()),
           int(config.RPN_ANCHOR_STRIDE), tuple(np.ravel(shapes).tolist()))
    a = _PIXEL_ANCHORS.get(key)
    if a is None:
        a = generate_pyramid_anchors(config.RPN_ANCHOR_SCALES,
                                     config.RPN_ANCHOR_RATIOS, shapes,
                                     config.BACKBONE_STRIDES,
                                     config.RPN_ANCHOR_STRIDE)
        a.setflags(write=False)
        _PIXEL_ANCHORS[key] = a
    return a


def load_image_gt(dataset, config, image_id, augment=False, augmentation=None,
                  use_mini_mask=False, rng=None):
    """Load and prepare the ground truth of one image (Matterport's
    signature: ``augment`` before ``augmentation``, mini masks off unless
    asked for, as Matterport's notebooks expect).

    dataset: prepared Dataset; config: Config; image_id: index in dataset.
    augment: (deprecated, Matterport) random left-right flip with p=0.5.
    augmentation: see mrcnn.data.augment.apply_augmentation (imgaug,
        albumentations or a callable).
    use_mini_mask: shrink the masks to config.MINI_MASK_SHAPE (the training
        pipeline passes config.USE_MINI_MASK); None means config.USE_MINI_MASK.
    rng: optional np.random.Generator (crop position, flips, callables).
    Returns:
        image: [height, width, 3] uint8, resized per config
        image_meta: [IMAGE_META_SIZE] (see compose_image_meta)
        class_ids: [instances] int32
        bbox: [instances, (y1, x1, y2, x2)] int32
        mask: [height, width, instances] bool, or
              [MINI_MASK_SHAPE[0], MINI_MASK_SHAPE[1], instances] with mini masks
    Instances whose mask is empty after resizing/augmentation are dropped.
    """
    if use_mini_mask is None:
        use_mini_mask = config.USE_MINI_MASK
    num_classes = getattr(dataset, "num_classes", None)
    if num_classes is None:
        raise ValueError("load_image_gt: call dataset.prepare() first")
    if num_classes != config.NUM_CLASSES:
        raise ValueError(
            "dataset has %d classes (background included) but "
            "config.NUM_CLASSES is %d" % (num_classes, config.NUM_CLASSES))
    image = dataset.load_image(image_id)
    mask, class_ids = dataset.load_mask(image_id)
    mask = np.asarray(mask)
    class_ids = np.asarray(class_ids, dtype=np.int32)
    if mask.ndim != 3 or mask.shape[-1] != class_ids.shape[0]:
        raise ValueError("%s: load_mask returned masks of shape %s for %d class "
                         "ids (expected [height, width, instances])"
                         % (_describe(dataset, image_id), mask.shape,
                            class_ids.shape[0]))
    if mask.shape[-1] and mask.shape[:2] != image.shape[:2]:
        raise ValueError("%s: mask size %s differs from image size %s"
                         % (_describe(dataset, image_id), mask.shape[:2],
                            image.shape[:2]))
    if mask.shape[-1] == 0:
        mask = np.zeros(image.shape[:2] + (0,), dtype=bool)
    original_shape = image.shape
    image, window, scale, padding, crop = resize_image(
        image, min_dim=config.IMAGE_MIN_DIM, min_scale=config.IMAGE_MIN_SCALE,
        max_dim=config.IMAGE_MAX_DIM, mode=config.IMAGE_RESIZE_MODE, rng=rng)
    mask = resize_mask(mask, scale, padding, crop)

    if augment:
        flip = (rng.random() if rng is not None else np.random.random()) < 0.5
        if flip:
            image = np.fliplr(image)
            mask = np.fliplr(mask)
    if augmentation is not None:
        image, mask = apply_augmentation(image, mask, augmentation, rng=rng)

    # Drop instances that vanished (cropped / augmented away).
    keep = np.sum(mask, axis=(0, 1)) > 0
    mask = mask[:, :, keep]
    class_ids = class_ids[keep]
    bbox = extract_bboxes(mask)

    active_class_ids = np.zeros([num_classes], dtype=np.int32)
    source = dataset.image_info[image_id]["source"]
    active_class_ids[dataset.source_class_ids[source]] = 1

    if use_mini_mask:
        mask = minimize_mask(bbox, mask, config.MINI_MASK_SHAPE)
    image_meta = compose_image_meta(image_id, original_shape, image.shape,
                                    window, scale, active_class_ids)
    return np.ascontiguousarray(image), image_meta, class_ids, bbox, mask


def generate_random_rois(image_shape, count, gt_class_ids, gt_boxes, rng=None):
    """Random ROIs: 90% around the gt boxes, the rest anywhere (Matterport).

    Returns [count, (y1, x1, y2, x2)] int32.
    """
    rng = rng if rng is not None else np.random.default_rng()
    rois = np.zeros((count, 4), dtype=np.int32)
    n_gt = gt_boxes.shape[0]
    rois_per_box = int(0.9 * count / n_gt) if n_gt else 0

    def sample(y_lo, y_hi, x_lo, x_hi, n):
        if n <= 0:
            return np.zeros((0, 4), dtype=np.int32)
        y_hi = max(y_hi, y_lo + 2)
        x_hi = max(x_hi, x_lo + 2)
        while True:
            yy = rng.integers(y_lo, y_hi, (n * 2, 2))
            xx = rng.integers(x_lo, x_hi, (n * 2, 2))
            yy = yy[np.abs(yy[:, 0] - yy[:, 1]) >= 1][:n]
            xx = xx[np.abs(xx[:, 0] - xx[:, 1]) >= 1][:n]
            if yy.shape[0] == n and xx.shape[0] == n:
                break
        yy = np.sort(yy, axis=1)
        xx = np.sort(xx, axis=1)
        return np.stack([yy[:, 0], xx[:, 0], yy[:, 1], xx[:, 1]], axis=1)

    for i in range(n_gt):
        y1, x1, y2, x2 = [int(v) for v in gt_boxes[i]]
        h, w = y2 - y1, x2 - x1
        rois[rois_per_box * i:rois_per_box * (i + 1)] = sample(
            max(y1 - h, 0), min(y2 + h, image_shape[0]),
            max(x1 - w, 0), min(x2 + w, image_shape[1]), rois_per_box)
    remaining = count - rois_per_box * n_gt
    if remaining > 0:
        rois[-remaining:] = sample(0, image_shape[0], 0, image_shape[1], remaining)
    return rois


def _subsample_gt(gt_class_ids, gt_boxes, gt_masks, max_instances, rng):
    if gt_boxes.shape[0] > max_instances:
        if rng is None:
            ids = np.random.choice(np.arange(gt_boxes.shape[0]), max_instances,
                                   replace=False)
        else:
            ids = rng.choice(gt_boxes.shape[0], max_instances, replace=False)
        gt_class_ids = gt_class_ids[ids]
        gt_boxes = gt_boxes[ids]
        gt_masks = gt_masks[:, :, ids]
    return gt_class_ids, gt_boxes, gt_masks


def data_generator(dataset, config, shuffle=True, augment=False,
                   augmentation=None, random_rois=0, batch_size=1,
                   detection_targets=False, no_augmentation_sources=None):
    """Endless generator of training batches, as Matterport's.

    Yields (inputs, outputs):
        inputs = [images, image_metas, rpn_match, rpn_bbox, gt_class_ids,
                  gt_boxes, gt_masks] (+ [rpn_rois] with random_rois,
                  + [rois] with detection_targets)
        outputs = [] (or [mrcnn_class_ids [B, rois, 1], mrcnn_bbox,
                  mrcnn_mask] with detection_targets)
    images: [B, H, W, 3] float32 molded; image_metas [B, META] float64;
    rpn_match [B, A, 1] int32; rpn_bbox [B, RPN_TRAIN_ANCHORS_PER_IMAGE, 4];
    gt_class_ids [B, G] int32; gt_boxes [B, G, 4] int32 pixels;
    gt_masks [B, h, w, G] bool.
    Images without instances are skipped (unless
    config.TRAIN_ON_EMPTY_IMAGES); after more than 5 failed images the error
    is raised.
    """
    b = 0
    image_index = -1
    image_ids = np.copy(dataset.image_ids)
    if len(image_ids) == 0:
        raise ValueError("data_generator: the dataset has no images (did you "
                         "call prepare()?)")
    error_count = 0
    no_augmentation_sources = no_augmentation_sources or []
    anchors = pixel_anchors(config, config.IMAGE_SHAPE)

    while True:
        try:
            image_index = (image_index + 1) % len(image_ids)
            if shuffle and image_index == 0:
                np.random.shuffle(image_ids)
            image_id = image_ids[image_index]
            aug = None if dataset.image_info[image_id]["source"] in \
                no_augmentation_sources else augmentation
            image, image_meta, gt_class_ids, gt_boxes, gt_masks = load_image_gt(
                dataset, config, image_id, augment=augment, augmentation=aug,
                use_mini_mask=config.USE_MINI_MASK)
            if not np.any(gt_class_ids > 0) and not config.TRAIN_ON_EMPTY_IMAGES:
                continue
            rpn_match, rpn_bbox = build_rpn_targets(
                image.shape, anchors, gt_class_ids, gt_boxes, config)
            if random_rois:
                rpn_rois = generate_random_rois(image.shape, random_rois,
                                                gt_class_ids, gt_boxes)
                if detection_targets:
                    rois, mrcnn_class_ids, mrcnn_bbox, mrcnn_mask = \
                        build_detection_targets(rpn_rois, gt_class_ids,
                                                gt_boxes, gt_masks, config)
            if b == 0:
                batch_image_meta = np.zeros((batch_size,) + image_meta.shape,
                                            dtype=image_meta.dtype)
                batch_rpn_match = np.zeros([batch_size, anchors.shape[0], 1],
                                           dtype=rpn_match.dtype)
                batch_rpn_bbox = np.zeros(
                    [batch_size, config.RPN_TRAIN_ANCHORS_PER_IMAGE, 4],
                    dtype=rpn_bbox.dtype)
                batch_images = np.zeros((batch_size,) + image.shape,
                                        dtype=np.float32)
                batch_gt_class_ids = np.zeros(
                    (batch_size, config.MAX_GT_INSTANCES), dtype=np.int32)
                batch_gt_boxes = np.zeros(
                    (batch_size, config.MAX_GT_INSTANCES, 4), dtype=np.int32)
                batch_gt_masks = np.zeros(
                    (batch_size, gt_masks.shape[0], gt_masks.shape[1],
                     config.MAX_GT_INSTANCES), dtype=gt_masks.dtype)
                if random_rois:
                    batch_rpn_rois = np.zeros(
                        (batch_size, rpn_rois.shape[0], 4), dtype=rpn_rois.dtype)
                    if detection_targets:
                        batch_rois = np.zeros((batch_size,) + rois.shape,
                                              dtype=rois.dtype)
                        batch_mrcnn_class_ids = np.zeros(
                            (batch_size,) + mrcnn_class_ids.shape,
                            dtype=mrcnn_class_ids.dtype)
                        batch_mrcnn_bbox = np.zeros(
                            (batch_size,) + mrcnn_bbox.shape,
                            dtype=mrcnn_bbox.dtype)
                        batch_mrcnn_mask = np.zeros(
                            (batch_size,) + mrcnn_mask.shape,
                            dtype=mrcnn_mask.dtype)

            gt_class_ids, gt_boxes, gt_masks = _subsample_gt(
                gt_class_ids, gt_boxes, gt_masks, config.MAX_GT_INSTANCES, None)

            batch_image_meta[b] = image_meta
            batch_rpn_match[b] = rpn_match[:, np.newaxis]
            batch_rpn_bbox[b] = rpn_bbox
            batch_images[b] = mold_image(image.astype(np.float32), config)
            batch_gt_class_ids[b, :gt_class_ids.shape[0]] = gt_class_ids
            batch_gt_boxes[b, :gt_boxes.shape[0]] = gt_boxes
            batch_gt_masks[b, :, :, :gt_masks.shape[-1]] = gt_masks
            if random_rois:
                batch_rpn_rois[b] = rpn_rois
                if detection_targets:
                    batch_rois[b] = rois
                    batch_mrcnn_class_ids[b] = mrcnn_class_ids
                    batch_mrcnn_bbox[b] = mrcnn_bbox
                    batch_mrcnn_mask[b] = mrcnn_mask
            b += 1

            if b >= batch_size:
                inputs = [batch_images, batch_image_meta, batch_rpn_match,
                          batch_rpn_bbox, batch_gt_class_ids, batch_gt_boxes,
                          batch_gt_masks]
                outputs = []
                if random_rois:
                    inputs.extend([batch_rpn_rois])
                    if detection_targets:
                        inputs.extend([batch_rois])
                        outputs.extend([np.expand_dims(batch_mrcnn_class_ids, -1),
                                        batch_mrcnn_bbox, batch_mrcnn_mask])
                yield inputs, outputs
                b = 0
        except (GeneratorExit, KeyboardInterrupt):
            raise
        except Exception:
            logging.exception("Error processing %s",
                              _describe(dataset, image_ids[image_index]))
            error_count += 1
            if error_count > 5:
                raise


class MaskRCNNSequence(keras.utils.PyDataset):
    """Training batches for Keras 3 `fit`, as dicts keyed by input name.

    dataset: prepared Dataset; config: Config; shuffle: new order each epoch;
    augmentation: see apply_augmentation; no_augmentation_sources: sources
    never augmented; batch_size: default config.BATCH_SIZE; steps: batches per
    epoch (default num_images // batch_size, at least 1); seed: makes the
    order, subsampling and random crops reproducible (augmentation libraries
    keep their own RNGs); workers / use_multiprocessing / max_queue_size: as
    keras.utils.PyDataset.

    Batch idx of an epoch takes images from that epoch's order starting at
    idx * batch_size (wrapping around); images without instances are skipped
    (and left out of the following epochs' orders) unless
    config.TRAIN_ON_EMPTY_IMAGES. With config.USE_RPN_ROIS False the batches
    also hold "input_roi": [B, POST_NMS_ROIS_TRAINING, (y1, x1, y2, x2)] in
    pixels, from generate_random_rois (what Matterport's data_generator
    gives with random_rois; its train() never asked for them).
    """

    def __init__(self, dataset, config, shuffle=True, augmentation=None,
                 no_augmentation_sources=None, batch_size=None, steps=None,
                 seed=None, workers=2, use_multiprocessing=False,
                 max_queue_size=10):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)
        self.dataset = dataset
        self.config = config
        self.shuffle = shuffle
        self.augmentation = augmentation
        self.no_augmentation_sources = list(no_augmentation_sources or [])
        self.batch_size = int(batch_size or config.BATCH_SIZE)
        if self.batch_size < 1:
            raise ValueError("MaskRCNNSequence: batch_size must be >= 1")
        self.image_ids = np.array(dataset.image_ids)
        if len(self.image_ids) == 0:
            raise ValueError("MaskRCNNSequence: the dataset has no images (did "
                             "you call prepare()?)")
        if steps is None:
            steps = max(1, len(self.image_ids) // self.batch_size)
        self.steps = int(steps)
        self.seed = seed
        self.epoch = 0
        self._empty = set()  # image ids known to have no instance
        self._order = self._make_order()

    # -- ordering ------------------------------------------------------
    def _make_order(self, skip_empty=True):
        # Images found empty in earlier epochs are left out (if all were
        # empty, keep them so __getitem__ can report it). skip_empty=False:
        # an order that depends on the seed and epoch alone (the workers of
        # distribute_sequence each find other images empty).
        ids = np.array([i for i in self.image_ids
                        if not skip_empty or int(i) not in self._empty])
        if len(ids) == 0:
            ids = self.image_ids.copy()
        if not self.shuffle:
            return ids
        if self.seed is None:
            rng = np.random.default_rng()
        else:
            rng = np.random.default_rng([int(self.seed), self.epoch, 0])
        return rng.permutation(ids)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._make_order()

    def __len__(self):
        return self.steps

    def _item_rng(self, idx, k):
        if self.seed is None:
            return np.random.default_rng()
        return np.random.default_rng([int(self.seed), self.epoch, 1, idx, k])

    # -- loading -------------------------------------------------------
    def _load(self, image_id, rng):
        config = self.config
        source = self.dataset.image_info[image_id]["source"]
        aug = None if source in self.no_augmentation_sources else self.augmentation
        try:
            image, image_meta, class_ids, boxes, masks = load_image_gt(
                self.dataset, config, image_id, augmentation=aug,
                use_mini_mask=config.USE_MINI_MASK, rng=rng)
        except ImageDataError:
            raise
        except Exception as e:
            raise ImageDataError("%s: %s: %s" % (
                _describe(self.dataset, image_id), type(e).__name__, e)) from e
        return image, image_meta, class_ids, boxes, masks

    def __getitem__(self, idx):
        config = self.config
        order = self._order
        n = len(order)
        B = self.batch_size
        G = int(config.MAX_GT_INSTANCES)
        batch = None
        b = 0
        pos = (int(idx) * B) % n
        tried = 0
        while b < B:
            if tried >= n and b == 0:
                break  # a full pass found no image with instances
            image_id = int(order[pos])
            pos = (pos + 1) % n
            tried += 1
            if image_id in self._empty:
                continue
            rng = self._item_rng(idx, tried)
            image, image_meta, class_ids, boxes, masks = self._load(image_id, rng)
            if not np.any(class_ids > 0) and not config.TRAIN_ON_EMPTY_IMAGES:
                self._empty.add(image_id)
                continue
            try:
                anchors = pixel_anchors(config, image.shape)
                rpn_match, rpn_bbox = build_rpn_targets(
                    image.shape, anchors, class_ids, boxes, config, rng=rng)
            except Exception as e:
                raise ImageDataError("%s: building RPN targets failed: %s: %s"
                                     % (_describe(self.dataset, image_id),
                                        type(e).__name__, e)) from e
            class_ids, boxes, masks = _subsample_gt(class_ids, boxes, masks, G, rng)
            if not config.USE_RPN_ROIS:
                n_rois = int(config.POST_NMS_ROIS_TRAINING)
                rois = generate_random_rois(image.shape, n_rois,
                                            class_ids, boxes, rng=rng)
            if batch is None:
                batch = {
                    "input_image": np.zeros((B,) + image.shape, np.float32),
                    "input_image_meta": np.zeros((B, image_meta.shape[0]),
                                                 np.float32),
                    "input_rpn_match": np.zeros((B, anchors.shape[0], 1),
                                                np.int32),
                    "input_rpn_bbox": np.zeros(
                        (B, config.RPN_TRAIN_ANCHORS_PER_IMAGE, 4), np.float32),
                    "input_gt_class_ids": np.zeros((B, G), np.int32),
                    "input_gt_boxes": np.zeros((B, G, 4), np.float32),
                    # uint8 0/1, not bool: tf.distribute cannot split bool
                    # batches across replicas (the model input is uint8).
                    "input_gt_masks": np.zeros(
                        (B, masks.shape[0], masks.shape[1], G), np.uint8),
                }
                if not config.USE_RPN_ROIS:
                    batch["input_roi"] = np.zeros((B, n_rois, 4), np.float32)
            elif batch["input_image"].shape[1:] != image.shape:
                raise ImageDataError(
                    "%s: resized image shape %s differs from the batch's %s; "
                    "use batch_size=1 or a fixed-size IMAGE_RESIZE_MODE"
                    % (_describe(self.dataset, image_id), image.shape,
                       batch["input_image"].shape[1:]))
            k = class_ids.shape[0]
            batch["input_image"][b] = mold_image(image, config)
            batch["input_image_meta"][b] = image_meta
            batch["input_rpn_match"][b, :, 0] = rpn_match
            batch["input_rpn_bbox"][b] = rpn_bbox
            batch["input_gt_class_ids"][b, :k] = class_ids
            batch["input_gt_boxes"][b, :k] = boxes
            batch["input_gt_masks"][b, :, :, :k] = masks
            if not config.USE_RPN_ROIS:
                batch["input_roi"][b] = rois
            b += 1
        if b < B:
            raise ValueError(
                "MaskRCNNSequence: no image with instances found in the dataset "
                "(%d images, all without masks)" % n)
        return batch


def distribute_sequence(strategy, sequence):
    """The input of ``fit()`` under a multi-worker ``tf.distribute`` strategy
    (MultiWorkerMirroredStrategy): every worker reads only the images of its
    own replicas, and together they read what one process would read with
    the global batch.

    strategy: the worker's strategy; R = strategy.num_replicas_in_sync
        replicas in all, L of them on this worker (its input pipeline p of
        P = R / L).
    sequence: a MaskRCNNSequence of BATCH_SIZE = L * IMAGES_PER_GPU images,
        built with the same dataset, steps and seed on every worker.
    Global step s of an epoch is the global batch s of R * b images (b =
        IMAGES_PER_GPU) in the epoch's order, i.e. positions s*R*b ..
        (s+1)*R*b - 1: replica r = p*L + j reads positions (s*R + r)*b ..
        (s*R + r + 1)*b - 1, the r-th slice. A single process with BATCH_SIZE
        = R * b reads the same images at step s (per-image random draws
        differ: they are seeded by the replica's batch index).
    The order depends on seed and epoch only (not on which images a worker
    has found empty), so the workers never disagree on it; a sequence
    without a seed is refused (each worker would draw its own order).

    Returns a tf.distribute DistributedDatasetsFromFunction of dicts of
    per-replica batches (shapes as MaskRCNNSequence, with B = b), endless:
    fit() must be given steps_per_epoch.
    """
    import copy

    import tensorflow as tf

    if sequence.shuffle and sequence.seed is None:
        raise ValueError(
            "distribute_sequence: the sequence has no seed; every worker "
            "would draw its own image order (pass seed= to train())")
    replicas = int(strategy.num_replicas_in_sync)
    local = len(strategy.extended.worker_devices)
    if sequence.batch_size % local:
        raise ValueError(
            "distribute_sequence: batch size %d is not a multiple of the %d "
            "replicas on this worker" % (sequence.batch_size, local))
    seq = copy.copy(sequence)
    seq.batch_size = sequence.batch_size // local        # per replica
    seq._empty = set()

    def batch_index(context, k):
        # k-th element of this pipeline -> index of a per-replica batch
        step, j = divmod(k, local)
        return step * replicas + context.input_pipeline_id * local + j

    def dataset_fn(context):
        if context.num_replicas_in_sync != replicas:
            raise ValueError("distribute_sequence: the input context has %d "
                             "replicas, the strategy %d"
                             % (context.num_replicas_in_sync, replicas))
        seq.epoch = 0
        seq._order = seq._make_order(skip_empty=False)
        first = seq[batch_index(context, 0)]
        names = sorted(first)
        signature = {n: tf.TensorSpec(first[n].shape, first[n].dtype)
                     for n in names}

        def generate():
            seq.epoch = 0
            seq._order = seq._make_order(skip_empty=False)
            while True:
                for k in range(len(seq) * local):
                    if k == 0 and seq.epoch == 0:
                        yield first
                    else:
                        yield seq[batch_index(context, k)]
                seq.epoch += 1
                seq._order = seq._make_order(skip_empty=False)

        return tf.data.Dataset.from_generator(
            generate, output_signature=signature).prefetch(2)

    return strategy.distribute_datasets_from_function(dataset_fn)
