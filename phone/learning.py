"""Teach the phone model from what we can make: synthetic CORe50-like frames
(phone/synthetic.py), optionally with real annotated phones cut out and
pasted onto new backgrounds, trained from scratch with PhoneScratchConfig.

Used by ``make demo`` (phone/demo.py) and benchmarks/learning.py. The rule
both follow: a real frame used in any way for training (its cut-out
included) is never used to score that model.
"""
import json
import os
import shutil
import time

import numpy as np

import phone.paths as paths

from phone.synthetic import (BENCHMARK_VERSION, hand_only_frames,  # noqa: F401 (homes: phone.synthetic)
                             make_synthetic_split)

REAL_DIR = paths.bundled_dataset_dir()


def load_split(folder, keep_empty=False):
    """PhoneDataset over a folder holding via_region_data.json."""
    from phone.dataset import PhoneDataset
    ds = PhoneDataset()
    ds.load_phone(folder, "", keep_empty=keep_empty)
    ds.prepare()
    return ds


def load_real(subsets=("train", "val"), exclude=()):
    """The bundled real CORe50 frames that carry annotations, minus
    ``exclude`` (file names)."""
    from phone.dataset import PhoneDataset
    ds = PhoneDataset()
    for subset in subsets:
        ds.load_phone(REAL_DIR, subset)
    if exclude:
        keep = [i for i in ds.image_info
                if os.path.basename(i["path"]) not in set(exclude)]
        ds.image_info = keep
    ds.prepare()
    return ds


def real_frame_names(subsets=("train", "val")):
    """File names of the annotated real frames in the given subsets."""
    return [os.path.basename(i["path"]) for i in load_real(subsets).image_info]


def scratch_config(steps, batch_size=None, epochs=None, **overrides):
    """PhoneScratchConfig with STEPS_PER_EPOCH chosen so that ``steps``
    training steps take a few epochs (a checkpoint each; ``epochs`` of them
    when given)."""
    from phone.config import derive_config
    from phone.config import PhoneScratchConfig
    base = PhoneScratchConfig()
    if epochs is None:
        epochs = max(1, min(6, int(steps) // 100))
    epochs = max(1, int(epochs))
    per_epoch = int(np.ceil(int(steps) / epochs))
    cfg = derive_config(base, STEPS_PER_EPOCH=per_epoch,
                        IMAGES_PER_GPU=batch_size, **overrides)
    return cfg, epochs


def train_scratch(train_ds, val_ds, steps, logs_dir, seed=0, batch_size=None,
                  augment=True, verbose=1, epochs=None, epoch_log=None, init=None,
                  **overrides):
    """Trains PhoneScratchConfig from random weights for ``steps`` steps
    (from the weights file ``init``, loaded by name, when given: fine-tuning).

    epochs: number of checkpoints (default: scratch_config's choice).
    epoch_log: a list; gets one dict per finished epoch: epoch, step,
        seconds since the start of training, checkpoint path, loss. The
        same list is also written, after every epoch, to ``epoch_log.json``
        in the run folder (read_epoch_log), so the checkpoints of a finished
        run can be scored later with their wall times
        (``benchmarks/learning.py --curve-from RUN_DIR``).
    Returns (checkpoint path, keras History, seconds spent training).
    """
    import keras
    from phone.augmentation import build_augmentation
    from phone.imageio import write_json_atomic
    from phone.train import build_training_model
    cfg, epochs = scratch_config(steps, batch_size, epochs=epochs, **overrides)
    # A fine-tune from ``init``, not a resume: a checkpoint's name
    # (mask_rcnn_phone_0010.h5) would otherwise set the epoch to 10.
    model = build_training_model(cfg, logs_dir, start=init, resume=False, seed=seed)
    t = time.time()

    entries = epoch_log if epoch_log is not None else []

    class _EpochLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            entries.append({"epoch": epoch + 1, "step": (epoch + 1) * cfg.STEPS_PER_EPOCH,
                            "seconds": time.time() - t,
                            "checkpoint": model.checkpoint_path.format(epoch=epoch + 1),
                            "loss": float((logs or {}).get("loss", float("nan")))})
            write_json_atomic(os.path.join(model.log_dir, EPOCH_LOG_NAME), entries)

    history = model.train(train_ds, val_ds, learning_rate=cfg.LEARNING_RATE,
                          epochs=epochs, layers="all",
                          augmentation=build_augmentation() if augment else None,
                          custom_callbacks=[_EpochLog()],
                          verbose=verbose, seed=int(seed))
    return model.find_last(), history, time.time() - t


#: the file train_scratch keeps in each run folder (one entry per epoch)
EPOCH_LOG_NAME = "epoch_log.json"


def read_epoch_log(run_dir):
    """The epoch log of a train_scratch run folder (``epoch_log.json``):
    a list of dicts (epoch, step, seconds, checkpoint, loss), oldest first,
    with checkpoint paths that exist. Raises ValueError (one line naming
    the file) when the log is missing or names no checkpoint that exists."""
    path = os.path.join(os.fspath(run_dir), EPOCH_LOG_NAME)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no epoch log (runs of train_scratch write one; "
                         f"is {run_dir} a run folder such as logs_all/phoneYYYYmmddTHHMM?)")
    try:
        with open(path) as f:
            entries = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable epoch log ({type(e).__name__}: "
                         f"{str(e).splitlines()[0]})") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: an epoch log is a JSON list")
    kept = []
    for e in entries:
        ckpt = e.get("checkpoint") if isinstance(e, dict) else None
        if not ckpt:
            continue
        if not os.path.isfile(ckpt):      # the folder was moved: look beside the log
            ckpt = os.path.join(os.fspath(run_dir), os.path.basename(ckpt))
        if os.path.isfile(ckpt):
            kept.append(dict(e, checkpoint=ckpt))
    if not kept:
        raise ValueError(f"{path}: names no checkpoint that exists")
    return sorted(kept, key=lambda e: e.get("step", 0))


def no_phone_rate(segmenter, images):
    """Fraction of ``images`` in which the segmenter reports no phone (an
    all-zero mask after its score / class filter)."""
    if not len(images):
        return None
    results = segmenter.segment_images(list(images))
    return sum(1 for bw, _ in results if not np.any(bw)) / len(results)


#: Seeds of the frames models are *chosen* on (selection_scores): never the
#: seeds the model card's metrics are measured on (2000-5000) nor real frames.
SELECTION_SEEDS = {"hand": 6000, "held": 6001, "objects": 6002, "phone": 6003}


def selection_scores(segmenter, n=100):
    """Scores for choosing between trained models, on validation frames only:
    the share of frames without a phone in which none is reported, per
    negative kind ("hand", "held", "objects"), the share of phone frames in
    which one is ("phone_found"), and "balanced": the mean of the negatives'
    average and phone_found (a model that reports nothing, or a phone
    everywhere, gets 0.5). "phone_mask_iou": the mean over the phone frames
    of the IoU of the reported mask (the union of the kept detections, what
    ``phone segment`` writes) with the drawn phones' mask, the real frames'
    measure; it judges mask quality, which "balanced" does not see."""
    from mrcnn.core.metrics import mask_iou
    import phone.synthetic as synthetic
    scores = {kind: no_phone_rate(segmenter, hand_only_frames(n, SELECTION_SEEDS[kind], kind=kind))
              for kind in ("hand", "held", "objects")}
    samples = [synthetic.make_sample(synthetic.frame_rng(SELECTION_SEEDS["phone"], i),
                                     size=128, version=BENCHMARK_VERSION)
               for i in range(int(n))]
    results = segmenter.segment_images([image for image, _ in samples])
    scores["phone_found"] = float(np.mean([bool(np.any(bw)) for bw, _ in results]))
    scores["phone_mask_iou"] = float(np.mean([mask_iou(bw > 0, masks.any(-1))
                                              for (bw, _), (_, masks) in zip(results, samples)]))
    negatives = np.mean([scores[k] for k in ("hand", "held", "objects")])
    scores["balanced"] = float((negatives + scores["phone_found"]) / 2)
    return scores


#: Config attributes that only matter while training: not carried over to
#: the inference config of a model trained with overrides.
TRAINING_ONLY = ("IMAGES_PER_GPU", "GPU_COUNT", "STEPS_PER_EPOCH",
                 "VALIDATION_STEPS", "MIXED_PRECISION", "LOSS_WEIGHTS",
                 "WEIGHT_DECAY", "GRADIENT_CLIP_NORM", "ROI_POSITIVE_RATIO",
                 "MASK_HEAD_ON_POSITIVE_ROIS", "ROI_SAMPLING")
TRAINING_ONLY_PREFIXES = ("LEARNING_", "TRAIN_", "RPN_TRAIN_")


def inference_overrides(overrides):
    """The part of training ``overrides`` that the inference config of the
    same model needs (architecture, detection settings)."""
    return {k: v for k, v in overrides.items()
            if k not in TRAINING_ONLY and not k.startswith(TRAINING_ONLY_PREFIXES)}


def inference_segmenter(weights, score=None, model_dir=None, **overrides):
    """A phone.segment.Segmenter for the from-scratch model, one image per
    batch, float32. The configuration is the one stored in ``weights``
    (checkpoints and exported files of our training store it), so a model
    trained with another architecture (a 56x56 mask head, say) is scored
    with that architecture; for a file that stores none,
    PhoneScratchInferenceConfig. ``overrides``: Config attributes the model
    was trained with; the ones inference needs are applied on top."""
    from mrcnn.weights import read_config
    from phone.config import PhoneScratchInferenceConfig, derive_config, inference_config
    from phone.segmenter import Segmenter
    stored = read_config(os.fspath(weights))
    if stored is None:
        config = PhoneScratchInferenceConfig()
    else:
        config = inference_config(stored, batch_size=1, precision="float32")
    kept = inference_overrides(overrides)
    if kept:
        config = derive_config(config, **kept)
    return Segmenter(config=config, weights=weights, score=score,
                     model_dir=model_dir)


def evaluate(segmenter, dataset):
    """phone.evaluate report dict (per image and mean mask IoU, AP)."""
    from phone.evaluate import evaluate_dataset
    return evaluate_dataset(segmenter, dataset, quiet=True)


def copy_atomic(src, dst):
    """Copies a file so that ``dst`` is either absent or complete."""
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = dst + ".tmp"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return dst


def plot_curve(points, path, title="phone model: learning curve"):
    """Writes the learning curve PNG: metrics against training steps (left)
    and against wall time in minutes (right).

    points: list of dicts with step, seconds and any of the metric keys of
    CURVE_METRICS (None values are skipped). The file is written atomically.
    """
    import io
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from phone.imageio import write_bytes_atomic
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, xkey, xlabel in ((axes[0], "step", "training steps"),
                             (axes[1], "minutes", "wall time (min)")):
        for key, label, style in CURVE_METRICS:
            pts = [(p["step"] if xkey == "step" else p["seconds"] / 60.0, p.get(key))
                   for p in points if p.get(key) is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, style, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("score")
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())
    return path


#: (key, legend label, matplotlib style) of the learning-curve lines
CURVE_METRICS = (
    ("synthetic_miou", "synthetic held-out mask mIoU", "o-"),
    ("synthetic_map50", "synthetic held-out mAP@0.5", "s--"),
    ("real_heldout_iou", "real held-out frame mask IoU", "D-"),
    ("hand_only_no_phone", "hand-only frames with no phone", "^:"),
)


def keep_best(r):
    """The "one phone per frame" rule: only the highest-scoring detection of
    a detect() result dict (rois, class_ids, scores, masks [H, W, N])."""
    scores = np.asarray(r["scores"]).reshape(-1)
    if scores.shape[0] <= 1:
        return r
    k = int(np.argmax(scores))
    return {"rois": np.asarray(r["rois"])[k:k + 1], "class_ids": np.asarray(r["class_ids"])[k:k + 1],
            "scores": scores[k:k + 1], "masks": np.asarray(r["masks"])[:, :, k:k + 1]}


def full_report(segmenter, dataset):
    """Per-image and mean metrics of a segmenter on a prepared dataset, for
    every detection kept (the union, as phone segment writes it) and for the
    best one only (keep_best): mask IoU, Matterport's compute_ap (AP@0.5,
    AP@0.5:0.95) and COCO mask AP (pycocotools COCOeval, phone.cocoeval).
    """
    from phone.cocoeval import CocoMaskEvaluator
    from phone.evaluate import _mean, evaluate_image
    rows = []
    coco = {"all": CocoMaskEvaluator(), "best": CocoMaskEvaluator()}
    ids = list(dataset.image_ids)
    bs = max(1, int(segmenter.batch_size))
    for start in range(0, len(ids), bs):
        chunk = ids[start:start + bs]
        images = [dataset.load_image(i) for i in chunk]
        for image_id, (bw, r) in zip(chunk, segmenter.segment_images(images)):
            gt_masks, gt_ids = dataset.load_mask(image_id)
            row = {"image": os.path.basename(str(dataset.image_reference(image_id)))}
            row.update(evaluate_image(gt_masks, gt_ids, r, bw=bw))
            best = keep_best(r)
            b = evaluate_image(gt_masks, gt_ids, best)
            row.update(best_mask_iou=b["mask_iou"], best_ap50=b["ap50"], best_ap50_95=b["ap50_95"])
            coco["all"].add(gt_masks, gt_ids, r)
            coco["best"].add(gt_masks, gt_ids, best)
            rows.append(row)
    mean = {k: _mean(r[k] for r in rows) for k in
            ("mask_iou", "ap50", "ap50_95", "best_mask_iou", "best_ap50", "best_ap50_95")}
    mean["mean_detections"] = _mean(r["pred_instances"] for r in rows)
    return {"num_images": len(rows), "images": rows, "mean": mean,
            "coco": coco["all"].summarize(), "coco_best": coco["best"].summarize()}
