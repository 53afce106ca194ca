"""Synthetic CORe50-like frames of hand-held mobile phones, with VIA annotations.

Each frame: a background (CORe50-like scenes most of the time: painted
walls, table tops, floors, shelves, outdoor sky / trees / ground, wooden
surfaces; abstract noise, gradients, stripes and blobs otherwise) under
random lighting (brightness, contrast, gamma, colour cast, vignette, light
gradient, blur, motion blur, sensor noise), and 0-2 phones. A phone is
either drawn (smartphone, bar phone with keypad, QWERTY phone, open flip
phone with a hinge, slider; random colour and material, screen reflections)
or, with ``paste_from``, a cut-out of a real annotated CORe50 phone, randomly
rotated, scaled and flipped. Most phones are held by a skin-toned hand
(7 tones): the palm usually sits behind the phone and fingers and thumb
cross its edges, as in CORe50; otherwise the palm covers one end.
Drawing versions (``version=``, ``--generator-version``): 2 is what every
committed model was trained on; 3 also sets a face plate of another colour
into half of the drawn phones' shells (the whole front, or an oval around
the screen with the keys on the shell, like CORe50's red Nokia with its dark
face) and adds bright shell colours. Frames without a drawn phone are the
same in both.
Hard negatives: phone frames may also show an empty hand or another object
(remote control, marker, can, cup, ball, bulb, box, scissors, glasses, plug
adapter; held or not), and negative frames (``negatives`` > 0) show an
empty hand, a hand holding such an object, or objects alone, but no phone.

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
    f = make_frame(rng, 128, negative=True, negative_kind="hand")
    # f: image, masks, polygons, sources, hand (skin drawn over the phones), negative_kind

CLI::

    python phone/synthetic.py --out DIR --n 200 --size 128 --seed 0 \
        [--paste-from datasets/phone/train/via_region_data.json] [--exclude C_01_08_000.png] [--negatives 0.1] \
        [--distractor-prob 0.35] [--generator-version 3]
"""
import argparse
import json
import math
import os
import shutil
import sys
import warnings

import cv2
import numpy as np

import phone.paths as paths
from phone.errors import PhoneDataError
from phone.imageio import read_image, write_png_atomic
from phone.via import (ViaImage, ViaRegion, load_via, mask_to_polygon, rasterize_region, via2_export,
                       write_via_json)

__all__ = ["generate", "make_synthetic_split", "hand_only_frames", "BENCHMARK_VERSION",
           "make_sample", "make_frame", "load_cutouts", "Cutout", "mask_to_polygon",
           "VIA_NAME", "PHONE_STYLES", "NEGATIVE_KINDS", "HELD_OBJECTS", "main"]

VIA_NAME = "via_region_data.json"

# RGB in 0..1
BODY_COLOURS = [
    (0.08, 0.08, 0.09), (0.15, 0.15, 0.17), (0.25, 0.26, 0.28), (0.55, 0.56, 0.58),
    (0.75, 0.76, 0.78), (0.90, 0.90, 0.88), (0.62, 0.10, 0.10), (0.12, 0.20, 0.45),
    (0.20, 0.30, 0.55), (0.80, 0.65, 0.45), (0.35, 0.10, 0.35), (0.10, 0.35, 0.25),
]
SCREEN_COLOURS = [(0.03, 0.03, 0.05), (0.05, 0.07, 0.12), (0.10, 0.12, 0.10),
                  (0.45, 0.55, 0.45), (0.35, 0.45, 0.55), (0.02, 0.02, 0.02)]
#: v3 only: bright shells (CORe50's Nokia is red) and face plates of another
#: colour set into them.
BRIGHT_BODY_COLOURS = [(0.80, 0.12, 0.10), (0.90, 0.45, 0.10), (0.90, 0.80, 0.20), (0.15, 0.35, 0.80),
                       (0.20, 0.60, 0.30), (0.85, 0.45, 0.60), (0.45, 0.20, 0.65)]
PLATE_COLOURS = [(0.05, 0.05, 0.06), (0.18, 0.18, 0.20), (0.70, 0.71, 0.73), (0.92, 0.92, 0.90)]
#: The drawings of generator versions: 2 (every committed model and number up
#: to the two-tone phones), 3 (adds face plates of another colour inside the
#: shell and bright shells; frames without a drawn phone are the same bytes).
GENERATOR_VERSIONS = (2, 3)
#: The version generate(), make_frame() and the CLI draw unless told.
GENERATOR_VERSION = 2
FACE_PLATE_P = 0.5
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


BACKGROUND_KINDS = ("wall", "table", "floor", "shelves", "outdoor", "wood",
                    "noise", "gradient", "stripes", "blobs")
#: CORe50-like scenes (walls, tables, floors, shelves, outdoor) most of the
#: time; abstract textures keep the model from relying on the scene.
BACKGROUND_P = (0.14, 0.14, 0.1, 0.12, 0.14, 0.12, 0.06, 0.06, 0.06, 0.06)


def _muted(rng, lo=0.35, hi=0.9):
    """An indoor colour: grey-ish, warm or cool, never saturated."""
    grey = rng.uniform(lo, hi)
    return np.clip(grey + rng.normal(0, 0.05, 3) + np.array([0.03, 0.0, -0.03]) * rng.uniform(-1, 2), 0, 1)


def _background(rng, size):
    kind = rng.choice(BACKGROUND_KINDS, p=BACKGROUND_P)
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
    elif kind == "wall":   # painted wall: flat muted colour, soft shading, maybe a door/frame edge
        img = np.ones((size, size, 3), np.float32) * _muted(rng, 0.55, 0.95)
        img = img * (0.9 + 0.15 * _smooth_noise(rng, size, 3, 1))
        if rng.random() < 0.5:
            x0 = int(rng.integers(0, size))
            w = int(rng.integers(size // 10, size // 2))
            img[:, x0:x0 + w] = img[:, x0:x0 + w] * rng.uniform(0.6, 1.2) * rng.uniform(0.9, 1.1, 3)
    elif kind == "table":  # a table top in the lower part, the room behind
        img = np.ones((size, size, 3), np.float32) * _muted(rng, 0.3, 0.9)
        img = img * (0.85 + 0.2 * _smooth_noise(rng, size, int(rng.integers(2, 6)), 1))
        edge = rng.uniform(0.3, 0.8) * size + (xx * size - size / 2) * rng.uniform(-0.3, 0.3)
        top = _muted(rng, 0.2, 0.9) if rng.random() < 0.5 else np.array((0.7, 0.55, 0.38)) + rng.normal(0, 0.05, 3)
        tex = 0.93 + 0.07 * _smooth_noise(rng, size, int(rng.integers(6, 20)), 1)
        below = (yy * size > edge)[..., None]
        img = np.where(below, top * tex, img)
    elif kind == "floor":  # tiles or carpet seen from above / at an angle
        col = _muted(rng, 0.25, 0.85)
        if rng.random() < 0.5:
            period = size * rng.uniform(0.15, 0.5)
            u = (xx * size * math.cos(ang) + yy * size * math.sin(ang)) % period
            v = (-xx * size * math.sin(ang) + yy * size * math.cos(ang)) % period
            grout = ((u < 1.5) | (v < 1.5)).astype(np.float32)[..., None]
            img = col * (1 - 0.35 * grout) * (0.95 + 0.1 * _smooth_noise(rng, size, 5, 1))
        else:
            img = col * (0.85 + 0.3 * _smooth_noise(rng, size, int(rng.integers(20, 40)), 1))
    elif kind == "outdoor":  # sky, foliage / buildings, ground
        horizon = rng.uniform(0.2, 0.7) * size
        sky = np.array((0.65, 0.78, 0.95)) * rng.uniform(0.8, 1.1) + rng.normal(0, 0.04, 3)
        ground = np.array(rng.choice([(0.35, 0.5, 0.25), (0.5, 0.48, 0.45), (0.6, 0.55, 0.45)])) \
            + rng.normal(0, 0.05, 3)
        foliage = np.array((0.2, 0.38, 0.15)) + rng.normal(0, 0.05, 3)
        n = _smooth_noise(rng, size, int(rng.integers(8, 24)), 1)
        img = np.where((yy * size < horizon)[..., None], sky * (0.95 + 0.05 * n), ground * (0.8 + 0.4 * n))
        tree_line = horizon - size * rng.uniform(0.05, 0.35) * _smooth_noise(rng, size, 6, 1)[0:1, :, 0]
        trees = (yy * size > tree_line) & (yy * size < horizon)
        img = np.where(trees[..., None], foliage * (0.7 + 0.6 * n), img)
    else:  # shelves: a few large blurred rectangles (room clutter)
        img = np.ones((size, size, 3), np.float32) * (c1 * 0.5 + 0.5 * _muted(rng))
        for _ in range(int(rng.integers(2, 7))):
            x0, y0 = rng.integers(0, size, 2)
            w, h = rng.integers(size // 8, size, 2)
            cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)),
                          tuple(float(v) for v in rng.random(3)), -1)
        img = cv2.GaussianBlur(img, (0, 0), size * rng.uniform(0.01, 0.04))
    img = img + rng.normal(0, 0.02, (size, size, 3)) * rng.uniform(0, 1)
    return np.clip(img, 0, 1).astype(np.float32)


def _motion_blur(rng, img):
    """Camera / hand motion: a line kernel of 3-9 px (at 128 px) at a random angle."""
    size = img.shape[0]
    n = max(3, int(round(rng.uniform(3, 9) * size / 128.0)) | 1)
    k = np.zeros((n, n), np.float32)
    ang = rng.uniform(0, np.pi)
    c = (n - 1) / 2.0
    for t in np.linspace(-c, c, 2 * n):
        k[int(round(c + t * math.sin(ang))), int(round(c + t * math.cos(ang)))] = 1.0
    return cv2.filter2D(img.astype(np.float32), -1, k / k.sum(), borderType=cv2.BORDER_REFLECT)


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
    if rng.random() < 0.2:
        img = _motion_blur(rng, img)
    img = img + rng.normal(0, rng.uniform(0, 0.025), img.shape)
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# phones
# ---------------------------------------------------------------------------

PHONE_STYLES = ("smart", "bar", "qwerty", "flip", "slider")
PHONE_STYLE_P = (0.35, 0.2, 0.15, 0.15, 0.15)


def _phone_width_ratio(rng):
    return rng.uniform(0.42, 0.6)


def _keypad(rng, img, u, v, hw, margin, k_top, k_bot, keycol, rows, cols, d_clip, nav=False, pw=1.0):
    """Keys (and a navigation pad) in the band k_top < v < k_bot, clipped to the body SDF d_clip."""
    if nav:   # navigation pad between screen and keys
        nav_h = (k_bot - k_top) * 0.22
        d_nav = np.maximum(_ellipse(u, v - (k_top + nav_h / 2), pw * 0.18, nav_h * 0.45), d_clip)
        img = _over(img, keycol * 0.8, _alpha(d_nav))
        k_top += nav_h
    pu = (2 * (hw - margin)) / cols
    pv = max(k_bot - k_top, 1e-3) / rows
    ku = np.mod(u + (hw - margin), pu) - pu / 2
    kv = np.mod(v - k_top, pv) - pv / 2
    inside = (np.abs(u) < hw - margin) & (v > k_top) & (v < k_bot)
    d_key = _rrect(ku, kv, pu * 0.38, pv * 0.34, min(pu, pv) * 0.15)
    d_key = np.maximum(np.where(inside, d_key, 1e3), d_clip)
    return _over(img, keycol, _alpha(d_key))


def _screen(rng, img, u, v, hw, margin, s_v, s_hh, pw, length, d_clip, lit_prob):
    d_screen = np.maximum(_rrect(u, v - s_v, hw - margin, s_hh, pw * rng.uniform(0.0, 0.06)), d_clip)
    scol = _jitter(rng, SCREEN_COLOURS[rng.integers(len(SCREEN_COLOURS))], 0.03)
    screen = scol * (0.8 + 0.4 * ((v - s_v) / max(s_hh, 1) * 0.5 + 0.5))[..., None]
    if rng.random() < lit_prob:   # lit screen: wallpaper + icon grid
        wall = _jitter(rng, rng.random(3) * 0.7, 0.1)
        screen = wall * (0.7 + 0.3 * ((u + v) / length + 0.5))[..., None]
        pitch = (2 * (hw - margin)) / 4
        iu = np.mod(u + (hw - margin), pitch) - pitch / 2
        iv = np.mod(v - (s_v - s_hh), pitch) - pitch / 2
        d_icon = _rrect(iu, iv, pitch * 0.3, pitch * 0.3, pitch * 0.1)
        screen = _over(screen, _jitter(rng, rng.random(3), 0.1), _alpha(d_icon) * 0.8)
    img = _over(img, np.clip(screen, 0, 1), _alpha(d_screen))
    # Screen reflections: a soft diagonal streak, sometimes a bright window.
    a = _alpha(d_screen)[..., 0]
    refl = np.exp(-(((u - v) * 0.7 - rng.uniform(-s_hh, s_hh)) / (0.2 * pw)) ** 2) * rng.uniform(0, 0.25)
    if rng.random() < 0.3:
        wu, wv = rng.uniform(-0.5, 0.5) * hw, s_v + rng.uniform(-0.6, 0.6) * s_hh
        d_win = _rrect(u - wu, v - wv, hw * rng.uniform(0.2, 0.5), s_hh * rng.uniform(0.15, 0.4), 1.0)
        refl = refl + _alpha(d_win)[..., 0] * rng.uniform(0.15, 0.45)
    return img + (refl * a)[..., None]


def _face_plate(rng, img, u, v, hw, hh, pw, base, d_shell, top_only):
    """v3: a front plate of another colour set into the shell, leaving a rim
    of shell colour around it (the whole front, or, ``top_only``, an oval
    around the screen with the keys on the shell, like CORe50's Nokia)."""
    rim = pw * rng.uniform(0.08, 0.25)
    lum = float(np.mean(base))
    far = [c for c in PLATE_COLOURS if abs(float(np.mean(c)) - lum) > 0.25] or PLATE_COLOURS
    colour = _jitter(rng, far[rng.integers(len(far))], 0.04)
    d = d_shell + rim
    if top_only:
        reach = hh * rng.uniform(0.9, 1.3)          # from the top edge down to v = -hh + reach
        d = np.maximum(d, _ellipse(u, v - (-hh + reach / 2), hw * rng.uniform(1.0, 1.25), reach * 0.55))
    shade = 0.85 + 0.15 * np.clip(-d / max(0.1 * pw, 0.8), 0, 1)
    img = _over(img, colour * shade[..., None], _alpha(d))
    return _over(img, colour * 0.35, (np.abs(d) < 0.6)[..., None].astype(np.float32) * 0.5)


def _draw_phone(rng, img, size, cx, cy, theta, length, width_ratio=None, style=None,
                version=GENERATOR_VERSION):
    """Draw a phone; returns (img, body SDF [H,W], (u, v, half width, half height)).

    style: "smart" (touch screen), "bar" (screen + 4x3 keypad), "qwerty",
    "flip" (open clamshell: screen half, hinge, keypad half) or "slider"
    (a screen slab slid up over a keypad slab); random when None.
    version: see GENERATOR_VERSIONS; 3 may set a face plate of another
    colour into the shell (FACE_PLATE_P); the mask is the whole body either way.
    """
    pw = length * (_phone_width_ratio(rng) if width_ratio is None else width_ratio)
    hw, hh = pw / 2, length / 2
    u, v = _local(size, cx, cy, theta)
    if style is None:
        style = rng.choice(PHONE_STYLES, p=PHONE_STYLE_P)
    radius = pw * rng.uniform(0.06, 0.22)
    colours = BODY_COLOURS + BRIGHT_BODY_COLOURS if version >= 3 else BODY_COLOURS
    base = _jitter(rng, colours[rng.integers(len(colours))])
    if style == "flip":     # two halves, the lower one a little narrower, and a hinge
        gap = length * 0.04
        d_top = _rrect(u, v + hh / 2 + gap / 4, hw, hh / 2 - gap / 4, radius)
        d_bot = _rrect(u, v - hh / 2 - gap / 4, hw * rng.uniform(0.9, 1.0), hh / 2 - gap / 4, radius)
        d_hinge = _capsule(u, v, (-hw * 0.85, 0.0), (hw * 0.85, 0.0), gap * 0.9)
        d_body = np.minimum(np.minimum(d_top, d_bot), d_hinge)
    elif style == "slider":  # the screen slab sits over a keypad slab slid out below it
        slide = length * rng.uniform(0.25, 0.4)
        d_front = _rrect(u, v + slide / 2, hw, hh - slide / 2, radius)
        d_back = _rrect(u, v - slide / 2, hw * 0.97, hh - slide / 2, radius)
        d_body = np.minimum(d_front, d_back)
    else:
        d_body = _rrect(u, v, hw, hh, radius)

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
    if version >= 3 and rng.random() < FACE_PLATE_P:
        shell = d_top if style == "flip" else d_front if style == "slider" else d_body
        top_only = style in ("bar", "qwerty") and rng.random() < 0.6
        img = _face_plate(rng, img, u, v, hw, hh, pw, base, shell, top_only)

    margin = pw * rng.uniform(0.06, 0.11)
    keycol = _jitter(rng, rng.choice([(0.85, 0.85, 0.85), (0.1, 0.1, 0.1), base * 0.6 + 0.2]), 0.05)
    if style == "flip":
        img = _over(img, base * 0.45, _alpha(d_hinge))
        s_hh = (hh - gap) / 2 * rng.uniform(0.6, 0.8)
        img = _screen(rng, img, u, v, hw, margin, -hh / 2 - gap / 4, s_hh, pw, length, d_body, 0.2)
        img = _keypad(rng, img, u, v, hw * 0.95, margin, gap + length * 0.05, hh - length * 0.05,
                      keycol, 4, 3, d_body, nav=True, pw=pw)
        top = length * 0.08
    elif style == "slider":
        k_top = hh - slide + length * 0.02
        img = _keypad(rng, img, u, v, hw * 0.97, margin, k_top, hh - length * 0.03, keycol,
                      int(rng.integers(3, 5)), int(rng.choice([3, 8, 10])), d_body, pw=pw)
        # Shadow line where the front slab's lower edge lies on the keypad slab.
        edge = (np.abs(d_front) < max(0.6, 0.015 * length)) & (d_back < -0.5)
        img = _over(img, base * 0.3, edge[..., None].astype(np.float32) * 0.7)
        top = length * rng.uniform(0.06, 0.1)
        s_hh = (length - slide - top - length * 0.06) / 2
        img = _screen(rng, img, u, v, hw, margin, -hh + top + s_hh, s_hh, pw, length, d_front, 0.4)
    else:
        # Screen: most of the front for smartphones, the top part for keypad phones.
        if style == "smart":
            top, bottom = length * rng.uniform(0.08, 0.14), length * rng.uniform(0.08, 0.16)
        else:
            top, bottom = length * rng.uniform(0.1, 0.16), length * rng.uniform(0.45, 0.6)
        s_hh = (length - top - bottom) / 2
        s_v = -hh + top + s_hh
        img = _screen(rng, img, u, v, hw, margin, s_v, s_hh, pw, length, d_body,
                      0.3 if style == "smart" else 0.1)
        if style == "smart":
            if rng.random() < 0.5:   # home button
                d_btn = _ellipse(u, v - (hh - bottom / 2), bottom * 0.28, bottom * 0.28)
                img = _over(img, np.clip(base * 0.7, 0, 1), _alpha(d_btn))
        else:
            rows, cols = (4, 3) if style == "bar" else (int(rng.integers(3, 5)), int(rng.integers(6, 11)))
            img = _keypad(rng, img, u, v, hw, margin, s_v + s_hh + length * 0.04, hh - length * 0.05,
                          keycol, rows, cols, d_body, nav=style == "bar", pw=pw)
    # Speaker slot above the screen.
    d_spk = _rrect(u, v - (-hh + top / 2), pw * 0.15, max(length * 0.008, 0.5), length * 0.008)
    img = _over(img, base * 0.3, _alpha(d_spk) * 0.8)
    return np.clip(img, 0, 1), d_body, (u, v, hw, hh)


# ---------------------------------------------------------------------------
# hands and other hand-held objects
# ---------------------------------------------------------------------------

def _hand(rng, u, v, hw, hh, size):
    """Whole-hand SDF in the phone's local frame: palm below, fingers over the sides, thumb, wrist."""
    back, fingers = _grip(rng, u, v, hw, hh, size, palm_behind=False)
    d = back
    for f in fingers:
        d = np.minimum(d, f)
    return d


def _grip(rng, u, v, hw, hh, size, palm_behind=True):
    """A hand holding an object of half sizes (hw, hh) centred at u = v = 0.

    Returns (palm + wrist SDF, list of finger / thumb SDFs). With
    palm_behind the palm sits under the object (only the fingers and the
    thumb cross its edges, as in CORe50); otherwise the palm covers its
    lower end.
    """
    pw = 2 * hw
    palm_u = rng.uniform(-0.3, 0.3) * pw
    if palm_behind:
        palm_v = hh * rng.uniform(0.1, 0.7)
        a, b = pw * rng.uniform(0.6, 0.9), pw * rng.uniform(0.55, 0.8)
    else:
        palm_v = hh * rng.uniform(0.55, 1.05)
        a, b = pw * rng.uniform(0.55, 0.8), pw * rng.uniform(0.4, 0.6)
    d = _ellipse(u - palm_u, v - palm_v, a, b)
    wrist_dir = rng.uniform(-0.6, 0.6)
    far = (palm_u + math.sin(wrist_dir) * size * 3, palm_v + math.cos(wrist_dir) * size * 3)
    d = np.minimum(d, _capsule(u, v, (palm_u, palm_v), far, b * rng.uniform(0.8, 1.0)))
    side = rng.choice([-1.0, 1.0])
    finger_r = pw * rng.uniform(0.07, 0.11)
    fingers = []
    first = palm_v - b * 0.4 if not palm_behind else rng.uniform(-0.3, 0.5) * hh
    for k in range(int(rng.integers(1, 5))):       # fingers wrapping round one side
        fv = first - k * finger_r * 2.1
        start = (side * (hw + finger_r * rng.uniform(0.5, 1.5)), fv + finger_r * rng.uniform(0, 1.5))
        reach = pw * rng.uniform(0.08, 0.35)
        end = (side * (hw - reach), fv - rng.uniform(-0.1, 0.2) * pw)
        fingers.append(_capsule(u, v, start, end, finger_r * rng.uniform(0.85, 1.05)))
    if rng.random() < 0.7:                         # thumb from the other side
        tr = finger_r * rng.uniform(1.1, 1.3)
        start = (-side * (hw + tr), palm_v - b * rng.uniform(0.2, 0.8))
        end = (-side * (hw - pw * rng.uniform(0.1, 0.4)), start[1] - pw * rng.uniform(0.1, 0.45))
        fingers.append(_capsule(u, v, start, end, tr))
    return d, fingers


def _skin(rng):
    return _jitter(rng, SKIN_TONES[rng.integers(len(SKIN_TONES))], 0.04)


def _draw_hand(rng, img, d, skin=None):
    """Skin over img where SDF d < 0: darker towards the outline, smooth blotches."""
    skin = _skin(rng) if skin is None else skin
    size = d.shape[0]
    shade = 0.72 + 0.28 * np.clip(-d / (4.0 * size / 128.0), 0, 1)
    tex = 0.95 + 0.1 * _smooth_noise(rng, size, 12, 1)[..., 0]
    colour = skin * (shade * tex)[..., None]
    return _over(img, np.clip(colour, 0, 1), _alpha(d))


def _draw_grip(rng, img, back, fingers, skin):
    """Fingers one by one (creases between them stay visible); returns (img, front SDF)."""
    front = np.full(back.shape, 1e3, np.float32)
    for f in fingers:
        img = _draw_hand(rng, img, f, skin)
        front = np.minimum(front, f)
    return img, front


HELD_OBJECTS = ("remote", "marker", "can", "cup", "ball", "bulb", "box", "scissors", "glasses", "plug")


def _object_sdf(rng, u, v, r, kind):
    """SDF of a non-phone object of size ~r (CORe50's other categories among them),
    and its (hw, hh) for a grip."""
    if kind == "remote":       # long, narrow: the hardest negative for a bar phone
        hw, hh = r * rng.uniform(0.18, 0.26), r
        return _rrect(u, v, hw, hh, hw * rng.uniform(0.2, 0.6)), (hw, hh)
    if kind == "marker":
        hw, hh = r * rng.uniform(0.08, 0.13), r
        return np.minimum(_capsule(u, v, (0, -hh), (0, hh), hw), _rrect(u, v + hh * 0.9, hw * 1.2, hh * 0.3, hw * 0.3)), (hw, hh)
    if kind == "can":
        hw, hh = r * rng.uniform(0.35, 0.5), r * 0.8
        return _rrect(u, v, hw, hh, hw * 0.15), (hw, hh)
    if kind == "cup":
        hw, hh = r * 0.5, r * 0.6
        d = np.minimum(_rrect(u, v, hw, hh, hw * 0.2),
                       np.abs(_ellipse(u - hw * 1.2, v, hw * 0.45, hh * 0.45)) - hw * 0.1)
        return d, (hw, hh)
    if kind == "ball":
        return _ellipse(u, v, r * 0.6, r * 0.6), (r * 0.6, r * 0.6)
    if kind == "bulb":
        hw = r * 0.45
        return np.minimum(_ellipse(u, v + r * 0.25, hw, hw), _rrect(u, v - r * 0.45, hw * 0.5, r * 0.3, 1.0)), (hw, r * 0.7)
    if kind == "box":          # squat box, not phone-shaped
        hw = r * rng.uniform(0.6, 0.9)
        return _rrect(u, v, hw, hw * rng.uniform(0.8, 1.25), r * 0.1), (hw, hw)
    if kind == "scissors":
        blades = np.minimum(_capsule(u, v, (0, 0), (r * 0.15, -r), r * 0.06),
                            _capsule(u, v, (0, 0), (-r * 0.15, -r), r * 0.06))
        rings = np.minimum(np.abs(_ellipse(u - r * 0.2, v - r * 0.35, r * 0.18, r * 0.25)) - r * 0.05,
                           np.abs(_ellipse(u + r * 0.2, v - r * 0.35, r * 0.18, r * 0.25)) - r * 0.05)
        return np.minimum(blades, rings), (r * 0.35, r)
    if kind == "glasses":
        lens = np.minimum(np.abs(_ellipse(u - r * 0.45, v, r * 0.35, r * 0.25)) - r * 0.05,
                          np.abs(_ellipse(u + r * 0.45, v, r * 0.35, r * 0.25)) - r * 0.05)
        return np.minimum(lens, _capsule(u, v, (-r * 0.1, 0), (r * 0.1, 0), r * 0.04)), (r * 0.8, r * 0.3)
    # plug adapter: a block with two pins
    hw = r * 0.4
    d = _rrect(u, v, hw, hw * 1.2, hw * 0.2)
    for s in (-1, 1):
        d = np.minimum(d, _rrect(u - s * hw * 0.4, v + hw * 1.5, hw * 0.08, hw * 0.35, 0.5))
    return d, (hw, hw * 1.2)


def _draw_object(rng, img, size, kind, cx, cy, theta, r):
    """Draws a non-phone object; returns (img, SDF, (u, v, hw, hh))."""
    u, v = _local(size, cx, cy, theta)
    d, (hw, hh) = _object_sdf(rng, u, v, r, kind)
    colour = _jitter(rng, rng.random(3), 0.1)
    if kind == "remote":
        colour = _jitter(rng, rng.choice([(0.1, 0.1, 0.1), (0.25, 0.25, 0.27), (0.6, 0.6, 0.62)]), 0.04)
    shade = 0.85 + 0.15 * np.sin(u / max(r, 1) * 3)
    img = _over(img, np.clip(colour * shade[..., None], 0, 1), _alpha(d))
    if kind == "remote":       # rows of small round buttons, a few coloured ones
        pitch = hw * rng.uniform(0.5, 0.8)
        bu = np.mod(u + hw, pitch) - pitch / 2
        bv = np.mod(v + hh, pitch) - pitch / 2
        inside = (np.abs(u) < hw * 0.8) & (np.abs(v) < hh * 0.85)
        d_btn = np.where(inside, _ellipse(bu, bv, pitch * 0.3, pitch * 0.25), 1e3)
        img = _over(img, _jitter(rng, rng.choice([(0.8, 0.8, 0.8), (0.3, 0.3, 0.3), (0.7, 0.2, 0.2)]), 0.05),
                    _alpha(d_btn))
    elif kind in ("can", "box") and rng.random() < 0.7:   # a label band
        band = np.maximum(d, np.abs(v - rng.uniform(-0.3, 0.3) * hh) - hh * rng.uniform(0.2, 0.5))
        img = _over(img, _jitter(rng, rng.random(3), 0.1), _alpha(band))
    return np.clip(img, 0, 1), d, (u, v, hw, hh)


def _distractor(rng, img, size, held=None):
    """A non-phone object somewhere in the frame, held in a hand with probability ``held``
    (0.5 when None). Returns (img, visible hand pixels bool [H,W])."""
    kind = HELD_OBJECTS[rng.integers(len(HELD_OBJECTS))]
    cx, cy = rng.uniform(0.2, 0.8, 2) * size
    r = size * rng.uniform(0.12, 0.3)
    theta = rng.uniform(0, 2 * np.pi)
    held = rng.random() < (0.5 if held is None else held)
    skin = _skin(rng)
    u, v = _local(size, cx, cy, theta)
    if held:
        _, (hw, hh) = _object_sdf(np.random.default_rng(0), u, v, r, kind)
        back, fingers = _grip(rng, u, v, hw, hh, size, palm_behind=rng.random() < 0.7)
        img = _draw_hand(rng, img, back, skin)
    img, d_obj, _ = _draw_object(rng, img, size, kind, cx, cy, theta, r)
    visible = np.zeros((size, size), bool)
    if held:
        img, front = _draw_grip(rng, img, back, fingers, skin)
        visible = ((back <= 0) & (d_obj > 0)) | (front <= 0)
    return img, visible


def _empty_hand(rng, img, size):
    """A hand with nothing in it (open, or a loose fist) reaching into the frame."""
    cx, cy = rng.uniform(0.25, 0.75, 2) * size
    u, v = _local(size, cx, cy, rng.uniform(0, 2 * np.pi))
    hw, hh = size * rng.uniform(0.06, 0.14), size * rng.uniform(0.12, 0.25)
    back, fingers = _grip(rng, u, v, hw, hh, size, palm_behind=rng.random() < 0.5)
    skin = _skin(rng)
    img = _draw_hand(rng, img, back, skin)
    if rng.random() < 0.5:   # the palm between the fingers (an empty grip shows skin, not an object)
        img = _draw_hand(rng, img, _rrect(u, v, hw, hh * 0.6, hw * 0.8), skin)
    img, front = _draw_grip(rng, img, back, fingers, skin)
    return img, np.minimum(back, front)


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
    """Paste a cut-out rotated/scaled/flipped; returns (img, mask bool, warped rgb, warped alpha)."""
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
    return _over(img, warped, alpha[..., None]), m, warped, alpha


def _axes_of(mask, size):
    """Local frame (u, v, half width, half height) aligned with a mask's long axis."""
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    dy, dx = ys - cy, xs - cx
    phi = 0.5 * math.atan2(2 * (dx * dy).mean(), (dx * dx).mean() - (dy * dy).mean())
    # v runs along (-sin theta, cos theta); the long axis has direction phi.
    theta = phi - math.pi / 2
    c, s = math.cos(theta), math.sin(theta)
    pu, pv = dx * c + dy * s, -dx * s + dy * c
    u, v = _local(size, cx, cy, theta)
    return u, v, max(float(np.abs(pu).max()), 1.0), max(float(np.abs(pv).max()), 1.0)


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

NEGATIVE_KINDS = ("hand", "held", "objects")


def _negative(rng, img, size, kind):
    """A frame without phones: an empty hand, a hand holding another object,
    or objects alone. Returns (img, hand pixels drawn last, bool [H,W])."""
    hand = np.zeros((size, size), bool)
    if kind == "hand":
        if rng.random() < 0.3:
            img, _ = _distractor(rng, img, size, held=0.0)
        img, d = _empty_hand(rng, img, size)
        hand = d <= 0
    elif kind == "held":
        img, hand = _distractor(rng, img, size, held=1.0)
    else:
        for _ in range(int(rng.integers(1, 4))):
            img, _ = _distractor(rng, img, size, held=0.0)
    return img, hand


def make_frame(rng, size=128, negative=False, max_phones=2, cutouts=None, paste_prob=0.5,
               max_tries=20, negative_kind=None, distractor_prob=0.35, hold_prob=0.85,
               version=GENERATOR_VERSION):
    """One frame with its annotations.

    negative: no phone; ``negative_kind`` "hand" (an empty hand), "held" (a
        hand holding another object: remote control, marker, can, cup, ball,
        bulb, box, scissors, glasses, plug adapter) or "objects" (objects
        alone); random when None.
    distractor_prob: chance that a phone frame also shows a non-phone object
        or an empty hand (behind the phones): hard negatives inside positive
        frames (mrcnn's data generator skips frames without instances).
    hold_prob: chance that a phone is held; the palm then usually sits
        behind it and only fingers and thumb cross its edges.
    version: the generator's drawing version (GENERATOR_VERSIONS).
    Returns: dict with image uint8 [size, size, 3], masks bool [size, size, N],
    polygons (list of N [K, (x, y)] int arrays), sources (list of N str:
    "drawn:STYLE" or the cut-out name), hand (bool [size, size]: skin drawn
    over the phones, i.e. the occluders; the masks never include it).
    """
    size = int(size)
    _check_version(version)
    for _ in range(max_tries):
        img = _background(rng, size)
        if negative:
            kind = negative_kind or NEGATIVE_KINDS[rng.choice(3, p=(0.4, 0.4, 0.2))]
            img, hand = _negative(rng, img, size, kind)
            return dict(image=_lighting(rng, img), masks=np.zeros((size, size, 0), bool),
                        polygons=[], sources=[], hand=hand, negative_kind=kind)
        if rng.random() < distractor_prob:
            if rng.random() < 0.4:
                img, _ = _empty_hand(rng, img, size)
            else:
                img, _ = _distractor(rng, img, size)
        n = 1 if max_phones <= 1 or rng.random() < 0.8 else int(rng.integers(2, max_phones + 1))
        bodies, sources = [], []
        hand_layer = np.zeros((size, size), bool)
        for k in range(n):
            length = size * rng.uniform(0.3, 0.85) / (1.0 if n == 1 else 1.4)
            cx, cy = rng.uniform(0.25, 0.75, 2) * size
            held = rng.random() < hold_prob
            palm_behind = rng.random() < 0.65
            skin = _skin(rng)
            back = fingers = None
            if cutouts and rng.random() < paste_prob:
                cut = cutouts[rng.integers(len(cutouts))]
                pasted, body, warped, alpha = _paste(rng, img, size, cut, cx, cy, length)
                if body.sum() < 16:    # (rejected below: too small)
                    img = pasted
                    sources.append(cut.name)
                else:
                    u, v, hw, hh = _axes_of(body, size)
                    if rng.random() < 0.5:
                        u, v = -u, -v
                    if held:
                        back, fingers = _grip(rng, u, v, hw, hh, size, palm_behind)
                        if palm_behind:
                            img = _draw_hand(rng, img, back, skin)
                    img = _over(img, warped, alpha[..., None])
                    sources.append(cut.name)
            else:
                theta = rng.uniform(0, 2 * np.pi)
                ratio = _phone_width_ratio(rng)
                u, v = _local(size, cx, cy, theta)
                hw, hh = length * ratio / 2, length / 2
                if held:
                    back, fingers = _grip(rng, u, v, hw, hh, size, palm_behind)
                    if palm_behind:
                        img = _draw_hand(rng, img, back, skin)
                style = rng.choice(PHONE_STYLES, p=PHONE_STYLE_P)
                img, d_body, _ = _draw_phone(rng, img, size, cx, cy, theta, length, ratio, style,
                                             version=version)
                body = d_body <= 0
                sources.append(f"drawn:{style}")
            for prev in bodies:
                prev &= ~body
            hand_layer &= ~body            # an earlier hand, now under this phone
            bodies.append(body.copy())
            if fingers is not None:
                front_parts = fingers if palm_behind else fingers + [back]
                img, front = _draw_grip(rng, img, back, front_parts, skin)
                hand = front <= 0
                hand_layer |= hand
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
        return dict(image=_lighting(rng, img), masks=masks, polygons=polygons, sources=sources,
                    hand=hand_layer, negative_kind=None)
    raise RuntimeError(f"no valid frame after {max_tries} tries")


def make_sample(rng, size=128, negative=False, max_phones=2, cutouts=None, paste_prob=0.5,
                version=GENERATOR_VERSION):
    """In-memory sample: (image uint8 [size, size, 3], masks bool [size, size, N]).

    masks are the exact visible phone pixels (body minus occluders); the VIA
    polygons written by generate() reproduce them with IoU >= 0.9.
    """
    f = make_frame(rng, size, negative=negative, max_phones=max_phones, cutouts=cutouts,
                   paste_prob=paste_prob, version=version)
    return f["image"], f["masks"]


def _check_version(version):
    if version not in GENERATOR_VERSIONS:
        raise ValueError(f"generator version must be one of {GENERATOR_VERSIONS}, got {version!r}")


def frame_rng(seed, index):
    """The generator used for frame ``index`` of ``generate(seed=seed)``."""
    return np.random.default_rng([int(seed), int(index)])


def generate(out_dir, n, size=128, seed=0, paste_from=None, exclude=(), negatives=0.0,
             max_phones=2, paste_prob=0.5, prefix="synth", distractor_prob=0.35,
             version=GENERATOR_VERSION):
    """Write ``n`` frames as PNGs + a VIA 2.x export ``via_region_data.json``.

    out_dir: output directory (created). Files: ``{prefix}_{seed}_{i:05d}.png``.
    size: frame side (128 or 350 like CORe50; any value >= 32).
    seed: frame i is drawn with ``np.random.default_rng([seed, i])``: the same
        seed gives byte-identical files.
    paste_from / exclude: see :func:`load_cutouts`; with paste_from, each
        phone is a real cut-out with probability ``paste_prob``.
    negatives: fraction (0..1) of frames without any phone (kept in the VIA
        file with no regions: load them with keep_empty=True).
    distractor_prob, version: see :func:`make_frame`.
    Returns: path of the VIA JSON.
    """
    from tqdm import tqdm
    if int(size) < 32:
        raise ValueError(f"size must be >= 32, got {size}")
    if not 0.0 <= float(negatives) <= 1.0:
        raise ValueError(f"negatives must be in [0, 1], got {negatives}")
    _check_version(version)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    cutouts = load_cutouts(paste_from, exclude) if paste_from else None
    records = []
    for i in tqdm(range(int(n)), disable=int(n) <= 50, desc="synthetic frames", unit="img"):
        rng = frame_rng(seed, i)
        negative = rng.random() < negatives
        f = make_frame(rng, size, negative=negative, max_phones=max_phones, cutouts=cutouts,
                       paste_prob=paste_prob, distractor_prob=distractor_prob, version=version)
        name = f"{prefix}_{int(seed)}_{i:05d}.png"
        path = os.path.join(out_dir, name)
        write_png_atomic(path, f["image"])
        regions = [ViaRegion("polygon", "phone", pts.astype(np.float64), index=k,
                             attributes={"name": "phone"})
                   for k, pts in enumerate(f["polygons"])]
        records.append(ViaImage(filename=name, path=path, regions=regions, size=os.path.getsize(path),
                                file_attributes={"source": ",".join(f["sources"]) or "negative"}))
    return write_via_json(os.path.join(out_dir, VIA_NAME), via2_export(records))


# ---------------------------------------------------------------------------
# cached splits and fixed phone-free frames (training recipes, validation)

#: The drawing version of the frames models are *scored* and chosen on (the
#: synthetic test split, hand-only frames, selection and validation frames):
#: fixed, so that numbers stay comparable whatever version a model was
#: trained on.
BENCHMARK_VERSION = 2


def make_synthetic_split(out_dir, n, seed, size=128, paste_from=None,
                         exclude=(), paste_prob=0.4, negatives=0.0, distractor_prob=0.35,
                         version=None):
    """Generates (or reuses, when the parameters match) a folder of synthetic
    frames with ``via_region_data.json``. ``version``: the drawing version
    (phone.synthetic.GENERATOR_VERSIONS; default: the generator's own); a
    split cached with another version is regenerated.
    Returns the folder."""
    version = GENERATOR_VERSION if version is None else int(version)
    real_dir = paths.bundled_dataset_dir()
    params = dict(n=int(n), seed=int(seed), size=int(size),
                  paste_from=[os.path.relpath(p, real_dir) for p in (paste_from or [])],
                  exclude=sorted(exclude), paste_prob=paste_prob,
                  negatives=negatives, distractor_prob=distractor_prob,
                  version=version)
    stamp = os.path.join(out_dir, ".params.json")
    if os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == params:
                return out_dir
        shutil.rmtree(out_dir)
    generate(out_dir, n, size=size, seed=seed, paste_from=paste_from, exclude=exclude,
             paste_prob=paste_prob, negatives=negatives, distractor_prob=distractor_prob,
             version=version)
    with open(stamp, "w") as f:
        json.dump(params, f)
    return out_dir


def hand_only_frames(n, seed, size=128, kind="hand"):
    """``n`` synthetic frames without a phone (negatives of ``kind``: "hand"
    = an empty hand), frame i drawn with ``frame_rng(seed, i)`` in the
    BENCHMARK_VERSION drawing. Returns a list of uint8 [size, size, 3]."""
    return [make_frame(frame_rng(seed, i), size, negative=True, negative_kind=kind,
                       version=BENCHMARK_VERSION)["image"]
            for i in range(int(n))]


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
    p.add_argument("--distractor-prob", type=float, default=0.35,
                   help="chance of a non-phone object or an empty hand in a phone frame")
    p.add_argument("--generator-version", type=int, default=GENERATOR_VERSION, choices=GENERATOR_VERSIONS,
                   help="3 adds phones with a face plate of another colour inside the shell")
    a = p.parse_args(argv)
    try:
        path = generate(a.out, a.n, size=a.size, seed=a.seed, paste_from=a.paste_from, exclude=a.exclude,
                        negatives=a.negatives, max_phones=a.max_phones, paste_prob=a.paste_prob,
                        distractor_prob=a.distractor_prob, version=a.generator_version)
    except (PhoneDataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0

