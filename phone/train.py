"""Training: Matterport's balloon recipe for the phone class (``phone train``).

    config  = phone.config.training_config()   (PhoneConfig, or --config / --image-size)
    train   = PhoneDataset().load_phone(dataset, "train")
    val     = PhoneDataset().load_phone(dataset, "val")
    model   = MaskRCNN("training", config, model_dir=logs)
    weights = coco (class-specific layers excluded) | last | imagenet | PATH
    model.train(train, val, learning_rate, epochs, layers, augmentation)

Checkpoints go to ``logs/phoneYYYYmmddTHHMM/mask_rcnn_phone_NNNN.h5``; the
newest one is what ``--weights last`` picks.
"""
import os
import sys

from phone.errors import CommandError, PhoneDataError

__all__ = ["load_datasets", "unreadable_images", "build_augmentation",
           "resolve_start_weights", "train"]


def unreadable_images(dataset):
    """Decode every image of a prepared dataset; returns the one-line
    problems ("path: what is wrong") of those that cannot be read or whose
    pixels do not match the size the annotations were rasterised for."""
    problems = []
    for image_id in dataset.image_ids:
        info = dataset.image_info[image_id]
        try:
            image = dataset.load_image(image_id)
        except PhoneDataError as e:
            problems.append(" ".join(str(e).split()))
            continue
        size = (info.get("height"), info.get("width"))
        if None not in size and tuple(image.shape[:2]) != size:
            problems.append(f"{info.get('path')}: decodes to {image.shape[1]}x{image.shape[0]} "
                            f"but its header says {size[1]}x{size[0]}")
    return problems


def load_datasets(dataset_dir, train_via=None):
    """Prepared (train, val) PhoneDatasets from dataset_dir/train and /val.

    train_via: VIA file(s) for the training subset instead of
    train/via_region_data.json, e.g. a corrected ``phone annotate`` project
    next to the hand-drawn annotations (several files: a frame in more than
    one takes the regions of the later file, with a warning naming both).

    Every image is decoded once up front, so a truncated or corrupt frame is
    reported before the model is built (listed on stderr, CommandError)
    instead of stopping the training when its turn comes.
    Raises PhoneDataError / CommandError naming the folder or file."""
    from phone.dataset import PhoneDataset
    if not os.path.isdir(dataset_dir):
        raise CommandError(f"{dataset_dir}: no such dataset folder (--dataset)")
    out = []
    for subset in ("train", "val"):
        ds = PhoneDataset()
        n = ds.load_phone(dataset_dir, subset,
                          via_file=list(train_via) if (train_via and subset == "train") else None)
        if n == 0:
            raise CommandError(f"{os.path.join(dataset_dir, subset)}: no annotated images")
        ds.prepare()
        bad = unreadable_images(ds)
        if bad:
            for line in bad[:20]:
                print(f"  {line}", file=sys.stderr)
            if len(bad) > 20:
                print(f"  ... and {len(bad) - 20} more", file=sys.stderr)
            more = f" (and {len(bad) - 1} more, listed above)" if len(bad) > 1 else ""
            raise CommandError(f"{os.path.join(dataset_dir, subset)}: {len(bad)} of {n} images "
                               f"cannot be used: {bad[0]}{more}; fix or remove them from "
                               f"the annotation file")
        out.append(ds)
    return tuple(out)


def build_augmentation():
    """The --augment pipeline (albumentations): horizontal flip, mild affine
    (scale 0.85-1.15, shift 10 %, rotate 15 deg), brightness/contrast and
    hue/saturation jitter, occasional blur. Geometric steps move the masks too
    (nearest-neighbour), colour steps only touch the image."""
    import albumentations as A
    import cv2
    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(scale=(0.85, 1.15), translate_percent=(-0.1, 0.1), rotate=(-15, 15),
                 border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
        A.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=20, val_shift_limit=10, p=0.3),
        A.GaussianBlur(blur_limit=(3, 5), p=0.1),
    ])


def resolve_start_weights(spec, config, logs_dir, verbose=1):
    """Resolve --weights for training and decide what to exclude (no TensorFlow).

    coco, and any file whose head has another class count than the config:
    the class-specific layers (mrcnn_class_logits, mrcnn_bbox_fc, mrcnn_bbox,
    mrcnn_mask) are excluded; last / PATH / imagenet load everything they
    have by name.
    Returns (path, kind, exclude list). Raises WeightsError.
    """
    from phone.weights import CLASS_SPECIFIC_LAYERS, file_num_classes, resolve_weights
    path, kind = resolve_weights(spec, logs_dir=logs_dir, name=config.NAME, verbose=verbose)
    n = file_num_classes(path)          # also rejects files that are not Keras weights
    exclude = []
    if kind == "coco" or (n is not None and n != int(config.NUM_CLASSES)):
        exclude = list(CLASS_SPECIFIC_LAYERS)
        if verbose:
            print(f"Weights {os.path.basename(path)} ({n} classes): the class-specific layers "
                  f"{', '.join(exclude)} start from scratch")
    return path, kind, exclude


def train(config, dataset_dir, weights="coco", logs_dir=None, epochs=30, layers="heads",
          augment=False, train_via=None):
    """``phone train``: fine-tune ``config``'s model on dataset_dir/train,
    validating on dataset_dir/val. ``weights``: the start (see
    phone.weights.resolve_weights; coco re-initialises the class layers).
    train_via: VIA file(s) for the training frames (see load_datasets).
    Checkpoints (self-describing .h5 files) go to logs_dir/phoneYYYYmmddTHHMM/.
    Returns the path of the last checkpoint, or None when there was nothing
    to do."""
    from mrcnn.model import MaskRCNN
    from phone import paths

    logs_dir = logs_dir or paths.default_logs_dir()
    train_set, val_set = load_datasets(dataset_dir, train_via=train_via)
    if config.CLASS_NAMES is None and len(train_set.class_names) == int(config.NUM_CLASSES):
        from phone.config import derive_config
        config = derive_config(config, CLASS_NAMES=list(train_set.class_names))  # into the .h5
    print(f"Dataset {dataset_dir}: {train_set.num_images} training, "
          f"{val_set.num_images} validation images")
    # Weights are resolved (downloaded) and checked before the slow model build.
    path, kind, exclude = resolve_start_weights(weights, config, logs_dir)
    config.display()
    os.makedirs(logs_dir, exist_ok=True)
    model = MaskRCNN(mode="training", config=config, model_dir=logs_dir)
    if exclude:
        model.load_weights(path, by_name=True, exclude=exclude)
    else:
        model.load_weights(path, by_name=True)
    print(f"Loaded {kind} weights: {path}")
    if epochs <= model.epoch:
        print(f"Nothing to do: the checkpoint is already at epoch {model.epoch} "
              f"(--epochs {epochs} is the total, not an increment)")
        return None
    print(f"Checkpoints: {model.log_dir}{os.sep}"
          f"{os.path.basename(model.checkpoint_path).replace('{epoch:04d}', 'NNNN')}")
    augmentation = build_augmentation() if augment else None
    from phone.segmenter import precision_line
    print(f"Training {layers} layers from epoch {model.epoch} to {epochs}, "
          f"LR {config.LEARNING_RATE}, augmentation {'on' if augmentation else 'off'}; "
          f"{precision_line(model)}")
    sys.stdout.flush()
    model.train(train_set, val_set, learning_rate=config.LEARNING_RATE, epochs=epochs,
                layers=layers, augmentation=augmentation)
    saved = getattr(model, "last_checkpoints", None)  # set by MaskRCNN.train
    last = saved[-1] if saved else None
    if last:
        print(f"Last checkpoint: {last}")
    print(f"Checkpoints in {model.log_dir}; segment with: phone segment --weights last "
          f"--logs {logs_dir} --dir FRAMES --out MASKS")
    return last
