"""Class names of Matterport's COCO-trained Mask R-CNN (mask_rcnn_coco.h5).

The model has 81 classes: background (id 0) plus the 80 COCO "things"
categories, numbered 1..80 in the order of Matterport's demo notebook
(COCO's own category ids skip numbers; these do not). The mobile phone is
``"cell phone"``: class id 68 of the model. (77 is its category id in the
COCO annotation files and in torchvision's 91-entry list with "N/A" gaps;
Matterport's CocoDataset maps category ids to these contiguous ids, so the
model outputs 68.)
"""

__all__ = ["COCO_CLASS_NAMES", "CELL_PHONE", "coco_class_id"]

COCO_CLASS_NAMES = [
    "BG", "person", "bicycle", "car", "motorcycle", "airplane",
    "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird",
    "cat", "dog", "horse", "sheep", "cow", "elephant", "bear",
    "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie",
    "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard",
    "surfboard", "tennis racket", "bottle", "wine glass", "cup",
    "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
    "donut", "cake", "chair", "couch", "potted plant", "bed",
    "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster",
    "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
]

#: the COCO class id of "cell phone"
CELL_PHONE = COCO_CLASS_NAMES.index("cell phone")


def coco_class_id(name):
    """Class id (1..80) of a COCO class name, case and ``_``/``-`` insensitive.

    Raises ValueError (one line, listing a few close names) for an unknown name.
    """
    norm = " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())
    for i, n in enumerate(COCO_CLASS_NAMES):
        if i and n == norm:
            return i
    import difflib
    close = difflib.get_close_matches(norm, COCO_CLASS_NAMES[1:], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown COCO class {name!r} (see phone.coco_classes.COCO_CLASS_NAMES){hint}")
