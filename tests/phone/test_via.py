"""phone.via: VIA 1/2/3 parsing, class names, errors, rasterisation checked pixel by pixel."""
import json
import math

import numpy as np
import pytest

from phone.errors import AnnotationError, PhoneDataError, PhoneDataWarning
from phone.via import (ViaImage, ViaRegion, load_via, rasterize_region, rasterize_regions,
                       via2_export, write_via_json)


def poly(xs, ys, name="phone"):
    return {"shape_attributes": {"name": "polygon", "all_points_x": xs, "all_points_y": ys},
            "region_attributes": {"name": name}}


def write(tmp_path, data, name="via.json"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def one_region(tmp_path, region, **kw):
    data = {"a.png1": {"filename": "a.png", "size": 1, "regions": [region], "file_attributes": {}}}
    return load_via(write(tmp_path, data), **kw)


# --------------------------------------------------------------- rasterisation

def test_rect_polygon_exact_pixels():
    r = ViaRegion("polygon", "phone", np.array([[2, 2], [5, 2], [5, 4], [2, 4]], float))
    expected = np.array([
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0]], bool)
    m = rasterize_region(r, 8, 8, outline=True)
    assert m.dtype == bool and m.shape == (8, 8)
    np.testing.assert_array_equal(m, expected)
    # The same rect as a VIA "rect" shape gives the same pixels (by default).
    rect = ViaRegion("rect", "phone", params=dict(x=2, y=2, width=3, height=2))
    np.testing.assert_array_equal(rasterize_region(rect, 8, 8), expected)


def test_polygon_default_is_matterports_rasterisation():
    # Matterport's balloon loader: skimage.draw.polygon(all_points_y,
    # all_points_x) and nothing else, i.e. the pixel centres inside the
    # polygon (an axis-aligned rect on integers keeps its border centres).
    r = ViaRegion("polygon", "phone", np.array([[2, 2], [5, 2], [5, 4], [2, 4]], float))
    expected = np.zeros((8, 8), bool)
    expected[2:5, 2:6] = True
    np.testing.assert_array_equal(rasterize_region(r, 8, 8), expected)
    # a slanted triangle: inside pixels only, never the rounded outline
    tri = ViaRegion("polygon", "phone", np.array([[1.3, 1.2], [9.6, 2.1], [4.4, 8.7]], float))
    m = rasterize_region(tri, 12, 12)
    yy, xx = np.mgrid[0:12, 0:12]

    def side(ax, ay, bx, by):
        return (bx - ax) * (yy - ay) - (by - ay) * (xx - ax)
    # strictly inside all three edges (same orientation) <=> in Matterport's mask
    s1, s2, s3 = side(1.3, 1.2, 9.6, 2.1), side(9.6, 2.1, 4.4, 8.7), side(4.4, 8.7, 1.3, 1.2)
    inside = ((s1 > 0) & (s2 > 0) & (s3 > 0)) | ((s1 < 0) & (s2 < 0) & (s3 < 0))
    np.testing.assert_array_equal(m, inside)
    assert rasterize_region(tri, 12, 12, outline=True).sum() > m.sum()


def test_triangle_border_points_included():
    # x >= 1, y >= 1, x + y <= 5: the hypotenuse passes through pixel centres.
    r = ViaRegion("polygon", "phone", np.array([[1, 1], [4, 1], [1, 4]], float))
    yy, xx = np.mgrid[0:6, 0:6]
    expected = (xx >= 1) & (yy >= 1) & (xx + yy <= 5)
    np.testing.assert_array_equal(rasterize_region(r, 6, 6, outline=True), expected)


def test_circle_area_close_to_pi_r2():
    r = ViaRegion("circle", "phone", params=dict(cx=50, cy=40, r=20))
    m = rasterize_region(r, 100, 100)
    assert abs(m.sum() - math.pi * 400) / (math.pi * 400) < 0.01
    assert m[40, 30] and m[40, 70] and m[20, 50] and not m[40, 71] and not m[19, 50]


def test_ellipse_theta():
    cx, cy, rx, ry = 20.0, 20.0, 10.0, 3.0
    flat = rasterize_region(ViaRegion("ellipse", "p", params=dict(cx=cx, cy=cy, rx=rx, ry=ry, theta=0.0)), 41, 41)
    # Unrotated: 21 pixels wide on the centre row (x 10..30), 7 tall (y 17..23).
    assert flat[20].sum() == 21 and flat[:, 20].sum() == 7
    # theta = pi/2 swaps the axes exactly.
    quarter = rasterize_region(ViaRegion("ellipse", "p", params=dict(cx=cx, cy=cy, rx=rx, ry=ry, theta=math.pi / 2)), 41, 41)
    np.testing.assert_array_equal(quarter, flat.T)
    # theta = pi/4: the long axis runs from top-left to bottom-right (y down).
    diag = rasterize_region(ViaRegion("ellipse", "p", params=dict(cx=cx, cy=cy, rx=rx, ry=ry, theta=math.pi / 4)), 41, 41)
    assert diag[27, 27] and diag[13, 13]          # 9.9 px along the long axis
    assert not diag[27, 13] and not diag[13, 27]  # 9.9 px along the short axis
    big = rasterize_region(ViaRegion("ellipse", "p", params=dict(cx=50, cy=50, rx=30, ry=12, theta=0.7)), 100, 100)
    assert abs(big.sum() - math.pi * 30 * 12) / (math.pi * 30 * 12) < 0.02


def test_ellipse_theta_read_from_via(tmp_path):
    reg = {"shape_attributes": {"name": "ellipse", "cx": 20, "cy": 20, "rx": 10, "ry": 3, "theta": math.pi / 4},
           "region_attributes": {"name": "phone"}}
    (im,) = one_region(tmp_path, reg)
    assert im.regions[0].params["theta"] == pytest.approx(math.pi / 4)
    m = rasterize_region(im.regions[0], 41, 41)
    assert m[27, 27] and not m[27, 13]


def test_clipping_warns_with_image_name():
    r = ViaRegion("polygon", "phone", np.array([[-3, 2], [5, 2], [5, 4]], float), index=3)
    with pytest.warns(PhoneDataWarning, match=r"image 'x\.png' region 3.*clipped"):
        m = rasterize_region(r, 8, 8, image_name="x.png")
    assert m[2:5, 0:6].any() and m.shape == (8, 8)
    assert m[2, 0:6].all()


def test_edge_coordinate_equal_to_width_does_not_warn(recwarn):
    r = ViaRegion("polygon", "phone", np.array([[0, 0], [8, 0], [8, 8], [0, 8]], float))
    m = rasterize_region(r, 8, 8)
    assert m.all()
    assert not [w for w in recwarn if issubclass(w.category, PhoneDataWarning)]


# --------------------------------------------------------------- formats

def test_real_seed_project_three_images_one_instance_each(seed_project):
    images = load_via(seed_project)
    assert [im.filename for im in images] == ["C_01_06_001.png", "C_01_07_000.png", "C_01_08_000.png"]
    assert [len(im.regions) for im in images] == [1, 1, 1]
    assert [im.regions[0].class_name for im in images] == ["mobile phone", "mobile phone", "phone"]
    assert images[0].size == 31597                      # bytes, not pixels
    assert images[0].regions[0].points.shape == (17, 2)
    assert tuple(images[0].regions[0].points[0]) == (55.0, 30.0)
    masks, names = rasterize_regions(images[1], 128, 128)
    assert masks.shape == (128, 128, 1) and 1500 < masks.sum() < 4000
    assert masks[50, 60, 0] and not masks[5, 5, 0]


def test_via1_regions_dict_and_ordering(tmp_path):
    data = {"b.jpg10": {"filename": "b.jpg", "size": 10, "file_attributes": {},
                        "regions": {"1": poly([0, 4, 4], [0, 0, 4], "second"),
                                    "0": poly([0, 2, 2], [0, 0, 2], "first")}}}
    (im,) = load_via(write(tmp_path, data), default_class=None)
    assert [r.class_name for r in im.regions] == ["first", "second"]
    assert im.path == str(tmp_path / "b.jpg")


def test_via2_project_uses_image_id_list_order(tmp_path):
    meta = {k: {"filename": k[:5], "size": 1, "regions": [poly([0, 2, 2], [0, 0, 2])], "file_attributes": {}}
            for k in ("a.png1", "b.png1", "c.png1")}
    data = {"_via_settings": {}, "_via_attributes": {}, "_via_img_metadata": meta,
            "_via_image_id_list": ["c.png1", "a.png1", "b.png1"]}
    assert [im.filename for im in load_via(write(tmp_path, data))] == ["c.png", "a.png", "b.png"]


def test_images_dir_argument(tmp_path):
    data = {"a.png1": {"filename": "a.png", "size": 1, "regions": [poly([0, 2, 2], [0, 0, 2])]}}
    (im,) = load_via(write(tmp_path, data), images_dir=tmp_path / "imgs")
    assert im.path == str(tmp_path / "imgs" / "a.png")


def test_keep_empty(tmp_path):
    data = {"a.png1": {"filename": "a.png", "size": 1, "regions": [poly([0, 2, 2], [0, 0, 2])]},
            "n.png1": {"filename": "n.png", "size": 1, "regions": []}}
    p = write(tmp_path, data)
    assert [im.filename for im in load_via(p)] == ["a.png"]
    both = load_via(p, keep_empty=True)
    assert [im.filename for im in both] == ["a.png", "n.png"] and both[1].regions == []


def test_class_name_forms(tmp_path):
    regs = [poly([0, 2, 2], [0, 0, 2], "cell phone"),
            {"shape_attributes": poly([0, 2, 2], [0, 0, 2])["shape_attributes"],
             "region_attributes": {"name": {"phone": True, "cup": False}}},
            {"shape_attributes": poly([0, 2, 2], [0, 0, 2])["shape_attributes"],
             "region_attributes": {}},
            poly([0, 2, 2], [0, 0, 2], "  ")]
    data = {"a.png1": {"filename": "a.png", "size": 1, "regions": regs}}
    p = write(tmp_path, data)
    (im,) = load_via(p, default_class="phone")
    assert im.class_names == ["cell phone", "phone", "phone", "phone"]
    with pytest.raises(AnnotationError, match=r"region 2: region has no class name"):
        load_via(p, default_class=None)


def test_custom_name_key(tmp_path):
    reg = {"shape_attributes": poly([0, 2, 2], [0, 0, 2])["shape_attributes"],
           "region_attributes": {"type": "mobile"}}
    (im,) = one_region(tmp_path, reg, name_key="type")
    assert im.class_names == ["mobile"]


def test_checkbox_with_two_classes_is_an_error(tmp_path):
    reg = {"shape_attributes": poly([0, 2, 2], [0, 0, 2])["shape_attributes"],
           "region_attributes": {"name": {"phone": True, "cup": True}}}
    with pytest.raises(AnnotationError, match="several classes ticked"):
        one_region(tmp_path, reg)


def test_point_ignored_with_warning(tmp_path):
    data = {"a.png1": {"filename": "a.png", "size": 1, "regions": [
        {"shape_attributes": {"name": "point", "cx": 3, "cy": 4}, "region_attributes": {}},
        poly([0, 2, 2], [0, 0, 2])]}}
    with pytest.warns(PhoneDataWarning, match=r"image 'a\.png' region 0: point region has no area"):
        (im,) = load_via(write(tmp_path, data))
    assert len(im.regions) == 1 and im.regions[0].index == 1


def test_via3_project(tmp_path):
    data = {
        "project": {"pid": "x", "vid_list": ["2", "1"]},
        "config": {}, "attribute": {"1": {"aname": "name", "type": 4, "options": {"0": "phone", "1": "cup"}}},
        "file": {"1": {"fid": "1", "fname": "one.png", "type": 2, "loc": 1, "src": ""},
                 "2": {"fid": "2", "fname": "two.png", "type": 2, "loc": 1, "src": ""}},
        "view": {"1": {"fid_list": ["1"]}, "2": {"fid_list": ["2"]}},
        "metadata": {
            "1_a": {"vid": "1", "flg": 0, "z": [], "xy": [7, 1, 1, 4, 1, 1, 4], "av": {"1": "0"}},
            "1_b": {"vid": "1", "flg": 0, "z": [], "xy": [2, 2, 2, 3, 2], "av": {"1": "1"}},
            "2_a": {"vid": "2", "flg": 0, "z": [], "xy": [3, 5, 5, 2], "av": {}},
        }}
    images = load_via(write(tmp_path, data))
    assert [im.filename for im in images] == ["two.png", "one.png"]
    two, one = images
    assert [r.shape for r in one.regions] == ["polygon", "rect"]
    assert one.class_names == ["phone", "cup"]
    assert two.class_names == ["phone"] and two.regions[0].params == dict(cx=5.0, cy=5.0, r=2.0)
    yy, xx = np.mgrid[0:6, 0:6]
    np.testing.assert_array_equal(rasterize_region(one.regions[0], 6, 6),
                                  (xx >= 1) & (yy >= 1) & (xx + yy <= 5))


def test_via3_video_rejected(tmp_path):
    data = {"project": {"vid_list": ["1"]}, "attribute": {},
            "file": {"1": {"fid": "1", "fname": "v.mp4", "type": 4}},
            "view": {"1": {"fid_list": ["1"]}},
            "metadata": {"1_a": {"vid": "1", "z": [1.0, 2.0], "xy": [], "av": {}}}}
    with pytest.raises(AnnotationError, match="not an image"):
        load_via(write(tmp_path, data))


def test_export_roundtrip(tmp_path):
    regions = [ViaRegion("polygon", "phone", np.array([[1, 1], [5.5, 1], [3, 6]]), index=0),
               ViaRegion("rect", "phone", params=dict(x=1, y=2, width=3, height=4), index=1),
               ViaRegion("ellipse", "phone", params=dict(cx=4, cy=4, rx=3, ry=2, theta=0.5), index=2)]
    im = ViaImage("a.png", str(tmp_path / "a.png"), regions, size=123)
    out = write_via_json(tmp_path / "out.json", via2_export([im]))
    (back,) = load_via(out)
    assert back.key == "a.png123" and back.size == 123
    for a, b in zip(regions, back.regions):
        np.testing.assert_array_equal(rasterize_region(a, 10, 10), rasterize_region(b, 10, 10))
    assert list(tmp_path.iterdir()) == [tmp_path / "out.json"]


# --------------------------------------------------------------- errors

BAD_REGIONS = {
    "missing_y": ({"name": "polygon", "all_points_x": [1, 2, 3]}, "polygon without all_points_y"),
    "mismatch": ({"name": "polygon", "all_points_x": [1, 2, 3], "all_points_y": [1, 2]},
                 "all_points_x has 3 values but all_points_y has 2"),
    "non_numeric": ({"name": "polygon", "all_points_x": [1, "a", 3], "all_points_y": [1, 2, 3]},
                    r"all_points_x\[1\] is not a number"),
    "unknown_shape": ({"name": "triangle", "all_points_x": [1], "all_points_y": [1]},
                      "unknown region shape 'triangle'"),
    "rect_missing": ({"name": "rect", "x": 1, "y": 1, "width": 3}, "rect without 'height'"),
    "no_name": ({"all_points_x": [1, 2, 3], "all_points_y": [1, 2, 3]}, "no shape 'name'"),
}


@pytest.mark.parametrize("case", sorted(BAD_REGIONS))
def test_bad_region_errors_name_file_image_region(tmp_path, case):
    sa, msg = BAD_REGIONS[case]
    data = {"a.png1": {"filename": "a.png", "size": 1,
                       "regions": [poly([0, 2, 2], [0, 0, 2]), {"shape_attributes": sa, "region_attributes": {}}]}}
    p = write(tmp_path, data)
    with pytest.raises(AnnotationError, match=msg) as ei:
        load_via(p)
    text = str(ei.value)
    assert text.startswith(str(p)) and "image 'a.png' region 1" in text and "\n" not in text


def test_nan_coordinate(tmp_path):
    p = write(tmp_path, '{"a.png1": {"filename": "a.png", "regions": [{"shape_attributes": '
                        '{"name": "polygon", "all_points_x": [1, NaN, 3], "all_points_y": [1, 2, 3]}}]}}')
    with pytest.raises(AnnotationError, match=r"region 0: all_points_x\[1\] is not finite"):
        load_via(p)


def test_malformed_json(tmp_path):
    p = write(tmp_path, '{"a.png1": {"filename": "a.png",\n "regions": [}')
    with pytest.raises(AnnotationError, match=r"malformed JSON at line 2") as ei:
        load_via(p)
    assert str(p) in str(ei.value) and isinstance(ei.value, PhoneDataError)


@pytest.mark.parametrize("text,msg", [("[1, 2]", "expected a JSON object"), ("", "empty annotation file"),
                                      ('{"images": [], "annotations": []}', "looks like a COCO file"),
                                      ('{"a": 5}', "entry 'a': expected an object")])
def test_wrong_top_level(tmp_path, text, msg):
    with pytest.raises(AnnotationError, match=msg):
        load_via(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(AnnotationError, match="no such annotation file"):
        load_via(tmp_path / "nope.json")
