"""Atomic writes (temp file + os.replace) give the final file ordinary
permissions: mkstemp's 0o600 must not leak into masks, videos or
checkpoints that other users or a web server read."""
import os
import stat

import numpy as np
import pytest


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask(umask_027):
    from phone.imageio import current_umask
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027   # unchanged by the query


def test_png_mask_gets_umask_mode_and_keeps_existing_mode(tmp_path, umask_027):
    from phone.imageio import read_image, write_png_atomic
    path = tmp_path / "a_mask.png"
    write_png_atomic(path, np.full((4, 5), 255, np.uint8))
    assert _mode(path) == 0o640                      # 0o666 & ~0o027, not 0o600
    os.chmod(path, 0o604)
    write_png_atomic(path, np.zeros((4, 5), np.uint8))
    assert _mode(path) == 0o604                      # replacing keeps the old mode
    assert read_image(path).max() == 0
    assert os.listdir(tmp_path) == ["a_mask.png"]


def test_overlay_video_gets_umask_mode(tmp_path, umask_027):
    import cv2
    from phone.segment import Segmenter, segment_video
    from robust_helpers import FixedModel, expected_mask
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (40, 32))
    for i in range(2):
        writer.write(np.full((32, 40, 3), 60 * i, np.uint8))
    writer.release()
    out = tmp_path / "out"
    summary = segment_video(Segmenter(model=FixedModel()), video, str(out),
                            out_video=str(out / "over.avi"), quiet=True)
    assert summary.done == 2 and not summary.failed
    assert _mode(out / "over.avi") == 0o640
    for i in range(2):
        mask = cv2.imread(str(out / f"clip_{i:06d}_mask.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(mask, expected_mask(32, 40))
        assert _mode(out / f"clip_{i:06d}_mask.png") == 0o640
    assert sorted(os.listdir(out)) == ["clip_000000_mask.png", "clip_000001_mask.png", "over.avi"]


def test_checkpoint_gets_umask_mode_and_loads(tmp_path, umask_027):
    import keras
    from mrcnn.weights import read_weights_h5, save_weights_h5
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2, name="fc")(inp))
    model.get_layer("fc").set_weights([np.arange(6, dtype=np.float32).reshape(3, 2),
                                       np.array([1, 2], np.float32)])
    path = tmp_path / "run" / "mask_rcnn_x_0001.h5"
    save_weights_h5(model, path)
    assert _mode(path) == 0o640
    assert os.listdir(path.parent) == [path.name]          # no temp file left
    stored = read_weights_h5(str(path))
    np.testing.assert_array_equal(stored["fc"][0][1], np.arange(6).reshape(3, 2))
    os.chmod(path, 0o600)                                  # the user's choice is kept
    save_weights_h5(model, path)
    assert _mode(path) == 0o600
