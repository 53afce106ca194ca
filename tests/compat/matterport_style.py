"""Shared pieces of the Matterport compatibility suite (imported by the
tests as ``matterport_style``; conftest.py holds the fixtures): what a Matterport
user writes (a Config subclass, a Dataset subclass drawing shapes with cv2,
a balloon-style VIA loader), sized to run in seconds on a CPU.

Written for this suite, in the style of Matterport's samples; nothing here
imports the code under test beyond its public names (mrcnn.config.Config,
mrcnn.utils.Dataset, mrcnn.backbones.LightResNet).
"""
import json
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import skimage.draw  # noqa: E402
import skimage.io  # noqa: E402

from mrcnn import utils  # noqa: E402
from mrcnn.backbones import LightResNet  # noqa: E402
from mrcnn.config import Config  # noqa: E402


class ShapesConfig(Config):
    """Matterport's shapes sample config, shrunk: 64x64 images and a narrow
    backbone (LightResNet keeps Matterport's layer names)."""
    NAME = "shapes"
    GPU_COUNT = 1
    IMAGES_PER_GPU = 2
    NUM_CLASSES = 1 + 3          # background + square, circle, triangle
    IMAGE_MIN_DIM = 64
    IMAGE_MAX_DIM = 64
    BACKBONE = LightResNet(widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), stem=8,
                           groups=4)
    COMPUTE_BACKBONE_SHAPE = BACKBONE.compute_backbone_shape
    RPN_ANCHOR_SCALES = (4, 8, 16, 32, 64)
    TOP_DOWN_PYRAMID_SIZE = 16
    FPN_CLASSIF_FC_LAYERS_SIZE = 32
    MASK_HEAD_CHANNELS = 8
    RPN_TRAIN_ANCHORS_PER_IMAGE = 32
    PRE_NMS_LIMIT = 200
    POST_NMS_ROIS_TRAINING = 50
    POST_NMS_ROIS_INFERENCE = 20
    TRAIN_ROIS_PER_IMAGE = 16
    MAX_GT_INSTANCES = 4
    DETECTION_MAX_INSTANCES = 5
    MINI_MASK_SHAPE = (14, 14)
    MASK_SHAPE = [28, 28]
    STEPS_PER_EPOCH = 2
    VALIDATION_STEPS = 1
    LEARNING_RATE = 0.001


class InferenceConfig(ShapesConfig):
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1
    DETECTION_MIN_CONFIDENCE = 0.0


class ShapesDataset(utils.Dataset):
    """Matterport's shapes sample, re-written: squares, circles and
    triangles drawn with cv2 on a plain background."""

    def load_shapes(self, count, height, width, seed=0):
        self.add_class("shapes", 1, "square")
        self.add_class("shapes", 2, "circle")
        self.add_class("shapes", 3, "triangle")
        rng = np.random.default_rng(seed)
        for i in range(count):
            bg = [int(v) for v in rng.integers(0, 100, 3)]
            shapes = []
            for _ in range(int(rng.integers(1, 3))):
                kind = ["square", "circle", "triangle"][int(rng.integers(0, 3))]
                color = tuple(int(v) for v in rng.integers(130, 256, 3))
                s = int(rng.integers(height // 8, height // 4))
                y = int(rng.integers(s + 1, height - s - 1))
                x = int(rng.integers(s + 1, width - s - 1))
                shapes.append((kind, color, (x, y, s)))
            self.add_image("shapes", image_id=i, path=None, width=width,
                           height=height, bg_color=bg, shapes=shapes)

    @staticmethod
    def draw_shape(image, kind, dims, color):
        x, y, s = dims
        if kind == "square":
            cv2.rectangle(image, (x - s, y - s), (x + s, y + s), color, -1)
        elif kind == "circle":
            cv2.circle(image, (x, y), s, color, -1)
        else:
            pts = np.array([[(x, y - s), (x - s, y + s), (x + s, y + s)]],
                           np.int32)
            cv2.fillPoly(image, pts, color)
        return image

    def load_image(self, image_id):
        info = self.image_info[image_id]
        image = np.zeros([info["height"], info["width"], 3], np.uint8)
        image[:] = info["bg_color"]
        for kind, color, dims in info["shapes"]:
            image = self.draw_shape(image, kind, dims, color)
        return image

    def image_reference(self, image_id):
        return "shapes %d" % image_id

    def load_mask(self, image_id):
        info = self.image_info[image_id]
        shapes = info["shapes"]
        mask = np.zeros([info["height"], info["width"], len(shapes)], np.uint8)
        for i, (kind, _, dims) in enumerate(shapes):
            mask[:, :, i:i + 1] = self.draw_shape(
                mask[:, :, i:i + 1].copy(), kind, dims, 1)
        # later shapes hide earlier ones (as Matterport's occlusion step)
        occlusion = np.logical_not(mask[:, :, -1]).astype(np.uint8)
        for i in range(len(shapes) - 2, -1, -1):
            mask[:, :, i] = mask[:, :, i] * occlusion
            occlusion = np.logical_and(occlusion, np.logical_not(mask[:, :, i]))
        class_ids = np.array([self.class_names.index(s[0]) for s in shapes])
        return mask.astype(bool), class_ids.astype(np.int32)


def shapes_datasets(n_train=6, n_val=2, size=64):
    train, val = ShapesDataset(), ShapesDataset()
    train.load_shapes(n_train, size, size, seed=1)
    val.load_shapes(n_val, size, size, seed=2)
    train.prepare()
    val.prepare()
    return train, val


# ------------------------------------------------------------- balloon style
class BalloonStyleConfig(ShapesConfig):
    NAME = "balloon"
    NUM_CLASSES = 1 + 1


class BalloonDataset(utils.Dataset):
    """Matterport's balloon loader, re-written: VIA 2 export, polygons
    rasterised with skimage.draw.polygon(all_points_y, all_points_x)."""

    def load_balloon(self, dataset_dir, subset):
        self.add_class("balloon", 1, "balloon")
        dataset_dir = os.path.join(dataset_dir, subset)
        with open(os.path.join(dataset_dir, "via_region_data.json")) as f:
            annotations = [a for a in json.load(f).values() if a["regions"]]
        for a in annotations:
            regions = a["regions"]
            regions = regions.values() if isinstance(regions, dict) else regions
            polygons = [r["shape_attributes"] for r in regions]
            image_path = os.path.join(dataset_dir, a["filename"])
            height, width = skimage.io.imread(image_path).shape[:2]
            self.add_image("balloon", image_id=a["filename"], path=image_path,
                           width=width, height=height, polygons=polygons)

    def load_mask(self, image_id):
        info = self.image_info[image_id]
        mask = np.zeros([info["height"], info["width"], len(info["polygons"])],
                        dtype=np.uint8)
        for i, p in enumerate(info["polygons"]):
            rr, cc = skimage.draw.polygon(p["all_points_y"], p["all_points_x"])
            mask[rr, cc, i] = 1
        return mask.astype(bool), np.ones([mask.shape[-1]], dtype=np.int32)


def write_balloon_style_dataset(root, n_train=4, n_val=2, size=64, seed=0):
    """Images with one or two filled polygons ("balloons") and a VIA 2.x
    export per subset, as Matterport's balloon dataset is laid out."""
    rng = np.random.default_rng(seed)
    for subset, n in (("train", n_train), ("val", n_val)):
        d = os.path.join(root, subset)
        os.makedirs(d, exist_ok=True)
        via = {}
        for i in range(n):
            image = np.full((size, size, 3), [int(v) for v in rng.integers(0, 90, 3)],
                            np.uint8)
            regions = []
            for _ in range(int(rng.integers(1, 3))):
                cx, cy = (int(v) for v in rng.integers(14, size - 14, 2))
                r = int(rng.integers(6, 12))
                angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
                xs = np.clip(cx + r * np.cos(angles), 0, size - 1).round(1)
                ys = np.clip(cy + r * np.sin(angles), 0, size - 1).round(1)
                rr, cc = skimage.draw.polygon(ys, xs, shape=image.shape[:2])
                image[rr, cc] = (220, 40, 40)
                regions.append({"shape_attributes": {
                    "name": "polygon", "all_points_x": xs.tolist(),
                    "all_points_y": ys.tolist()}, "region_attributes": {}})
            name = "b%03d.png" % i
            path = os.path.join(d, name)
            skimage.io.imsave(path, image, check_contrast=False)
            via[name + str(os.path.getsize(path))] = {
                "filename": name, "size": os.path.getsize(path),
                "regions": regions, "file_attributes": {}}
        with open(os.path.join(d, "via_region_data.json"), "w") as f:
            json.dump(via, f)
    return root

