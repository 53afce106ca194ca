"""Synthetic CORe50-like frames of hand-held mobile phones, with VIA annotations.

Each frame: a textured background (noise, gradients, stripes, blurred blobs,
wood grain, blurred shelves) under random lighting (brightness, contrast,
gamma, colour cast, vignette, light gradient, blur, sensor noise), and 0-2
phones. A phone is either drawn (rounded-rect body of a random colour and
material, darker screen, keypad / QWERTY keys / home button, speaker slot,
screen reflection) or, with ``paste_from``, a cut-out of a real annotated
CORe50 phone, randomly rotated, scaled and flipped. Most phones are held by
a skin-coloured hand (palm, fingers, thumb, wrist leaving the frame) that
hides part of them. Negative frames (``negatives`` > 0) show a hand and/or
other objects but no phone.

The annotation of a phone is the polygon of its VISIBLE part: mask = body
minus everything drawn over it; the largest outer contour is traced
(cv2.findContours) and simplified (cv2.approxPolyDP, ~0.7 px); a frame is
redrawn if that polygon would not reproduce the mask (IoU < 0.9), e.g. a
finger cutting the phone in two.

Everything is drawn from signed distance fields in pixel units, so edges are
anti-aliased (alpha = clip(0.5 - d, 0, 1)) and the mask is exactly
``alpha >= 0.5``. Output is deterministic per seed: frame i uses
``np.random.default_rng([seed, i])``.

API::

    path = generate(out_dir, n, size=128, seed=0, paste_from=None, exclude=(), negatives=0.0)
    image, masks = make_sample(np.random.default_rng(0), 128)   # uint8 [H,W,3], bool [H,W,N]

CLI::

    python phone/synthetic.py --out DIR --n 200 --size 128 --seed 0 \
        [--paste-from datasets/phone/train/via_region_data.json] [--exclude C_01_08_000.png] [--negatives 0.1]
"""
import argparse
import math
import os
import sys
import warnings

import cv2
import numpy as np

from phone.errors import PhoneDataError
from phone.imageio import read_image, write_png_atomic
from phone.via import (ViaImage, ViaRegion, load_via, mask_to_polygon, rasterize_region, via2_export,
                       write_via_json)

__all__ = ["generate", "make_sample", "make_frame", "load_cutouts", "Cutout", "mask_to_polygon",
           "VIA_NAME", "main"]

VIA_NAME = "via_region_data.json"

# RGB in 0..1
BODY_COLOURS = [
    (0.08, 0.08, 0.09), (0.15, 0.15, 0.17), (0.25, 0.26, 0.28), (0.55, 0.56, 0.58),
    (0.75, 0.76, 0.78), (0.90, 0.90, 0.88), (0.62, 0.10, 0.10), (0.12, 0.20, 0.45),
    (0.20, 0.30, 0.55), (0.80, 0.65, 0.45), (0.35, 0.10, 0.35), (0.10, 0.35, 0.25),
]
SCREEN_COLOURS = [(0.03, 0.03, 0.05), (0.05, 0.07, 0.12), (0.10, 0.12, 0.10),
                  (0.45, 0.55, 0.45), (0.35, 0.45, 0.55), (0.02, 0.02, 0.02)]
SKIN_TONES = [(0.95, 0.78, 0.68), (0.90, 0.70, 0.58), (0.82, 0.60, 0.48),
              (0.72, 0.52, 0.40), (0.58, 0.40, 0.30), (0.42, 0.28, 0.20), (0.30, 0.20, 0.15)]


# ---------------------------------------------------------------------------
# signed distance fields (pixel units, negative inside)
# ---------------------------------------------------------------------------

def _rrect(u, v, hw, hh, r):
    r = min(r, hw, hh)
    qx = np.abs(u) - hw + r
    qy = np.abs(v) - hh + r
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    inside = np.minimum(np.maximum(qx, qy), 0)
    return outside + inside - r


def _ellipse(u, v, a, b):
    return (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * min(a, b)


def _capsule(u, v, p, q, r):
    pu, pv = u - p[0], v - p[1]
    du, dv = q[0] - p[0], q[1] - p[1]
    t = np.clip((pu * du + pv * dv) / max(du * du + dv * dv, 1e-9), 0.0, 1.0)
    return np.hypot(pu - t * du, pv - t * dv) - r


def _alpha(d):
    return np.clip(0.5 - d, 0.0, 1.0)[..., None]


def _over(img, colour, alpha):
    """Composite colour ([H,W,3] or (3,)) over img with alpha [H,W,1]."""
    return img * (1.0 - alpha) + np.asarray(colour) * alpha


def _local(size, cx, cy, theta):
    """Pixel-centre coordinates in a frame rotated by theta around (cx, cy)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(theta), math.sin(theta)
    return dx * c + dy * s, -dx * s + dy * c


def _jitter(rng, colour, amount=0.06):
    return np.clip(np.asarray(colour) + rng.normal(0, amount, 3), 0, 1)


# ---------------------------------------------------------------------------
# backgrounds and lighting
# ---------------------------------------------------------------------------

def _smooth_noise(rng, size, cells, channels=3):
    small = rng.random((cells, cells, channels)).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC).reshape(size, size, channels)


def _background(rng, size):
    kind = rng.choice(["noise", "gradient", "stripes", "blobs", "wood", "shelves"])
    c1, c2 = rng.random(3), rng.random(3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ang = rng.uniform(0, np.pi)
    t = xx * math.cos(ang) + yy * math.sin(ang)
    if kind == "noise":
        img = 0.3 + 0.5 * _smooth_noise(rng, size, int(rng.integers(3, 12)))
        img = img * 0.7 + 0.3 * c1
    elif kind == "gradient":
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
        img = c1 * (1 - t[..., None]) + c2 * t[..., None]
    elif kind == "stripes":
        period = rng.uniform(0.05, 0.3)
        s = 0.5 + 0.5 * np.sin(2 * np.pi * t / period)
        if rng.random() < 0.5:
            s = (s > 0.5).astype(np.float32)
        img = c1 * (1 - s[..., None]) + c2 * s[..., None]
    elif kind == "blobs":
        img = np.ones((size, size, 3), np.float32) * c1
        for _ in range(int(rng.integers(4, 12))):
            cx, cy = rng.uniform(0, size, 2)
            ax = rng.uniform(0.05, 0.4) * size
            cv2.ellipse(img, (int(cx), int(cy)), (int(ax), int(ax * rng.uniform(0.3, 1))),
                        float(rng.uniform(0, 180)), 0, 360, tuple(float(v) for v in rng.random(3)), -1)
        img = cv2.GaussianBlur(img, (0, 0), size * rng.uniform(0.03, 0.08))
    elif kind == "wood":   # like the light wooden table / wall behind CORe50 objects
        base = np.array(rng.choice([(0.85, 0.75, 0.62), (0.78, 0.62, 0.45), (0.9, 0.85, 0.78),
                                    (0.6, 0.45, 0.3)])) + rng.normal(0, 0.04, 3)
        warp = _smooth_noise(rng, size, 4, 1)[..., 0]
        grain = np.sin(2 * np.pi * (t * rng.uniform(6, 20) + 1.5 * warp))
        img = base * (0.92 + 0.06 * grain[..., None])
    else:  # shelves: a few large blurred rectangles (room clutter)
        img = np.ones((size, size, 3), np.float32) * c1
        for _ in range(int(rng.integers(2, 6))):
            x0, y0 = rng.integers(0, size, 2)
            w, h = rng.integers(size // 8, size, 2)
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)),
                          tuple(float(v) for v in rng.random(3)), -1)
        img = cv2.GaussianBlur(img, (0, 0), size * rng.uniform(0.01, 0.04))
    img = img + rng.normal(0, 0.02, (size, size, 3)) * rng.uniform(0, 1)
    return np.clip(img, 0, 1).astype(np.float32)


def _lighting(rng, img):
    size = img.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ang = rng.uniform(0, 2 * np.pi)
    light = 1.0 + rng.uniform(0, 0.3) * ((xx - 0.5) * math.cos(ang) + (yy - 0.5) * math.sin(ang))
    img = img * light[..., None]
    img = img * rng.uniform(0.9, 1.1, 3)                                 # colour cast
    img = (img - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.15, 0.15)  # contrast, brightness
    img = np.clip(img, 0, 1) ** rng.uniform(0.7, 1.4)                     # gamma
    r2 = (xx - 0.5) ** 2 + (yy - 0.5) ** 2
    img = img * (1.0 - rng.uniform(0, 0.8) * r2)[..., None]               # vignette
    sigma = rng.uniform(0, 0.9) * size / 128.0
    if sigma > 0.25:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(0, 0.025), img.shape)
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# phones
# ---------------------------------------------------------------------------

def _draw_phone(rng, img, size, cx, cy, theta, length):
    """Draw a phone; returns (img, body SDF [H,W], (u, v, half width, half height))."""
    pw = length * rng.uniform(0.42, 0.6)
    hw, hh = pw / 2, length / 2
    u, v = _local(size, cx, cy, theta)
    d_body = _rrect(u, v, hw, hh, pw * rng.uniform(0.06, 0.22))
    style = rng.choice(["smart", "feature", "qwerty"], p=[0.5, 0.3, 0.2])

    base = _jitter(rng, BODY_COLOURS[rng.integers(len(BODY_COLOURS))])
    material = rng.choice(["matte", "metal", "gloss"])
    shade = np.ones_like(u)
    if material == "metal":
        shade = 0.9 + 0.15 * np.sin(u / pw * rng.uniform(2, 8) + rng.uniform(0, 6.3))
    elif material == "gloss":
        shade = 1.0 + 0.35 * np.exp(-(((u + v) * 0.7 - rng.uniform(-hh, hh)) / (0.15 * pw)) ** 2)
    bevel = 1.0 - 0.35 * np.clip(1.0 + d_body / max(0.07 * pw, 0.8), 0, 1)
    body = base * (shade * bevel)[..., None]
    body = body + rng.normal(0, 0.015, body.shape)
    img = _over(img, np.clip(body, 0, 1), _alpha(d_body))

    # Screen (top part for feature phones, most of the front for smartphones).
    margin = pw * rng.uniform(0.06, 0.11)
    if style == "smart":
        top, bottom = length * rng.uniform(0.08, 0.14), length * rng.uniform(0.08, 0.16)
    else:
        top, bottom = length * rng.uniform(0.1, 0.16), length * rng.uniform(0.45, 0.6)
    s_hh = (length - top - bottom) / 2
    s_v = -hh + top + s_hh
    d_screen = _rrect(u, v - s_v, hw - margin, s_hh, pw * rng.uniform(0.0, 0.06))
    scol = _jitter(rng, SCREEN_COLOURS[rng.integers(len(SCREEN_COLOURS))], 0.03)
    screen = scol * (0.8 + 0.4 * ((v - s_v) / max(s_hh, 1) * 0.5 + 0.5))[..., None]
    if style == "smart" and rng.random() < 0.3:   # lit screen: wallpaper + icon grid
        wall = _jitter(rng, rng.random(3) * 0.7, 0.1)
        screen = wall * (0.7 + 0.3 * ((u + v) / length + 0.5))[..., None]
        pitch = (2 * (hw - margin)) / 4
        iu = np.mod(u + (hw - margin), pitch) - pitch / 2
        iv = np.mod(v - (s_v - s_hh), pitch) - pitch / 2
        d_icon = _rrect(iu, iv, pitch * 0.3, pitch * 0.3, pitch * 0.1)
        screen = _over(screen, _jitter(rng, rng.random(3), 0.1), _alpha(d_icon) * 0.8)
    img = _over(img, np.clip(screen, 0, 1), _alpha(np.maximum(d_screen, d_body)))
    # Reflection across the screen.
    refl = np.exp(-(((u - v) * 0.7 - rng.uniform(-hh, hh)) / (0.2 * pw)) ** 2) * rng.uniform(0, 0.25)
    img = img + (refl * _alpha(np.maximum(d_screen, d_body))[..., 0])[..., None]

    # Speaker slot above the screen.
    d_spk = _rrect(u, v - (-hh + top / 2), pw * 0.15, max(length * 0.008, 0.5), length * 0.008)
    img = _over(img, base * 0.3, _alpha(d_spk) * 0.8)

    keycol = _jitter(rng, rng.choice([(0.85, 0.85, 0.85), (0.1, 0.1, 0.1), base * 0.6 + 0.2]), 0.05)
    if style == "smart":
        if rng.random() < 0.5:   # home button
            d_btn = _ellipse(u, v - (hh - bottom / 2), bottom * 0.28, bottom * 0.28)
            img = _over(img, np.clip(base * 0.7, 0, 1), _alpha(d_btn))
    else:
        k_top = s_v + s_hh + length * 0.04
        k_bot = hh - length * 0.05
        rows, cols = (4, 3) if style == "feature" else (int(rng.integers(3, 5)), int(rng.integers(6, 11)))
        if style == "feature":   # navigation pad between screen and keys
            nav_h = (k_bot - k_top) * 0.22
            d_nav = _ellipse(u, v - (k_top + nav_h / 2), pw * 0.18, nav_h * 0.45)
            img = _over(img, keycol * 0.8, _alpha(d_nav))
            k_top += nav_h
        pu = (2 * (hw - margin)) / cols
        pv = (k_bot - k_top) / rows
        ku = np.mod(u + (hw - margin), pu) - pu / 2
        kv = np.mod(v - k_top, pv) - pv / 2
        inside = (np.abs(u) < hw - margin) & (v > k_top) & (v < k_bot)
        d_key = _rrect(ku, kv, pu * 0.38, pv * 0.34, min(pu, pv) * 0.15)
        d_key = np.where(inside, d_key, 1e3)
        img = _over(img, keycol, _alpha(d_key))
    return np.clip(img, 0, 1), d_body, (u, v, hw, hh)


def _hand(rng, u, v, hw, hh, size):
    """Hand SDF in the phone's local frame: palm below, fingers over the sides, thumb, wrist."""
    pw = 2 * hw
    palm_u = rng.uniform(-0.3, 0.3) * pw
    palm_v = hh * rng.uniform(0.55, 1.05)
    a, b = pw * rng.uniform(0.55, 0.8), pw * rng.uniform(0.4, 0.6)
    d = _ellipse(u - palm_u, v - palm_v, a, b)
    wrist_dir = rng.uniform(-0.6, 0.6)
    far = (palm_u + math.sin(wrist_dir) * size * 3, palm_v + math.cos(wrist_dir) * size * 3)
    d = np.minimum(d, _capsule(u, v, (palm_u, palm_v), far, b * rng.uniform(0.8, 1.0)))
    side = rng.choice([-1.0, 1.0])
    finger_r = pw * rng.uniform(0.07, 0.1)
    for k in range(int(rng.integers(1, 5))):       # fingers wrapping round one side
        fv = palm_v - b * 0.4 - k * finger_r * 2.1
        start = (side * (hw + finger_r * rng.uniform(0.5, 1.5)), fv)
        reach = pw * rng.uniform(0.1, 0.35)
        end = (side * (hw - reach), fv - rng.uniform(-0.1, 0.2) * pw)
        d = np.minimum(d, _capsule(u, v, start, end, finger_r))
    if rng.random() < 0.7:                         # thumb from the other side
        tr = finger_r * rng.uniform(1.1, 1.3)
        start = (-side * (hw + tr), palm_v - b * rng.uniform(0.2, 0.8))
        end = (-side * (hw - pw * rng.uniform(0.1, 0.4)), start[1] - pw * rng.uniform(0.1, 0.45))
        d = np.minimum(d, _capsule(u, v, start, end, tr))
    return d


def _draw_hand(rng, img, d):
    skin = _jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 0.04)
    shade = 0.75 + 0.25 * np.clip(-d / 6.0, 0, 1)     # darker towards the outline
    tex = 1.0 + 0.04 * rng.normal(0, 1, d.shape)
    colour = skin * (shade * tex)[..., None]
    return _over(img, np.clip(colour, 0, 1), _alpha(d))


def _distractor(rng, img, size):
    """A non-phone object (mug, ball, box...) for negative frames."""
    cx, cy = rng.uniform(0.2, 0.8, 2) * size
    u, v = _local(size, cx, cy, rng.uniform(0, np.pi))
    r = size * rng.uniform(0.1, 0.25)
    kind = rng.integers(3)
    if kind == 0:
        d = _ellipse(u, v, r, r * rng.uniform(0.6, 1.0))
    elif kind == 1:
        d = _rrect(u, v, r, r * rng.uniform(0.7, 1.3), r * 0.1)   # squat box, not phone-shaped
    else:
        d = np.minimum(_rrect(u, v, r * 0.6, r, r * 0.3), _capsule(u, v, (r * 0.6, -r * 0.4), (r * 1.0, r * 0.2), r * 0.12))
    colour = _jitter(rng, rng.random(3), 0.1) * (0.85 + 0.15 * np.sin(u / r * 3))[..., None]
    return _over(img, np.clip(colour, 0, 1), _alpha(d))


# ---------------------------------------------------------------------------
# real cut-outs (copy-paste augmentation)
# ---------------------------------------------------------------------------

class Cutout:
    """A real phone: RGB crop uint8 [h, w, 3], mask float32 [h, w], source name."""

    def __init__(self, rgb, mask, name):
        self.rgb, self.mask, self.name = rgb, mask, name


def load_cutouts(paste_from, exclude=()):
    """Phone cut-outs from VIA-annotated real frames.

    paste_from: VIA JSON path(s), or dataset directories holding via_region_data.json.
    exclude: filenames or paths of frames never to use (e.g. held-out
        validation / test frames). Matched by basename and by full path.
    Returns: list of Cutout, in a fixed order. Raises PhoneDataError when
    nothing is left.
    """
    if isinstance(paste_from, (str, os.PathLike)):
        paste_from = [paste_from]
    excl_names = {os.path.basename(os.fspath(e)) for e in exclude}
    excl_paths = {os.path.abspath(os.fspath(e)) for e in exclude}
    cutouts = []
    for src in paste_from:
        src = os.fspath(src)
        if os.path.isdir(src):
            src = os.path.join(src, VIA_NAME)
        for im in load_via(src):
            if im.filename in excl_names or os.path.basename(im.path) in excl_names or im.path in excl_paths:
                continue
            rgb = read_image(im.path)
            h, w = rgb.shape[:2]
            for r in im.regions:
                m = rasterize_region(r, h, w, image_name=im.filename)
                ys, xs = np.nonzero(m)
                if len(ys) < 16:
                    continue
                y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
                cutouts.append(Cutout(rgb[y0:y1, x0:x1].copy(), m[y0:y1, x0:x1].astype(np.float32),
                                      f"{im.filename}#{r.index}"))
    if not cutouts:
        raise PhoneDataError(f"{', '.join(map(os.fspath, paste_from))}: no phone cut-outs left "
                             f"(exclude={sorted(excl_names)})")
    return cutouts


def _paste(rng, img, size, cut, cx, cy, length):
    """Paste a cut-out rotated/scaled/flipped; returns (img, mask bool, warped alpha)."""
    rgb = cut.rgb.astype(np.float32) / 255.0
    rgb = np.clip(rgb * rng.uniform(0.85, 1.15, 3) + rng.uniform(-0.05, 0.05), 0, 1)
    mask = cut.mask
    if rng.random() < 0.5:
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    h, w = mask.shape
    scale = length / max(h, w)
    ang = rng.uniform(-180, 180)
    M = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), ang, scale)
    M[:, 2] += (cx - (w - 1) / 2.0, cy - (h - 1) / 2.0)
    warped = cv2.warpAffine(np.ascontiguousarray(rgb), M, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(np.ascontiguousarray(mask), M, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    m = alpha >= 0.5
    return _over(img, warped, alpha[..., None]), m


# ---------------------------------------------------------------------------
# polygons
# ---------------------------------------------------------------------------

def _polygon_iou(pts, mask):
    r = ViaRegion("polygon", "phone", pts.astype(np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = rasterize_region(r, mask.shape[0], mask.shape[1])
    inter = np.logical_and(pm, mask).sum()
    union = np.logical_or(pm, mask).sum()
    return inter / max(union, 1)


# ---------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------

def make_frame(rng, size=128, negative=False, max_phones=2, cutouts=None, paste_prob=0.5,
               max_tries=20):
    """One frame with its annotations.

    Returns: dict with image uint8 [size, size, 3], masks bool [size, size, N],
    polygons (list of N [K, (x, y)] int arrays), sources (list of N str:
    "drawn" or the cut-out name).
    """
    size = int(size)
    for _ in range(max_tries):
        img = _background(rng, size)
        if negative:
            for _ in range(int(rng.integers(0, 3))):
                img = _distractor(rng, img, size)
            if rng.random() < 0.7:
                u, v = _local(size, *rng.uniform(0.2, 0.8, 2) * size, rng.uniform(0, 2 * np.pi))
                img = _draw_hand(rng, img, _hand(rng, u, v, size * 0.12, size * 0.2, size))
            return dict(image=_lighting(rng, img), masks=np.zeros((size, size, 0), bool),
                        polygons=[], sources=[])
        n = 1 if max_phones <= 1 or rng.random() < 0.8 else int(rng.integers(2, max_phones + 1))
        bodies, sources = [], []
        for k in range(n):
            length = size * rng.uniform(0.3, 0.8) / (1.0 if n == 1 else 1.4)
            cx, cy = rng.uniform(0.25, 0.75, 2) * size
            if cutouts and rng.random() < paste_prob:
                cut = cutouts[rng.integers(len(cutouts))]
                img, body = _paste(rng, img, size, cut, cx, cy, length)
                sources.append(cut.name)
                u, v = _local(size, cx, cy, rng.uniform(0, 2 * np.pi))
                hw, hh = length * 0.25, length * 0.5
            else:
                img, d_body, (u, v, hw, hh) = _draw_phone(rng, img, size, cx, cy,
                                                          rng.uniform(0, 2 * np.pi), length)
                body = d_body <= 0
                sources.append("drawn")
            for prev in bodies:
                prev &= ~body
            bodies.append(body.copy())
            if rng.random() < 0.8:
                d_hand = _hand(rng, u, v, hw, hh, size)
                img = _draw_hand(rng, img, d_hand)
                hand = d_hand <= 0
                for b in bodies:
                    b &= ~hand
        # Check every visible part: big enough, one piece a polygon can describe.
        polygons, ok = [], True
        for b in bodies:
            area = int(b.sum())
            pts = mask_to_polygon(b) if area else None
            if area < 0.01 * size * size or pts is None or _polygon_iou(pts, b) < 0.9:
                ok = False
                break
            polygons.append(pts)
        if not ok:
            continue
        masks = np.stack(bodies, axis=-1)
        return dict(image=_lighting(rng, img), masks=masks, polygons=polygons, sources=sources)
    raise RuntimeError(f"no valid frame after {max_tries} tries")


def make_sample(rng, size=128, negative=False, max_phones=2, cutouts=None, paste_prob=0.5):
    """In-memory sample: (image uint8 [size, size, 3], masks bool [size, size, N]).

    masks are the exact visible phone pixels (body minus occluders); the VIA
    polygons written by generate() reproduce them with IoU >= 0.9.
    """
    f = make_frame(rng, size, negative=negative, max_phones=max_phones, cutouts=cutouts,
                   paste_prob=paste_prob)
    return f["image"], f["masks"]


def frame_rng(seed, index):
    """The generator used for frame ``index`` of ``generate(seed=seed)``."""
    return np.random.default_rng([int(seed), int(index)])


def generate(out_dir, n, size=128, seed=0, paste_from=None, exclude=(), negatives=0.0,
             max_phones=2, paste_prob=0.5, prefix="synth"):
    """Write ``n`` frames as PNGs + a VIA 2.x export ``via_region_data.json``.

    out_dir: output directory (created). Files: ``{prefix}_{seed}_{i:05d}.png``.
    size: frame side (128 or 350 like CORe50; any value >= 32).
    seed: frame i is drawn with ``np.random.default_rng([seed, i])``: the same
        seed gives byte-identical files.
    paste_from / exclude: see :func:`load_cutouts`; with paste_from, each
        phone is a real cut-out with probability ``paste_prob``.
    negatives: fraction (0..1) of frames without any phone (kept in the VIA
        file with no regions: load them with keep_empty=True).
    Returns: path of the VIA JSON.
    """
    from tqdm import tqdm
    if int(size) < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    if not 0.0 <= float(negatives) <= 1.0:
        raise ValueError(f"negatives must be in [0, 1], got {negatives}")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    cutouts = load_cutouts(paste_from, exclude) if paste_from else None
    records = []
    for i in tqdm(range(int(n)), disable=int(n) <= 50, desc="synthetic frames", unit="img"):
        rng = frame_rng(seed, i)
        negative = rng.random() < negatives
        f = make_frame(rng, size, negative=negative, max_phones=max_phones, cutouts=cutouts,
                       paste_prob=paste_prob)
        name = f"{prefix}_{int(seed)}_{i:05d}.png"
        path = os.path.join(out_dir, name)
        write_png_atomic(path, f["image"])
        regions = [ViaRegion("polygon", "phone", pts.astype(np.float64), index=k,
                             attributes={"name": "phone"})
                   for k, pts in enumerate(f["polygons"])]
        records.append(ViaImage(filename=name, path=path, regions=regions, size=os.path.getsize(path),
                                file_attributes={"source": ",".join(f["sources"]) or "negative"}))
    return write_via_json(os.path.join(out_dir, VIA_NAME), via2_export(records))


def main(argv=None):
    p = argparse.ArgumentParser(description="Generate synthetic CORe50-like phone frames with VIA polygons.")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--n", type=int, default=200, help="number of frames")
    p.add_argument("--size", type=int, default=128, help="frame side in pixels (128 or 350)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--negatives", type=float, default=0.0, help="fraction of frames without a phone")
    p.add_argument("--max-phones", type=int, default=2)
    p.add_argument("--paste-from", nargs="*", default=None,
                   help="VIA files / dataset dirs of real frames to cut phones from")
    p.add_argument("--exclude", nargs="*", default=(), help="real frames never to paste (held-out)")
    p.add_argument("--paste-prob", type=float, default=0.5)
    a = p.parse_args(argv)
    try:
        path = generate(a.out, a.n, size=a.size, seed=a.seed, paste_from=a.paste_from, exclude=a.exclude,
                        negatives=a.negatives, max_phones=a.max_phones, paste_prob=a.paste_prob)
    except (PhoneDataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0

