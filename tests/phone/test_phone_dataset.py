"""PhoneDataset (VIA + COCO), class aliases, and PhoneConfig values."""
import json
import shutil

import cv2
import numpy as np
import pytest

from phone.config import (PhoneConfig, PhoneConfig350, PhoneInferenceConfig,
                          PhoneInferenceConfig350, input_dim_for)
from phone.dataset import CLASS_ALIASES, PhoneDataset, normalize_class_name
from phone.errors import AnnotationError, ImageReadError, PhoneDataError, PhoneDataWarning
from phone.imageio import read_image, write_png_atomic
from phone.via import load_via


# --------------------------------------------------------------- real frames

def test_real_train_and_val_subsets(phone_data_dir):
    train = PhoneDataset()
    assert train.load_phone(phone_data_dir, "train") == 2
    train.prepare()
    assert train.class_names == ["BG", "phone"] and train.num_images == 2
    for i in train.image_ids:
        img = train.load_image(i)
        masks, ids = train.load_mask(i)
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8
        assert masks.shape == (128, 128, 1) and masks.dtype == bool
        assert ids.dtype == np.int32 and list(ids) == [1]
        assert train.image_reference(i).endswith(train.image_info[i]["id"])
        # VIA "size" is bytes; the dataset stores the real pixel size.
        assert (train.image_info[i]["height"], train.image_info[i]["width"]) == (128, 128)

    val = PhoneDataset()
    assert val.load_phone(phone_data_dir, "val") == 1                 # empty-named region -> phone
    neg = PhoneDataset()
    assert neg.load_phone(phone_data_dir, "val", keep_empty=True) == 2
    neg.prepare()
    masks, ids = neg.load_mask(1)
    assert masks.shape == (128, 128, 0) and ids.shape == (0,)
    assert neg.image_info[1]["id"] == "C_01_09_002.png"


def test_mask_matches_polygon_from_project_file(phone_data_dir):
    ds = PhoneDataset()
    ds.load_phone(phone_data_dir, "train")
    ds.prepare()
    (proj_im,) = [im for im in load_via(phone_data_dir / "via_project_8Dec2019_16h13m.json")
                  if im.filename == "C_01_07_000.png"]
    i = [k for k, info in enumerate(ds.image_info) if info["id"] == "C_01_07_000.png"][0]
    masks, _ = ds.load_mask(i)
    # Matterport's balloon rule, written here with skimage: the polygon's
    # interior (skimage.draw.polygon on the VIA x / y lists)
    import skimage.draw
    xs, ys = proj_im.regions[0].points[:, 0], proj_im.regions[0].points[:, 1]
    expected = np.zeros((128, 128), bool)
    rr, cc = skimage.draw.polygon(ys, xs, (128, 128))
    expected[rr, cc] = True
    np.testing.assert_array_equal(masks[..., 0], expected)
    # Every polygon vertex is inside the mask (border included).
    for x, y in proj_im.regions[0].points.astype(int):
        assert masks[min(y, 127), min(x, 127), 0]


def test_explicit_project_file_with_skip_missing(phone_data_dir):
    ds = PhoneDataset()
    with pytest.raises(ImageReadError, match="C_01_08_000.png.*not found"):
        ds.load_phone(phone_data_dir, "train", via_file=phone_data_dir / "via_project_8Dec2019_16h13m.json")
    ds = PhoneDataset()
    with pytest.warns(PhoneDataWarning, match="C_01_08_000.png"):
        n = ds.load_phone(phone_data_dir, "train", skip_missing=True,
                          via_file=phone_data_dir / "via_project_8Dec2019_16h13m.json")
    assert n == 2


# --------------------------------------------------------------- synthetic folders

def _make_subset(root, images, regions_per_image, via_name="via_region_data.json"):
    sub = root / "train"
    sub.mkdir(parents=True, exist_ok=True)
    data = {}
    for (name, arr), regs in zip(images.items(), regions_per_image):
        p = sub / name
        ok, enc = cv2.imencode(p.suffix, arr)
        enc.tofile(str(p))
        data[name + str(p.stat().st_size)] = {"filename": name, "size": p.stat().st_size,
                                              "regions": regs, "file_attributes": {}}
    (sub / via_name).write_text(json.dumps(data))
    return sub


def _poly(xs, ys, name="phone"):
    return {"shape_attributes": {"name": "polygon", "all_points_x": xs, "all_points_y": ys},
            "region_attributes": {"name": name}}


def test_conversions_aliases_and_multiple_instances(tmp_path):
    grey16 = np.full((20, 30), 0x4000, np.uint16)
    bgra = np.zeros((20, 30, 4), np.uint8)
    bgra[..., :3] = (0, 0, 200)
    bgra[..., 3] = 255
    bgra[0, 0, 3] = 0
    _make_subset(tmp_path, {"g.png": grey16, "a.png": bgra},
                 [[_poly([1, 5, 5, 1], [1, 1, 4, 4], "Mobile_Phone"), _poly([10, 20, 20], [2, 2, 12], "cell phone")],
                  [{"shape_attributes": {"name": "rect", "x": 2, "y": 3, "width": 4, "height": 5},
                    "region_attributes": {"name": "smartphone"}}]])
    ds = PhoneDataset()
    ds.load_phone(tmp_path, "train")
    ds.prepare()
    g = ds.load_image(0)
    assert g.shape == (20, 30, 3) and (g == 0x40).all()
    a = ds.load_image(1)
    assert tuple(a[5, 5]) == (200, 0, 0) and tuple(a[0, 0]) == (0, 0, 0)
    masks, ids = ds.load_mask(0)
    assert masks.shape == (20, 30, 2) and list(ids) == [1, 1]
    assert masks[1:5, 1:6, 0].all() and masks[..., 0].sum() == 20
    assert masks[2, 10:21, 1].all() and not masks[..., 0][masks[..., 1]].any()
    masks, ids = ds.load_mask(1)
    assert masks[..., 0].sum() == 5 * 6 and masks[3:9, 2:7, 0].all()


def test_alias_table_is_explicit():
    for name in ("phone", "mobile phone", "cell phone", "cellphone", "smartphone"):
        assert CLASS_ALIASES[normalize_class_name(name)] == "phone"
    assert normalize_class_name("  Cell-Phone ") == "cell phone"


def test_unknown_class_and_multi_class(tmp_path):
    _make_subset(tmp_path, {"a.png": np.zeros((10, 10, 3), np.uint8)},
                 [[_poly([1, 5, 5], [1, 1, 4], "cup"), _poly([1, 5, 5], [1, 1, 4], "")]])
    with pytest.raises(AnnotationError, match=r"image 'a.png' region 0: unknown class 'cup'"):
        PhoneDataset().load_phone(tmp_path, "train")
    ds = PhoneDataset()
    ds.load_phone(tmp_path, "train", aliases={"cup": "phone"})
    assert ds.image_info[0]["class_ids"] == [1, 1]
    # Two classes: the empty name is now ambiguous.
    with pytest.raises(AnnotationError, match="region 1: empty class name but the dataset has 2 classes"):
        PhoneDataset().load_phone(tmp_path, "train", class_names=("phone", "cup"))


def test_missing_things(tmp_path):
    with pytest.raises(PhoneDataError, match="no such dataset directory"):
        PhoneDataset().load_phone(tmp_path, "val")
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "via_project_1.json").write_text("{}")
    with pytest.raises(PhoneDataError, match=r"via_region_data.json: no such annotation file \(found via_project_1.json"):
        PhoneDataset().load_phone(tmp_path, "val")
    assert PhoneDataset().load_phone(tmp_path, "val", via_file="via_project_1.json") == 0
    (tmp_path / "val" / "v.json").write_text(json.dumps({"x.png1": {"filename": "x.png", "regions": [_poly([1, 2, 2], [1, 1, 2])]}}))
    with pytest.raises(ImageReadError, match=r"v.json: image 'x.png': image file not found"):
        PhoneDataset().load_phone(tmp_path, "val", via_file="v.json")


def test_unreadable_image_raises_on_load(tmp_path):
    sub = _make_subset(tmp_path, {"a.png": np.zeros((10, 10, 3), np.uint8)}, [[_poly([1, 5, 5], [1, 1, 4])]])
    ds = PhoneDataset()
    ds.load_phone(tmp_path, "train")
    ds.prepare()
    data = (sub / "a.png").read_bytes()
    (sub / "a.png").write_bytes(data[:40])
    with pytest.raises(ImageReadError, match="a.png"):
        ds.load_image(0)


# --------------------------------------------------------------- COCO

def test_coco_polygon_rle_bbox_and_crowd(tmp_path):
    from pycocotools import mask as mask_utils
    write_png_atomic(tmp_path / "img" / "a.png", np.zeros((10, 12, 3), np.uint8))
    write_png_atomic(tmp_path / "img" / "b.png", np.zeros((10, 12, 3), np.uint8))
    rle_mask = np.zeros((10, 12), np.uint8)
    rle_mask[6:9, 1:4] = 1
    rle = mask_utils.encode(np.asfortranarray(rle_mask))
    rle["counts"] = rle["counts"].decode("ascii")
    coco = {
        "images": [{"id": 7, "file_name": "a.png", "height": 10, "width": 12},
                   {"id": 8, "file_name": "b.png", "height": 10, "width": 12}],
        "categories": [{"id": 3, "name": "cell phone"}],
        "annotations": [
            # COCO polygons are on pixel corners: the square (2,2)-(6,5) covers cols 2..5, rows 2..4.
            {"id": 1, "image_id": 7, "category_id": 3, "iscrowd": 0, "bbox": [2, 2, 4, 3],
             "segmentation": [[2, 2, 6, 2, 6, 5, 2, 5]]},
            {"id": 2, "image_id": 7, "category_id": 3, "iscrowd": 1, "bbox": [1, 6, 3, 3], "segmentation": rle},
            {"id": 3, "image_id": 7, "category_id": 3, "iscrowd": 0, "bbox": [8, 0, 2, 2]},
        ]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    ds = PhoneDataset()
    assert ds.load_coco(tmp_path / "coco.json", images_dir=tmp_path / "img") == 1
    ds.prepare()
    masks, ids = ds.load_mask(0)
    assert list(ids) == [1, -1, 1]
    expected0 = np.zeros((10, 12), bool)
    expected0[2:5, 2:6] = True
    np.testing.assert_array_equal(masks[..., 0], expected0)
    np.testing.assert_array_equal(masks[..., 1], rle_mask.astype(bool))
    expected2 = np.zeros((10, 12), bool)
    expected2[0:2, 8:10] = True
    np.testing.assert_array_equal(masks[..., 2], expected2)
    assert PhoneDataset().load_coco(tmp_path / "coco.json", images_dir=tmp_path / "img", keep_empty=True) == 2


def test_coco_errors(tmp_path):
    base = {"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 4}],
            "categories": [{"id": 1, "name": "phone"}]}
    p = tmp_path / "c.json"
    p.write_text(json.dumps({**base, "annotations": [{"id": 5, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}]}))
    with pytest.raises(AnnotationError, match=r"c.json: annotation 5: unknown image_id 2"):
        PhoneDataset().load_coco(p)
    p.write_text(json.dumps({**base, "annotations": [{"id": 6, "image_id": 1, "category_id": 1,
                                                      "segmentation": [[0, 0, 1, 1, 2]]}]}))
    with pytest.raises(AnnotationError, match="annotation 6: polygon has an odd number"):
        PhoneDataset().load_coco(p)
    p.write_text(json.dumps({"images": []}))
    with pytest.raises(AnnotationError, match="without a 'annotations' list"):
        PhoneDataset().load_coco(p)


# --------------------------------------------------------------- config

def test_phone_config_values():
    c = PhoneConfig()
    c.validate("training")
    assert c.NAME == "phone" and c.NUM_CLASSES == 2 and c.BATCH_SIZE == 2
    assert list(c.IMAGE_SHAPE) == [128, 128, 3]
    assert c.IMAGE_META_SIZE == 1 + 3 + 3 + 4 + 1 + 2
    assert c.RPN_ANCHOR_SCALES == (8, 16, 32, 64, 128) and c.BACKBONE == "resnet50"
    assert (c.TRAIN_ROIS_PER_IMAGE, c.POST_NMS_ROIS_TRAINING, c.POST_NMS_ROIS_INFERENCE, c.PRE_NMS_LIMIT) == (64, 500, 200, 1000)
    assert (c.MAX_GT_INSTANCES, c.DETECTION_MAX_INSTANCES, tuple(c.MINI_MASK_SHAPE)) == (10, 10, (28, 28))
    assert (c.STEPS_PER_EPOCH, c.VALIDATION_STEPS, c.DETECTION_MIN_CONFIDENCE) == (100, 5, 0.7)
    inf = PhoneInferenceConfig()
    assert inf.BATCH_SIZE == 1 and inf.GPU_COUNT == 1


def test_config_350_pads_without_resampling():
    from mrcnn import utils
    assert input_dim_for(350) == 384 and input_dim_for(128) == 128 and input_dim_for(129) == 192
    for c in (PhoneConfig350(), PhoneConfig.for_size(350), PhoneInferenceConfig350(), PhoneInferenceConfig.for_size(350)):
        c.validate()
        assert list(c.IMAGE_SHAPE) == [384, 384, 3]
        assert tuple(c.RPN_ANCHOR_SCALES) == (24, 48, 96, 192, 384)
        img = np.ones((350, 350, 3), np.uint8)
        out, window, scale, padding, _ = utils.resize_image(img, min_dim=c.IMAGE_MIN_DIM, max_dim=c.IMAGE_MAX_DIM,
                                                            min_scale=c.IMAGE_MIN_SCALE, mode=c.IMAGE_RESIZE_MODE)
        assert out.shape == (384, 384, 3) and scale == 1 and tuple(window) == (17, 17, 367, 367)
    assert PhoneInferenceConfig.for_size(350).BATCH_SIZE == 1
    assert type(PhoneConfig.for_size(128)) is PhoneConfig
