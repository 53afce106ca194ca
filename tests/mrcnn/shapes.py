"""A tiny synthetic instance-segmentation dataset for tests: squares and
discs on a noisy background, fully determined by a seed."""
import numpy as np

from mrcnn import utils
from mrcnn.config import Config


class ShapesDataset(utils.Dataset):
    """count images of size x size, each with 1-2 objects of class
    "square" (1) or "disc" (2)."""

    def load_shapes(self, count, size=128, seed=0, classes=("square", "disc")):
        for i, name in enumerate(classes):
            self.add_class("shapes", i + 1, name)
        rng = np.random.default_rng(seed)
        for i in range(count):
            objs = []
            for _ in range(int(rng.integers(1, 3))):
                cls = int(rng.integers(1, len(classes) + 1))
                r = int(rng.integers(size // 8, size // 4))
                cy, cx = (int(v) for v in rng.integers(r + 2, size - r - 2, 2))
                color = tuple(int(v) for v in rng.integers(120, 255, 3))
                objs.append((cls, cy, cx, r, color))
            self.add_image("shapes", image_id=i, path=None, size=size,
                           objects=objs, noise_seed=int(rng.integers(1 << 30)))

    def _masks(self, info):
        size = info["size"]
        yy, xx = np.mgrid[:size, :size]
        masks, ids = [], []
        occupied = np.zeros((size, size), bool)
        for cls, cy, cx, r, _ in reversed(info["objects"]):
            if cls == 1:
                m = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
            else:
                m = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            m &= ~occupied
            occupied |= m
            masks.append(m)
            ids.append(cls)
        return masks[::-1], ids[::-1]

    def load_image(self, image_id):
        info = self.image_info[image_id]
        size = info["size"]
        rng = np.random.default_rng(info["noise_seed"])
        image = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
        masks, _ = self._masks(info)
        for (cls, cy, cx, r, color), m in zip(info["objects"], masks):
            image[m] = color
        return image

    def load_mask(self, image_id):
        masks, ids = self._masks(self.image_info[image_id])
        return np.stack(masks, axis=-1), np.array(ids, np.int32)


class TinyConfig(Config):
    NAME = "shapes"
    BACKBONE = "resnet50"
    NUM_CLASSES = 3
    GPU_COUNT = 1
    IMAGES_PER_GPU = 2
    IMAGE_MIN_DIM = 128
    IMAGE_MAX_DIM = 128
    RPN_ANCHOR_SCALES = (8, 16, 32, 64, 128)
    TOP_DOWN_PYRAMID_SIZE = 64
    FPN_CLASSIF_FC_LAYERS_SIZE = 128
    RPN_TRAIN_ANCHORS_PER_IMAGE = 64
    PRE_NMS_LIMIT = 500
    POST_NMS_ROIS_TRAINING = 100
    POST_NMS_ROIS_INFERENCE = 50
    TRAIN_ROIS_PER_IMAGE = 32
    MAX_GT_INSTANCES = 4
    DETECTION_MAX_INSTANCES = 5
    MINI_MASK_SHAPE = (28, 28)
    STEPS_PER_EPOCH = 4
    VALIDATION_STEPS = 1
    LEARNING_RATE = 0.002


def make_datasets(n_train=8, n_val=4, size=128):
    train = ShapesDataset()
    train.load_shapes(n_train, size, seed=1)
    train.prepare()
    val = ShapesDataset()
    val.load_shapes(n_val, size, seed=2)
    val.prepare()
    return train, val
