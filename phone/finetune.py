"""Fine-tuning on a user's few annotated frames, and the validation that
decides which weights to keep.

The few-shot loop: a user annotates a handful of frames in VIA and fine-tunes
the shipped model on them (``phone train --weights shipped``). Trained on
those frames alone, balloon style, the model overfits them and gets worse on
the user's other frames. The **small-set recipe** (chosen by
:func:`choose_recipe` when the training set has at most
``SMALL_SET_MAX_FRAMES`` annotated frames) trains on a mix instead:

    copy-paste   the user's annotated phones cut out of their frames and
                 pasted onto new CORe50-like scenes (phone.synthetic,
                 Simple Copy-Paste, Ghiasi et al. 2021), rotated, scaled,
                 held by drawn hands;
    replay       drawn phones of the generator the shipped model learnt
                 from, so it keeps what it knew;
    negatives    frames without a phone: drawn empty hands, hands holding
                 other objects, objects alone, and the user's own frames
                 with the phone painted out (cv2.inpaint), so the classifier
                 learns where no phone is in the user's scenes;
    the frames   the user's annotated frames themselves, augmented.

and trains the heads only (``layers="heads"``: RPN, FPN, the ROI heads; the
backbone stays as shipped, as in TFA, Wang et al. 2020) at a low learning
rate. Every epoch, :class:`Validator` scores the checkpoint on the user's
validation frames (mask IoU) and a fixed set of phone-free frames; the start
model is scored first. :class:`BestKeeper` keeps the best checkpoint as
``mask_rcnn_{name}_best.h5`` beside the per-epoch ones (its scores stored in
the file) and stops after ``patience`` epochs without improvement. A run
whose best is its start says so and is never picked as the default model
(:func:`run_lost_to_start`).
"""
import json
import os
import shutil

import numpy as np

from phone.errors import CommandError
from phone.weights import (BEST_NAME, RUN_SUMMARY_NAME, best_checkpoint, read_run_summary,  # noqa: F401
                           run_lost_to_start)

__all__ = ["SMALL_SET_MAX_FRAMES", "RECIPES", "choose_recipe", "Recipe", "inpaint_phones",
           "small_set_data", "Validator", "BestKeeper", "fitness", "BEST_NAME",
           "RUN_SUMMARY_NAME", "read_run_summary", "run_lost_to_start", "best_checkpoint",
           "SCORES_ATTR", "read_scores", "comparison_table", "describe", "keeper_callback"]

#: Training sets of at most this many annotated frames get the small-set
#: recipe by default (README, "Fine-tuning on your own frames").
SMALL_SET_MAX_FRAMES = 20


class Recipe:
    """The run options of a fine-tuning recipe (the architecture comes from
    the start file; these are applied on top of it)."""

    def __init__(self, name, layers, epochs, patience=None, learning_rate=None,
                 steps_per_epoch=None, batch_size=None, n_synthetic=0, paste_prob=0.0, negatives=0.0, real_repeats=0,
                 inpainted_repeats=0, distractor_prob=0.5, augment=True, config_sets=None):
        self.name = name
        self.layers = layers
        #: None: the config's own value
        self.learning_rate = learning_rate
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.epochs = int(epochs)
        self.patience = patience
        self.n_synthetic = int(n_synthetic)
        self.paste_prob = float(paste_prob)
        self.negatives = float(negatives)
        self.real_repeats = int(real_repeats)
        self.inpainted_repeats = int(inpainted_repeats)
        self.distractor_prob = float(distractor_prob)
        self.augment = bool(augment)
        self.config_sets = dict(config_sets or {})

    def replace(self, **changes):
        """A copy with some options changed (None values ignored)."""
        kw = dict(vars(self))
        kw.update({k: v for k, v in changes.items() if v is not None})
        return Recipe(**kw)

    def as_dict(self):
        return dict(vars(self))

    def __repr__(self):
        return f"Recipe({self.name!r}, layers={self.layers!r}, lr={self.learning_rate})"


#: Config options of the small-set recipe: phone-free frames are trained as
#: negatives, negative ROIs fill the ROI sample, the class loss counts twice
#: (the shipped model's stage-2 options, benchmarks/learning.py
#: STAGE2_SETS), no warm-up, cosine decay.
_SMALL_SET_SETS = {"USE_MINI_MASK": False, "TRAIN_ON_EMPTY_IMAGES": True,
                   "ROI_POSITIVE_RATIO": 0.1, "ROI_SAMPLING": "fill",
                   "LEARNING_RATE_WARMUP_STEPS": 0, "LEARNING_RATE_SCHEDULE": "cosine",
                   "LOSS_WEIGHTS": {"rpn_class_loss": 1.0, "rpn_bbox_loss": 1.0,
                                    "mrcnn_class_loss": 2.0, "mrcnn_bbox_loss": 1.0,
                                    "mrcnn_mask_loss": 1.0}}

RECIPES = {
    # Matterport's balloon recipe: the user's frames only, as given, with
    # the config's learning rate, steps and batch.
    "balloon": Recipe("balloon", layers="heads", epochs=30, augment=False),
    # Few annotated frames: copy-paste + replay + negatives, heads only
    # (docs/fine-tuning.md: the leave-out table).
    "small-set": Recipe("small-set", layers="heads", epochs=6, patience=3,
                        learning_rate=0.001, steps_per_epoch=100, batch_size=4,
                        n_synthetic=400, paste_prob=0.6, negatives=0.5, distractor_prob=0.7,
                        real_repeats=15, inpainted_repeats=5, config_sets=_SMALL_SET_SETS),
}


def choose_recipe(n_train_frames, recipe="auto"):
    """The recipe for a training set of ``n_train_frames`` annotated frames:
    ``recipe`` when it is a Recipe or names one, else "small-set" up to
    SMALL_SET_MAX_FRAMES frames and "balloon" above. Returns a Recipe."""
    if isinstance(recipe, Recipe):
        return recipe
    if recipe in (None, "auto"):
        recipe = "small-set" if int(n_train_frames) <= SMALL_SET_MAX_FRAMES else "balloon"
    if recipe not in RECIPES:
        raise CommandError(f"--recipe {recipe!r}: expected auto or one of {', '.join(RECIPES)}")
    return RECIPES[recipe]


# ---------------------------------------------------------------------------
# Training data of the small-set recipe

def inpaint_phones(image, masks, grow=3):
    """The frame with its annotated phones painted out (cv2.inpaint, Telea):
    a phone-free view of the user's own scene.

    image: uint8 [H, W, 3]; masks: bool [H, W, N]. ``grow``: pixels added
    around the phone (its anti-aliased rim). Returns uint8 [H, W, 3]."""
    import cv2
    hole = np.any(np.asarray(masks, bool), axis=-1).astype(np.uint8)
    if grow > 0:
        hole = cv2.dilate(hole, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return cv2.inpaint(np.ascontiguousarray(image), hole * 255, 5, cv2.INPAINT_TELEA)


def _annotation_files(dataset):
    return sorted({info["annotation_file"] for info in dataset.image_info})


def _frame_names(dataset):
    return [os.path.basename(info["path"]) for info in dataset.image_info]


def small_set_data(train_ds, work_dir, recipe, seed=0, version=3, say=print):
    """The training set of the small-set recipe for the prepared PhoneDataset
    ``train_ds`` (the user's annotated frames): a PhoneDataset holding

    - ``recipe.n_synthetic`` generated frames (work_dir/copy_paste): a phone
      is one of the user's cut-outs with probability ``recipe.paste_prob``,
      else a drawn one (replay); ``recipe.negatives`` of them show no phone;
    - the user's frames, each ``recipe.real_repeats`` times;
    - the user's frames with the phones painted out (work_dir/inpainted),
      each ``recipe.inpainted_repeats`` times, as phone-free frames.

    Only frames of ``train_ds`` lend cut-outs (other frames of the same VIA
    files are excluded). The generated frames are cached in work_dir and
    reused when the same parameters ask for them again.
    """
    import phone.synthetic as synthetic
    from phone.dataset import PhoneDataset
    from phone.imageio import write_png_atomic
    from phone.via import ViaImage, load_via, via2_export, write_via_json
    frame_names = _frame_names(train_ds)
    names = set(frame_names)
    via_files = _annotation_files(train_ds)
    others = set()
    for f in via_files:
        others |= {im.filename for im in load_via(f, keep_empty=True)} - names
    say(f"Copy-paste frames: {recipe.n_synthetic} (cut-outs of {len(names)} frame(s) with "
        f"probability {recipe.paste_prob}, {recipe.negatives:.0%} without a phone)")
    synth_dir = synthetic.make_synthetic_split(
        os.path.join(work_dir, "copy_paste"), recipe.n_synthetic, seed=seed,
        paste_from=via_files, exclude=sorted(others), paste_prob=recipe.paste_prob,
        negatives=recipe.negatives, distractor_prob=recipe.distractor_prob, version=version)
    inpaint_dir = os.path.join(work_dir, "inpainted")
    records = []
    for image_id in train_ds.image_ids:
        image = train_ds.load_image(image_id)
        masks, _ = train_ds.load_mask(image_id)
        name = "inpainted_" + os.path.splitext(frame_names[image_id])[0] + ".png"
        path = os.path.join(inpaint_dir, name)
        write_png_atomic(path, inpaint_phones(image, masks))
        records.append(ViaImage(filename=name, path=path, regions=[], size=os.path.getsize(path)))
    write_via_json(os.path.join(inpaint_dir, "via_region_data.json"), via2_export(records))

    ds = PhoneDataset()
    ds.load_phone(synth_dir, "", keep_empty=True)
    for _ in range(recipe.real_repeats):
        for info in train_ds.image_info:
            ds.add_image(info["source"], image_id=info["id"], path=info["path"],
                         width=info["width"], height=info["height"], regions=info["regions"],
                         class_ids=info["class_ids"], polygons=info["polygons"],
                         annotation_file=info["annotation_file"])
    for _ in range(recipe.inpainted_repeats):
        ds.load_phone(inpaint_dir, "", keep_empty=True)
    ds.prepare()
    return ds


# ---------------------------------------------------------------------------
# Validation that decides

#: a checkpoint must beat the best fitness so far by more than this to be
#: kept (a tie keeps the earlier one, the start model first)
MIN_DELTA = 0.001

#: seed of the fixed phone-free validation frames (not a seed of the model
#: card's test frames, 2000-5000, nor of the selection frames, 6000-6003)
NEGATIVE_SEED = 7000


#: a checkpoint that reports a phone on more phone-free validation frames
#: than the start model did, by more than this share of them, is not
#: eligible as the best (false phones on hands, remote controls, radiators)
NO_PHONE_TOLERANCE = 0.10


def fitness(scores, start=None, tolerance=NO_PHONE_TOLERANCE):
    """The number checkpoints are ranked by: the mean mask IoU on the
    validation frames with a phone (the phone-free share when there are
    none). With ``start`` (the start model's scores), a checkpoint whose
    no-phone rate is lower than the start's by more than ``tolerance``
    gets -1 (never chosen over the start)."""
    iou, clean = scores.get("mask_iou"), scores.get("no_phone_rate")
    if iou is None and clean is None:
        return None
    value = float(iou if iou is not None else clean)
    ref = None if start is None else start.get("no_phone_rate")
    if clean is not None and ref is not None and clean < ref - tolerance - 1e-9:
        return -1.0
    return value


class Validator:
    """Scores weights files on the user's validation frames (mask IoU of the
    mask ``phone segment`` writes, COCO mask AP) and phone-free frames:
    ``n_negatives`` drawn ones (fixed seeds: empty hands, hands holding
    other objects, objects alone) plus the validation frames with the phone
    painted out. The fitness is the mask IoU, with the no-phone rate as a
    guard against the start model (see :func:`fitness`).

    segmenter: a phone Segmenter whose model is rebuilt never: each call
    loads the file into it (by name).
    """

    def __init__(self, segmenter, val_ds, n_negatives=60):
        from phone.synthetic import hand_only_frames
        self.segmenter = segmenter
        self.val_ds = val_ds
        self.frames = []
        for image_id in val_ds.image_ids:
            image = val_ds.load_image(image_id)
            masks, class_ids = val_ds.load_mask(image_id)
            name = os.path.basename(val_ds.image_info[image_id]["path"])
            keep = np.asarray(class_ids).reshape(-1) > 0
            gt = np.any(np.asarray(masks)[:, :, keep], axis=-1) if keep.any() else None
            self.frames.append((name, image, gt))
        kinds = ("hand", "held", "objects")
        self.negatives = [im for k, kind in enumerate(kinds)
                          for im in hand_only_frames(n_negatives // len(kinds),
                                                              NEGATIVE_SEED + k, kind=kind)]
        self.negatives += [inpaint_phones(image, gt[..., None]) for _, image, gt in self.frames
                           if gt is not None]
        #: the start model's scores, once known (fitness is relative to them)
        self.start = None

    def score_model(self):
        """Scores of the weights now in the segmenter's model: dict with
        mask_iou (mean over validation frames with a phone), no_phone_rate,
        per_frame {name: IoU}, fitness."""
        from mrcnn.core.metrics import mask_iou
        from phone.cocoeval import CocoMaskEvaluator
        images = [image for _, image, _ in self.frames]
        results = self.segmenter.segment_images(images + self.negatives)
        per_frame = {}
        coco = CocoMaskEvaluator()
        for (name, _, gt), (bw, r) in zip(self.frames, results):
            if gt is not None:
                per_frame[name] = float(mask_iou(bw > 0, gt))
                coco.add(gt[..., None], np.ones(1, np.int32), r)
        neg = results[len(images):]
        scores = {"per_frame": per_frame,
                  "mask_iou": float(np.mean(list(per_frame.values()))) if per_frame else None,
                  "coco_mask_ap": coco.summarize()["ap"] if per_frame else None,
                  "no_phone_rate": (float(np.mean([not np.any(bw) for bw, _ in neg]))
                                    if neg else None)}
        scores["fitness"] = fitness(scores, self.start)
        return scores

    def score_file(self, path):
        self.segmenter.model.load_weights(path, by_name=True)
        return self.score_model()

    def score_start(self, path):
        """Scores of the start model; later scores are ranked against them."""
        self.start = None
        self.start = self.score_file(path)
        return self.start


#: root attribute of a best file: its validation scores (JSON)
SCORES_ATTR = "phone_validation"


def _write_scores_attr(path, scores):
    import h5py
    with h5py.File(path, "a") as f:
        f.attrs[SCORES_ATTR] = json.dumps(scores).encode("utf8")


def read_scores(path):
    """The validation scores stored in a best file, or None."""
    import h5py
    try:
        with h5py.File(os.fspath(path), "r") as f:
            raw = f.attrs.get(SCORES_ATTR)
    except OSError:
        return None
    if raw is None:
        return None
    return json.loads(bytes(raw).decode("utf8") if isinstance(raw, (bytes, np.bytes_)) else str(raw))


class BestKeeper:
    """Keeps the best checkpoint of a run by validation fitness, stops after
    ``patience`` epochs without improvement, and writes the run summary.

    score: callable(checkpoint path) -> scores dict with "fitness" (a
        Validator's score_file in training; fake scores in tests).
    start_scores: the start model's scores (epoch 0); a checkpoint must beat
        its fitness by more than ``min_delta`` to count as better.
    """

    def __init__(self, run_dir, name, score, start_scores, start_path, patience=None,
                 min_delta=0.0, recipe=None, say=print):
        self.run_dir = run_dir
        self.recipe = recipe
        self.best_path = os.path.join(run_dir, BEST_NAME.format(name=name.lower()))
        self.score = score
        self.start_path = start_path
        self.patience = patience
        self.min_delta = float(min_delta)
        self.say = say
        self.history = [dict(epoch=0, checkpoint=start_path, **start_scores)]
        self.best = self.history[0]
        self.bad_epochs = 0

    def epoch_end(self, epoch, checkpoint):
        """Score ``checkpoint`` of ``epoch`` (1-based); keep it if it is the
        best so far. Returns True when training should stop (patience)."""
        scores = self.score(checkpoint)
        entry = dict(epoch=int(epoch), checkpoint=checkpoint, **scores)
        self.history.append(entry)
        better = entry["fitness"] > self.best["fitness"] + self.min_delta
        mark = ""
        if better:
            self.best = entry
            self.bad_epochs = 0
            tmp = self.best_path + ".tmp"
            shutil.copyfile(checkpoint, tmp)
            _write_scores_attr(tmp, {k: v for k, v in entry.items() if k != "checkpoint"})
            os.replace(tmp, self.best_path)
            mark = "  best so far"
        else:
            self.bad_epochs += 1
        self.say(f"Validation epoch {epoch}: {describe(scores)}{mark}")
        return self.patience is not None and self.bad_epochs >= int(self.patience)

    def resume(self, summary):
        """Continue the history of an earlier summary of the same run (a
        resumed run keeps its start and its best)."""
        self.history = list(summary["history"])
        best = max(self.history, key=lambda e: e["fitness"])
        self.best = best if best["fitness"] > self.history[0]["fitness"] + self.min_delta \
            else self.history[0]
        later = [e for e in self.history if e["epoch"] > self.best["epoch"]]
        self.bad_epochs = len(later)

    def finish(self):
        """Writes the run summary (RUN_SUMMARY_NAME) and returns it. When no
        epoch beat the start, there is no best file and the summary says
        ``lost_to_start``."""
        from phone.imageio import write_json_atomic
        lost = self.best["epoch"] == 0
        summary = {"recipe": self.recipe, "start": self.start_path,
                   "best_epoch": self.best["epoch"],
                   "best": None if lost else self.best_path, "lost_to_start": lost,
                   "history": self.history}
        write_json_atomic(os.path.join(self.run_dir, RUN_SUMMARY_NAME), summary)
        return summary


def describe(scores):
    """One line of validation scores."""
    parts = []
    if scores.get("mask_iou") is not None:
        parts.append(f"mask IoU {scores['mask_iou']:.3f}")
    if scores.get("coco_mask_ap") is not None:
        parts.append(f"COCO mask AP {scores['coco_mask_ap']:.3f}")
    if scores.get("no_phone_rate") is not None:
        parts.append(f"no phone on {scores['no_phone_rate']:.0%} of phone-free frames")
    if scores.get("fitness") == -1.0:
        parts.append("not eligible: more false phones than the start model")
    return ", ".join(parts)


def keeper_callback(keeper, model):
    """A Keras callback that hands each epoch's checkpoint of ``model`` (a
    MaskRCNN in training) to ``keeper`` and stops training when it says so."""
    import keras

    class _Keeper(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            path = model.checkpoint_path.format(epoch=epoch + 1)
            if not os.path.isfile(path):          # not written (NaN): nothing to score
                return
            if keeper.epoch_end(epoch + 1, path):
                keeper.say(f"Early stop: no better validation score for {keeper.patience} "
                           f"epoch(s)")
                self.model.stop_training = True
    return _Keeper()


def comparison_table(start_scores, best_scores, start_label="start", best_label="best"):
    """Lines of the per-frame table printed at the end of a run: each
    validation frame's mask IoU for the start and the best model, the means
    and the phone-free rate, and a verdict line."""
    names = list(start_scores.get("per_frame", {}))
    lines = [f"{'validation frame':<24} {start_label:>10} {best_label:>10}"]
    for name in names:
        a = start_scores["per_frame"][name]
        b = best_scores.get("per_frame", {}).get(name, float("nan"))
        lines.append(f"{name:<24} {a:>10.3f} {b:>10.3f}")
    for key, label in (("mask_iou", "mean mask IoU"), ("no_phone_rate", "phone-free, no phone"),
                       ("fitness", "fitness")):
        a, b = start_scores.get(key), best_scores.get(key)
        if a is not None and b is not None:
            lines.append(f"{label:<24} {a:>10.3f} {b:>10.3f}")
    return lines
