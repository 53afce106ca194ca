"""Segment phones: RGB frames in, black/white masks out.

Library use::

    from phone.segment import Segmenter
    seg = Segmenter(config=PhoneInferenceConfig(), weights="mask_rcnn_phone_0030.h5")
    for bw, r in seg.segment_images([frame1, frame2, frame3]):
        ...   # bw: [H, W] uint8 0/255; r: detect() dict, filtered

Command line (``phone segment``, see :func:`run`)::

    --image PATH   ->  OUT/NAME_mask.png + OUT/NAME_overlay.png
    --dir DIR      ->  OUT/<sub/folders>/NAME_mask.png ... (resumable)
    --video PATH   ->  OUT/NAME_000123_mask.png per frame (+ --out-video)

Every mask PNG is single channel uint8, 0 or 255, the input's height and
width, the union of the kept instances (all black when there is none), and is
written atomically (temp file + rename). NAME_mask.png is always the last file
written for an input, so its presence means the input is done.
"""
import functools
import os
import sys

import numpy as np

from phone.errors import ImageReadError, PhoneDataError
from phone.imageio import read_image, set_new_file_mode, write_png_atomic

__all__ = ["Segmenter", "SegmentSummary", "VideoError", "IMAGE_EXTENSIONS",
           "MASK_SUFFIX", "OVERLAY_SUFFIX", "SPLASH_SUFFIX", "color_splash",
           "inference_setup", "list_images", "segment_dir", "segment_video",
           "load_inference_weights", "CocoInferenceConfig", "probe_video", "run"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
MASK_SUFFIX = "_mask.png"
OVERLAY_SUFFIX = "_overlay.png"
SPLASH_SUFFIX = "_splash.png"
_OUTPUT_SUFFIXES = ("_mask", "_overlay", "_splash")

#: --batch-size default for --dir / --video
DEFAULT_BATCH = 4


class VideoError(PhoneDataError):
    """A video that cannot be opened, decoded or written."""


# ------------------------------------------------------------------ configs
@functools.lru_cache(maxsize=None)
def _coco_config_class():
    from mrcnn.config import Config

    class CocoInferenceConfig(Config):
        """Matterport's COCO model (mask_rcnn_coco.h5) for inference:
        ResNet-101, 81 classes, Matterport's image sizes (800 / 1024)."""
        NAME = "coco"
        NUM_CLASSES = 1 + 80
        GPU_COUNT = 1
        IMAGES_PER_GPU = 1

    return CocoInferenceConfig


def __getattr__(name):  # lazy: mrcnn.config stays unimported until needed
    if name == "CocoInferenceConfig":
        return _coco_config_class()
    raise AttributeError(name)


def inference_setup(args):
    """Config, class names, kept class ids and (pred -> dataset) class map for
    segment / evaluate arguments.

    args: needs config, coco_class, image_size, batch_size, score attributes
        (missing ones count as None).
    Returns (config, class_names, keep_class_ids or None, class_map or None).
    Raises CommandError for an unknown COCO class or a config of the wrong size.
    """
    from phone.cli import CommandError, derive_config, load_config_class
    from phone.coco_classes import COCO_CLASS_NAMES, coco_class_id
    get = lambda name: getattr(args, name, None)  # noqa: E731

    coco_class = get("coco_class")
    keep, class_map = None, None
    if coco_class:
        try:
            cid = coco_class_id(coco_class)
        except ValueError as e:
            raise CommandError(f"--coco-class: {e}") from None
        keep, class_map = [cid], {cid: 1}
    if get("config"):
        cls = load_config_class(get("config"))
    elif coco_class:
        cls = _coco_config_class()
    else:
        from phone.config import PhoneInferenceConfig
        cls = PhoneInferenceConfig
    size = get("image_size")
    if size:
        from phone.config import input_dim_for
        config = cls.for_size(size) if hasattr(cls, "for_size") else derive_config(
            cls(), IMAGE_MIN_DIM=int(size), IMAGE_MAX_DIM=input_dim_for(size))
    else:
        config = cls()
    overrides = {"GPU_COUNT": 1}
    if get("batch_size"):
        overrides["IMAGES_PER_GPU"] = int(get("batch_size"))
    if get("score") is not None:
        overrides["DETECTION_MIN_CONFIDENCE"] = float(get("score"))
    if get("precision"):
        overrides["MIXED_PRECISION"] = get("precision")
    config = derive_config(config, **overrides)

    if coco_class:
        if int(config.NUM_CLASSES) != len(COCO_CLASS_NAMES):
            raise CommandError(f"--coco-class needs a config with NUM_CLASSES = "
                               f"{len(COCO_CLASS_NAMES)} (the COCO model), got {config.NUM_CLASSES}")
        class_names = list(COCO_CLASS_NAMES)
    else:
        n = int(config.NUM_CLASSES)
        class_names = ["BG", "phone"] + [f"class {i}" for i in range(2, n)]
        class_names = class_names[:max(n, 1)]
    return config, class_names, keep, class_map


def load_inference_weights(model, path):
    """Load a full Mask R-CNN weights file by name and insist that every
    layer of the model got weights (an ImageNet backbone file, or a file of
    another architecture, cannot segment anything).

    Raises WeightsError / WeightsFileError with one line naming the file.
    """
    from mrcnn import weights as weights_io
    from phone.weights import WeightsError
    loaded = set(model.load_weights(path, by_name=True))
    missing = [name for name, _ in weights_io.weighted_layers(model.keras_model)
               if name not in loaded]
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise WeightsError(f"{path}: no weights for {len(missing)} of the model's layers "
                           f"({shown}); it is not a Mask R-CNN model for this config "
                           f"(BACKBONE {model.config.BACKBONE!r})")
    return sorted(loaded)


def check_weights_for_config(path, config):
    """Fail early (before building the model) when a weights file cannot fit
    the config's class count."""
    from phone.weights import WeightsError, check_weights_file, file_num_classes
    check_weights_file(path)
    n = file_num_classes(path)
    if n is None:
        raise WeightsError(f"{path}: has no Mask R-CNN head (mrcnn_class_logits); backbone-only "
                           f"weights such as ImageNet's cannot segment: train first")
    if n != int(config.NUM_CLASSES):
        hint = (" (these are COCO weights: use --coco-class 'cell phone', or fine-tune them "
                "with 'phone train --weights coco')" if n == 81 else "")
        raise WeightsError(f"{path}: trained for {n} classes but the config "
                           f"({type(config).__name__}) has NUM_CLASSES = {config.NUM_CLASSES}{hint}")


# ------------------------------------------------------------------ segmenter
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
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageReadError(f"{where}: expected an [H, W, 3] RGB image, got shape {image.shape}")
    return image[:, :, :3]


class Segmenter:
    """Mask R-CNN phone segmenter.

    config: an inference Config (default PhoneInferenceConfig()); ignored when
        ``model`` is given (its config is used).
    weights: path of a .h5 weights file to load (by name) into a new model.
    model: a ready MaskRCNN in inference mode (then nothing is built/loaded).
    score: keep detections with score >= this (also set as the new model's
        DETECTION_MIN_CONFIDENCE); None keeps what detect() returns.
    keep_class_ids: class ids that count as phone (None: every class).
    class_names: names indexed by class id, for overlays.
    model_dir: MaskRCNN model_dir (logs); default the current folder.
    """

    def __init__(self, config=None, weights=None, model=None, score=None,
                 keep_class_ids=None, class_names=None, model_dir=None):
        if model is None:
            from mrcnn.model import MaskRCNN
            if config is None:
                from phone.config import PhoneInferenceConfig
                config = PhoneInferenceConfig()
            if score is not None and float(config.DETECTION_MIN_CONFIDENCE) != float(score):
                from phone.cli import derive_config
                config = derive_config(config, DETECTION_MIN_CONFIDENCE=float(score))
            model = MaskRCNN("inference", config, model_dir or os.getcwd())
            if weights is not None:
                load_inference_weights(model, os.fspath(weights))
        self.model = model
        self.config = model.config
        self.score = None if score is None else float(score)
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
        masks = np.asarray(r["masks"])
        rois = np.asarray(r["rois"]).reshape(-1, 4)
        return {"rois": rois[keep].astype(np.int32), "class_ids": class_ids[keep],
                "scores": scores[keep], "masks": masks[:, :, keep].astype(bool)}

    @staticmethod
    def result_mask(image, r):
        """Union of r's masks as uint8 0/255 [H, W] at the image's size."""
        from mrcnn.visualize import mask_to_bw
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
        from mrcnn.visualize import draw_instances_image
        return draw_instances_image(image, r["rois"], r["masks"], r["class_ids"],
                                    self.class_names, r["scores"])

    def render(self, image, bw, r, style):
        """style "overlay" | "splash" -> RGB image."""
        if style == "splash":
            return color_splash(image, bw)
        return self.overlay(image, r)


# ------------------------------------------------------------------ outputs
class SegmentSummary:
    """Counts of a segment run: total inputs, done (written now), skipped
    (already had a mask), failed [(path, message)]."""

    def __init__(self, total=0):
        self.total = total
        self.done = 0
        self.skipped = 0
        self.failed = []

    def line(self):
        text = f"{self.done} segmented, {self.skipped} skipped (mask exists), {len(self.failed)} failed"
        return f"{text} of {self.total}"

    def __repr__(self):
        return f"SegmentSummary({self.line()})"


def _write_outputs(base, image, bw, r, segmenter, style):
    """base: output path without suffix. Writes the overlay/splash first and
    the mask last (its presence marks the input as done)."""
    if style:
        suffix = SPLASH_SUFFIX if style == "splash" else OVERLAY_SUFFIX
        write_png_atomic(base + suffix, segmenter.render(image, bw, r, style))
    write_png_atomic(base + MASK_SUFFIX, bw)


def _is_within(path, root):
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def list_images(in_dir, out_dir=None):
    """Images under ``in_dir`` (recursive, sorted; hidden entries skipped).

    Returns [(path, rel_name)] where rel_name is the path relative to in_dir
    without extension (the NAME of the outputs). When out_dir lies inside
    in_dir, it is not searched, and when it is in_dir itself, our own output
    files (``*_mask``, ``*_overlay``, ``*_splash``) are not taken as inputs.
    """
    in_dir = os.fspath(in_dir)
    out_real = os.path.realpath(out_dir) if out_dir is not None else None
    same = out_real is not None and out_real == os.path.realpath(in_dir)
    found = []
    for root, dirs, files in os.walk(in_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (
            out_real is not None and not same
            and os.path.realpath(os.path.join(root, d)) == out_real))
        for f in sorted(files):
            stem, ext = os.path.splitext(f)
            if f.startswith(".") or ext.lower() not in IMAGE_EXTENSIONS:
                continue
            if (same or (out_real and _is_within(root, out_real))) and stem.endswith(_OUTPUT_SUFFIXES):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(os.path.join(root, stem), in_dir)
            found.append((path, rel))
    return found


def _progress(total, quiet, unit="img"):
    from tqdm import tqdm
    return tqdm(total=total, unit=unit, disable=quiet, file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)


def _say(bar, message):
    from tqdm import tqdm
    if bar is not None and not bar.disable:
        tqdm.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr)


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__


def _segment_batch(segmenter, items):
    """items [(key, image)] -> [(key, image, bw, r, error)]; a failing batch is
    retried image by image so one bad frame does not sink the others."""
    try:
        res = segmenter.segment_images([im for _, im in items])
        return [(k, im, bw, r, None) for (k, im), (bw, r) in zip(items, res)]
    except (ValueError, PhoneDataError) as e:
        if len(items) == 1:
            return [(items[0][0], items[0][1], None, None, e)]
    out = []
    for k, im in items:
        try:
            bw, r = segmenter.segment_images([im])[0]
            out.append((k, im, bw, r, None))
        except (ValueError, PhoneDataError) as e:
            out.append((k, im, None, None, e))
    return out


def _read_ahead(items, lookahead, workers=2):
    """Yield (item, image, None) or (item, None, error) for items [(path, rel)],
    in order, decoding up to ``lookahead`` files ahead in threads (OpenCV
    releases the GIL) so the model does not wait for the disk."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def load(item):
        try:
            return item, read_image(item[0]), None
        except PhoneDataError as e:
            return item, None, e

    it = iter(items)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        queue = deque(pool.submit(load, item) for _, item in zip(range(lookahead), it))
        while queue:
            result = queue.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                queue.append(pool.submit(load, nxt))
            yield result


def pending_images(in_dir, out_dir):
    """(all images, images without a mask in out_dir, name collisions)."""
    items = list_images(in_dir, out_dir)
    seen, todo, clashes = {}, [], []
    for path, rel in items:
        if rel in seen:
            clashes.append((path, f"{path}: output name {rel}{MASK_SUFFIX} is already used by "
                                  f"{seen[rel]}; skipped"))
            continue
        seen[rel] = path
        if not os.path.exists(os.path.join(out_dir, rel + MASK_SUFFIX)):
            todo.append((path, rel))
    return items, todo, clashes


def segment_dir(segmenter, in_dir, out_dir, style="overlay", quiet=False, listing=None):
    """Segment every image under in_dir, skipping those whose mask exists.

    style: "overlay", "splash" or None (masks only).
    listing: pending_images(in_dir, out_dir) when the caller already has it.
    Unreadable files are reported on stderr and skipped. Returns a
    SegmentSummary.
    """
    items, pending, clashes = listing if listing is not None else pending_images(in_dir, out_dir)
    summary = SegmentSummary(len(items))
    summary.skipped = len(items) - len(pending) - len(clashes)
    for path, msg in clashes:
        summary.failed.append((path, msg))
        print(f"error: {msg}", file=sys.stderr)
    bar = _progress(len(pending), quiet)
    buf = []

    def flush():
        for (path, rel), image, bw, r, err in _segment_batch(segmenter, buf):
            if err is None:
                try:
                    _write_outputs(os.path.join(out_dir, rel), image, bw, r, segmenter, style)
                    summary.done += 1
                except (OSError, ValueError) as e:
                    err = e
            if err is not None:
                msg = _one_line(err)
                if not msg.startswith(path):
                    msg = f"{path}: {msg}"
                summary.failed.append((path, msg))
                _say(bar, f"error: {msg}")
            bar.update(1)
        buf.clear()

    try:
        for (path, rel), image, e in _read_ahead(pending, max(8, 2 * segmenter.batch_size)):
            if e is not None:
                summary.failed.append((path, _one_line(e)))
                _say(bar, f"error: {_one_line(e)}")
                bar.update(1)
                continue
            buf.append(((path, rel), image))
            if len(buf) >= segmenter.batch_size:
                flush()
        if buf:
            flush()
    finally:
        bar.close()
    return summary


def _video_writer(path, fps, size):
    import cv2
    import tempfile
    ext = os.path.splitext(path)[1].lower() or ".mp4"
    fourcc = {".avi": "MJPG", ".mkv": "mp4v", ".mov": "mp4v"}.get(ext, "mp4v")
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix="." + os.path.basename(path) + ".", suffix=ext)
    os.close(fd)
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        os.unlink(tmp)
        raise VideoError(f"{path}: cannot write a {ext} video with OpenCV (codec {fourcc}); "
                         f"try --out-video NAME.avi")
    return writer, tmp


def probe_video(video_path):
    """Check that a video opens and yields a first frame; returns
    (frame count reported by the container, fps). Raises VideoError."""
    import cv2
    video_path = os.fspath(video_path)
    if not os.path.isfile(video_path):
        raise VideoError(f"{video_path}: no such video file")
    cap = cv2.VideoCapture(video_path)
    try:
        if not cap.isOpened():
            raise VideoError(f"{video_path}: cannot open video (unknown format or corrupt file)")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError(f"{video_path}: video has no frames (empty, or a codec OpenCV "
                             f"cannot decode)")
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), float(cap.get(cv2.CAP_PROP_FPS) or 0)
    finally:
        cap.release()


def segment_video(segmenter, video_path, out_dir, out_video=None, style="overlay", quiet=False):
    """Segment every frame of a video.

    Writes OUT/NAME_000123_mask.png per frame (frames whose mask exists are
    not re-detected unless an output video is being written) and, with
    out_video, a video of overlays (style "overlay") or colour splashes
    ("splash") at the input's frame rate, atomically. Returns a SegmentSummary. Raises VideoError for a file that
    cannot be opened or holds no frame.
    """
    import cv2
    video_path = os.fspath(video_path)
    if not os.path.isfile(video_path):
        raise VideoError(f"{video_path}: no such video file")
    cap = cv2.VideoCapture(video_path)
    if not cap.isOpened():
        raise VideoError(f"{video_path}: cannot open video (unknown format or corrupt file)")
    name = os.path.splitext(os.path.basename(video_path))[0]
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if 0 < fps < 1000 else 25.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    summary = SegmentSummary(0)
    bar = _progress(count if count > 0 else None, quiet, unit="frame")
    writer, tmp = None, None
    buf = []

    def flush():
        nonlocal writer, tmp
        for (idx, base), image, bw, r, err in _segment_batch(segmenter, buf):
            if err is not None:
                summary.failed.append((f"{video_path}#{idx}", f"{video_path}: frame {idx}: {_one_line(err)}"))
                _say(bar, f"error: {video_path}: frame {idx}: {_one_line(err)}")
                bw = np.zeros(image.shape[:2], np.uint8)
                r = {"rois": np.zeros((0, 4), np.int32), "class_ids": np.zeros(0, np.int32),
                     "scores": np.zeros(0, np.float32), "masks": np.zeros(image.shape[:2] + (0,), bool)}
            else:
                write_png_atomic(base + MASK_SUFFIX, bw)
                summary.done += 1
            if out_video is not None:
                if writer is None:
                    writer, tmp = _video_writer(out_video, fps, (image.shape[1], image.shape[0]))
                frame = segmenter.render(image, bw, r, style)
                writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
            bar.update(1)
        buf.clear()

    idx = -1
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            idx += 1
            summary.total += 1
            base = os.path.join(out_dir, f"{name}_{idx:06d}")
            if out_video is None and os.path.exists(base + MASK_SUFFIX):
                summary.skipped += 1
                bar.update(1)
                continue
            if frame.ndim == 2:
                frame = np.repeat(frame[:, :, None], 3, axis=2)
            buf.append(((idx, base), np.ascontiguousarray(frame[:, :, 2::-1])))
            if len(buf) >= segmenter.batch_size:
                flush()
        if buf:
            flush()
        if idx < 0:
            raise VideoError(f"{video_path}: video has no frames (empty, or a codec OpenCV "
                             f"cannot decode)")
        if writer is not None:
            writer.release()
            writer = None
            set_new_file_mode(tmp, out_video)
            os.replace(tmp, out_video)
            tmp = None
    finally:
        cap.release()
        bar.close()
        if writer is not None:
            writer.release()
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return summary


# ------------------------------------------------------------------ CLI
def _default_weights(args):
    if args.weights:
        return args.weights
    return "coco" if getattr(args, "coco_class", None) else "last"


def build_segmenter(args, default_batch):
    """Config + weights from CLI args -> (Segmenter, weights path, class_map).

    The weights file is resolved and checked before the model is built."""
    from phone.weights import resolve_weights
    if getattr(args, "batch_size", None) is None:
        args.batch_size = default_batch
    config, class_names, keep, class_map = inference_setup(args)
    path, _kind = resolve_weights(_default_weights(args), logs_dir=args.logs, name=config.NAME,
                                  verbose=0 if getattr(args, "quiet", False) else 1)
    check_weights_for_config(path, config)
    if not getattr(args, "quiet", False):
        print(f"Weights: {path}", file=sys.stderr)
    seg = Segmenter(config=config, weights=path, score=args.score, keep_class_ids=keep,
                    class_names=class_names, model_dir=args.logs)
    return seg, path, class_map


def run(args):
    """``phone segment``: returns the exit status (0 ok, 1 some inputs failed)."""
    from phone.cli import CommandError
    style = None if args.no_overlay else ("splash" if args.splash else "overlay")
    out_dir = args.out
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CommandError(f"{out_dir}: --out exists and is not a folder")
    if args.out_video and not args.video:
        raise CommandError("--out-video needs --video")

    if args.image:
        if not os.path.isfile(args.image):
            raise CommandError(f"{args.image}: no such image file")
        image = read_image(args.image)  # bad file: ImageReadError, exit 2
        seg, _, _ = build_segmenter(args, 1)
        bw, r = seg.segment_image(image)
        base = os.path.join(out_dir, os.path.splitext(os.path.basename(args.image))[0])
        _write_outputs(base, image, bw, r, seg, style)
        print(f"{args.image}: {len(r['class_ids'])} phone instance(s), "
              f"{int((bw > 0).sum())} mask pixels -> {base + MASK_SUFFIX}")
        return 0

    if args.dir:
        if not os.path.isdir(args.dir):
            raise CommandError(f"{args.dir}: no such folder (--dir)")
        items, todo, clashes = pending_images(args.dir, out_dir)
        if not items:
            raise CommandError(f"{args.dir}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
        skipped = len(items) - len(todo) - len(clashes)
        if skipped:
            print(f"Resuming: {skipped} of {len(items)} images already have a mask in "
                  f"{out_dir}; skipped", file=sys.stderr)
        if todo:
            seg, _, _ = build_segmenter(args, DEFAULT_BATCH)
            try:
                summary = segment_dir(seg, args.dir, out_dir, style=style, quiet=args.quiet,
                                      listing=(items, todo, clashes))
            except KeyboardInterrupt:
                print("Interrupted: every mask written so far is complete; run the same "
                      "command again to resume", file=sys.stderr)
                raise
        else:
            summary = SegmentSummary(len(items))
            summary.skipped = skipped
            for path, msg in clashes:
                summary.failed.append((path, msg))
                print(f"error: {msg}", file=sys.stderr)
        print(f"Done: {summary.line()}; masks in {out_dir}")
        if summary.failed:
            print(f"{len(summary.failed)} file(s) failed:", file=sys.stderr)
            for _, msg in summary.failed[:20]:
                print(f"  {msg}", file=sys.stderr)
            if len(summary.failed) > 20:
                print(f"  ... and {len(summary.failed) - 20} more", file=sys.stderr)
            return 1
        return 0

    # --video
    if not os.path.isfile(args.video):
        raise CommandError(f"{args.video}: no such video file")
    probe_video(args.video)  # unreadable / empty video: fail before the model build
    seg, _, _ = build_segmenter(args, DEFAULT_BATCH)
    summary = segment_video(seg, args.video, out_dir, out_video=args.out_video,
                            style="splash" if args.splash else "overlay", quiet=args.quiet)
    extra = f"; video {args.out_video}" if args.out_video else ""
    print(f"Done: {summary.line()} frames; masks in {out_dir}{extra}")
    return 1 if summary.failed else 0
