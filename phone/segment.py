"""Batch export of phone masks: an image, a folder (resumable) or a video.

    from phone.segmenter import build_segmenter
    from phone.segment import segment_file, segment_dir, segment_video
    seg, _, _ = build_segmenter(batch_size=4)
    summary = segment_dir(seg, "frames/", "masks/")

What ``phone segment`` writes (phone/commands/segment.py parses the options)::

    --image PATH   ->  OUT/NAME_mask.png + OUT/NAME_overlay.png
    --dir DIR      ->  OUT/<sub/folders>/NAME_mask.png ... (resumable)
    --video PATH   ->  OUT/NAME_000123_mask.png per frame (+ --out-video)

Every mask PNG is single channel uint8, 0 or 255, the input's height and
width, the union of the kept instances (all black when there is none), and is
written atomically (temp file + rename). NAME_mask.png is always the last file
written for an input, so its presence means the input is done.
"""
import os
import sys

import numpy as np

from phone.errors import PhoneDataError, one_line
from phone.imageio import read_image, write_png_atomic
from phone.segmenter import Segmenter, color_splash  # noqa: F401 (re-exported: old imports)
from phone.video import AtomicVideoWriter, VideoError, probe_video

__all__ = ["Segmenter", "SegmentSummary", "VideoError", "IMAGE_EXTENSIONS",
           "MASK_SUFFIX", "OVERLAY_SUFFIX", "SPLASH_SUFFIX", "color_splash",
           "list_images", "pending_images", "start_summary", "segment_to_files", "segment_file",
           "segment_dir", "segment_video", "probe_video"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
MASK_SUFFIX = "_mask.png"
OVERLAY_SUFFIX = "_overlay.png"
SPLASH_SUFFIX = "_splash.png"
_OUTPUT_SUFFIXES = ("_mask", "_overlay", "_splash")

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


def segment_to_files(segmenter, items, out_dir, style="overlay"):
    """Segment a batch of decoded images and write their outputs: the step
    ``segment_dir`` repeats per batch (and each actor of
    phone.distributed.segment_dir_ray).

    items: [((path, rel), image)], image [H, W, 3] uint8 RGB, rel the output
        NAME relative to out_dir (list_images).
    Writes OUT/rel_overlay.png (or _splash, or nothing with style None) and
    then OUT/rel_mask.png, each atomically. Returns [(path, None)] for a
    written image or [(path, one-line message naming the file)] for a
    failed one, in the order of items.
    """
    out = []
    for (path, rel), image, bw, r, err in _segment_batch(segmenter, items):
        if err is None:
            try:
                _write_outputs(os.path.join(out_dir, rel), image, bw, r, segmenter, style)
            except (OSError, ValueError) as e:
                err = e
        msg = None
        if err is not None:
            msg = one_line(err)
            if not msg.startswith(path):
                msg = f"{path}: {msg}"
        out.append((path, msg))
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


def start_summary(in_dir, out_dir, listing=None):
    """(SegmentSummary, pending) of a folder run, local or on Ray: the
    images already done are counted as skipped, name clashes reported on
    stderr as failures. listing: pending_images(in_dir, out_dir) when the
    caller already has it."""
    items, pending, clashes = listing if listing is not None else pending_images(in_dir, out_dir)
    summary = SegmentSummary(len(items))
    summary.skipped = len(items) - len(pending) - len(clashes)
    for path, msg in clashes:
        summary.failed.append((path, msg))
        print(f"error: {msg}", file=sys.stderr)
    return summary, pending


def segment_dir(segmenter, in_dir, out_dir, style="overlay", quiet=False, listing=None):
    """Segment every image under in_dir, skipping those whose mask exists.

    style: "overlay", "splash" or None (masks only).
    listing: pending_images(in_dir, out_dir) when the caller already has it.
    Unreadable files are reported on stderr and skipped. Returns a
    SegmentSummary.
    """
    summary, pending = start_summary(in_dir, out_dir, listing)
    bar = _progress(len(pending), quiet)
    buf = []

    def flush():
        for path, msg in segment_to_files(segmenter, buf, out_dir, style):
            if msg is None:
                summary.done += 1
            else:
                summary.failed.append((path, msg))
                _say(bar, f"error: {msg}")
            bar.update(1)
        buf.clear()

    try:
        for (path, rel), image, e in _read_ahead(pending, max(8, 2 * segmenter.batch_size)):
            if e is not None:
                summary.failed.append((path, one_line(e)))
                _say(bar, f"error: {one_line(e)}")
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
    writer = None
    buf = []

    def flush():
        nonlocal writer
        for (idx, base), image, bw, r, err in _segment_batch(segmenter, buf):
            if err is not None:
                summary.failed.append((f"{video_path}#{idx}", f"{video_path}: frame {idx}: {one_line(err)}"))
                _say(bar, f"error: {video_path}: frame {idx}: {one_line(err)}")
                bw = np.zeros(image.shape[:2], np.uint8)
                r = {"rois": np.zeros((0, 4), np.int32), "class_ids": np.zeros(0, np.int32),
                     "scores": np.zeros(0, np.float32), "masks": np.zeros(image.shape[:2] + (0,), bool)}
            else:
                write_png_atomic(base + MASK_SUFFIX, bw)
                summary.done += 1
            if out_video is not None:
                if writer is None:
                    writer = AtomicVideoWriter(out_video, fps, hint="--out-video")
                writer.write(segmenter.render(image, bw, r, style)[:, :, ::-1])
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
            writer.close()
            writer = None
    finally:
        cap.release()
        bar.close()
        if writer is not None:
            writer.abort()
    return summary


def segment_file(segmenter, image_path, out_dir, style="overlay", image=None):
    """Segment one image file: writes OUT/NAME_mask.png (and the overlay or
    splash). ``image``: its pixels when the caller already decoded it.
    Returns (mask path, result dict, mask)."""
    if image is None:
        image = read_image(image_path)  # bad file: ImageReadError
    bw, r = segmenter.segment_image(image)
    base = os.path.join(out_dir, os.path.splitext(os.path.basename(image_path))[0])
    _write_outputs(base, image, bw, r, segmenter, style)
    return base + MASK_SUFFIX, r, bw
