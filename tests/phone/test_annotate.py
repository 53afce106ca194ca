"""phone.annotate / phone annotate: pre-annotated VIA 2.x projects.

Fast tests use a stand-in detector that finds bright-red blobs drawn by the
test itself (its masks are the drawn shapes, its scores are written into the
green channel), so every expected value is known without the model. The slow
tests train the small from-scratch phone model for a few dozen steps once per
module and run the real command on the bundled frames (round-trip IoU, a
SIGKILL in the middle of a run, the notebook).
"""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings

import cv2
import numpy as np
import pytest

from phone.errors import AnnotationError, PhoneDataError, PhoneDataWarning

REPO = pathlib.Path(__file__).resolve().parents[2]
BUNDLED = REPO / "datasets" / "phone"


def seed_frames():
    """The four seed CORe50 frames (datasets/phone/train and val; more/ holds
    the frames kept for the few-shot measurements)."""
    return sorted(list(BUNDLED.glob("train/*.png")) + list(BUNDLED.glob("val/*.png")))
SEED_PROJECT = BUNDLED / "via_project_8Dec2019_16h13m.json"
VIA2_KEYS = {"_via_settings", "_via_img_metadata", "_via_attributes",
             "_via_data_format_version", "_via_image_id_list"}


# ----------------------------------------------------------------- helpers
class BlobSegmenter:
    """Stands in for phone.segment.Segmenter: among the pixels with red >
    200, bit i of the blue channel marks detection i (so detections may
    overlap); its score is green / 255 where bit i is the only one set."""

    class config:  # noqa: N801 (mimics a Config instance)
        NAME = "blobs"
        BATCH_SIZE = 2

    batch_size = 2

    def __init__(self, fail_after=None):
        self.seen = 0
        self.fail_after = fail_after

    def segment_images(self, images):
        out = []
        for image in images:
            if self.fail_after is not None and self.seen >= self.fail_after:
                raise KeyboardInterrupt
            self.seen += 1
            red = image[:, :, 0] > 200
            blue = image[:, :, 2]
            masks, scores = [], []
            for i in range(8):
                m = red & (blue & (1 << i) > 0)
                if m.any():
                    masks.append(m)
                    scores.append(image[:, :, 1][red & (blue == (1 << i))].mean() / 255.0)
            n = len(masks)
            masks = np.stack(masks, -1) if n else np.zeros(image.shape[:2] + (0,), bool)
            r = {"rois": np.zeros((n, 4), np.int32), "class_ids": np.ones(n, np.int32),
                 "scores": np.array(scores, np.float32), "masks": masks}
            out.append((masks.any(axis=2).astype(np.uint8) * 255, r))
        return out


def blob_frame(shapes, h=96, w=128, seed=0):
    """A dark noisy frame with filled shapes in red; shapes: list of
    (kind, params, score). Returns (RGB image, [H, W, N] bool masks)."""
    rng = np.random.RandomState(seed)
    image = rng.randint(0, 90, (h, w, 3)).astype(np.uint8)
    image[:, :, 0] = np.minimum(image[:, :, 0], 90)
    masks = []
    for bit, (kind, p, score) in enumerate(shapes):
        m = np.zeros((h, w), np.uint8)
        if kind == "ellipse":
            cv2.ellipse(m, (p[0], p[1]), (p[2], p[3]), p[4], 0, 360, 1, -1)
        else:  # rotated rectangle: centre, size, angle
            box = cv2.boxPoints(((p[0], p[1]), (p[2], p[3]), p[4])).astype(np.int32)
            cv2.fillPoly(m, [box], 1)
        m = m.astype(bool)
        image[m, 2] = np.where(image[m, 0] == 255, image[m, 2], 0) | (1 << bit)
        image[m, 0] = 255
        image[m, 1] = int(round(score * 255))
        masks.append(m)
    return image, (np.stack(masks, -1) if masks else np.zeros((h, w, 0), bool))


FRAMES = {
    "a.png": [("rect", (40, 50, 30, 60, 20), 0.95)],
    "b.png": [("ellipse", (80, 40, 25, 15, 30), 0.62), ("rect", (25, 70, 20, 30, -10), 0.90)],
    "c.png": [],                                                     # no phone
    "sub/d.png": [("ellipse", (118, 48, 20, 30, 0), 0.55)],         # touches the right edge
    "e.png": [("rect", (60, 45, 40, 50, 0), 0.97), ("ellipse", (75, 45, 12, 20, 0), 0.8)],
}


def write_rgb(path, image):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(image[:, :, ::-1]))


def make_frames(folder, frames=FRAMES):
    """Writes the frames; returns {name: (image, masks, scores)}."""
    out = {}
    for i, (name, shapes) in enumerate(sorted(frames.items())):
        image, masks = blob_frame(shapes, seed=i)
        write_rgb(pathlib.Path(folder) / name, image)
        out[name] = (image, masks, [s for _, _, s in shapes])
    return out


def iou(a, b):
    union = np.logical_or(a, b).sum()
    return np.logical_and(a, b).sum() / union if union else 1.0


def key_tree(d):
    """Nested key structure of a dict (values replaced by their type name)."""
    if isinstance(d, dict):
        return {k: key_tree(v) for k, v in d.items()}
    return type(d).__name__


def reread_masks(project, folder, name, shape):
    """Masks of one frame read back with phone.via (the reader, not the writer)."""
    from phone.via import load_via, rasterize_regions
    images = {im.filename: im for im in load_via(project, keep_empty=True, images_dir=folder)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PhoneDataWarning)
        return rasterize_regions(images[name], *shape[:2])[0], images[name]


# ----------------------------------------------------------------- mask_to_polygon
def test_mask_to_polygon_lives_in_via_and_synthetic_uses_it():
    import phone.synthetic
    import phone.via
    assert phone.synthetic.mask_to_polygon is phone.via.mask_to_polygon
    m = np.zeros((10, 12), bool)
    m[2:7, 3:9] = True
    pts = phone.via.mask_to_polygon(m)
    # a quarter pixel outside the rectangle's corner pixel centres, in (x, y)
    assert sorted(map(tuple, pts.tolist())) == [(2.75, 1.75), (2.75, 6.25), (8.25, 1.75),
                                                (8.25, 6.25)]
    assert phone.via.mask_to_polygon(np.zeros((4, 4), bool)) is None


def test_mask_to_polygon_max_vertices_and_tolerance():
    from phone.via import ViaRegion, mask_to_polygon, rasterize_region
    m = np.zeros((120, 120), np.uint8)
    cv2.circle(m, (60, 60), 45, 1, -1)
    m = m.astype(bool)
    fine = mask_to_polygon(m, tolerance=0.3)
    few = mask_to_polygon(m, tolerance=0.3, max_vertices=12)
    assert len(fine) > 12 >= len(few) >= 3
    coarse = mask_to_polygon(m, tolerance=3.0)
    assert len(coarse) < len(fine)
    for pts, floor in ((fine, 0.99), (few, 0.93)):
        back = rasterize_region(ViaRegion("polygon", "phone", pts.astype(float)), 120, 120)
        assert iou(back, m) >= floor
    with pytest.raises(ValueError):
        mask_to_polygon(m, max_vertices=2)


def test_mask_to_polygon_joins_pieces_and_keeps_thin_lines():
    from phone.via import ViaRegion, mask_to_polygon, rasterize_region
    m = np.zeros((30, 40), bool)
    m[2:12, 3:13] = True                  # two squares 4 px apart: a phone cut by a finger
    m[2:12, 17:27] = True
    largest = mask_to_polygon(m)
    joined = mask_to_polygon(m, tolerance=0.5, max_vertices=40, all_pieces=True)

    def back(pts, h=30, w=40):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PhoneDataWarning)
            return rasterize_region(ViaRegion("polygon", "phone", pts.astype(float)), h, w)
    assert iou(back(largest), m) == pytest.approx(0.5)
    b = back(joined)
    assert (b == m).all()                 # both squares; the zero-width bridge adds nothing
    assert len(joined) == 4 + 4 + 2
    # a straight line of pixels: a half-pixel-wide polygon around it, drawn back exactly
    line = np.zeros((20, 20), bool)
    line[3:15, 7] = True
    pts = mask_to_polygon(line, tolerance=0.5, max_vertices=10, all_pieces=True)
    assert sorted(map(tuple, pts.tolist())) == [(6.75, 2.75), (6.75, 14.25), (7.25, 2.75),
                                                (7.25, 14.25)]
    assert (back(pts, 20, 20) == line).all()


# ----------------------------------------------------------------- the project file
def test_project_has_via2_schema_and_reloads_with_the_drawn_masks(tmp_path):
    from phone.annotate import annotate_folder
    from phone.dataset import PhoneDataset
    from phone.via import load_via
    frames = tmp_path / "frames"
    truth = make_frames(frames)
    project = frames / "via_project.json"
    s = annotate_folder(BlobSegmenter(), frames, project, model_name="m.h5", quiet=True)
    assert (s.total, s.done, s.skipped, s.failed) == (5, 5, 0, [])
    assert s.regions == 6 and s.empty == 1

    data = json.loads(project.read_text())
    seed = json.loads(SEED_PROJECT.read_text())
    # the keys VIA 2.x writes; the settings tree is the one of a real VIA project
    assert set(data) == VIA2_KEYS
    assert set(seed) <= set(data)
    assert key_tree(data["_via_settings"]) == key_tree(seed["_via_settings"])
    assert data["_via_settings"]["core"]["default_filepath"] == ""
    assert data["_via_settings"]["project"]["name"] == "via_project"
    assert data["_via_data_format_version"].startswith("2.")
    assert set(data["_via_attributes"]) == {"region", "file"}
    for name in ("name", "score", "model"):
        assert data["_via_attributes"]["region"][name]["type"] == "text"
    meta = data["_via_img_metadata"]
    assert data["_via_image_id_list"] == list(meta)
    names = [e["filename"] for e in meta.values()]
    assert names == sorted(truth)                      # every frame, the empty one too
    for key, e in meta.items():
        assert set(e) == set(next(iter(seed["_via_img_metadata"].values())))
        assert e["size"] == os.path.getsize(frames / e["filename"])
        assert key == e["filename"] + str(e["size"])   # VIA's own key
        for r in e["regions"]:
            sa = r["shape_attributes"]
            assert sa["name"] == "polygon" and 3 <= len(sa["all_points_x"]) <= 40
            assert len(sa["all_points_x"]) == len(sa["all_points_y"])
            # quarter-pixel vertices: Matterport's rasterisation draws the mask back
            assert all(isinstance(v, (int, float)) and float(v * 4).is_integer()
                       for v in sa["all_points_x"] + sa["all_points_y"])
            assert set(r["region_attributes"]) == {"name", "score", "model"}
            assert r["region_attributes"]["name"] == "phone"
            assert r["region_attributes"]["model"] == "m.h5"
    assert meta["c.png" + str(os.path.getsize(frames / "c.png"))]["regions"] == []
    b = meta["b.png" + str(os.path.getsize(frames / "b.png"))]["regions"]
    assert [r["region_attributes"]["score"] for r in b] == ["0.902", "0.620"]   # best first

    # the reader gives back the drawn shapes (IoU >= 0.95 per instance, matched by score)
    for name, (image, masks, scores) in truth.items():
        back, im = reread_masks(project, frames, name, image.shape)
        assert back.shape[2] == masks.shape[2]
        for j, i in enumerate(np.argsort(-np.array(scores), kind="stable")):
            assert iou(back[:, :, j], masks[:, :, i]) >= 0.95, (name, j)
    # and PhoneDataset trains on it (empty frame kept as a negative on request)
    ds = PhoneDataset()
    assert ds.load_phone(str(frames), "", via_file=str(project)) == 4
    ds2 = PhoneDataset()
    assert ds2.load_phone(str(frames), "", via_file=str(project), keep_empty=True) == 5
    ds.prepare()
    m, ids = ds.load_mask(0)
    assert m.shape == (96, 128, 1) and ids.tolist() == [1]
    assert len(load_via(project)) == 4


def test_min_score_max_vertices_and_base_path(tmp_path):
    from phone.annotate import annotate_folder
    from phone.via import load_via
    frames = tmp_path / "frames"
    make_frames(frames)
    out = tmp_path / "elsewhere" / "p.json"
    annotate_folder(BlobSegmenter(), frames, out, min_score=0.7, max_vertices=5, quiet=True)
    data = json.loads(out.read_text())
    regions = [r for e in data["_via_img_metadata"].values() for r in e["regions"]]
    assert sorted(float(r["region_attributes"]["score"]) for r in regions) == [0.8, 0.902, 0.949, 0.969]
    assert all(len(r["shape_attributes"]["all_points_x"]) <= 5 for r in regions)
    # filenames are relative to the project's folder
    assert {e["filename"] for e in data["_via_img_metadata"].values()} == {
        f"../frames/{n}" for n in FRAMES}
    assert all(os.path.isfile(im.path) for im in load_via(out, keep_empty=True))

    # --base-path: filenames relative to the frames, VIA's default path set
    out2 = tmp_path / "p2.json"
    annotate_folder(BlobSegmenter(), frames, out2, base_path="http://localhost:8000/frames",
                    quiet=True)
    d2 = json.loads(out2.read_text())
    assert d2["_via_settings"]["core"]["default_filepath"] == "http://localhost:8000/frames/"
    assert "sub/d.png" in {e["filename"] for e in d2["_via_img_metadata"].values()}
    assert len(load_via(out2, keep_empty=True, images_dir=frames)) == 5
    # the same project with another base path: one line, nothing changed
    before = out2.read_bytes()
    with pytest.raises(PhoneDataError, match="base-path"):
        annotate_folder(BlobSegmenter(), frames, out2, quiet=True)
    assert out2.read_bytes() == before


def test_a_detection_with_an_empty_mask_is_dropped_and_counted():
    """frame_regions: three detections, the best-scored one with an empty mask
    (a barely trained model makes such); two polygons come out, best score
    first, and dropped counts the empty one; min_score is applied before."""
    from phone.annotate import frame_regions
    masks = np.zeros((40, 40, 3), bool)
    masks[5:15, 5:25, 1] = True                # 10 x 20 box, score 0.6
    masks[20:35, 10:20, 2] = True               # 15 x 10 box, score 0.8
    result = {"masks": masks, "scores": np.array([0.9, 0.6, 0.8])}
    regions, dropped = frame_regions(result, min_score=0.0, model_name="m")
    assert dropped == 1
    assert [r["region_attributes"]["score"] for r in regions] == ["0.800", "0.600"]
    xs, ys = (regions[0]["shape_attributes"][k] for k in ("all_points_x", "all_points_y"))
    assert (min(xs), max(xs), min(ys), max(ys)) == pytest.approx((10, 20, 20, 35), abs=1)
    regions, dropped = frame_regions(result, min_score=0.7, model_name="m")
    assert dropped == 1 and [r["region_attributes"]["score"] for r in regions] == ["0.800"]
    regions, dropped = frame_regions(result, min_score=0.95, model_name="m")
    assert (regions, dropped) == ([], 0)


# ----------------------------------------------------------------- resume, interruption
def test_resume_skips_finished_frames_and_keeps_corrections(tmp_path):
    from phone.annotate import annotate_folder
    frames = tmp_path / "frames"
    make_frames(frames)
    project = frames / "project.json"
    annotate_folder(BlobSegmenter(), frames, project, quiet=True)
    # a person corrects a.png in VIA: moves a vertex, drops the score
    data = json.loads(project.read_text())
    key_a = next(k for k, e in data["_via_img_metadata"].items() if e["filename"] == "a.png")
    data["_via_img_metadata"][key_a]["regions"][0]["shape_attributes"]["all_points_x"][0] += 3
    data["_via_img_metadata"][key_a]["regions"][0]["region_attributes"]["score"] = ""
    project.write_text(json.dumps(data))
    corrected = json.loads(project.read_text())["_via_img_metadata"]

    seg = BlobSegmenter()
    s = annotate_folder(seg, frames, project, quiet=True)
    assert (s.done, s.skipped, seg.seen) == (0, 5, 0)
    assert json.loads(project.read_text())["_via_img_metadata"] == corrected

    image, _ = blob_frame([("rect", (64, 48, 30, 30, 0), 0.75)], seed=9)
    write_rgb(frames / "f.png", image)
    s = annotate_folder(seg, frames, project, quiet=True)
    assert (s.done, s.skipped, seg.seen) == (1, 5, 1)
    meta = json.loads(project.read_text())["_via_img_metadata"]
    assert {k: v for k, v in meta.items() if k in corrected} == corrected
    assert [e["filename"] for e in meta.values()][-1] == "f.png"


def test_interrupted_run_leaves_a_complete_project_and_resumes(tmp_path):
    from phone.annotate import annotate_folder
    from phone.via import load_via
    frames = tmp_path / "frames"
    make_frames(frames)
    project = tmp_path / "p.json"
    with pytest.raises(KeyboardInterrupt):
        annotate_folder(BlobSegmenter(fail_after=3), frames, project, checkpoint_every=100,
                        quiet=True)
    data = json.loads(project.read_text())          # written on the way out, complete
    assert len(data["_via_img_metadata"]) in (2, 3)  # whole batches of 2 only
    done = len(data["_via_img_metadata"])
    assert not list(tmp_path.glob(".p.json*"))       # no temp file left
    seg = BlobSegmenter()
    s = annotate_folder(seg, frames, project, quiet=True)
    assert (s.skipped, s.done, seg.seen) == (done, 5 - done, 5 - done)
    assert len(load_via(project, keep_empty=True)) == 5


def test_project_is_rewritten_every_checkpoint(tmp_path, monkeypatch):
    import phone.annotate as annotate
    frames = tmp_path / "frames"
    make_frames(frames)
    sizes = []
    real = annotate.write_via_json

    def spy(path, data):
        sizes.append(len(data["_via_img_metadata"]))
        return real(path, data)

    monkeypatch.setattr(annotate, "write_via_json", spy)
    annotate.annotate_folder(BlobSegmenter(), frames, tmp_path / "p.json", checkpoint_every=2,
                             quiet=True)
    assert sizes == [2, 4, 5]


# ----------------------------------------------------------------- bad input
def test_unreadable_frames_are_reported_skipped_and_retried(tmp_path, capsys):
    from phone.annotate import annotate_folder
    frames = tmp_path / "frames"
    make_frames(frames)
    (frames / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (frames / "empty.jpg").write_bytes(b"")
    project = frames / "p.json"
    s = annotate_folder(BlobSegmenter(), frames, project, quiet=True)
    assert s.done == 5 and sorted(os.path.basename(p) for p, _ in s.failed) == ["broken.png",
                                                                               "empty.jpg"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") and str(frames) in line for line in err)
    names = {e["filename"] for e in json.loads(project.read_text())["_via_img_metadata"].values()}
    assert "broken.png" not in names and len(names) == 5
    # fixed later: the next run picks it up
    image, _ = blob_frame([("rect", (64, 48, 30, 30, 0), 0.75)], seed=9)
    write_rgb(frames / "broken.png", image)
    s = annotate_folder(BlobSegmenter(), frames, project, quiet=True)
    assert s.done == 1 and s.skipped == 5 and len(s.failed) == 1


def test_project_of_another_folder_or_not_a_project_is_left_alone(tmp_path):
    from phone.annotate import annotate_folder
    a, b = tmp_path / "a", tmp_path / "b"
    make_frames(a)
    make_frames(b, {"x.png": [], "y.png": []})
    project = tmp_path / "p.json"
    annotate_folder(BlobSegmenter(), a, project, quiet=True)
    before = project.read_bytes()
    with pytest.raises(PhoneDataError) as e:
        annotate_folder(BlobSegmenter(), b, project, quiet=True)
    msg = str(e.value)
    assert "another image folder" in msg and str(project) in msg and "\n" not in msg
    assert project.read_bytes() == before
    # the bundled VIA project lists frames that are not in `a`
    seed_copy = a / "seed.json"
    shutil.copy(SEED_PROJECT, seed_copy)
    with pytest.raises(PhoneDataError, match="another image folder"):
        annotate_folder(BlobSegmenter(), a, seed_copy, quiet=True)
    assert seed_copy.read_bytes() == SEED_PROJECT.read_bytes()
    # a JSON that is not a VIA 2 project
    other = tmp_path / "other.json"
    other.write_text('{"images": [], "annotations": []}')
    with pytest.raises(AnnotationError, match="not a VIA 2.x project"):
        annotate_folder(BlobSegmenter(), a, other, quiet=True)
    assert other.read_text() == '{"images": [], "annotations": []}'
    (tmp_path / "nothing").mkdir()
    with pytest.raises(PhoneDataError, match="no images"):
        annotate_folder(BlobSegmenter(), tmp_path / "nothing", tmp_path / "n.json", quiet=True)
    assert not (tmp_path / "n.json").exists()


# ----------------------------------------------------------------- review
def test_review_ranks_doubtful_frames_and_draws_a_contact_sheet(tmp_path):
    from phone.annotate import annotate_folder
    frames = tmp_path / "frames"
    make_frames(frames)
    project = frames / "p.json"
    s = annotate_folder(BlobSegmenter(), frames, project, review=4, quiet=True)
    # hand-computed doubts: c no phone 1.0; e overlap 0.5 + (1 - 0.8) = 0.70;
    # d edge 0.25 + (1 - 0.553) = 0.70; b 1 - 0.62 = 0.38; a 1 - 0.949 = 0.05
    order = [(it.filename, round(it.doubt, 2)) for it in s.review]
    assert order[0] == ("c.png", 1.0)
    assert sorted(order[1:3]) == [("e.png", 0.7), ("sub/d.png", 0.7)]
    assert order[3] == ("b.png", 0.38)
    assert [it.rank for it in s.review] == [1, 2, 3, 4]
    listing, sheet = s.review_files
    lines = [l for l in pathlib.Path(listing).read_text().splitlines() if not l.startswith("#")]
    assert [l.split("\t")[2] for l in lines] == [f for f, _ in order]
    assert "touches the frame edge" in pathlib.Path(listing).read_text()
    assert "overlapping" in lines[[f for f, _ in order].index("e.png")]
    png = cv2.imread(sheet)
    assert png is not None and png.shape[1] == 4 * 256 and png.shape[0] >= 256
    # the review outputs are never taken for frames on the next run
    s2 = annotate_folder(BlobSegmenter(), frames, project, review=2, quiet=True)
    assert s2.total == 5 and s2.done == 0


# ----------------------------------------------------------------- merge back
def test_load_phone_merges_several_via_files_later_wins(tmp_path):
    from phone.dataset import PhoneDataset
    from phone.via import write_via_json
    d = tmp_path / "train"
    for n in ("a.png", "b.png", "c.png"):
        write_rgb(d / n, np.zeros((20, 30, 3), np.uint8))

    def entry(name, x0):
        return {"filename": name, "size": -1, "file_attributes": {}, "regions": [
            {"shape_attributes": {"name": "rect", "x": x0, "y": 2, "width": 4, "height": 5},
             "region_attributes": {"name": "phone"}}]}
    write_via_json(d / "old.json", {"a.png-1": entry("a.png", 1), "b.png-1": entry("b.png", 1)})
    write_via_json(d / "new.json", {"_via_settings": {}, "_via_attributes": {},
                                    "_via_img_metadata": {"b.png-1": entry("b.png", 10),
                                                          "c.png-1": entry("c.png", 1)}})
    ds = PhoneDataset()
    with pytest.warns(PhoneDataWarning) as rec:
        n = ds.load_phone(str(tmp_path), "train", via_file=["old.json", str(d / "new.json")])
    msgs = [str(w.message) for w in rec if issubclass(w.category, PhoneDataWarning)]
    assert n == 3 and len(msgs) == 1
    assert "old.json" in msgs[0] and "new.json" in msgs[0] and "'b.png'" in msgs[0]
    assert "later file wins" in msgs[0]
    ds.prepare()
    assert [os.path.basename(ds.image_reference(i)) for i in ds.image_ids] == ["a.png", "b.png",
                                                                               "c.png"]
    m, _ = ds.load_mask(1)
    cols = np.where(m[:, :, 0].any(axis=0))[0]
    assert (cols.min(), cols.max()) == (10, 14)       # the later file's rect (x 10..14)
    assert ds.image_info[1]["annotation_file"].endswith("new.json")
    # the other order: the old rect wins
    ds2 = PhoneDataset()
    with pytest.warns(PhoneDataWarning, match="using .*old.json"):
        ds2.load_phone(str(tmp_path), "train", via_file=[d / "new.json", d / "old.json"])
    ds2.prepare()
    b = [i for i in ds2.image_ids if ds2.image_reference(i).endswith("b.png")][0]
    assert np.where(ds2.load_mask(b)[0][:, :, 0].any(axis=0))[0].min() == 1
    with pytest.raises(PhoneDataError, match="empty list"):
        PhoneDataset().load_phone(str(tmp_path), "train", via_file=[])


# ----------------------------------------------------------------- the command
def wired_main(argv):
    """phone.cli.main (kept under its old name: the tests below call it)."""
    from phone.cli import main
    return main(argv)


#: the same, as a subprocess
RUNNER = ["-m", "phone"]


def test_command_rejects_weights_that_are_not_a_phone_model(tmp_path, capsys):
    import h5py
    frames = tmp_path / "frames"
    make_frames(frames, {"a.png": []})
    out = tmp_path / "p.json"
    text = tmp_path / "notes.h5"
    text.write_text("not weights")
    backbone = tmp_path / "backbone.h5"
    with h5py.File(backbone, "w") as f:               # Keras layout, no Mask R-CNN head
        f.attrs["layer_names"] = [b"conv1"]
        f.create_group("conv1").attrs["weight_names"] = []
    for weights, expect in ((text, "not a readable HDF5"), (backbone, "no Mask R-CNN head"),
                            (tmp_path / "missing.h5", "not found")):
        rc = wired_main(["annotate", "--weights", str(weights), "--dir", str(frames),
                         "--out", str(out), "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and expect in err[0], err
        assert err[0].startswith("phone annotate: error: ")
        assert not out.exists()
    # another folder's project: refused before the model is built
    out.write_text(SEED_PROJECT.read_text())
    rc = wired_main(["annotate", "--weights", str(text), "--dir", str(frames), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "another image folder" in err[0]
    assert out.read_text() == SEED_PROJECT.read_text()
    rc = wired_main(["annotate", "--weights", str(text), "--dir", str(frames),
                     "--out", str(frames), "--quiet"])
    assert rc == 2 and "must be a .json file" in capsys.readouterr().err


# ----------------------------------------------------------------- the command's options
def annotate_cli(monkeypatch, argv):
    """`phone annotate ARGV` through phone.cli.main with the BlobSegmenter
    in place of the model (segmenter_from_args builds nothing). Returns
    (exit status, {what the command asked segmenter_from_args for})."""
    import phone.commands.annotate as cmd
    asked = {}

    def segmenter_from_args(args, batch_size, score=None):
        asked.update(batch_size=batch_size, score=score)
        return BlobSegmenter(), "/models/blobs.h5", None
    monkeypatch.setattr(cmd, "segmenter_from_args", segmenter_from_args)
    return wired_main(["annotate"] + [str(a) for a in argv] + ["--quiet"]), asked


def project_polygons(project):
    """{filename: [[(x, y), ...] per region]} of a VIA 2.x project file."""
    meta = json.loads(pathlib.Path(project).read_text())["_via_img_metadata"]
    return {e["filename"]: [list(zip(r["shape_attributes"]["all_points_x"],
                                     r["shape_attributes"]["all_points_y"]))
                            for r in e["regions"]] for e in meta.values()}


def test_command_max_vertices_caps_every_polygon(tmp_path, monkeypatch):
    """`--max-vertices 6`: none of the 6 polygons has more than 6 vertices,
    although with the default (40) four of them have 30 to 40: the
    staircase edge of a.png's rotated rectangle and the three ellipses. The
    command asks for the segmenter with --batch-size's default (4) and
    --min-score's (0.5)."""
    frames = tmp_path / "frames"
    make_frames(frames)
    capped, default = tmp_path / "capped.json", tmp_path / "default.json"
    code, asked = annotate_cli(monkeypatch, ["--dir", frames, "--out", capped,
                                             "--max-vertices", "6"])
    assert code == 0 and asked == {"batch_size": 4, "score": 0.5}
    assert annotate_cli(monkeypatch, ["--dir", frames, "--out", default])[0] == 0
    few, many = project_polygons(capped), project_polygons(default)
    assert set(few) == set(many) == {f"frames/{n}" for n in FRAMES}
    counts = sorted(len(p) for polys in few.values() for p in polys)
    assert len(counts) == 6 and 3 <= min(counts) and max(counts) <= 6
    # the cap did something: a.png's rectangle, b.png's ellipse, d.png's, e.png's
    assert sum(len(p) > 6 for polys in many.values() for p in polys) == 4


def _outline_distance(poly, mask):
    """Largest distance (px) from a pixel of the mask's outer outline to the
    polygon's edges (OpenCV, independent of phone.via)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    p = np.asarray(poly, np.float32).reshape(-1, 1, 2)
    return max(abs(cv2.pointPolygonTest(p, (float(x), float(y)), True))
               for x, y in np.concatenate(contours).reshape(-1, 2))


def _drawn_mask_of(poly, masks):
    """The drawn mask a polygon stands for: the one it overlaps most."""
    filled = np.zeros(masks.shape[:2], np.uint8)
    cv2.fillPoly(filled, [np.round(np.asarray(poly)).astype(np.int32)], 1)
    return masks[:, :, int(np.argmax([(filled.astype(bool) & masks[:, :, i]).sum()
                                      for i in range(masks.shape[2])]))]


def test_command_tolerance_trades_vertices_for_distance(tmp_path, monkeypatch):
    """`--tolerance 3` against `--tolerance 0.5` on the same frames (vertex
    cap out of the way: --max-vertices 500): every polygon has at most as
    many vertices, every ellipse and the staircase edge of the rotated
    rectangle strictly fewer, and each polygon stays within its tolerance
    of the drawn shape (the Douglas-Peucker bound: every pixel of the
    shape's outline within tolerance + 0.5 px of the polygon, the 0.5 for
    the quarter-pixel outline mask_to_polygon draws around pixel centres)."""
    frames = tmp_path / "frames"
    drawn = make_frames(frames)
    polys = {}
    for tol in ("0.5", "3"):
        out = tmp_path / f"tol{tol}.json"
        code, _ = annotate_cli(monkeypatch, ["--dir", frames, "--out", out, "--tolerance", tol,
                                             "--max-vertices", "500"])
        assert code == 0
        polys[float(tol)] = {k[len("frames/"):]: v for k, v in project_polygons(out).items()}
    fine, coarse = polys[0.5], polys[3.0]
    assert set(fine) == set(coarse) == set(FRAMES)
    for name in FRAMES:
        assert len(fine[name]) == len(coarse[name])
        # best score first in both: the regions pair up
        for f, c in zip(fine[name], coarse[name]):
            assert len(c) <= len(f), name
    for name in ("a.png", "b.png", "sub/d.png"):       # shapes that do not overlap
        assert sum(map(len, coarse[name])) < sum(map(len, fine[name])), name
        masks = drawn[name][1]
        for tol in (0.5, 3.0):
            for poly in polys[tol][name]:
                assert _outline_distance(poly, _drawn_mask_of(poly, masks)) <= tol + 0.5, (name, tol)


def test_command_base_path_is_vias_default_path(tmp_path, monkeypatch, capsys):
    """`--base-path URL`: the project's _via_settings.core.default_filepath
    is the URL with a trailing slash, and the filenames are relative to
    --dir (no "../" to the project's folder), so VIA finds URL + filename.
    Running again with another --base-path is one line, exit 2, and the
    project is left as it was."""
    frames = tmp_path / "frames"
    make_frames(frames)
    out = tmp_path / "projects" / "p.json"
    code, _ = annotate_cli(monkeypatch, ["--dir", frames, "--out", out, "--base-path",
                                         "http://localhost:8000/frames"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["_via_settings"]["core"]["default_filepath"] == "http://localhost:8000/frames/"
    assert sorted(e["filename"] for e in data["_via_img_metadata"].values()) == sorted(FRAMES)
    capsys.readouterr()
    before = out.read_bytes()
    code, _ = annotate_cli(monkeypatch, ["--dir", frames, "--out", out, "--base-path",
                                         "/srv/frames"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--base-path 'http://localhost:8000/frames/'" in err[0]
    assert out.read_bytes() == before


def test_command_review_writes_the_n_most_doubtful_frames(tmp_path, monkeypatch, capsys):
    """`--review 3`: OUT_review.txt lists 3 frames and OUT_review.png is a
    contact sheet of 3 cells of 256 px. Doubts by hand from the drawn
    scores: c.png no phone 1.0; e.png overlap 0.5 + (1 - 0.8) = 0.70;
    sub/d.png edge 0.25 + (1 - 140/255) = 0.70; b.png 1 - 158/255 = 0.38 and
    a.png 1 - 242/255 = 0.05 are left out. Without --review nothing is
    written beside the project."""
    frames = tmp_path / "frames"
    make_frames(frames)
    out = tmp_path / "p.json"
    code, _ = annotate_cli(monkeypatch, ["--dir", frames, "--out", out, "--review", "3"])
    assert code == 0
    listing, sheet = tmp_path / "p_review.txt", tmp_path / "p_review.png"
    assert f"Review first: {listing} (contact sheet {sheet})" in capsys.readouterr().out
    rows = [ln.split("\t") for ln in listing.read_text().splitlines() if not ln.startswith("#")]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert rows[0][1:] == ["1.000", "frames/c.png", "no phone detected"]
    assert sorted(r[2] for r in rows[1:]) == ["frames/e.png", "frames/sub/d.png"]
    assert all(float(r[1]) == pytest.approx(0.70, abs=0.005) for r in rows[1:])
    png = cv2.imread(str(sheet))
    assert png.shape[1] == 3 * 256 and png.shape[0] > 256
    other = tmp_path / "q.json"
    assert annotate_cli(monkeypatch, ["--dir", frames, "--out", other])[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "p.json", "p_review.png",
                                                          "p_review.txt", "q.json"]


# ----------------------------------------------------------------- real model (slow)
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Weights of the from-scratch phone model after a few dozen steps on
    synthetic frames (its masks are blob-like; the scores are low)."""
    from phone import learning
    d = tmp_path_factory.mktemp("annotate_model")
    split = learning.make_synthetic_split(
        str(d / "syn"), 16, seed=3,
        paste_from=[str(BUNDLED / "train" / "via_region_data.json")])
    ds = learning.load_split(split)
    ckpt, _, _ = learning.train_scratch(ds, ds, TRAIN_STEPS, str(d / "logs"), seed=0,
                                        batch_size=2, verbose=0, MIXED_PRECISION=None,
                                        VALIDATION_STEPS=1)
    return ckpt


SCRATCH = "phone.config:PhoneScratchInferenceConfig"
#: steps of the module's model: enough for blob-like masks on the bundled frames
TRAIN_STEPS = 80


@pytest.mark.slow
def test_round_trip_on_the_bundled_frames_with_a_trained_model(tmp_path, trained):
    from phone import learning
    from phone.annotate import annotate_folder
    from phone.dataset import PhoneDataset
    from phone.imageio import read_image
    frames = tmp_path / "frames"
    for p in seed_frames():
        frames.mkdir(exist_ok=True)
        shutil.copy(p, frames / p.name)
    seg = learning.inference_segmenter(trained, score=0.0)
    project = frames / "project.json"
    s = annotate_folder(seg, frames, project, min_score=0.0, model_name="tiny.h5", quiet=True)
    assert s.done == 4 and s.regions >= 1
    checked = empty_masks = 0
    for p in sorted(frames.glob("*.png")):
        image = read_image(p)
        _, r = seg.segment_image(image)
        # best score first, as the project stores them; a detection whose mask is
        # empty (this barely trained model at score >= 0 makes some, run to run)
        # has no polygon: the project leaves it out and the summary counts it
        order = np.argsort(-r["scores"], kind="stable")
        keep = [i for i in order if r["masks"][:, :, i].any()]
        empty_masks += len(order) - len(keep)
        model = r["masks"][:, :, keep]
        back, im = reread_masks(project, frames, p.name, image.shape)
        assert back.shape[2] == model.shape[2]
        assert [float(x.attributes["score"]) for x in im.regions] == pytest.approx(
            np.round(r["scores"][keep], 3).tolist(), abs=1e-6)
        if model.shape[2]:
            assert iou(back.any(2), model.any(2)) >= 0.95
            # per instance, weighted by size: a blob of a few pixels (this 80-step
            # model, trained nondeterministically by oneDNN, makes some at score >= 0)
            # cannot survive polygon simplification at 0.95 and would make an unweighted
            # mean flip from run to run; phone-sized instances must each hold up
            inter = [(back[:, :, i] & model[:, :, i]).sum() for i in range(model.shape[2])]
            union = [(back[:, :, i] | model[:, :, i]).sum() for i in range(model.shape[2])]
            assert sum(inter) / sum(union) >= 0.95, (inter, union)
            # a VIA polygon keeps no hole (mask_to_polygon), so each phone-sized
            # instance is compared with its mask with the holes filled: a ragged
            # blob of this barely trained model may hold a 10 % hole (seen: 801 of
            # 891 px, a fresh-clone run)
            import cv2
            for i in range(model.shape[2]):
                if model[:, :, i].sum() >= 100:
                    outer, _ = cv2.findContours(model[:, :, i].astype(np.uint8),
                                                cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                    filled = cv2.drawContours(np.zeros(image.shape[:2], np.uint8), outer, -1,
                                              1, thickness=-1).astype(bool) | model[:, :, i]
                    fi, fu = (back[:, :, i] & filled).sum(), (back[:, :, i] | filled).sum()
                    assert fi / fu >= 0.9, (i, fi, fu, inter[i], union[i])
            checked += 1
    assert checked >= 1
    assert s.dropped == empty_masks
    ds = PhoneDataset()
    assert ds.load_phone(str(frames), "", via_file=str(project)) == checked


@pytest.mark.slow
def test_kill_in_the_middle_then_resume_without_redoing_frames(tmp_path, trained):
    frames = tmp_path / "frames"
    frames.mkdir()
    bundled = seed_frames()
    for i in range(40):
        shutil.copy(bundled[i % len(bundled)], frames / f"f{i:03d}.png")
    project = tmp_path / "project.json"
    cmd = [sys.executable] + RUNNER + ["annotate", "--weights", trained, "--dir", str(frames),
           "--out", str(project), "--config", SCRATCH, "--min-score", "0.2",
           "--checkpoint-every", "1", "--batch-size", "1", "--quiet"]
    cmd = [str(c) for c in cmd]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while not project.exists():                 # the first checkpoint
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    first = json.loads(project.read_text())          # complete JSON, not a torn write
    done = len(first["_via_img_metadata"])
    assert 1 <= done < 40, "the run finished before the kill: the test proves nothing"

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"Resuming: {done} of 40 frames already in" in again.stderr
    assert f"Done: {40 - done} frames annotated" in again.stdout
    final = json.loads(project.read_text())["_via_img_metadata"]
    assert len(final) == 40 and [e["filename"] for e in final.values()] == [
        f"frames/f{i:03d}.png" for i in range(40)]
    assert {k: final[k] for k in first["_via_img_metadata"]} == first["_via_img_metadata"]


@pytest.mark.slow
def test_command_on_a_model_of_another_architecture_is_one_line(tmp_path, trained):
    frames = tmp_path / "frames"
    make_frames(frames, {"a.png": []})
    out = tmp_path / "p.json"
    # the from-scratch (LightResNet) weights forced into the ResNet-50 phone config
    r = subprocess.run([sys.executable] + RUNNER + [
                        "annotate", "--weights", trained, "--dir", str(frames), "--out", str(out),
                        "--config", "phone.config:PhoneInferenceConfig", "--quiet"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    lines = [l for l in r.stderr.splitlines() if l.startswith("phone annotate:")]
    assert r.returncode == 2 and len(lines) == 1 and "backbone" in lines[0]
    assert "Traceback" not in r.stderr and not out.exists()


# ----------------------------------------------------------------- the notebook (slow)
@pytest.mark.slow
def test_annotate_notebook_runs_the_loop(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_notebooks",
                                                  REPO / "notebooks" / "run_notebooks.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    out = tmp_path / "out"
    nb = runner.execute_notebook(
        REPO / "notebooks" / "annotate_phone.ipynb", out_path=str(tmp_path / "nb.ipynb"),
        timeout=600, parameters=dict(TRAIN_STEPS=3, SYNTHETIC=4, RETRAIN_STEPS=2, MIN_SCORE=0.0,
                                     REVIEW=2, LOGS_DIR=str(tmp_path / "logs"),
                                     OUTPUT_DIR=str(out)))
    text = "".join(runner.cell_text(c) for c in nb.cells if c.cell_type == "code")
    assert "Traceback" not in text
    project = out / "frames" / "via_project.json"
    data = json.loads(project.read_text())
    assert VIA2_KEYS <= set(data)
    meta = {e["filename"]: e for e in data["_via_img_metadata"].values()}
    assert sorted(meta) == sorted(p.name for p in seed_frames())
    assert "4 frames annotated" in text
    # the corrected frame holds the hand polygon, marked as drawn by a person
    fixed = meta["C_01_08_000.png"]["regions"]
    hand = json.loads((BUNDLED / "val" / "via_region_data.json").read_text())
    hand_region = next(e for e in hand.values() if e["filename"] == "C_01_08_000.png")["regions"][0]
    assert len(fixed) == 1 and fixed[0]["region_attributes"]["score"] == ""
    assert fixed[0]["shape_attributes"]["all_points_x"] == hand_region["shape_attributes"]["all_points_x"]
    # the round trip is printed for every frame (a model of 3 steps draws noise: no IoU bound)
    assert len(re.findall(r"^C_\d\d_\d\d_\d{3}\.png: (?:no detection|\d+ instance\(s\), "
                          r"round-trip IoU per instance min [0-9.]+ mean [0-9.]+; union [0-9.]+)$",
                          text, re.M)) == 4
    # merge back: the hand annotations, listed last, win for the two training frames
    assert "('C_01_06_001.png', 'hand_annotations.json')" in text
    assert "('C_01_07_000.png', 'hand_annotations.json')" in text
    assert "('C_01_08_000.png', 'via_project.json')" in text      # the corrected frame
    assert "trained 2 more steps" in text
    assert len(list((tmp_path / "logs").glob("phone*/mask_rcnn_phone_*.h5"))) == 2
    shot = cv2.imread(str(out / "annotate_regions.png"))
    assert shot is not None and shot.shape == (512, 512, 3)
    assert (out / "frames" / "via_project_review.txt").is_file()
