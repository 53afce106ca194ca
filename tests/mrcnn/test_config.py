import numpy as np
import pytest

from mrcnn.config import Config


class CocoLike(Config):
    NAME = "coco"
    NUM_CLASSES = 81


def test_defaults_and_computed():
    c = Config()
    assert c.BATCH_SIZE == 2
    assert c.IMAGE_SHAPE.tolist() == [1024, 1024, 3]
    assert isinstance(c.IMAGE_SHAPE, np.ndarray)
    assert c.IMAGE_META_SIZE == 1 + 3 + 3 + 4 + 1 + 1
    assert CocoLike().IMAGE_META_SIZE == 93
    assert c.BACKBONE == "resnet101"
    assert c.BACKBONE_STRIDES == [4, 8, 16, 32, 64]
    assert c.RPN_ANCHOR_SCALES == (32, 64, 128, 256, 512)
    assert c.MINI_MASK_SHAPE == (56, 56) and c.MASK_SHAPE == [28, 28]
    assert c.RPN_TRAIN_ANCHORS_PER_IMAGE == 256
    assert c.POST_NMS_ROIS_TRAINING == 2000 and c.POST_NMS_ROIS_INFERENCE == 1000
    assert c.DETECTION_MIN_CONFIDENCE == 0.7
    assert np.allclose(c.MEAN_PIXEL, [123.7, 116.8, 103.9])
    assert np.allclose(c.BBOX_STD_DEV, [0.1, 0.1, 0.2, 0.2])
    assert set(c.LOSS_WEIGHTS) == {"rpn_class_loss", "rpn_bbox_loss",
                                   "mrcnn_class_loss", "mrcnn_bbox_loss",
                                   "mrcnn_mask_loss"}
    # extras
    assert c.BACKBONE_NORM == "batch" and c.GROUP_NORM_GROUPS == 32
    assert not hasattr(c, "FPN_NORM") and c.LEARNING_RATE_SCHEDULE is None
    assert c.LEARNING_RATE_WARMUP_STEPS == 0 and c.XLA is False


def test_subclass_overrides_and_crop_shape():
    class C(Config):
        IMAGES_PER_GPU = 3
        GPU_COUNT = 2
        IMAGE_RESIZE_MODE = "crop"
        IMAGE_MIN_DIM = 512
        IMAGE_CHANNEL_COUNT = 1
        MEAN_PIXEL = np.array([100.0])

    c = C()
    assert c.BATCH_SIZE == 6
    assert c.IMAGE_SHAPE.tolist() == [512, 512, 1]


def test_display_sorted_and_to_dict(capsys):
    c = CocoLike()
    c.display()
    out = capsys.readouterr().out
    keys = [line.split()[0] for line in out.splitlines()
            if line.strip() and line[0].isupper() and not line.startswith("Configurations")]
    assert keys == sorted(keys)
    for k in ("BATCH_SIZE", "IMAGE_SHAPE", "NUM_CLASSES", "XLA", "LOSS_WEIGHTS"):
        assert k in keys
    d = c.to_dict()
    assert list(d) == sorted(d)
    assert d["NUM_CLASSES"] == 81 and d["IMAGE_META_SIZE"] == 93
    assert all(k.isupper() for k in d)


@pytest.mark.parametrize("attrs, fragment", [
    ({"IMAGE_MAX_DIM": 1000}, "divisible by 64"),
    ({"IMAGE_RESIZE_MODE": "crop", "IMAGE_MIN_DIM": 500}, "divisible by 64"),
    ({"NUM_CLASSES": 1}, "NUM_CLASSES"),
    ({"IMAGES_PER_GPU": 0}, "IMAGES_PER_GPU"),
    ({"IMAGE_RESIZE_MODE": "stretch"}, "IMAGE_RESIZE_MODE"),
    ({"RPN_ANCHOR_SCALES": (32, 64, 128)}, "RPN_ANCHOR_SCALES"),
    ({"MASK_SHAPE": [14, 14]}, "MASK_SHAPE"),
    ({"BACKBONE": "vgg"}, "BACKBONE"),
    ({"LEARNING_RATE_SCHEDULE": "linear"}, "LEARNING_RATE_SCHEDULE"),
    ({"BACKBONE_NORM": "layer"}, "BACKBONE_NORM"),
    ({"ROI_SAMPLING": "balanced"}, "ROI_SAMPLING"),
])
def test_validate_rejects(attrs, fragment):
    C = type("Bad", (Config,), dict({"NUM_CLASSES": 2}, **attrs))
    with pytest.raises(ValueError) as e:
        C().validate("training")
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_validate_accepts_and_inference_mode():
    class C(Config):
        NUM_CLASSES = 2
        IMAGE_MAX_DIM = 256
        IMAGE_MIN_DIM = 256
    c = C()
    assert c.validate() is c and c.validate("training") is c
    # NUM_CLASSES=1 is fine for inference only
    plain = Config()
    assert plain.validate("inference") is plain
    with pytest.raises(ValueError):
        Config().validate("training")
