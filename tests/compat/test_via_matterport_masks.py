"""VIA polygons become exactly the masks Matterport's balloon loader makes
from the same file: skimage.draw.polygon(all_points_y, all_points_x)."""
import json
import os

import numpy as np
import pytest
import skimage.draw
import skimage.io

from phone.dataset import PhoneDataset
from phone.via import ViaRegion, rasterize_region

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATASET = os.path.join(REPO, "datasets", "phone")


def matterport_masks(subset):
    """{filename: [H, W, N] bool} straight from the JSON, Matterport's way."""
    d = os.path.join(DATASET, subset)
    with open(os.path.join(d, "via_region_data.json")) as f:
        annotations = [a for a in json.load(f).values() if a["regions"]]
    out = {}
    for a in annotations:
        regions = a["regions"]
        regions = list(regions.values()) if isinstance(regions, dict) else regions
        h, w = skimage.io.imread(os.path.join(d, a["filename"])).shape[:2]
        mask = np.zeros([h, w, len(regions)], np.uint8)
        for i, r in enumerate(regions):
            p = r["shape_attributes"]
            rr, cc = skimage.draw.polygon(p["all_points_y"], p["all_points_x"])
            mask[rr, cc, i] = 1
        out[a["filename"]] = mask.astype(bool)
    return out


@pytest.mark.parametrize("subset", ["train", "val"])
def test_bundled_frames_bit_for_bit(subset):
    expected = matterport_masks(subset)
    assert expected
    ds = PhoneDataset()
    ds.load_phone(DATASET, subset)
    ds.prepare()
    seen = 0
    for image_id in ds.image_ids:
        name = os.path.basename(ds.image_reference(image_id))
        if name not in expected:
            continue
        masks, class_ids = ds.load_mask(image_id)
        assert masks.dtype == bool
        np.testing.assert_array_equal(masks, expected[name], err_msg=name)
        seen += 1
    assert seen == len(expected)


def test_outline_rule_is_an_option_and_fatter():
    expected = matterport_masks("train")
    name, mask = sorted(expected.items())[0]
    with open(os.path.join(DATASET, "train", "via_region_data.json")) as f:
        a = [v for v in json.load(f).values() if v["filename"] == name][0]
    p = a["regions"][0]["shape_attributes"]
    region = ViaRegion("polygon", "phone",
                       np.stack([p["all_points_x"], p["all_points_y"]], axis=1).astype(float))
    h, w = mask.shape[:2]
    plain = rasterize_region(region, h, w)
    fat = rasterize_region(region, h, w, outline=True)
    np.testing.assert_array_equal(plain, mask[:, :, 0])
    assert (fat >= plain).all() and fat.sum() > plain.sum()
