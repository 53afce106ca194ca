"""Apply a user augmentation to an image and its instance masks.

Accepted `augmentation` objects:
    * albumentations transforms / Compose: called as
      aug(image=image, masks=[HxW uint8, ...]); geometric transforms move the
      masks, colour transforms leave them alone.
    * imgaug-style augmenters (duck typed: `to_deterministic()` and
      `augment_image(image, hooks=...)`): as Matterport, a deterministic copy
      augments the image, then the masks with only the geometric augmenters
      (MASK_AUGMENTERS) switched on.
    * a plain callable f(image, mask) -> (image, mask).

Shapes:
    image [height, width, channels] uint8 (dtype kept)
    mask  [height, width, num_instances] bool
Both shapes must come out unchanged (the instance count included).
"""
import inspect

import numpy as np

__all__ = ["MASK_AUGMENTERS", "apply_augmentation", "AugmentationError"]

# imgaug augmenters that are safe (and needed) to apply to masks.
MASK_AUGMENTERS = ["Sequential", "SomeOf", "OneOf", "Sometimes",
                   "Fliplr", "Flipud", "CropAndPad",
                   "Affine", "PiecewiseAffine"]


class AugmentationError(ValueError):
    """The augmentation changed shapes or returned something unusable."""


def _mask_activator(images, augmenter, parents, default):
    """imgaug hook: only geometric augmenters run on masks."""
    return augmenter.__class__.__name__ in MASK_AUGMENTERS


class _MaskHooks(object):
    """Minimal stand-in for imgaug.HooksImages(activator=...)."""

    def __init__(self, activator=_mask_activator):
        self.activator = activator

    def is_activated(self, images, augmenter, parents, default):
        return self.activator(images, augmenter, parents, default)

    def is_propagating(self, images, augmenter, parents, default):
        return default

    def preprocess(self, images, augmenter, parents):
        return images

    def postprocess(self, images, augmenter, parents):
        return images


def _make_hooks():
    try:
        import imgaug  # noqa: F401
        return imgaug.HooksImages(activator=_mask_activator)
    except Exception:
        return _MaskHooks()


def _is_albumentations(aug):
    try:
        import albumentations as A
    except Exception:
        return False
    return isinstance(aug, (A.BasicTransform, A.BaseCompose))


def _accepts_kwarg(fn, name):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    for p in sig.parameters.values():
        if p.name == name or p.kind == p.VAR_KEYWORD:
            return True
    return False


def _check(image, mask, image_shape, mask_shape, kind):
    if image.shape != image_shape:
        raise AugmentationError(
            "%s augmentation changed the image shape from %s to %s; only "
            "shape-preserving augmentations are supported"
            % (kind, image_shape, image.shape))
    if mask.shape != mask_shape:
        raise AugmentationError(
            "%s augmentation changed the mask shape from %s to %s; only "
            "shape-preserving augmentations are supported"
            % (kind, mask_shape, mask.shape))


def apply_augmentation(image, mask, augmentation, rng=None):
    """Augment an image and its masks consistently.

    image: [height, width, channels]; mask: [height, width, num_instances]
    bool; augmentation: see module docstring (None returns the inputs);
    rng: optional np.random.Generator, passed to plain callables that take an
    `rng` keyword.
    Returns (image, mask) with unchanged shapes; mask is bool.
    Raises AugmentationError if a shape changes.
    """
    if augmentation is None:
        return image, mask
    image = np.asarray(image)
    mask = np.asarray(mask)
    image_shape, mask_shape = image.shape, mask.shape
    image_dtype = image.dtype

    if _is_albumentations(augmentation):
        masks_in = [np.ascontiguousarray(mask[:, :, i]).astype(np.uint8)
                    for i in range(mask.shape[-1])]
        out = augmentation(image=image, masks=masks_in)
        new_image = np.asarray(out["image"])
        masks_out = out.get("masks", masks_in)
        if isinstance(masks_out, np.ndarray) and masks_out.ndim == 3:
            masks_out = [masks_out[i] for i in range(masks_out.shape[0])]
        masks_out = list(masks_out)
        if len(masks_out) != mask_shape[-1]:
            raise AugmentationError(
                "albumentations augmentation returned %d masks for %d instances"
                % (len(masks_out), mask_shape[-1]))
        if masks_out:
            new_mask = np.stack([np.asarray(m) for m in masks_out], axis=-1) > 0
        else:
            new_mask = np.zeros(new_image.shape[:2] + (0,), dtype=bool)
        _check(new_image, new_mask, image_shape, mask_shape, "albumentations")
        return new_image.astype(image_dtype, copy=False), new_mask

    if hasattr(augmentation, "to_deterministic") and \
            hasattr(augmentation, "augment_image"):
        det = augmentation.to_deterministic()
        new_image = np.asarray(det.augment_image(image))
        mask_u8 = mask.astype(np.uint8)
        if _accepts_kwarg(det.augment_image, "hooks"):
            new_mask = det.augment_image(mask_u8, hooks=_make_hooks())
        else:
            new_mask = det.augment_image(mask_u8)
        new_mask = np.asarray(new_mask).astype(bool)
        _check(new_image, new_mask, image_shape, mask_shape, "imgaug")
        return new_image.astype(image_dtype, copy=False), new_mask

    if callable(augmentation):
        if rng is not None and _accepts_kwarg(augmentation, "rng"):
            result = augmentation(image, mask, rng=rng)
        else:
            result = augmentation(image, mask)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise AugmentationError(
                "augmentation callable %r must return (image, mask)"
                % (augmentation,))
        new_image, new_mask = np.asarray(result[0]), np.asarray(result[1])
        new_mask = new_mask.astype(bool)
        _check(new_image, new_mask, image_shape, mask_shape, "callable")
        return new_image.astype(image_dtype, copy=False), new_mask

    raise AugmentationError(
        "unsupported augmentation %r: use an albumentations transform, an "
        "imgaug augmenter or a callable f(image, mask) -> (image, mask)"
        % (augmentation,))
