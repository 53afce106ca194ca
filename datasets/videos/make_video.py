#!/usr/bin/env python3
"""Build the bundled demo clip ``datasets/videos/phone_demo.mp4``.

A short CORe50-like "camera" clip for ``phone realtime`` and the real-time
notebook: the four real CORe50 phone frames of ``datasets/phone`` (train and
val) and a few synthetic frames (``phone.synthetic``, phones cut out of
the real training frames or drawn), each shown with a slow pan and zoom, with
short cross-fades between the scenes. 256x256 (CORe50's 128 px frames
upscaled 2x), 10 fps, about 5 s, MPEG-4 Part 2 ('mp4v'), well under 1 MB.

    python datasets/videos/make_video.py [--out datasets/videos/phone_demo.mp4]

Deterministic for a given --seed (the file bytes may still differ between
OpenCV versions).
"""
import argparse
import os
import sys

import cv2
import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))  # datasets/, for its one bootstrap
import _bootstrap  # noqa: E402,F401  (source checkout without install)

from phone.synthetic import frame_rng, load_cutouts, make_frame  # noqa: E402
from phone.imageio import read_image  # noqa: E402

DEFAULT_OUT = os.path.join(_HERE, "phone_demo.mp4")
REAL_FRAMES = ["train/C_01_06_001.png", "train/C_01_07_000.png",
               "val/C_01_08_000.png", "val/C_01_09_002.png"]

__all__ = ["scenes", "pan_zoom", "make_frames", "write_video", "main", "DEFAULT_OUT"]


def pan_zoom(image, n, size, rng):
    """n frames [size, size, 3] uint8 of a slow pan + zoom over ``image``.

    The crop window shrinks from 100 % to 80-90 % of the image side and
    drifts between two random corners; crops are resized to size x size.
    """
    h, w = image.shape[:2]
    side0 = min(h, w)
    zoom_end = rng.uniform(0.8, 0.9)
    start, end = rng.uniform(0, 1, 2), rng.uniform(0, 1, 2)
    out = []
    for k in range(n):
        t = k / max(1, n - 1)
        t = t * t * (3 - 2 * t)  # smooth start and stop
        side = side0 * (1.0 + (zoom_end - 1.0) * t)
        fy, fx = start + (end - start) * t
        y0, x0 = fy * (h - side), fx * (w - side)
        # affine crop with sub-pixel position (smooth motion)
        s = size / side
        M = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float64)
        out.append(cv2.warpAffine(image, M, (size, size), flags=cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REFLECT))
    return out


def scenes(dataset_dir, size, seed, n_synthetic=3):
    """The clip's still images (RGB uint8): real frames and synthetic ones
    interleaved."""
    real = [read_image(os.path.join(dataset_dir, f)) for f in REAL_FRAMES]
    cutouts = load_cutouts([os.path.join(dataset_dir, "train")])
    synth = [make_frame(frame_rng(seed, i), size=size, max_phones=1, cutouts=cutouts,
                        paste_prob=0.5)["image"] for i in range(n_synthetic)]
    out = []
    for i, r in enumerate(real):
        out.append(r)
        if i < len(synth):
            out.append(synth[i])
    return out


def make_frames(dataset_dir, size=256, frames_per_scene=6, fade=2, seed=0):
    """All frames of the clip, RGB uint8 [size, size, 3]."""
    rng = np.random.default_rng(seed)
    frames = []
    for still in scenes(dataset_dir, size, seed):
        clip = pan_zoom(still, frames_per_scene, size, rng)
        if frames and fade:
            prev = frames[-1].astype(np.float32)
            for j in range(1, fade + 1):
                a = j / (fade + 1.0)
                frames.append(np.clip(prev * (1 - a) + clip[0].astype(np.float32) * a + 0.5,
                                      0, 255).astype(np.uint8))
        frames.extend(clip)
    return frames


def write_video(frames, path, fps=10):
    """Write RGB frames as an mp4v video, atomically. Returns the path."""
    import tempfile
    h, w = frames[0].shape[:2]
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".phone_demo.", suffix=".mp4")
    os.close(fd)
    try:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"{path}: OpenCV cannot write mp4v video here")
        for f in frames:
            writer.write(np.ascontiguousarray(f[:, :, ::-1]))
        writer.release()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--dataset", default=os.path.join(_bootstrap.REPO, "datasets", "phone"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--frames-per-scene", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    frames = make_frames(a.dataset, size=a.size, frames_per_scene=a.frames_per_scene, seed=a.seed)
    write_video(frames, a.out, fps=a.fps)
    print(f"{a.out}: {len(frames)} frames, {a.size}x{a.size}, {a.fps:g} fps, "
          f"{os.path.getsize(a.out)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
