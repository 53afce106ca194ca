import albumentations as A
import numpy as np
import pytest

from mrcnn.data.augment import AugmentationError, MASK_AUGMENTERS, apply_augmentation


def _data():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (16, 20, 3)).astype(np.uint8)
    mask = np.zeros((16, 20, 2), bool)
    mask[2:6, 1:5, 0] = True
    mask[8:15, 12:19, 1] = True
    return image, mask


def test_albumentations_flip_moves_image_and_masks():
    image, mask = _data()
    out_i, out_m = apply_augmentation(image, mask, A.HorizontalFlip(p=1.0))
    assert np.array_equal(out_i, image[:, ::-1])
    assert out_m.dtype == np.bool_ and out_m.shape == mask.shape
    assert np.array_equal(out_m, mask[:, ::-1])
    # inside Compose as well
    out_i, out_m = apply_augmentation(image, mask,
                                      A.Compose([A.VerticalFlip(p=1.0)]))
    assert np.array_equal(out_i, image[::-1]) and np.array_equal(out_m, mask[::-1])


def test_albumentations_colour_leaves_masks():
    image, mask = _data()
    out_i, out_m = apply_augmentation(image, mask, A.InvertImg(p=1.0))
    assert np.array_equal(out_i, 255 - image)
    assert np.array_equal(out_m, mask)


def test_albumentations_no_instances():
    image, _ = _data()
    out_i, out_m = apply_augmentation(image, np.zeros((16, 20, 0), bool),
                                      A.HorizontalFlip(p=1.0))
    assert out_m.shape == (16, 20, 0)


def test_albumentations_shape_change_rejected():
    image, mask = _data()
    with pytest.raises(AugmentationError) as e:
        apply_augmentation(image, mask, A.Resize(8, 8))
    assert "shape" in str(e.value)


# ---- a fake imgaug: Sequential([Fliplr, Multiply]) with hooks ---------------
class _Aug:
    def __init__(self, fn):
        self.fn = fn


class Fliplr(_Aug):
    pass


class Multiply(_Aug):
    pass


class Sequential:
    def __init__(self, children):
        self.children = children
        self.deterministic = False

    def to_deterministic(self):
        d = type(self)(self.children)
        d.deterministic = True
        return d

    def augment_image(self, image, hooks=None):
        assert self.deterministic
        for c in self.children:
            if hooks is None or hooks.is_activated([image], c, [self], True):
                image = c.fn(image)
        return image


class SequentialNoHooks(Sequential):
    def augment_image(self, image):
        assert self.deterministic
        for c in self.children:
            image = c.fn(image)
        return image


def test_imgaug_style_hooks_only_geometric_on_masks():
    assert "Fliplr" in MASK_AUGMENTERS and "Multiply" not in MASK_AUGMENTERS
    image, mask = _data()
    seq = Sequential([Fliplr(lambda x: x[:, ::-1]),
                      Multiply(lambda x: (x // 2).astype(x.dtype))])
    out_i, out_m = apply_augmentation(image, mask, seq)
    assert np.array_equal(out_i, image[:, ::-1] // 2)
    # Multiply was skipped for the mask (it would have turned 1 into 0)
    assert np.array_equal(out_m, mask[:, ::-1])


def test_imgaug_style_without_hooks_argument():
    image, mask = _data()
    seq = SequentialNoHooks([Fliplr(lambda x: x[:, ::-1])])
    out_i, out_m = apply_augmentation(image, mask, seq)
    assert np.array_equal(out_i, image[:, ::-1]) and np.array_equal(out_m, mask[:, ::-1])


def test_plain_callable_and_errors():
    image, mask = _data()

    def flip_ud(img, m):
        return img[::-1], m[::-1]
    out_i, out_m = apply_augmentation(image, mask, flip_ud)
    assert np.array_equal(out_i, image[::-1]) and np.array_equal(out_m, mask[::-1])

    def drop_one(img, m):
        return img, m[:, :, :1]
    with pytest.raises(AugmentationError):
        apply_augmentation(image, mask, drop_one)
    with pytest.raises(AugmentationError):
        apply_augmentation(image, mask, lambda i, m: i)
    with pytest.raises(AugmentationError):
        apply_augmentation(image, mask, 42)
    assert apply_augmentation(image, mask, None) == (image, mask)
