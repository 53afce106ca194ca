import numpy as np
import pytest
import skimage.io

from mrcnn.core.dataset import Dataset, ImageLoadError
from mrcnn import utils


def _ds():
    d = Dataset()
    d.add_class("shapes", 1, "square")
    d.add_class("shapes", 2, "circle,round")
    d.add_class("shapes", 1, "dup")          # ignored
    d.add_class("coco", 12, "stop sign")
    d.add_image("shapes", "a", "/x/a.png", width=4)
    d.add_image("coco", 77, "/x/b.png")
    d.prepare()
    return d


def test_class_and_image_registry():
    d = _ds()
    assert d.class_info[0] == {"source": "", "id": 0, "name": "BG"}
    assert d.num_classes == 4
    assert d.class_names == ["BG", "square", "circle", "stop sign"]
    assert d.class_ids.tolist() == [0, 1, 2, 3]
    assert d.num_images == 2 and d.image_ids.tolist() == [0, 1]
    assert d.map_source_class_id("coco.12") == 3
    assert d.map_source_class_id("shapes.2") == 2
    assert d.get_source_class_id(3, "coco") == 12
    with pytest.raises(ValueError):
        d.get_source_class_id(3, "shapes")
    assert d.source_class_ids == {"": [0], "coco": [0, 3], "shapes": [0, 1, 2]}
    assert d.image_from_source_map == {"shapes.a": 0, "coco.77": 1}
    assert d.image_info[0]["width"] == 4
    assert d.source_image_link(1) == "/x/b.png"
    assert d.image_reference(0) == ""
    with pytest.raises(ValueError):
        d.add_class("a.b", 1, "x")


def test_base_load_mask_empty():
    m, ids = Dataset().load_mask(0)
    assert m.shape == (0, 0, 0) and ids.shape == (0,) and ids.dtype == np.int32


def test_utils_facade_exports():
    assert utils.Dataset is Dataset
    for name in ["extract_bboxes", "compute_iou", "compute_overlaps",
                 "compute_overlaps_masks", "non_max_suppression",
                 "apply_box_deltas", "box_refinement", "norm_boxes",
                 "denorm_boxes", "resize_image", "resize_mask", "minimize_mask",
                 "expand_mask", "unmold_mask", "generate_anchors",
                 "generate_pyramid_anchors", "trim_zeros", "compute_matches",
                 "compute_ap", "compute_ap_range", "compute_recall",
                 "batch_slice", "download_trained_weights", "COCO_MODEL_URL"]:
        assert hasattr(utils, name), name


def _load(tmp_path, name, array):
    p = str(tmp_path / name)
    skimage.io.imsave(p, array, check_contrast=False)
    d = Dataset()
    d.add_image("s", 0, p)
    d.prepare()
    return d.load_image(0)


def test_load_image_conversions(tmp_path):
    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[..., 2] = 7
    out = _load(tmp_path, "rgb.png", rgb)
    assert out.dtype == np.uint8 and np.array_equal(out, rgb)

    grey = np.arange(30, dtype=np.uint8).reshape(5, 6)
    out = _load(tmp_path, "grey.png", grey)
    assert out.shape == (5, 6, 3) and np.array_equal(out[..., 1], grey)
    assert np.array_equal(out[..., 0], out[..., 2])

    rgba = np.concatenate([rgb, np.full((5, 6, 1), 128, np.uint8)], -1)
    out = _load(tmp_path, "rgba.png", rgba)
    assert out.shape == (5, 6, 3) and np.array_equal(out, rgb)

    g16 = np.full((5, 6), 65535, np.uint16)
    g16[0, 0] = 257 * 10
    out = _load(tmp_path, "g16.png", g16)
    assert out.dtype == np.uint8 and out[1, 1, 0] == 255 and out[0, 0, 2] == 10


def test_load_image_errors(tmp_path):
    d = Dataset()
    d.add_image("s", 0, str(tmp_path / "missing.png"))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    d.add_image("s", 1, str(bad))
    d.prepare()
    with pytest.raises(ImageLoadError) as e:
        d.load_image(0)
    assert "missing.png" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ImageLoadError) as e:
        d.load_image(1)
    assert "bad.png" in str(e.value)
