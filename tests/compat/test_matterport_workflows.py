"""What Matterport users do, end to end, tiny: the shapes toy trained from
scratch and detect(); a balloon-style VIA data set trained, color splash,
find_last() and resume; COCO-json evaluation through pycocotools.COCOeval."""
import os

import keras
import numpy as np
import pytest
import skimage.color

import mrcnn.model as modellib
from mrcnn import utils
from matterport_style import (BalloonDataset, BalloonStyleConfig, InferenceConfig,
                      ShapesConfig, shapes_datasets, write_balloon_style_dataset)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shapes_model(tmp_path_factory):
    """train_shapes.ipynb, shrunk: heads then all layers, from scratch."""
    keras.utils.set_random_seed(0)
    logs = str(tmp_path_factory.mktemp("logs"))
    train, val = shapes_datasets()
    config = ShapesConfig()
    model = modellib.MaskRCNN(mode="training", config=config, model_dir=logs)
    model.train(train, val, learning_rate=config.LEARNING_RATE, epochs=1,
                layers="heads", verbose=0)
    model.train(train, val, learning_rate=config.LEARNING_RATE / 10, epochs=2,
                layers="all", verbose=0)
    inference = modellib.MaskRCNN(mode="inference", config=InferenceConfig(),
                                  model_dir=logs)
    inference.load_weights(inference.find_last(), by_name=True)
    return inference, logs, (train, val)


def test_shapes_from_scratch_train_and_detect(shapes_model):
    model, logs, (_, val) = shapes_model
    ckpts = sorted(os.listdir(os.path.dirname(model.find_last())))
    assert [c for c in ckpts if c.endswith(".h5")] == [
        "mask_rcnn_shapes_0001.h5", "mask_rcnn_shapes_0002.h5"]
    image, image_meta, gt_class_id, gt_bbox, gt_mask = modellib.load_image_gt(
        val, model.config, val.image_ids[0], use_mini_mask=False)
    r = model.detect([image], verbose=0)[0]
    assert set(r) == {"rois", "class_ids", "scores", "masks"}
    n = len(r["class_ids"])
    assert r["rois"].shape == (n, 4) and r["scores"].shape == (n,)
    assert r["masks"].shape == image.shape[:2] + (n,) and r["masks"].dtype == bool
    assert ((r["class_ids"] >= 1) & (r["class_ids"] <= 3)).all()
    # Matterport's evaluation loop
    AP, precisions, recalls, overlaps = utils.compute_ap(
        gt_bbox, gt_class_id, gt_mask, r["rois"], r["class_ids"], r["scores"], r["masks"])
    assert 0.0 <= AP <= 1.0 and overlaps.shape == (n, len(gt_class_id))


def color_splash(image, mask):
    """balloon.py's color_splash, re-written: grey everywhere but the masks."""
    gray = skimage.color.gray2rgb(skimage.color.rgb2gray(image)) * 255
    if mask.shape[-1] > 0:
        mask = (np.sum(mask, -1, keepdims=True) >= 1)
        return np.where(mask, image, gray).astype(np.uint8)
    return gray.astype(np.uint8)


def test_balloon_style_train_splash_find_last_and_resume(tmp_path):
    keras.utils.set_random_seed(1)
    root = write_balloon_style_dataset(str(tmp_path / "balloon"))
    logs = str(tmp_path / "logs")
    train, val = BalloonDataset(), BalloonDataset()
    train.load_balloon(root, "train")
    val.load_balloon(root, "val")
    train.prepare()
    val.prepare()
    assert train.class_names == ["BG", "balloon"] and len(train.image_ids) == 4
    config = BalloonStyleConfig()
    model = modellib.MaskRCNN(mode="training", config=config, model_dir=logs)
    model.train(train, val, learning_rate=config.LEARNING_RATE, epochs=1,
                layers="heads", verbose=0)
    first = model.find_last()
    assert first.endswith(os.path.join("mask_rcnn_balloon_0001.h5"))

    # resume: a new process would do exactly this
    model2 = modellib.MaskRCNN(mode="training", config=config, model_dir=logs)
    model2.load_weights(model2.find_last(), by_name=True)
    assert model2.epoch == 1 and model2.log_dir == os.path.dirname(first)
    model2.train(train, val, learning_rate=config.LEARNING_RATE, epochs=2,
                 layers="heads", verbose=0)
    last = model2.find_last()
    assert os.path.dirname(last) == os.path.dirname(first)
    assert last.endswith("mask_rcnn_balloon_0002.h5")

    class SplashConfig(BalloonStyleConfig):
        GPU_COUNT = 1
        IMAGES_PER_GPU = 1
        DETECTION_MIN_CONFIDENCE = 0.0
    infer = modellib.MaskRCNN(mode="inference", config=SplashConfig(), model_dir=logs)
    infer.load_weights(last, by_name=True)
    image = val.load_image(0)
    r = infer.detect([image], verbose=0)[0]
    splash = color_splash(image, r["masks"])
    assert splash.shape == image.shape and splash.dtype == np.uint8
    inside = r["masks"].any(-1)
    np.testing.assert_array_equal(splash[inside], image[inside])
    if (~inside).any():
        outside = splash[~inside]
        assert (outside[:, 0] == outside[:, 1]).all()   # grey: r == g == b


def test_coco_json_evaluation_with_cocoeval(shapes_model, tmp_path):
    """coco.py's evaluate_coco loop: detect, encode masks as RLE, COCOeval."""
    from pycocotools import mask as maskUtils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import json

    model, _, (_, val) = shapes_model
    images, annotations, results = [], [], []
    ann_id = 1
    for image_id in val.image_ids:
        image = val.load_image(image_id)
        gt_masks, gt_ids = val.load_mask(image_id)
        images.append({"id": int(image_id), "height": image.shape[0], "width": image.shape[1]})
        for i in range(gt_masks.shape[-1]):
            rle = maskUtils.encode(np.asfortranarray(gt_masks[:, :, i].astype(np.uint8)))
            x, y, w, h = maskUtils.toBbox(rle).tolist()
            rle["counts"] = rle["counts"].decode("ascii")
            annotations.append({"id": ann_id, "image_id": int(image_id),
                                "category_id": int(gt_ids[i]), "segmentation": rle,
                                "area": float(maskUtils.area(rle)), "bbox": [x, y, w, h],
                                "iscrowd": 0})
            ann_id += 1
        r = model.detect([image], verbose=0)[0]
        for i in range(r["rois"].shape[0]):
            y1, x1, y2, x2 = r["rois"][i].tolist()
            rle = maskUtils.encode(np.asfortranarray(r["masks"][:, :, i].astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            results.append({"image_id": int(image_id), "category_id": int(r["class_ids"][i]),
                            "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "score": float(r["scores"][i]), "segmentation": rle})
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps({
        "images": images, "annotations": annotations,
        "categories": [{"id": i, "name": n} for i, n in enumerate(val.class_names) if i]}))
    coco = COCO(str(gt_path))
    # sanity of the ground-truth side: gt as detections scores AP 1.0
    perfect = [dict(a, score=1.0) for a in coco.dataset["annotations"]]
    for res, check in ((perfect, "perfect"), (results, "model")):
        if not res:
            continue
        coco_results = coco.loadRes(res)
        ev = COCOeval(coco, coco_results, "segm")
        ev.params.imgIds = [int(i) for i in val.image_ids]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        assert ev.stats.shape == (12,)
        if check == "perfect":
            assert ev.stats[0] == pytest.approx(1.0)
        else:
            assert -1.0 <= ev.stats[0] <= 1.0
