import numpy as np
import pytest

from mrcnn.config import Config
from mrcnn.core.dataset import Dataset
from mrcnn.core.masks import expand_mask
from mrcnn.core.meta import parse_image_meta
from mrcnn.data.generator import (ImageDataError, MaskRCNNSequence,
                                  data_generator, load_image_gt)

H, W = 64, 96


class ShapesDataset(Dataset):
    """Image i: a rectangle (class 1) and an ellipse (class 2); image 2 has
    no instance; `n_rects` adds more rectangles (class 1)."""

    def load(self, n, n_rects=0, broken=None):
        self.add_class("shapes", 1, "rect")
        self.add_class("shapes", 2, "ellipse")
        for i in range(n):
            self.add_image("shapes", i, "/fake/img_%d.png" % i)
        self.n_rects = n_rects
        self.broken = broken

    def load_image(self, image_id):
        if image_id == self.broken:
            raise OSError("disk on fire")
        img = np.full((H, W, 3), 10 * image_id, np.uint8)
        m, _ = self.load_mask(image_id)
        img[m.any(-1)] = 200
        return img

    def load_mask(self, image_id):
        if image_id == 2:
            return np.zeros((H, W, 0), bool), np.zeros(0, np.int32)
        m = np.zeros((H, W, 2 + self.n_rects), bool)
        m[5:20, 10:40, 0] = True
        yy, xx = np.mgrid[:H, :W]
        m[:, :, 1] = ((yy - 45) / 12.0) ** 2 + ((xx - 70) / 20.0) ** 2 <= 1
        for k in range(self.n_rects):
            m[30 + k:33 + k, 2 * k:2 * k + 3, 2 + k] = True
        return m, np.array([1, 2] + [1] * self.n_rects, np.int32)


class ShapesConfig(Config):
    NAME = "shapes"
    NUM_CLASSES = 3
    IMAGES_PER_GPU = 2
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 128
    RPN_ANCHOR_SCALES = (8, 16, 32, 64, 128)
    MINI_MASK_SHAPE = (28, 28)
    MAX_GT_INSTANCES = 4
    RPN_TRAIN_ANCHORS_PER_IMAGE = 64


def _ds(n=5, **kw):
    d = ShapesDataset()
    d.load(n, **kw)
    d.prepare()
    return d


def test_load_image_gt_values():
    d, c = _ds(), ShapesConfig()
    image, meta, class_ids, bbox, mask = load_image_gt(d, c, 0, use_mini_mask=False)
    # 64x96 -> scale 1, padded to 128x128 with (32, 16) top/left padding
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    assert class_ids.tolist() == [1, 2] and class_ids.dtype == np.int32
    assert bbox.tolist()[0] == [37, 26, 52, 56]
    assert bbox.tolist()[1] == [32 + 33, 16 + 50, 32 + 58, 16 + 91]
    assert mask.shape == (128, 128, 2) and mask.dtype == np.bool_
    p = parse_image_meta(meta[None])
    assert p["original_image_shape"][0].tolist() == [64, 96, 3]
    assert p["window"][0].tolist() == [32, 16, 96, 112]
    assert p["active_class_ids"][0].tolist() == [1, 1, 1]
    assert meta.shape == (c.IMAGE_META_SIZE,)
    # mini masks expand back to (nearly) the full ones
    _, _, _, bbox2, mini = load_image_gt(d, c, 0, use_mini_mask=True)
    assert mini.shape == (28, 28, 2)
    full = expand_mask(bbox2, mini, image.shape)
    assert np.array_equal(full[:, :, 0], mask[:, :, 0])


def test_load_image_gt_drops_vanished_instances_and_checks_classes():
    d, c = _ds(), ShapesConfig()

    def wipe_first(img, m):
        m = m.copy()
        m[:, :, 0] = False
        return img, m
    _, _, class_ids, bbox, mask = load_image_gt(d, c, 0, augmentation=wipe_first)
    assert class_ids.tolist() == [2] and bbox.shape == (1, 4) and mask.shape[-1] == 1

    class Wrong(ShapesConfig):
        NUM_CLASSES = 2
    with pytest.raises(ValueError) as e:
        load_image_gt(d, Wrong(), 0)
    assert "NUM_CLASSES" in str(e.value)


def test_sequence_batch_dict():
    d, c = _ds(), ShapesConfig()
    seq = MaskRCNNSequence(d, c, shuffle=False, seed=1, workers=1)
    assert len(seq) == 5 // 2
    b = seq[1]   # images 2 (empty, skipped) and 3 -> images 3 and 4
    expected = {
        "input_image": ((2, 128, 128, 3), np.float32),
        "input_image_meta": ((2, c.IMAGE_META_SIZE), np.float32),
        "input_rpn_match": ((2, 3 * (32 * 32 + 16 * 16 + 8 * 8 + 4 * 4 + 2 * 2), 1), np.int32),
        "input_rpn_bbox": ((2, 64, 4), np.float32),
        "input_gt_class_ids": ((2, 4), np.int32),
        "input_gt_boxes": ((2, 4, 4), np.float32),
        "input_gt_masks": ((2, 28, 28, 4), np.uint8),
    }
    assert set(b) == set(expected)
    for k, (shape, dtype) in expected.items():
        assert b[k].shape == shape and b[k].dtype == dtype, k
    assert b["input_image_meta"][:, 0].tolist() == [3, 4]
    # molded image: pixel 200 inside the rectangle, minus MEAN_PIXEL
    assert np.allclose(b["input_image"][0, 40, 30], 200 - np.array(c.MEAN_PIXEL))
    assert np.allclose(b["input_image"][0, 0, 0], -np.array(c.MEAN_PIXEL))
    assert b["input_gt_class_ids"][0].tolist() == [1, 2, 0, 0]
    assert b["input_gt_boxes"][0, 0].tolist() == [37, 26, 52, 56]
    assert not b["input_gt_masks"][0, :, :, 2:].any()
    rpn = b["input_rpn_match"][0, :, 0]
    assert (rpn == 1).sum() >= 2 and (rpn != 0).sum() == 64


def test_sequence_subsamples_and_is_deterministic():
    d, c = _ds(n_rects=5), ShapesConfig()
    s1 = MaskRCNNSequence(d, c, seed=7, workers=1)
    s2 = MaskRCNNSequence(d, c, seed=7, workers=1)
    a, b = s1[0], s2[0]
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    # 7 instances, MAX_GT_INSTANCES 4 -> all 4 slots used
    assert (a["input_gt_class_ids"] > 0).sum(axis=1).tolist() == [4, 4]
    # each epoch a new order
    orders = [s1._order.tolist()]
    for _ in range(4):
        s1.on_epoch_end()
        orders.append(s1._order.tolist())
    assert any(o != orders[0] for o in orders[1:])
    assert all(set(o) - {2} == {0, 1, 3, 4} for o in orders)


def test_sequence_drops_known_empty_images_next_epoch():
    d, c = _ds(), ShapesConfig()
    seq = MaskRCNNSequence(d, c, shuffle=False, workers=1)
    assert seq._order.tolist() == [0, 1, 2, 3, 4]
    seq[1]                      # meets image 2 (empty)
    seq.on_epoch_end()
    assert seq._order.tolist() == [0, 1, 3, 4]
    assert seq[1]["input_image_meta"][:, 0].tolist() == [3, 4]


def test_sequence_errors_name_the_image():
    d, c = _ds(broken=1), ShapesConfig()
    seq = MaskRCNNSequence(d, c, shuffle=False, batch_size=2, workers=1)
    with pytest.raises(ImageDataError) as e:
        seq[0]
    msg = str(e.value)
    assert "image id 1" in msg and "/fake/img_1.png" in msg and "disk on fire" in msg


def test_sequence_all_empty():
    d = ShapesDataset()
    d.load(0)
    d.add_image("shapes", 0, "/fake/e.png")
    d.prepare()
    d.load_mask = lambda i: (np.zeros((H, W, 0), bool), np.zeros(0, np.int32))
    seq = MaskRCNNSequence(d, ShapesConfig(), batch_size=1, workers=1)
    assert len(seq) == 1
    with pytest.raises(ValueError):
        seq[0]


def test_data_generator_matterport_lists():
    np.random.seed(0)
    d, c = _ds(), ShapesConfig()
    gen = data_generator(d, c, shuffle=True, batch_size=2)
    inputs, outputs = next(gen)
    assert len(inputs) == 7 and outputs == []
    assert inputs[0].shape == (2, 128, 128, 3)
    assert inputs[4].shape == (2, 4) and (inputs[4] > 0).sum() == 4
    # image 2 never appears (no instances)
    for _ in range(3):
        inputs, _ = next(gen)
        assert 2 not in inputs[1][:, 0].astype(int).tolist()
    gen = data_generator(d, c, shuffle=False, batch_size=1, random_rois=20,
                         detection_targets=True)
    inputs, outputs = next(gen)
    assert len(inputs) == 9 and inputs[7].shape == (1, 20, 4)
    assert outputs[0].shape == (1, c.TRAIN_ROIS_PER_IMAGE, 1)
    assert outputs[2].shape == (1, c.TRAIN_ROIS_PER_IMAGE, 28, 28, 3)


class EmptyTooConfig(ShapesConfig):
    TRAIN_ON_EMPTY_IMAGES = True


def test_train_on_empty_images_keeps_them_as_all_negative_examples():
    d = _ds()
    seq = MaskRCNNSequence(d, EmptyTooConfig(), shuffle=False, workers=1)
    batch = seq[1]                                   # images 2 (empty) and 3
    assert batch["input_image_meta"][:, 0].tolist() == [2, 3]
    assert (batch["input_gt_class_ids"][0] == 0).all()           # no instance
    match = batch["input_rpn_match"][0, :, 0]
    assert (match == 1).sum() == 0 and (match == -1).sum() == 64  # all sampled anchors negative
    assert (batch["input_rpn_bbox"][0] == 0).all()
    assert (batch["input_gt_class_ids"][1] > 0).sum() == 2        # the next image is unchanged
    seq.on_epoch_end()
    assert seq._order.tolist() == [0, 1, 2, 3, 4]                # and it stays in the order
    gen = data_generator(d, EmptyTooConfig(), shuffle=False, batch_size=1)
    seen = [int(next(gen)[0][1][0, 0]) for _ in range(5)]
    assert seen == [0, 1, 2, 3, 4]
