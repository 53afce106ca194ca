"""Property-based tests of the VIA reader (phone.via.load_via) with
hypothesis: hand-edited and malformed VIA 1/2/3 JSON.

Property: a file either loads (and every loaded region rasterises to a bool
mask of the image's size, warning only with PhoneDataWarning) or raises
AnnotationError with one line that starts with the file's path. No other
exception escapes. Valid files load to exactly what was written.
"""
import atexit
import json
import math
import os
import shutil
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phone.errors import AnnotationError, PhoneDataWarning
from phone.via import AREA_SHAPES, ViaImage, ViaRegion, load_via, rasterize_regions

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ----------------------------------------------------------------- strategies
HUGE = [1e308, -1e308, 1.7e308, 1e12, -1e12, 1e9, 1e6, -1e6, 10 ** 30, -(10 ** 30),
        10 ** 400, -(10 ** 400), 2 ** 63, 2 ** 64 + 1, 5e-324, -0.0]
SANE = st.one_of(st.integers(-30, 300), st.floats(-40, 400, allow_nan=False))
NUMBERS = st.one_of(st.integers(-300, 300),
                    st.floats(-400, 400, allow_nan=False),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(HUGE))
FILENAMES = st.one_of(
    st.text(min_size=1, max_size=10),
    st.sampled_from(["", " ", ".", "a.png", "ф🙂 кадр.png", "\ud800x.png", "a\x00b.png",
                     "../../etc/passwd", "/abs/frame.png", "C:\\frames\\f.png",
                     "http://example.com/img/x.png", "dir/", "x" * 300 + ".png"]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=6))
JUNK = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)
NAMES = st.sampled_from(["phone", "", " Phone ", "mobile phone", "cell_phone"])
CLASS_VALUES = st.one_of(NAMES, NAMES, NAMES, NAMES, NAMES, st.text(max_size=8), st.none(), NUMBERS,
                         st.dictionaries(st.sampled_from(["phone", "cup", "hand"]), st.booleans(),
                                         max_size=3),
                         st.lists(st.text(max_size=3), max_size=2))


@st.composite
def shape_attributes(draw):
    kind = draw(st.sampled_from(["polygon"] * 4 + ["polyline", "rect", "rect", "circle", "ellipse",
                                 "point", "line", "POLYGON", "blob", ""]))
    sa = {"name": kind}
    low = kind.lower()
    # most shapes get plausible numbers, some get hostile ones
    NUM = draw(st.sampled_from([SANE, SANE, NUMBERS]))
    if low in ("polygon", "polyline"):
        n = draw(st.integers(0, 7))
        sa["all_points_x"] = draw(st.lists(NUM, min_size=n, max_size=n))
        m = draw(st.sampled_from([n] * 6 + [max(0, n - 1), n + 1]))
        sa["all_points_y"] = draw(st.lists(NUM, min_size=m, max_size=m))
    keys = {"rect": ("x", "y", "width", "height"), "circle": ("cx", "cy", "r"),
            "ellipse": ("cx", "cy", "rx", "ry", "theta"), "point": ("cx", "cy"),
            "line": ("x1", "y1", "x2", "y2")}.get(low, ())
    for k in keys:
        sa[k] = draw(NUM)
    return sa


def regions_of(region):
    return st.one_of(
        st.lists(region, max_size=3),
        st.lists(region, max_size=3).map(lambda rs: {str(i): r for i, r in enumerate(rs)}),
        st.lists(region, max_size=2).map(lambda rs: {k: r for k, r in zip(["b", "1", "x"], rs)}))


REGION = st.fixed_dictionaries({"shape_attributes": shape_attributes(),
                                "region_attributes": st.fixed_dictionaries({"name": CLASS_VALUES})})


@st.composite
def via2_entries(draw):
    out = {}
    for _ in range(draw(st.integers(0, 3))):
        name = draw(FILENAMES)
        size = draw(st.one_of(st.integers(-1, 10 ** 6), JUNK))
        out[f"{name}{size}"] = {"filename": name, "size": size, "regions": draw(regions_of(REGION)),
                                "file_attributes": draw(st.one_of(st.just({}), JUNK))}
    return out


@st.composite
def via2_project(draw):
    entries = draw(via2_entries())
    ids = draw(st.one_of(st.just(list(entries)), st.just(list(entries)[::-1]), JUNK,
                         st.lists(st.one_of(st.sampled_from(list(entries) or ["k"]), JUNK),
                                  max_size=3)))
    return {"_via_settings": {}, "_via_img_metadata": entries, "_via_attributes": {},
            "_via_image_id_list": ids}


@st.composite
def via3_project(draw):
    n = draw(st.integers(0, 2))
    files = {str(i + 1): {"fid": str(i + 1), "fname": draw(FILENAMES),
                          "type": draw(st.one_of(st.just(2), JUNK)), "loc": 1, "src": ""}
             for i in range(n)}
    views = {str(i + 1): {"fid_list": draw(st.one_of(st.just([str(i + 1)]), JUNK))}
             for i in range(n)}
    metadata = {}
    for j in range(draw(st.integers(0, 3))):
        sid = draw(st.one_of(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, True]), JUNK))
        coords = draw(st.lists(NUMBERS, max_size=9))
        metadata[f"1_m{j}"] = {
            "vid": draw(st.one_of(st.sampled_from([str(i + 1) for i in range(n)] or ["1"]), JUNK)),
            "flg": 0, "z": draw(st.one_of(st.just([]), JUNK)),
            "xy": draw(st.one_of(st.just([sid] + coords), JUNK)),
            "av": draw(st.one_of(st.fixed_dictionaries({"1": st.one_of(
                st.sampled_from(["0", "1", "0,1", "", "7"]), JUNK)}), JUNK))}
    attribute = draw(st.one_of(
        st.just({"1": {"aname": "name", "anchor_id": "FILE1_Z0_XY1", "type": 3,
                       "options": {"0": "phone", "1": "cup"}, "default_option_id": ""}}),
        st.fixed_dictionaries({"1": JUNK}), JUNK))
    project = draw(st.one_of(st.just({"pid": "__VIA_PROJECT_ID__",
                                      "vid_list": [str(i + 1) for i in range(n)]}),
                             st.fixed_dictionaries({"vid_list": JUNK}), JUNK))
    return {"project": project, "config": {}, "attribute": attribute, "file": files,
            "view": views, "metadata": metadata}


class Dup(list):
    """An object written with a repeated key: [(key, value), ...]."""


def _mutate(draw, obj, depth=0):
    """Break a structure here and there: drop keys, replace values by junk,
    repeat a key."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            action = draw(st.sampled_from(["keep"] * 20 + ["drop", "junk"]))
            if action == "drop":
                continue
            out[k] = draw(JUNK) if action == "junk" else _mutate(draw, v, depth + 1)
        if out and draw(st.integers(0, 19)) == 0:
            key = draw(st.sampled_from(sorted(out)))
            other = draw(st.one_of(st.just(out[key]), JUNK))
            pairs = list(out.items())
            pairs.insert(draw(st.integers(0, len(pairs))), (key, other))
            return Dup(pairs)
        return out
    if isinstance(obj, list):
        out = []
        for v in obj:
            action = draw(st.sampled_from(["keep"] * 20 + ["drop", "junk"]))
            if action != "drop":
                out.append(draw(JUNK) if action == "junk" else _mutate(draw, v, depth + 1))
        return out
    return obj


@st.composite
def hostile_documents(draw):
    base = draw(st.one_of(via2_entries(), via2_project(), via3_project(), JUNK))
    return _mutate(draw, base) if draw(st.booleans()) else base


def dumps(obj):
    """JSON text; Dup objects get their repeated keys; NaN/Infinity and huge
    integers are written as Python's json module does."""
    if isinstance(obj, Dup):
        return "{" + ", ".join(f"{json.dumps(k)}: {dumps(v)}" for k, v in obj) + "}"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ", ".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def has_conflicting_duplicate(obj):
    if isinstance(obj, Dup):
        seen = {}
        for k, v in obj:
            if k in seen and seen[k] != dumps(v):
                return True
            seen[k] = dumps(v)
        return any(has_conflicting_duplicate(v) for _, v in obj)
    if isinstance(obj, dict):
        return any(has_conflicting_duplicate(v) for v in obj.values())
    if isinstance(obj, list):
        return any(has_conflicting_duplicate(v) for v in obj)
    return False


# ----------------------------------------------------------------- helpers
_DIR = tempfile.mkdtemp(prefix="via_fuzz_")
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
JSON_PATH = os.path.join(_DIR, "via_region_data.json")


def write_text(text):
    with open(JSON_PATH, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write(text)
    return JSON_PATH


def load_or_error(path, **kwargs):
    """load_via + rasterisation of every region on a 7 x 9 image.
    Returns (images, None) or (None, AnnotationError). Fails the test on any
    other exception or on warnings that are not PhoneDataWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            images = load_via(path, **kwargs)
        except AnnotationError as e:
            images, error = None, e
        else:
            error = None
            for im in images:
                assert isinstance(im, ViaImage)
                assert isinstance(im.filename, str) and im.filename
                assert isinstance(im.path, str) and os.path.isabs(im.path)
                for r in im.regions:
                    assert isinstance(r, ViaRegion) and r.shape in AREA_SHAPES
                    assert isinstance(r.class_name, str) and r.class_name
                    assert np.isfinite(np.asarray(r.points, float)).all()
                    assert all(math.isfinite(v) for v in r.params.values())
                masks, names = rasterize_regions(im, 7, 9)
                assert masks.dtype == bool and masks.shape == (7, 9, len(im.regions))
                assert names == [r.class_name for r in im.regions]
    others = [w for w in caught if not issubclass(w.category, PhoneDataWarning)]
    assert not others, [f"{w.category.__name__}: {w.message}" for w in others]
    if error is not None:
        msg = str(error)
        assert "\n" not in msg, msg
        assert msg.startswith(path), msg
    return images, error


# ----------------------------------------------------------------- properties
@SETTINGS
@given(doc=hostile_documents(), keep_empty=st.booleans(),
       default_class=st.sampled_from(["phone", None]))
def test_hostile_via_loads_or_raises_annotation_error(doc, keep_empty, default_class):
    path = write_text(dumps(doc))
    images, error = load_or_error(path, keep_empty=keep_empty, default_class=default_class)
    if has_conflicting_duplicate(doc):
        assert error is not None and "duplicate key" in str(error), (images, error)


@SETTINGS
@given(text=st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["", "   ", "\ufeff{}", "{", "[]", "null", "0", '"x"', "{\"a\": }",
                     "[" * 100000 + "]" * 100000, "{\"a\": " * 50000 + "1" + "}" * 50000,
                     "{\"a.png1\": {\"filename\": \"a.png\", \"regions\": [" + "1" * 5000 + "]}}",
                     "NaN", "Infinity", "{\"x\": NaN}"])))
def test_arbitrary_text_loads_or_raises_annotation_error(text):
    load_or_error(write_text(text))


def test_binary_garbage_and_other_encodings():
    for raw in [b"\xff\xfe{\x00}\x00", b"\x00\x01\x02", "{\"é.png\": {}}".encode("latin-1"),
                b"\x89PNG\r\n\x1a\n" + bytes(100)]:
        with open(JSON_PATH, "wb") as f:
            f.write(raw)
        images, error = load_or_error(JSON_PATH)
        assert images == [] or error is not None


# ----------------------------------------------------------------- valid files
COORD = st.integers(-20, 60)


@st.composite
def valid_regions(draw):
    kind = draw(st.sampled_from(["polygon", "rect", "circle", "ellipse"]))
    if kind == "polygon":
        n = draw(st.integers(3, 6))
        sa = {"name": "polygon", "all_points_x": draw(st.lists(COORD, min_size=n, max_size=n)),
              "all_points_y": draw(st.lists(COORD, min_size=n, max_size=n))}
    elif kind == "rect":
        sa = {"name": "rect", "x": draw(COORD), "y": draw(COORD),
              "width": draw(st.integers(0, 40)), "height": draw(st.integers(0, 40))}
    elif kind == "circle":
        sa = {"name": "circle", "cx": draw(COORD), "cy": draw(COORD),
              "r": draw(st.floats(0, 30))}
    else:
        sa = {"name": "ellipse", "cx": draw(COORD), "cy": draw(COORD), "rx": draw(st.floats(0, 30)),
              "ry": draw(st.floats(0, 30)), "theta": draw(st.floats(-4, 4))}
    name = draw(st.sampled_from(["phone", "Mobile Phone", "téléphone 📱"]))
    return {"shape_attributes": sa, "region_attributes": {"name": name}}


@SETTINGS
@given(names=st.lists(st.text(min_size=1, max_size=12).filter(lambda s: s.strip("./\\") == s
                                                                 and "\x00" not in s),
                      min_size=1, max_size=4, unique=True),
       regions=st.lists(st.lists(valid_regions(), min_size=1, max_size=3), min_size=4, max_size=4),
       as_dict=st.booleans())
def test_valid_files_load_exactly(names, regions, as_dict):
    data = {}
    for name, regs in zip(names, regions):
        data[f"{name}123"] = {"filename": name, "size": 123, "file_attributes": {},
                              "regions": {str(i): r for i, r in enumerate(regs)} if as_dict else regs}
    path = write_text(json.dumps(data))
    images, error = load_or_error(path)
    assert error is None
    assert [im.filename for im in images] == names
    for im, regs in zip(images, regions):
        assert im.path == os.path.normpath(os.path.join(_DIR, im.filename))
        assert len(im.regions) == len(regs)
        for r, src in zip(im.regions, regs):
            sa = src["shape_attributes"]
            assert r.shape == sa["name"]
            assert r.class_name == src["region_attributes"]["name"]
            if r.shape == "polygon":
                np.testing.assert_array_equal(r.points[:, 0], sa["all_points_x"])
                np.testing.assert_array_equal(r.points[:, 1], sa["all_points_y"])
            else:
                for k, v in sa.items():
                    if k != "name":
                        assert r.params[k] == pytest.approx(v)
        # rects with integer corners: exactly the pixels of the closed box
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PhoneDataWarning)
            masks, _ = rasterize_regions(im, 30, 40)
        yy, xx = np.mgrid[0:30, 0:40]
        for i, r in enumerate(im.regions):
            if r.shape == "rect":
                p = r.params
                box = ((xx >= p["x"]) & (xx <= p["x"] + p["width"])
                       & (yy >= p["y"]) & (yy <= p["y"] + p["height"]))
                np.testing.assert_array_equal(masks[:, :, i], box)


# ----------------------------------------------------------------- fixed cases
def test_huge_polygon_is_clipped_quickly_and_exactly():
    """A vertex at 1e12 (a slip of the keyboard) neither exhausts memory
    drawing the outline nor changes what lies inside the image."""
    data = {"a.png1": {"filename": "a.png", "size": 1, "file_attributes": {}, "regions": [
        {"shape_attributes": {"name": "polygon", "all_points_x": [2, 1e8, 1e8, 2],
                              "all_points_y": [3, 3, 1e8, 1e8]},
         "region_attributes": {"name": "phone"}}]}}
    images, error = load_or_error(write_text(json.dumps(data)))
    assert error is None
    with pytest.warns(PhoneDataWarning, match="outside"):
        masks, _ = rasterize_regions(images[0], 20, 30)
    yy, xx = np.mgrid[0:20, 0:30]
    np.testing.assert_array_equal(masks[:, :, 0], (xx >= 2) & (yy >= 3))


@pytest.mark.parametrize("value", ["1e10", "-1e300", "1" + "0" * 400, "NaN", "Infinity"])
def test_absurd_coordinates_are_annotation_errors(value):
    text = ('{"a.png1": {"filename": "a.png", "size": 1, "regions": [{"shape_attributes": '
            '{"name": "polygon", "all_points_x": [1, 5, %s], "all_points_y": [1, 1, 4]}, '
            '"region_attributes": {}}]}}' % value)
    images, error = load_or_error(write_text(text))
    assert error is not None
    assert "image 'a.png' region 0" in str(error) and "all_points_x[2]" in str(error)


def test_duplicate_keys():
    region = ('{"shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 2, "height": 2}, '
              '"region_attributes": {"name": "phone"}}')
    entry = '{"filename": "a.png", "size": 1, "regions": [%s]}' % region
    # the same image twice with the same content: harmless, loads once
    images, error = load_or_error(write_text('{"a.png1": %s, "a.png1": %s}' % (entry, entry)))
    assert error is None and [im.filename for im in images] == ["a.png"]
    # two different annotations under one key (merged by hand): one would be lost
    other = entry.replace('"x": 1', '"x": 3')
    images, error = load_or_error(write_text('{"a.png1": %s, "a.png1": %s}' % (entry, other)))
    assert error is not None and "duplicate key 'a.png1'" in str(error)
    # also deep inside a region
    dup = region.replace('"x": 1', '"x": 1, "x": 5')
    images, error = load_or_error(write_text(
        '{"a.png1": {"filename": "a.png", "size": 1, "regions": [%s]}}' % dup))
    assert error is not None and "duplicate key 'x'" in str(error)
