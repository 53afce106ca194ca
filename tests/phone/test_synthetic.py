"""phone.synthetic: determinism, VIA round trip against in-memory masks, negatives, copy-paste exclusion."""
import json
import os

import numpy as np
import pytest

from phone import synthetic
from phone.synthetic import frame_rng, generate, load_cutouts, make_frame, make_sample, mask_to_polygon
from phone.dataset import PhoneDataset
from phone.errors import PhoneDataError
from phone.imageio import read_image
from phone.via import load_via


def _iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    a = generate(tmp_path / "a", 4, seed=3)
    b = generate(tmp_path / "b", 4, seed=3)
    c = generate(tmp_path / "c", 4, seed=4)
    names = sorted(os.listdir(tmp_path / "a"))
    assert names == sorted(os.listdir(tmp_path / "b"))
    assert len(names) == 5 and "via_region_data.json" in names
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n
    imgs_a = [read_image(tmp_path / "a" / n) for n in names if n.endswith(".png")]
    imgs_c = [read_image(tmp_path / "c" / n) for n in sorted(os.listdir(tmp_path / "c")) if n.endswith(".png")]
    assert all(not np.array_equal(x, y) for x, y in zip(imgs_a, imgs_c))
    assert open(a, "rb").read() == open(b, "rb").read() != open(c, "rb").read()


def test_frame_i_does_not_depend_on_n(tmp_path):
    generate(tmp_path / "a", 2, seed=5)
    generate(tmp_path / "b", 3, seed=5)
    for n in ("synth_5_00000.png", "synth_5_00001.png"):
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()


def test_via_roundtrip_matches_in_memory_masks(tmp_path):
    seed, n = 11, 6
    via = generate(tmp_path, n, seed=seed)
    ds = PhoneDataset()
    assert ds.load_phone(tmp_path, "", via_file=via) == n
    ds.prepare()
    for i in range(n):
        image, masks = _sample_like_generate(seed, i)
        assert ds.image_info[i]["id"] == f"synth_{seed}_{i:05d}.png"
        np.testing.assert_array_equal(ds.load_image(i), image)       # PNG is lossless
        got, ids = ds.load_mask(i)
        assert got.shape == masks.shape and list(ids) == [1] * masks.shape[2]
        assert 1 <= masks.shape[2] <= 2
        for k in range(masks.shape[2]):
            assert masks[..., k].sum() >= 0.01 * 128 * 128
            assert _iou(got[..., k], masks[..., k]) > 0.9


def _sample_like_generate(seed, i, negatives=0.0):
    rng = frame_rng(seed, i)
    negative = rng.random() < negatives           # generate() draws this first
    f = make_frame(rng, 128, negative=negative)
    return f["image"], f["masks"]


def test_make_sample_shapes_350():
    image, masks = make_sample(np.random.default_rng(0), 350)
    assert image.shape == (350, 350, 3) and image.dtype == np.uint8
    assert masks.dtype == bool and masks.shape[:2] == (350, 350) and masks.shape[2] >= 1
    assert image.std() > 5                                               # not a flat frame


def test_visible_mask_excludes_occluders():
    """Hands drawn over phones (the frame's ``hand`` layer) are never part
    of a phone's mask, and the frames do have hands across phones (inside a
    phone's box), so the exclusion is exercised; masks never overlap."""
    crossing = 0
    for i in range(20):
        f = make_frame(np.random.default_rng([99, i]), 128)
        m, hand = f["masks"], f["hand"]
        assert hand.shape == (128, 128) and hand.dtype == bool
        assert (m.sum(axis=2) <= 1).all()
        assert not (m.any(axis=2) & hand).any(), i
        for k in range(m.shape[2]):
            ys, xs = np.nonzero(m[:, :, k])
            box = np.zeros((128, 128), bool)
            box[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
            crossing += int((box & hand).sum() > 20)
        for pts in f["polygons"]:
            assert pts.ndim == 2 and pts.shape[1] == 2 and len(pts) >= 3
            assert pts.min() >= 0 and pts.max() <= 127
    assert crossing >= 3, crossing


def test_negatives_have_no_regions(tmp_path):
    via = generate(tmp_path, 3, seed=0, negatives=1.0)
    assert load_via(via) == []
    images = load_via(via, keep_empty=True)
    assert len(images) == 3 and all(im.regions == [] for im in images)
    assert all(im.file_attributes["source"] == "negative" for im in images)


def test_sizes(tmp_path):
    via = generate(tmp_path, 1, size=350, seed=2)
    (im,) = load_via(via, keep_empty=True)
    assert read_image(im.path).shape == (350, 350, 3)
    with pytest.raises(ValueError, match="size must be >= 32"):
        generate(tmp_path, 1, size=8)


def test_cutouts_respect_exclude(phone_data_dir, tmp_path):
    src = phone_data_dir / "train" / "via_region_data.json"
    names = [c.name for c in load_cutouts([src])]
    assert names == ["C_01_06_001.png#0", "C_01_07_000.png#0"]
    kept = load_cutouts([phone_data_dir / "train"], exclude=["C_01_06_001.png"])
    assert [c.name for c in kept] == ["C_01_07_000.png#0"]
    assert kept[0].rgb.dtype == np.uint8 and kept[0].mask.shape == kept[0].rgb.shape[:2]
    with pytest.raises(PhoneDataError, match="no phone cut-outs left"):
        load_cutouts([src], exclude=["C_01_06_001.png", str(phone_data_dir / "train" / "C_01_07_000.png")])
    via = generate(tmp_path, 4, seed=1, paste_from=[src], exclude=["C_01_06_001.png"], paste_prob=1.0,
                   max_phones=1)
    data = json.loads(open(via).read())
    sources = [e["file_attributes"]["source"] for e in data.values()]
    assert sources == ["C_01_07_000.png#0"] * 4


def test_mask_to_polygon_rectangle():
    m = np.zeros((10, 12), bool)
    m[2:7, 3:9] = True
    pts = mask_to_polygon(m)
    assert sorted(map(tuple, pts.tolist())) == [(2.75, 1.75), (2.75, 6.25), (8.25, 1.75),
                                                (8.25, 6.25)]
    assert mask_to_polygon(np.zeros((4, 4), bool)) is None


def test_cli(tmp_path, capsys):
    assert synthetic.main(["--out", str(tmp_path / "o"), "--n", "2", "--seed", "1"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.endswith("via_region_data.json") and len(load_via(out, keep_empty=True)) == 2
    assert synthetic.main(["--out", str(tmp_path / "o"), "--n", "1", "--negatives", "2"]) == 2
    assert "negatives must be in [0, 1]" in capsys.readouterr().err


def test_runs_as_a_script(tmp_path, repo_root):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, str(repo_root / "datasets" / "synthetic.py"), "--out", str(tmp_path),
                        "--n", "1", "--seed", "7"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "synth_7_00000.png").is_file() and (tmp_path / "via_region_data.json").is_file()


# --------------------------------------------------------------- generator v2

def _held_frames(n, seed=123, **kw):
    return [make_frame(np.random.default_rng([seed, i]), 128, hold_prob=1.0, **kw) for i in range(n)]


def test_visible_mask_stops_at_the_fingers():
    # Every phone is held: the generator's own hand layer (skin drawn over the
    # phones) never overlaps a phone mask, and fingers do touch / cross the
    # phone outline in most frames (a mask 1 px larger meets the hand).
    frames = _held_frames(30)
    touching = 0
    for f in frames:
        phone = f["masks"].any(axis=2)
        assert f["hand"].dtype == bool and f["hand"].shape == (128, 128)
        assert not (phone & f["hand"]).any()
        grown = np.zeros_like(phone)
        grown[1:, :] |= phone[:-1, :]
        grown[:-1, :] |= phone[1:, :]
        grown[:, 1:] |= phone[:, :-1]
        grown[:, :-1] |= phone[:, 1:]
        touching += bool((grown & f["hand"]).any())
    assert touching >= 20, touching


def test_pasted_real_phones_are_cut_by_fingers_too(phone_data_dir):
    cut = load_cutouts([phone_data_dir / "train"])
    frames = _held_frames(12, seed=5, cutouts=cut, paste_prob=1.0, max_phones=1)
    assert all(f["sources"][0].startswith("C_01_0") for f in frames)
    for f in frames:
        assert not (f["masks"][..., 0] & f["hand"]).any()
    # The cut-out alone is bigger than its visible part in at least some frames.
    assert sum(f["hand"].any() for f in frames) >= 8


@pytest.mark.parametrize("kind", synthetic.NEGATIVE_KINDS)
def test_negative_kinds_have_no_phone(kind):
    big = 0
    for i in range(6):
        f = make_frame(np.random.default_rng([7, i]), 128, negative=True, negative_kind=kind)
        assert f["masks"].shape == (128, 128, 0) and f["polygons"] == [] and f["sources"] == []
        assert f["negative_kind"] == kind
        if kind in ("hand", "held"):
            assert f["hand"].any()                           # a visible hand, no phone
            big += f["hand"].sum() >= 0.01 * 128 * 128
        else:
            assert not f["hand"].any()
    assert big >= (4 if kind in ("hand", "held") else 0)


def test_every_phone_style_is_drawn():
    seen = set()
    for i in range(80):
        f = make_frame(np.random.default_rng([3, i]), 128)
        seen.update(s for s in f["sources"])
    assert {f"drawn:{s}" for s in synthetic.PHONE_STYLES} <= seen


@pytest.mark.parametrize("style", synthetic.PHONE_STYLES)
def test_phone_style_body_is_one_solid_piece(style):
    import cv2
    img = np.zeros((128, 128, 3), np.float32)
    out, d_body, (u, v, hw, hh) = synthetic._draw_phone(np.random.default_rng(0), img, 128, 64, 64, 0.3,
                                                        80, 0.5, style)
    body = d_body <= 0
    n, _ = cv2.connectedComponents(body.astype(np.uint8))
    assert n == 2                                            # background + one body
    # Roughly the 40 x 80 px phone asked for (rounded corners, flip hinge / slider offsets aside).
    assert 0.8 * 40 * 80 <= body.sum() <= 1.05 * 40 * 80
    assert out[d_body >= 0.5].max() == 0      # nothing drawn outside the body (anti-aliased edge aside)


def test_background_kinds():
    rng = np.random.default_rng(0)
    assert abs(sum(synthetic.BACKGROUND_P) - 1) < 1e-9
    assert len(synthetic.BACKGROUND_P) == len(synthetic.BACKGROUND_KINDS)
    for _ in range(20):
        img = synthetic._background(rng, 64)
        assert img.shape == (64, 64, 3) and img.dtype == np.float32
        assert 0 <= img.min() and img.max() <= 1


def test_motion_blur_spreads_along_a_line_and_keeps_energy():
    img = np.zeros((33, 33, 3), np.float32)
    img[16, 16] = 1.0
    out = synthetic._motion_blur(np.random.default_rng(1), img)
    np.testing.assert_allclose(out.sum(axis=(0, 1)), 1.0, rtol=1e-5)
    lit = np.argwhere(out[..., 0] > 1e-6)
    assert 3 <= len(lit) <= 2 * 9                            # a short streak, not a disc
    # The lit pixels lie on a line: the smaller principal axis is tiny.
    ev = np.linalg.eigvalsh(np.cov(lit.T.astype(float)))
    assert ev[1] >= 0.5 and ev[0] <= 0.25 * ev[1]
    flat = np.full((16, 16, 3), 0.4, np.float32)
    np.testing.assert_allclose(synthetic._motion_blur(np.random.default_rng(2), flat), flat, atol=1e-6)


# Drawing versions: 2 draws what every committed model was trained on (the
# shipped recipe names it), 3 adds face plates of another colour in the shell.
V2_FRAMES_SEED0 = [  # (sources, visible mask areas) of make_frame(frame_rng(0, i), 128, version=2)
    (["drawn:bar"], [3350]), (["drawn:slider"], [1234]), (["drawn:smart"], [705]),
    (["drawn:bar"], [2868]), (["drawn:flip", "drawn:smart"], [1381, 470]), (["drawn:flip"], [830]),
    (["drawn:bar"], [2580]), (["drawn:flip"], [3744]),
]


def test_version_2_draws_what_the_shipped_recipe_was_trained_on():
    for i, (sources, areas) in enumerate(V2_FRAMES_SEED0):
        f = make_frame(frame_rng(0, i), 128, version=2)
        assert f["sources"] == sources
        assert f["masks"].sum(axis=(0, 1)).tolist() == areas


def test_versions_differ_only_where_a_phone_is_drawn():
    differ = 0
    for i in range(12):
        neg2 = make_frame(frame_rng(5, i), 128, negative=True, version=2)
        neg3 = make_frame(frame_rng(5, i), 128, negative=True, version=3)
        np.testing.assert_array_equal(neg2["image"], neg3["image"])
        f2 = make_frame(frame_rng(5, i), 128, version=2)
        f3 = make_frame(frame_rng(5, i), 128, version=3)
        differ += not np.array_equal(f2["image"], f3["image"])
    assert differ >= 6
    with pytest.raises(ValueError, match="generator version"):
        make_frame(frame_rng(5, 0), 128, version=4)


def test_face_plate_leaves_a_rim_of_shell_colour_and_the_mask_is_the_whole_body():
    size, pw, hh = 96, 40.0, 40.0
    u, v = synthetic._local(size, 48, 48, 0.0)
    d_shell = synthetic._rrect(u, v, pw / 2, hh, 4.0)
    base = np.array([0.80, 0.12, 0.10])                      # a red shell, as CORe50's Nokia
    img = np.where((d_shell <= 0)[..., None], base, 0.5).astype(np.float64)
    out = synthetic._face_plate(np.random.default_rng(0), img.copy(), u, v, pw / 2, hh, pw, base,
                                d_shell, top_only=False)
    rim = (d_shell < -1) & (d_shell > -0.08 * pw + 1)        # the rim is >= 0.08 * width
    np.testing.assert_allclose(out[rim], np.broadcast_to(base, out[rim].shape), atol=1e-6)
    inside = d_shell < -(0.25 * pw + 2)                      # inside the plate whatever its rim
    assert inside.sum() > 100
    plate = out[inside].mean(axis=0)
    assert abs(plate.mean() - base.mean()) > 0.2             # a plate of another brightness
    np.testing.assert_array_equal(out[d_shell > 0.5], img[d_shell > 0.5])   # nothing outside
    # In a frame the phone's mask is its body, plate or not.
    synthetic_p = synthetic.FACE_PLATE_P
    try:
        synthetic.FACE_PLATE_P = 1.0
        img0 = np.zeros((128, 128, 3), np.float32)
        o3, d3, _ = synthetic._draw_phone(np.random.default_rng(1), img0, 128, 64, 64, 0.3, 80, 0.5,
                                          "bar", version=3)
        o2, d2, _ = synthetic._draw_phone(np.random.default_rng(1), img0, 128, 64, 64, 0.3, 80, 0.5,
                                          "bar", version=2)
    finally:
        synthetic.FACE_PLATE_P = synthetic_p
    np.testing.assert_array_equal(d3 <= 0, d2 <= 0)
    assert not np.array_equal(o3, o2)


def test_cli_generator_version(tmp_path):
    from phone.synthetic import main
    assert main(["--out", str(tmp_path / "v3"), "--n", "3", "--seed", "5", "--generator-version", "3"]) == 0
    assert main(["--out", str(tmp_path / "v2"), "--n", "3", "--seed", "5"]) == 0
    a = [read_image(str(tmp_path / "v3" / f"synth_5_{i:05d}.png")) for i in range(3)]
    b = []
    for i in range(3):
        rng = frame_rng(5, i)
        rng.random()                              # generate() draws "negative?" first
        b.append(make_frame(rng, 128, version=3)["image"])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], read_image(str(tmp_path / "v2" / "synth_5_00000.png")))
