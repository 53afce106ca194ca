"""The docs' pictures come from the shipped model (docs/make_pictures.py,
``make pictures``): docs/pictures.json names the model file they were made
with, and the script makes them from the bundled data."""
import importlib.util
import json
import pathlib

import cv2
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SHIPPED = REPO / "phone" / "models" / "mask_rcnn_phone.h5"


def _script():
    spec = importlib.util.spec_from_file_location("make_pictures", DOCS / "make_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pictures_were_made_with_the_shipped_model():
    from mrcnn.core.fileio import file_sha256
    made = json.loads((DOCS / "pictures.json").read_text())
    assert made["model_sha256"] == file_sha256(SHIPPED), \
        "the shipped model changed since the docs' pictures were made: run `make pictures`"
    for name in made["pictures"]:
        assert (DOCS / name).stat().st_size > 10_000, name


@pytest.mark.slow
def test_make_pictures_draws_the_model_on_the_bundled_data(tmp_path):
    from mrcnn.core.fileio import file_sha256
    assert _script().main(["--out", str(tmp_path)]) == 0
    made = json.loads((tmp_path / "pictures.json").read_text())
    assert made["model_sha256"] == file_sha256(SHIPPED)
    shot = cv2.imread(str(tmp_path / "annotate_regions.png"))
    frame = cv2.imread(str(REPO / "datasets" / "phone" / "val" / "C_01_08_000.png"))
    assert shot.shape == (512, 512, 3)
    plain = cv2.resize(frame, (512, 512), interpolation=cv2.INTER_NEAREST)
    # the phone's region is drawn in yellow (BGR: low blue, high green and red)
    drawn = (np.abs(shot.astype(int) - plain).sum(axis=2) > 60)
    assert 0.05 < drawn.mean() < 0.6, drawn.mean()
    strip = cv2.imread(str(tmp_path / "realtime_overlay.png"))
    assert strip.shape == (512, 3 * 512, 3)
    clip = cv2.VideoCapture(str(REPO / "datasets" / "videos" / "phone_demo.mp4"))
    n = int(clip.get(cv2.CAP_PROP_FRAME_COUNT))
    clip.release()
    from PIL import Image
    with Image.open(tmp_path / "realtime.gif") as gif:
        assert gif.n_frames == n and gif.size == (192, 192)
