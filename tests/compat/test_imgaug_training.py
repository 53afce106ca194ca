"""imgaug augmentation as Matterport users write it: masks move with their
images (geometric augmenters), colour augmenters leave masks alone, and a
training run with an iaa pipeline works. albumentations stays supported."""
import numpy as np
import pytest

import imgaug
import imgaug.augmenters as iaa

import mrcnn.model as modellib
from matterport_style import ShapesConfig


def test_fliplr_and_flipud_move_the_masks(shapes):
    train, _ = shapes
    config = ShapesConfig()
    image0, _, ids0, _, mask0 = modellib.load_image_gt(train, config, 0)
    image, _, ids, _, mask = modellib.load_image_gt(
        train, config, 0, augmentation=iaa.Sequential([iaa.Fliplr(1.0), iaa.Flipud(1.0)]))
    np.testing.assert_array_equal(image, image0[::-1, ::-1])
    np.testing.assert_array_equal(mask, mask0[::-1, ::-1])
    np.testing.assert_array_equal(ids, ids0)


def test_affine_moves_masks_with_the_image_and_multiply_does_not_touch_them(shapes):
    train, _ = shapes
    config = ShapesConfig()
    image0, _, _, _, mask0 = modellib.load_image_gt(train, config, 0)
    aug = iaa.Sequential([iaa.Affine(translate_px={"x": 5, "y": -3}, order=0),
                          iaa.Multiply(0.5)])
    image, _, _, _, mask = modellib.load_image_gt(train, config, 0, augmentation=aug)
    # independent reference: integer shift by (+5 columns, -3 rows)
    shifted = np.zeros_like(mask0)
    shifted[:-3, 5:] = mask0[3:, :-5]
    keep = shifted.any(axis=(0, 1))
    np.testing.assert_array_equal(mask, shifted[:, :, keep])
    # the image moved the same way and got darker; the masks did not darken
    inner = shifted.any(axis=-1)
    ref = (image0[3:, :-5].astype(np.float32) * 0.5)
    assert np.abs(image[:-3, 5:].astype(np.float32) - ref)[inner[:-3, 5:]].max() <= 1.0
    assert mask.dtype == bool


def test_someof_oneof_sometimes_deterministic_per_image(shapes):
    """Whatever a random pipeline picks, image and masks get the same draw."""
    train, _ = shapes
    config = ShapesConfig()
    image0, _, _, _, mask0 = modellib.load_image_gt(train, config, 1)
    aug = iaa.SomeOf((0, 2), [iaa.Fliplr(1.0), iaa.Flipud(1.0),
                              iaa.OneOf([iaa.Affine(rotate=90, order=0),
                                         iaa.Affine(rotate=180, order=0)]),
                              iaa.Sometimes(0.5, iaa.GaussianBlur(sigma=(0.0, 2.0)))])
    imgaug.seed(1)
    # flips and quarter turns compose to the 8 symmetries of the square
    candidates = {(flip, k): (lambda a, flip=flip, k=k: np.rot90(a[:, ::-1] if flip else a, k))
                  for flip in (False, True) for k in range(4)}
    seen = set()
    for _ in range(16):
        _, _, _, _, mask = modellib.load_image_gt(train, config, 1, augmentation=aug)
        matches = [k for k, f in candidates.items()
                   if f(mask0).shape == mask.shape and np.array_equal(f(mask0), mask)]
        assert matches, "masks do not follow any of the pipeline's geometric moves"
        seen.update(matches)
    assert len(seen) >= 3


def test_hooks_images_mask_safe_activator_as_in_matterport(shapes):
    """Matterport's own recipe: to_deterministic + HooksImages."""
    train, _ = shapes
    MASK_AUGMENTERS = ["Sequential", "SomeOf", "OneOf", "Sometimes",
                       "Fliplr", "Flipud", "CropAndPad", "Affine", "PiecewiseAffine"]

    def hook(images, augmenter, parents, default):
        return augmenter.__class__.__name__ in MASK_AUGMENTERS

    image, mask = train.load_image(0), train.load_mask(0)[0]
    det = iaa.Sequential([iaa.Fliplr(1.0), iaa.Multiply(0.3)]).to_deterministic()
    image_aug = det.augment_image(image)
    mask_aug = det.augment_image(mask.astype(np.uint8),
                                 hooks=imgaug.HooksImages(activator=hook)).astype(bool)
    np.testing.assert_array_equal(mask_aug, mask[:, ::-1])
    assert image_aug.mean() < image.mean()


@pytest.mark.slow
def test_training_with_an_imgaug_pipeline(tmp_path, shapes):
    import keras
    keras.utils.set_random_seed(0)
    train, val = shapes
    config = ShapesConfig()
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    aug = iaa.SomeOf((0, 2), [iaa.Fliplr(0.5), iaa.Flipud(0.5),
                              iaa.OneOf([iaa.Affine(rotate=90), iaa.Affine(rotate=180),
                                         iaa.Affine(rotate=270)]),
                              iaa.Multiply((0.8, 1.5)),
                              iaa.GaussianBlur(sigma=(0.0, 1.0))])
    history = model.train(train, val, learning_rate=config.LEARNING_RATE, epochs=1,
                          layers="heads", augmentation=aug, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 1 and np.isfinite(losses[0])
    assert model.find_last().endswith("mask_rcnn_shapes_0001.h5")
    # albumentations, same call
    import albumentations as A
    history = model.train(train, val, learning_rate=config.LEARNING_RATE, epochs=2,
                          layers="heads", augmentation=A.HorizontalFlip(p=0.5), verbose=0)
    assert np.isfinite(history.history["loss"][-1])
