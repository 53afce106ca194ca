"""One model object, from its file to every use.

    from phone import PhoneModel
    m = PhoneModel("shipped")            # or "last", "best", "coco", a .h5 path, None (default)
    bw, r = m.segment(rgb)               # bw: [H, W] uint8 0/255; r: detect() dict
    results = m.detect([rgb1, rgb2])     # Matterport's detect(): list of dicts
    m.train("datasets/phone")            # fine-tune (the small-set recipe for a few frames)
    m.evaluate("datasets/phone")         # mask IoU, mAP, COCO mask AP on the val frames
    m.export("onnx", "phone.onnx")       # see phone.export.FORMATS
    m.annotate("frames/", "frames/via_project.json")

``PhoneModel`` reads the weights file once (``mrcnn.weights.WeightsFile``):
the architecture comes from the configuration stored in it (or from its
weight shapes), ``config=`` overrides it, and every model built from it
(one per batch size and score) takes its weights from that one read.
Matterport's ``MaskRCNN`` and ``Config`` stay underneath, unchanged:
``m.config`` is a Config, ``m.segmenter().model`` a MaskRCNN.
Every ``phone`` command is a thin wrapper over this class.
"""
import os
import sys

from phone.errors import CommandError

__all__ = ["PhoneModel", "build_segmenter"]


def _stderr(message):
    print(message, file=sys.stderr)


class PhoneModel:
    """A phone (or COCO) Mask R-CNN model loaded from one weights file.

    weights: a .h5 path, "shipped", "last" (newest checkpoint under
        ``logs_dir``), "best" (best checkpoint of the newest fine-tune run),
        "coco" (Matterport's COCO model, downloaded when missing), or None:
        the default model (phone.weights.default_model).
    config: "MODULE:CLASS", a Config class or instance: the architecture,
        instead of the one the file describes.
    coco_class: a COCO class name ("cell phone"): segment that class of the
        COCO model (weights default to "coco").
    precision: Config.MIXED_PRECISION of the models built for inference.
    logs_dir: where "last" / "best" / the default model look.
    say: callable for one-line notes (which file and why, which config);
        default: stderr. ``say=False`` keeps quiet.
    Raises WeightsError / CommandError with one line.
    """

    def __init__(self, weights=None, config=None, coco_class=None, precision=None,
                 logs_dir=None, say=None):
        import phone.weights as policy
        self.say = (lambda m: None) if say is False else (say or _stderr)
        self.logs_dir = logs_dir
        self.precision = precision
        self.keep_class_ids, self.class_map = None, None
        if coco_class:
            from phone.coco_classes import coco_class_id
            try:
                cid = coco_class_id(coco_class)
            except ValueError as e:
                raise CommandError(f"--coco-class: {e}") from None
            self.keep_class_ids, self.class_map = [cid], {cid: 1}
        if weights is None and not coco_class:
            path, why = policy.default_model(logs_dir)
            kind = "default"
            self.say(f"Weights: {path} ({why})")
        else:
            name = "coco" if coco_class else "phone"
            path, kind = policy.resolve_weights(weights or "coco", logs_dir=logs_dir, name=name,
                                                verbose=1)
            self.say(f"Weights: {path}" + ("" if kind == "path" else f" (--weights {kind})"))
        self.path, self.kind = path, kind
        self.file = policy.read_weights_file(path)         # the one read of the file
        config_spec = config if isinstance(config, str) else None
        if config is not None and not isinstance(config, str):
            base = config() if isinstance(config, type) else config
            how = f"{type(base).__name__} (given)"
        else:
            base, how = policy.model_config(self.file, config_spec=config_spec,
                                            coco=bool(coco_class) and not config_spec)
        self.config = base
        self.how = how
        self._config_given = config is not None
        self.coco = bool(coco_class)
        if self.coco:
            from phone.coco_classes import COCO_CLASS_NAMES
            if int(base.NUM_CLASSES) != len(COCO_CLASS_NAMES):
                raise CommandError(f"--coco-class needs a config with NUM_CLASSES = "
                                   f"{len(COCO_CLASS_NAMES)} (the COCO model), got "
                                   f"{base.NUM_CLASSES}")
        from phone.segmenter import check_weights_for_config
        check_weights_for_config(path, base, num_classes=self.file.num_classes)
        self.class_names = policy.class_names_for(base, coco=self.coco)
        self._segmenters = {}

    def __repr__(self):
        return f"PhoneModel({self.path!r}, {type(self.config).__name__})"

    # ------------------------------------------------------------ inference
    def segmenter(self, batch_size=1, score=None, one_per_frame=False, image_size=None):
        """A phone.segmenter.Segmenter of this model for ``batch_size``
        images per detect() call (built once per set of options, weights
        from the file read at construction)."""
        key = (int(batch_size), score, bool(one_per_frame), image_size)
        if key in self._segmenters:
            return self._segmenters[key]
        from phone.config import inference_config
        from phone.segmenter import Segmenter, load_inference_weights, precision_line
        from mrcnn.model import MaskRCNN
        config = inference_config(self.config, batch_size=batch_size, score=score,
                                  precision=self.precision, image_size=image_size)
        if not self._segmenters:
            self.say(f"Config: {type(config).__name__} ({self.how})")
        model = MaskRCNN("inference", config, self.logs_dir or os.getcwd())
        load_inference_weights(model, self.file)
        seg = Segmenter(model=model, score=score, keep_class_ids=self.keep_class_ids,
                        class_names=self.class_names, one_per_frame=one_per_frame)
        if not self._segmenters:
            self.say(precision_line(model))
        self._segmenters[key] = seg
        return seg

    def segment(self, image, score=None, one_per_frame=False):
        """(bw, result) for one RGB image [H, W, 3] uint8: bw [H, W] uint8
        0/255 (union of the kept phone instances), result the detect() dict
        (rois [N, (y1, x1, y2, x2)], class_ids [N], scores [N], masks
        [H, W, N])."""
        return self.segmenter(1, score, one_per_frame).segment_image(image)

    def detect(self, images, verbose=0):
        """Matterport's ``MaskRCNN.detect`` for a list of RGB images (any
        count; one image per detect() call)."""
        seg = self.segmenter(1)
        return [seg.model.detect([im], verbose=verbose)[0] for im in images]

    # ------------------------------------------------------------- the rest
    def train(self, dataset, logs_dir=None, **options):
        """Fine-tune this model on ``dataset`` (a folder with train/ and
        val/, Matterport's layout); see phone.train.train for the options
        (recipe, epochs, layers, lr, steps_per_epoch, augment, train_via,
        seed). The architecture is this model's. Returns train's dict
        (last, best, summary, log_dir)."""
        from phone.train import train
        return train(self.config if self._config_given else None, dataset,
                     weights="last" if self.kind == "last" else self.path,
                     logs_dir=logs_dir or self.logs_dir, **options)

    def evaluate(self, dataset, subset="val", via_file=None, batch_size=4, score=None,
                 one_per_frame=False, coco_class=None, quiet=True):
        """Mask IoU, Matterport's mAP and COCO mask AP on a VIA-annotated
        subset (phone.evaluate report dict)."""
        from phone.evaluate import evaluation_report, load_eval_dataset
        ds = load_eval_dataset(dataset, subset, via_file=via_file)
        seg = self.segmenter(batch_size, score, one_per_frame)
        return evaluation_report(seg, ds, self.path, dataset, subset, class_map=self.class_map,
                                 coco_class=coco_class, quiet=quiet)

    def export(self, format, out, **options):
        """Export the whole detect() pipeline (phone.export.export_model:
        formats saved_model, tflite, onnx)."""
        from phone.export import export_model
        score = options.pop("score", None)
        return export_model(self.segmenter(1, score), format, out, **options)

    def annotate(self, frames, out, batch_size=4, score=None, **options):
        """Pre-annotate a folder of frames as a VIA project
        (phone.annotate.annotate_folder)."""
        from phone.annotate import annotate_folder
        return annotate_folder(self.segmenter(batch_size, score), frames, out, **options)


def build_segmenter(weights=None, config_spec=None, coco_class=None, logs_dir=None,
                    image_size=None, batch_size=1, score=None, precision=None, say=None,
                    one_per_frame=False):
    """The segmenter of the phone commands, from plain option values: a
    phone.model.PhoneModel (the file read once) and its segmenter.

    weights: a path, "last", "best", "coco", "shipped", or None for the
        default model (phone.weights.default_model; "coco" with ``coco_class``).
    config_spec: "MODULE:CLASS" overriding the configuration in the file.
    coco_class: a COCO class name (e.g. "cell phone"): segment that class
        with Matterport's COCO model.
    say: callable for one-line notes (which file, which config, which
        precision and why); None prints them on stderr.
    one_per_frame: keep only the best detection of each frame.
    Returns (Segmenter, weights path, class_map) where class_map maps the
    model's class id to the dataset's (COCO cell phone -> 1) or is None.
    Raises CommandError / WeightsError (one line).
    """
    model = PhoneModel(weights, config=config_spec, coco_class=coco_class, precision=precision,
                       logs_dir=logs_dir, say=say)
    seg = model.segmenter(batch_size, score=score, one_per_frame=one_per_frame,
                          image_size=image_size)
    return seg, model.path, model.class_map
