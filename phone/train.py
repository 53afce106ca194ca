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
import time

from phone.augmentation import build_augmentation  # noqa: F401 (phone.train.build_augmentation)
from phone.errors import CommandError, PhoneDataError
from phone.weights import CLASS_SPECIFIC_LAYERS

__all__ = ["load_datasets", "unreadable_images", "build_augmentation",
           "start_model_is_trained", "training_config_for", "build_training_model", "train"]


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


def start_model_is_trained(kind, file_classes, config):
    """True when the start weights are a trained model of this class count
    (shipped, a checkpoint, a file with a fitting head): the case the
    small-set recipe is made for. COCO / ImageNet starts (a new head) and
    resumed runs keep the balloon recipe."""
    return kind in ("shipped", "path") and file_classes == int(config.NUM_CLASSES)


def training_config_for(arch_config, recipe, lr=None, steps_per_epoch=None, precision=None,
                        class_names=None):
    """The training config: the architecture of ``arch_config`` (what the
    start file holds, or --config) with the run options of ``recipe`` and
    of the command line on top (command line first). Validated."""
    from phone.config import derive_config
    sets = dict(recipe.config_sets)
    sets.update(IMAGES_PER_GPU=recipe.batch_size,
                LEARNING_RATE=recipe.learning_rate if lr is None else float(lr),
                STEPS_PER_EPOCH=recipe.steps_per_epoch if steps_per_epoch is None
                else int(steps_per_epoch),
                MIXED_PRECISION=precision)      # None values: the config's own
    if class_names and getattr(arch_config, "CLASS_NAMES", None) is None \
            and len(class_names) == int(arch_config.NUM_CLASSES):
        sets["CLASS_NAMES"] = list(class_names)           # into the .h5
    config = derive_config(arch_config, **sets)
    config.validate("training")
    return config


def build_training_model(config, logs_dir, start=None, exclude=None, resume=False, seed=None,
                         strategy=None):
    """The one place a phone training model is built (phone train, make demo,
    the learning recipes): a MaskRCNN in training mode with ``config``'s
    architecture, the weights of ``start`` (a path or a
    mrcnn.weights.WeightsFile; None: random initialisation) loaded by name
    minus ``exclude``.

    resume: continue the run of the checkpoint ``start`` (its folder, its
        epoch: Matterport's ``--weights last``); otherwise a new run starts
        at epoch 0 (a fine-tune), whatever the start file is called.
    seed: keras.utils.set_random_seed before the build (same initial
        weights, same data order for a given seed).
    strategy: the tf.distribute strategy to build and train under (a
        worker's MultiWorkerMirroredStrategy, phone.distributed); None:
        from config.GPU_COUNT.
    """
    from mrcnn.model import MaskRCNN
    if seed is not None:
        import keras
        keras.utils.set_random_seed(int(seed))
    os.makedirs(logs_dir, exist_ok=True)
    model = MaskRCNN(mode="training", config=config, model_dir=logs_dir, strategy=strategy)
    if start is not None:
        model.load_weights(start, by_name=True, exclude=exclude or None)
    if not resume:
        model.set_log_dir()
    return model


def _progress_callback(first_epoch, epochs, say):
    """A Keras callback saying, after each epoch (validation included), how
    long the run has taken and about how long the rest will take at most
    (early stopping can end it sooner)."""
    import keras

    class _Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            done = epoch + 1 - first_epoch
            spent = time.time() - self.t0
            left = (epochs - epoch - 1) * spent / max(1, done)
            say(f"Epoch {epoch + 1}/{epochs} done: {spent / 60:.1f} min so far, about "
                f"{left / 60:.1f} min left at most")
    return _Progress()


def _validator(config, val_ds, logs_dir):
    """A Validator over val_ds with an inference model of the training
    config's architecture (built once; each checkpoint is loaded into it)."""
    from phone.config import inference_config
    from phone.finetune import Validator
    from phone.segmenter import Segmenter
    seg = Segmenter(config=inference_config(config, batch_size=4, precision="float32"),
                    model_dir=logs_dir)
    return Validator(seg, val_ds)


def train(config, dataset_dir, weights="coco", logs_dir=None, epochs=None, layers=None,
          augment=None, train_via=None, recipe="auto", lr=None, steps_per_epoch=None,
          precision=None, image_size=None, seed=None, say=print, verbose=1,
          display_config=True, strategy=None, worker=None, extra_callbacks=None,
          scratch_dir=None):
    """``phone train``: fine-tune on dataset_dir/train, validating on
    dataset_dir/val.

    config: the architecture: a Config (instance or class; --config,
        sized), or None to take it from the start weights file (its stored
        configuration, else its weight shapes); COCO / ImageNet starts use
        PhoneConfig.
    weights: the start (see phone.weights.resolve_weights): coco
        re-initialises the class layers; last resumes that run
        (Matterport's semantics); shipped / PATH fine-tune.
    recipe: "auto" (the small-set recipe for a trained start and at most
        phone.finetune.SMALL_SET_MAX_FRAMES training frames, else balloon),
        "small-set" or "balloon". epochs, layers, augment, lr,
        steps_per_epoch, precision: override the recipe's.
    train_via: VIA file(s) for the training frames (see load_datasets).
    Checkpoints (self-describing .h5 files) go to
    logs_dir/phoneYYYYmmddTHHMM/; with validation (small-set recipe) the best
    one is kept as mask_rcnn_phone_best.h5 and the run ends with a table.
    say: callable for progress lines; verbose: 0 hides the config table and
    Keras' progress bars; display_config: False hides the config table only.
    strategy: the tf.distribute strategy to train under (None: from the
        config's GPU_COUNT).
    worker: (rank, count) when this process is one of ``count`` workers of a
        multi-worker run (phone.distributed.train_ray, each with its
        MultiWorkerMirroredStrategy): every worker trains the same steps on
        its share of each global batch; rank 0 (the chief) alone writes the
        checkpoints, logs and lines, the others write to a scratch folder
        that is removed (in ``scratch_dir``, default the system's temp
        folder). The small-set recipe (validation picks the best epoch,
        early stopping) runs in one process only; "auto" means balloon
        here.
    extra_callbacks: more Keras callbacks (every worker runs them).
    Returns a dict: last, best (or None), summary (or None), log_dir,
    history (Keras' per-epoch logs); or None when there was nothing to do.
    """
    import phone.finetune as finetune
    import phone.paths as paths
    from phone.config import PhoneConfig
    from phone.weights import model_config, read_weights_file, resolve_weights

    logs_dir = logs_dir or paths.default_logs_dir()
    chief = worker is None or int(worker[0]) == 0
    several = worker is not None and int(worker[1]) > 1
    if not chief:
        say, verbose = (lambda message: None), 0
    train_set, val_set = load_datasets(dataset_dir, train_via=train_via)
    say(f"Dataset {dataset_dir}: {train_set.num_images} training, "
        f"{val_set.num_images} validation images")
    # Weights are resolved (downloaded) and checked before the slow model build.
    name = (config.NAME if config is not None else "phone")
    path, kind = resolve_weights(weights, logs_dir=logs_dir, name=name)
    start = read_weights_file(path)      # one read: class count, stored config, the weights
    n_file = start.num_classes
    from phone.config import sized_config
    if config is None:
        if kind in ("coco", "imagenet") or n_file is None:
            config, how = PhoneConfig, "PhoneConfig (a new head)"
        else:
            config, how = model_config(start)
    else:
        how = f"{getattr(config, '__name__', type(config).__name__)} (--config)"
    if image_size:
        config = sized_config(config, image_size)
    elif isinstance(config, type):
        config = config()
    resume_summary = finetune.read_run_summary(os.path.dirname(path)) if kind == "last" else None
    if recipe in (None, "auto") and resume_summary:
        recipe = resume_summary.get("recipe", "balloon")
    elif recipe in (None, "auto") and not start_model_is_trained(kind, n_file, config):
        recipe = "balloon"
    if several and recipe in (None, "auto"):
        recipe = "balloon"
    chosen = finetune.choose_recipe(train_set.num_images, recipe)
    if several and chosen.name == "small-set":
        raise CommandError("the small-set recipe (validation keeps the best epoch, early "
                           "stopping) trains in one process; use --recipe balloon with "
                           "--workers" + (" (this run was started with small-set)"
                                          if resume_summary else ""))
    config = training_config_for(config, chosen, lr=lr, steps_per_epoch=steps_per_epoch,
                                 precision=precision, class_names=train_set.class_names)
    epochs = chosen.epochs if epochs is None else int(epochs)
    layers = layers or chosen.layers
    augment = chosen.augment if augment is None else bool(augment)
    say(f"Architecture: {how}; recipe {chosen.name} "
        f"({train_set.num_images} annotated training frame(s))")
    exclude = []
    if kind == "coco" or (n_file is not None and n_file != int(config.NUM_CLASSES)):
        exclude = list(CLASS_SPECIFIC_LAYERS)
        say(f"Weights {os.path.basename(path)} ({n_file} classes): the class-specific layers "
            f"{', '.join(exclude)} start from scratch")
    if verbose and display_config:
        config.display()
    model = build_training_model(config, logs_dir, start=start, exclude=exclude,
                                 resume=(kind == "last"), seed=seed, strategy=strategy)
    say(f"Loaded {kind} weights: {path}")
    if epochs <= model.epoch:
        say(f"Nothing to do: the checkpoint is already at epoch {model.epoch} "
            f"(--epochs {epochs} is the total, not an increment)")
        return None
    say(f"Checkpoints: {model.log_dir}{os.sep}"
        f"{os.path.basename(model.checkpoint_path).replace('{epoch:04d}', 'NNNN')}")
    scratch = None
    if not chief:
        # The same steps as the chief, but its checkpoints and logs go to a
        # scratch folder (one copy of each checkpoint, the chief's).
        import tempfile
        scratch = tempfile.mkdtemp(prefix=f"phone_worker{int(worker[0])}_", dir=scratch_dir)
        model.log_dir = scratch
        model.checkpoint_path = os.path.join(scratch, os.path.basename(model.checkpoint_path))

    data = train_set
    keeper = None
    callbacks = []
    if chosen.name == "small-set":
        work = os.path.join(model.log_dir, "data")
        data = finetune.small_set_data(train_set, work, chosen, seed=seed or 0, say=say)
        validator = _validator(config, val_set, logs_dir)
        if resume_summary:
            start_scores = {k: v for k, v in resume_summary["history"][0].items()
                            if k not in ("epoch", "checkpoint")}
            start_path = resume_summary["start"]
            validator.start = start_scores
        else:
            start_path = path
            start_scores = validator.score_start(start)
        keeper = finetune.BestKeeper(model.log_dir, config.NAME, validator.score_file,
                                     start_scores, start_path, patience=chosen.patience,
                                     min_delta=finetune.MIN_DELTA, recipe=chosen.name, say=say)
        if resume_summary:
            keeper.resume(resume_summary)
        else:
            say(f"Validation of the start model: {finetune.describe(start_scores)}")
        callbacks.append(finetune.keeper_callback(keeper, model))
    callbacks.append(_progress_callback(model.epoch, epochs, say))
    callbacks.extend(extra_callbacks or [])
    augmentation = build_augmentation() if augment else None
    from phone.segmenter import precision_line
    say(f"Training {layers} layers from epoch {model.epoch} to {epochs}, "
        f"LR {config.LEARNING_RATE}, augmentation {'on' if augmentation else 'off'}; "
        f"{precision_line(model)}")
    sys.stdout.flush()
    try:
        history = model.train(data, val_set, learning_rate=config.LEARNING_RATE, epochs=epochs,
                              layers=layers, augmentation=augmentation,
                              custom_callbacks=callbacks or None, seed=seed, verbose=verbose)
    finally:
        if scratch is not None:
            import shutil
            shutil.rmtree(scratch, ignore_errors=True)
    saved = getattr(model, "last_checkpoints", None)  # set by MaskRCNN.train
    last = saved[-1] if saved else None
    if last:
        say(f"Last checkpoint: {last}")
    result = {"last": last, "best": None, "summary": None, "log_dir": model.log_dir,
              "history": {k: [float(x) for x in v]
                          for k, v in (getattr(history, "history", None) or {}).items()}}
    if keeper is not None:
        summary = keeper.finish()
        result.update(best=summary["best"], summary=summary)
        for line in finetune.comparison_table(summary["history"][0], keeper.best,
                                              best_label="best" if summary["best"] else "start"):
            say("  " + line)
        if summary["lost_to_start"]:
            say("The fine-tuned model is worse than the model you started from on your "
                "validation frames: no epoch beat it, so no best file was written and this run "
                "never becomes the default model. Annotate more frames, or try --recipe.")
        else:
            say(f"Best checkpoint (epoch {summary['best_epoch']}): {summary['best']}; "
                f"segment with: phone segment --weights best --logs {logs_dir} --dir FRAMES "
                f"--out MASKS")
    else:
        say(f"Checkpoints in {model.log_dir}; segment with: phone segment --weights last "
            f"--logs {logs_dir} --dir FRAMES --out MASKS")
    return result
