"""The --augment pipeline of phone training (albumentations; geometric steps
move the masks too)."""

__all__ = ["build_augmentation"]


def build_augmentation():
    """The --augment pipeline (albumentations): horizontal flip, mild affine
    (scale 0.85-1.15, shift 10 %, rotate 15 deg), brightness/contrast and
    hue/saturation jitter, occasional blur. Geometric steps move the masks too
    (nearest-neighbour), colour steps only touch the image."""
    import albumentations as A
    import cv2
    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(scale=(0.85, 1.15), translate_percent=(-0.1, 0.1), rotate=(-15, 15),
                 border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0, p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
        A.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=20, val_shift_limit=10, p=0.3),
        A.GaussianBlur(blur_limit=(3, 5), p=0.1),
    ])
