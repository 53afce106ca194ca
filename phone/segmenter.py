"""The phone segmenter: RGB frames in, black/white masks out.

    from phone.model import build_segmenter
    seg, path, class_map = build_segmenter()            # the default model (see phone.weights)
    seg = Segmenter(weights="mask_rcnn_phone_0030.h5")   # config read from the file
    for bw, r in seg.segment_images([frame1, frame2]):
        ...   # bw: [H, W] uint8 0/255 (union of the phone instances); r: detect() dict

Shapes: images [H, W, 3] uint8 RGB (any size; grey and RGBA are accepted);
``r`` = {"rois": [N, (y1, x1, y2, x2)] int32 pixels, "class_ids": [N] int32,
"scores": [N] float32, "masks": [H, W, N] bool}.
"""
import os

import numpy as np

from phone.errors import ImageReadError, WeightsError

__all__ = ["Segmenter", "color_splash", "load_inference_weights",
           "check_weights_for_config", "precision_line"]


def load_inference_weights(model, path):
    """Load a full Mask R-CNN weights file by name and insist that every
    layer of the model got weights (an ImageNet backbone file, or a file of
    another architecture, cannot segment anything).

    Raises WeightsError / WeightsFileError with one line naming the file.
    """
    from mrcnn import weights as weights_io
    model.load_weights(path, by_name=True)
    loaded = set(model.loaded_layer_names)
    missing = [name for name, _ in weights_io.weighted_layers(model.keras_model)
               if name not in loaded]
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise WeightsError(f"{path}: no weights for {len(missing)} of the model's layers "
                           f"({shown}); it is not a Mask R-CNN model for this config "
                           f"(BACKBONE {model.config.BACKBONE!r})")
    return sorted(loaded)


def check_weights_for_config(path, config=None, num_classes=None):
    """Fail early (before building the model) when a weights file is not a
    Keras weights file, has no Mask R-CNN head, or (with ``config``) cannot
    fit the config's class count. ``num_classes``: the file's class count
    when the caller already read it (the file is then not opened again).
    Returns the file's class count. Raises WeightsError (one line)."""
    from phone.weights import file_num_classes
    n = file_num_classes(path) if num_classes is None else int(num_classes)
    if n is None:
        raise WeightsError(f"{path}: has no Mask R-CNN head (mrcnn_class_logits); backbone-only "
                           f"weights such as ImageNet's cannot segment: train first")
    if config is not None and n != int(config.NUM_CLASSES):
        hint = (" (these are COCO weights: use --coco-class 'cell phone', or fine-tune them "
                "with 'phone train --weights coco')" if n == 81 else "")
        raise WeightsError(f"{path}: trained for {n} classes but the config "
                           f"({type(config).__name__}) has NUM_CLASSES = {config.NUM_CLASSES}{hint}")
    return n


def color_splash(image, mask):
    """Matterport's colour splash: grey image, original colours where mask.

    image: [H, W, 3] RGB uint8; mask: [H, W] (nonzero = phone).
    Grey uses skimage's rgb2gray weights (0.2125, 0.7154, 0.0721).
    Returns [H, W, 3] uint8.
    """
    image = np.asarray(image)
    grey = image[..., :3].astype(np.float64) @ np.array([0.2125, 0.7154, 0.0721])
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    out = np.repeat(grey[:, :, None], 3, axis=2)
    m = np.asarray(mask) != 0
    out[m] = image[..., :3][m]
    return out


def _as_rgb(image, where="image"):
    """mrcnn.core.images.as_rgb with the problem as an ImageReadError naming
    the image (one line at the command)."""
    from mrcnn.core.images import as_rgb
    try:
        return as_rgb(image)
    except ValueError as e:
        raise ImageReadError(f"{where}: {e}") from None


class Segmenter:
    """Mask R-CNN phone segmenter.

    config: an inference Config; ignored when ``model`` is given (its config
        is used). Default: the configuration of ``weights`` (stored in the
        file or read from its shapes, see phone.weights.model_config), or
        PhoneInferenceConfig() without weights.
    weights: path of a .h5 weights file to load (by name) into a new model.
    model: a ready MaskRCNN in inference mode (then nothing is built/loaded).
    score: keep detections with score >= this (also set as the new model's
        DETECTION_MIN_CONFIDENCE); None keeps what detect() returns.
    keep_class_ids: class ids that count as phone (None: every class).
    class_names: names indexed by class id, for overlays.
    model_dir: MaskRCNN model_dir (logs); default the current folder.
    one_per_frame: keep only the highest-scoring detection of each frame
        (one phone per frame, as in CORe50); else every kept detection.
    """

    def __init__(self, config=None, weights=None, model=None, score=None,
                 keep_class_ids=None, class_names=None, model_dir=None, one_per_frame=False):
        if model is None:
            from mrcnn.model import MaskRCNN
            from phone.config import PhoneInferenceConfig, inference_config
            if config is None and weights is not None:
                from phone.weights import model_config
                config, _ = model_config(os.fspath(weights))
                config = inference_config(config)
                if class_names is None:
                    from phone.weights import class_names_for
                    class_names = class_names_for(config)
            elif config is None:
                config = PhoneInferenceConfig()
            if score is not None and float(config.DETECTION_MIN_CONFIDENCE) != float(score):
                config = inference_config(config, score=score)
            model = MaskRCNN("inference", config, model_dir or os.getcwd())
            if weights is not None:
                load_inference_weights(model, os.fspath(weights))
        self.model = model
        self.config = model.config
        self.score = None if score is None else float(score)
        self.one_per_frame = bool(one_per_frame)
        self.keep_class_ids = (None if keep_class_ids is None
                               else sorted({int(c) for c in keep_class_ids}))
        n = int(self.config.NUM_CLASSES)
        self.class_names = list(class_names) if class_names else (
            ["BG", "phone"] + [f"class {i}" for i in range(2, n)])[:max(n, 1)]
        self.batch_size = int(self.config.BATCH_SIZE)

    # -------------------------------------------------------------- results
    def filter_result(self, r):
        """Keep the detections above ``score`` whose class is kept.

        r: detect() dict: rois [N, 4], class_ids [N], scores [N], masks [H, W, N].
        Returns a new dict of the same form with N' <= N instances.
        """
        class_ids = np.asarray(r["class_ids"]).reshape(-1).astype(np.int32)
        scores = np.asarray(r["scores"]).reshape(-1).astype(np.float32)
        keep = np.ones(class_ids.shape[0], bool)
        if self.score is not None:
            keep &= scores >= self.score
        if self.keep_class_ids is not None:
            keep &= np.isin(class_ids, self.keep_class_ids)
        if self.one_per_frame and keep.sum() > 1:
            best = np.flatnonzero(keep)[np.argmax(scores[keep])]
            keep = np.zeros_like(keep)
            keep[best] = True
        masks = np.asarray(r["masks"])
        rois = np.asarray(r["rois"]).reshape(-1, 4)
        return {"rois": rois[keep].astype(np.int32), "class_ids": class_ids[keep],
                "scores": scores[keep], "masks": masks[:, :, keep].astype(bool)}

    @staticmethod
    def result_mask(image, r):
        """Union of r's masks as uint8 0/255 [H, W] at the image's size."""
        from mrcnn.render import mask_to_bw
        h, w = image.shape[:2]
        masks = np.asarray(r["masks"])
        if masks.ndim != 3 or masks.shape[2] == 0:
            return np.zeros((h, w), np.uint8)
        if masks.shape[:2] != (h, w):
            raise ValueError(f"detection masks are {masks.shape[0]}x{masks.shape[1]} but the "
                             f"image is {h}x{w}")
        return np.ascontiguousarray(mask_to_bw(masks), dtype=np.uint8)

    def segment_images(self, images):
        """Segment a list of RGB images.

        images: list of [H, W, 3] uint8 RGB arrays (sizes may differ).
        Runs detect() on batches of config.BATCH_SIZE; the last batch is padded
        by repeating its last image and the padded results are dropped.
        Returns a list (one per image) of (bw, result): bw [H, W] uint8 0/255,
        result the filtered detect() dict.
        """
        images = [_as_rgb(im, f"image {i}") for i, im in enumerate(images)]
        out = []
        bs = self.batch_size
        for start in range(0, len(images), bs):
            batch = images[start:start + bs]
            n = len(batch)
            results = self.model.detect(batch + [batch[-1]] * (bs - n), verbose=0)
            if len(results) < n:
                raise ValueError(f"detect() returned {len(results)} results for {n} images")
            for image, r in zip(batch, results[:n]):
                r = self.filter_result(r)
                out.append((self.result_mask(image, r), r))
        return out

    def segment_image(self, image):
        """(bw, result) for one RGB image."""
        return self.segment_images([image])[0]

    def overlay(self, image, r):
        """Matterport-style instance overlay: uint8 RGB [H, W, 3]."""
        from mrcnn.render import draw_instances_image
        return draw_instances_image(image, r["rois"], r["masks"], r["class_ids"],
                                    self.class_names, r["scores"])

    def render(self, image, bw, r, style):
        """style "overlay" | "splash" -> RGB image."""
        if style == "splash":
            return color_splash(image, bw)
        return self.overlay(image, r)


def precision_line(model):
    """'Precision: POLICY (why)' for a built MaskRCNN."""
    policy = getattr(model, "mixed_precision", None) or "float32"
    reason = getattr(model, "mixed_precision_reason", None)
    return f"Precision: {policy}" + (f" ({reason})" if reason else "")
