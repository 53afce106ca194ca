"""phone.finetune: the small-set recipe and the validation that decides.

- the best checkpoint is the one with the best validation score (fake
  scores), ties keep the earlier, and its scores travel inside the file;
- early stopping stops after ``patience`` epochs without improvement;
- a run that lost to its start writes no best file and never becomes the
  default model (nor --weights best);
- the copy-paste frames carry the user's cut-outs: their mask pixels are the
  pixels of the user's polygons (a magenta phone that nothing else has);
- the small-set recipe is chosen for small sets of a trained start only.
"""
import json
import os

import numpy as np
import pytest

from phone import finetune


def _ckpt(path, payload=b"weights"):
    import h5py
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"x"])
        f.create_group("x").attrs["payload"] = payload
    return str(path)


def _keeper(run, fake, start=0.5, patience=None, min_delta=0.0):
    run.mkdir(parents=True, exist_ok=True)
    said = []
    keeper = finetune.BestKeeper(str(run), "phone", lambda p: {"fitness": fake[p]},
                                 {"fitness": start}, "start.h5", patience=patience,
                                 min_delta=min_delta, recipe="small-set", say=said.append)
    return keeper, run, said


def test_best_checkpoint_is_the_one_with_the_best_validation_score(tmp_path):
    run = tmp_path / "logs" / "phone20260101T0000"
    paths = [_ckpt(run / f"mask_rcnn_phone_{e:04d}.h5", f"epoch{e}".encode()) for e in (1, 2, 3, 4)]
    fake = dict(zip(paths, [0.55, 0.71, 0.64, 0.71]))    # epoch 4 ties epoch 2: not better
    keeper, _, said = _keeper(run, fake)
    for epoch, p in enumerate(paths, 1):
        assert keeper.epoch_end(epoch, p) is False       # no patience: never stops
    summary = keeper.finish()
    assert summary["best_epoch"] == 2 and summary["lost_to_start"] is False
    import h5py
    with h5py.File(summary["best"], "r") as f:
        assert f["x"].attrs["payload"] in (b"epoch2", "epoch2")      # a copy of epoch 2's file
    assert finetune.read_scores(summary["best"])["fitness"] == 0.71
    assert finetune.read_scores(summary["best"])["epoch"] == 2
    on_disk = json.loads((run / finetune.RUN_SUMMARY_NAME).read_text())
    assert [h["fitness"] for h in on_disk["history"]] == [0.5, 0.55, 0.71, 0.64, 0.71]
    assert on_disk["recipe"] == "small-set"
    assert sum("best so far" in line for line in said) == 2   # epochs 1 and 2


def test_early_stopping_stops_after_patience_epochs_without_improvement(tmp_path):
    run = tmp_path / "r"
    paths = [_ckpt(run / f"c{e}.h5") for e in range(1, 7)]
    fake = dict(zip(paths, [0.6, 0.7, 0.69, 0.70, 0.65, 0.9]))
    keeper, _, said = _keeper(run, fake, patience=3)
    stops = []
    for e, p in enumerate(paths, 1):
        stops.append(keeper.epoch_end(e, p))
        if stops[-1]:
            break
    assert stops == [False, False, False, False, True]   # 3 epochs after epoch 2
    assert keeper.best["epoch"] == 2

    # the Keras callback turns the keeper's verdict into stop_training
    class FakeModel:
        checkpoint_path = str(run / "c{epoch}.h5")
    keeper2, _, said2 = _keeper(run, fake, patience=1)
    cb = finetune.keeper_callback(keeper2, FakeModel())

    class KerasModel:
        stop_training = False
    cb.set_model(KerasModel())
    cb.on_epoch_end(0)                  # epoch 1: 0.6 > 0.5, better
    assert not cb.model.stop_training
    cb.on_epoch_end(1)                  # epoch 2: better again
    cb.on_epoch_end(2)                  # epoch 3: 0.69 < 0.7: patience 1 -> stop
    assert cb.model.stop_training
    assert any("Early stop" in line for line in said2)


def test_a_run_that_lost_to_its_start_never_becomes_the_default(tmp_path):
    from phone.weights import WeightsError, default_model, find_best_checkpoint, \
        resolve_weights
    logs = tmp_path / "logs"
    older = logs / "phone20260101T0000"
    older_ckpt = _ckpt(older / "mask_rcnn_phone_0003.h5")
    shipped = _ckpt(tmp_path / "shipped.h5")
    kw = dict(demo_model=str(tmp_path / "none.h5"), shipped_model=shipped)
    assert default_model(str(logs), **kw)[0] == older_ckpt     # an ordinary run

    # a newer fine-tune whose every epoch lost to its start
    run = logs / "phone20260102T0000"
    lost = [_ckpt(run / f"mask_rcnn_phone_{e:04d}.h5") for e in (1, 2)]
    keeper, _, said = _keeper(run, dict(zip(lost, [0.4, 0.45])), start=0.5)
    for e, p in enumerate(lost, 1):
        keeper.epoch_end(e, p)
    summary = keeper.finish()
    assert summary["lost_to_start"] and summary["best"] is None
    assert not (run / "mask_rcnn_phone_best.h5").exists()
    # its newer checkpoints are passed over: the older run stays the default
    assert default_model(str(logs), **kw)[0] == older_ckpt
    with pytest.raises(WeightsError, match="no best checkpoint"):
        find_best_checkpoint(str(logs), "phone")
    # --weights last is Matterport's resume: still the newest checkpoint
    assert resolve_weights("last", logs_dir=str(logs), name="phone")[0] == lost[-1]

    # a run whose epoch 2 won: its best file is the default and --weights best
    won = logs / "phone20260103T0000"
    ck = [_ckpt(won / f"mask_rcnn_phone_{e:04d}.h5") for e in (1, 2, 3)]
    keeper, _, _ = _keeper(won, dict(zip(ck, [0.4, 0.8, 0.6])), start=0.5)
    for e, p in enumerate(ck, 1):
        keeper.epoch_end(e, p)
    keeper.finish()
    best = str(won / "mask_rcnn_phone_best.h5")
    assert default_model(str(logs), **kw)[0] == best
    assert resolve_weights("best", logs_dir=str(logs), name="phone")[0] == best
    assert resolve_weights("last", logs_dir=str(logs), name="phone")[0] == ck[-1]


def test_the_small_set_recipe_is_chosen_for_small_sets_of_a_trained_start():
    from phone.config import PhoneConfig
    from phone.train import start_model_is_trained
    n = finetune.SMALL_SET_MAX_FRAMES
    assert finetune.choose_recipe(3).name == "small-set"
    assert finetune.choose_recipe(n).name == "small-set"
    assert finetune.choose_recipe(n + 1).name == "balloon"
    assert finetune.choose_recipe(500).name == "balloon"
    assert finetune.choose_recipe(3, "balloon").name == "balloon"
    assert finetune.choose_recipe(500, "small-set").name == "small-set"
    config = PhoneConfig()
    assert start_model_is_trained("shipped", 2, config)
    assert start_model_is_trained("path", 2, config)
    assert not start_model_is_trained("coco", 81, config)        # a new head: balloon
    assert not start_model_is_trained("path", 81, config)
    assert not start_model_is_trained("path", None, config)      # backbone only
    assert not start_model_is_trained("last", 2, config)         # resume: the run's recipe


def _magenta_user_frames(root, n=2):
    """Frames of a grey scene with one magenta quadrilateral phone each, and
    the VIA file of their polygons."""
    import cv2
    from phone.imageio import write_png_atomic
    root.mkdir(parents=True)
    via = {}
    polys = {}
    for i in range(n):
        image = np.full((128, 128, 3), 120, np.uint8)
        xs = [40 + 3 * i, 80, 86, 44]
        ys = [30, 28 + 2 * i, 96, 100]
        pts = np.stack([xs, ys], 1).astype(np.int32)
        cv2.fillPoly(image, [pts], (255, 0, 255))
        name = f"user_{i}.png"
        write_png_atomic(str(root / name), image)
        via[name] = {"filename": name, "size": os.path.getsize(root / name), "file_attributes": {},
                     "regions": [{"shape_attributes": {"name": "polygon", "all_points_x": xs,
                                                       "all_points_y": ys},
                                  "region_attributes": {"name": "phone"}}]}
        polys[name] = (xs, ys)
    (root / "via_region_data.json").write_text(json.dumps(via))
    return polys


SEED = 3


def test_copy_paste_frames_carry_the_users_cutouts(tmp_path):
    """With paste probability 1 every phone of a generated frame is one of
    the user's magenta phones: inside each annotated mask the pixels are
    magenta (hue near 300 deg, whatever the lighting), and the inpainted
    frames hold no magenta at all."""
    import cv2
    from phone.dataset import PhoneDataset
    _magenta_user_frames(tmp_path / "user")
    user = PhoneDataset()
    user.load_phone(tmp_path / "user", "")
    user.prepare()
    recipe = finetune.RECIPES["small-set"].replace(n_synthetic=12, paste_prob=1.0, negatives=0.25,
                                                   real_repeats=2, inpainted_repeats=1)
    ds = finetune.small_set_data(user, str(tmp_path / "work"), recipe, seed=SEED, say=lambda m: None)
    via = json.loads((tmp_path / "work" / "copy_paste" / "via_region_data.json").read_text())
    sources = [e["file_attributes"]["source"] for e in via.values()]
    pasted = [s for s in sources if s != "negative"]
    assert pasted and all(part.split("#")[0] in ("user_0.png", "user_1.png")
                          for s in pasted for part in s.split(","))
    assert 12 + 2 * 2 + 2 == ds.num_images

    def magenta(image):
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)   # OpenCV hue: 0..179
        return ((np.abs(hsv[..., 0].astype(int) - 150) <= 15) & (hsv[..., 1] > 80)
                & (hsv[..., 2] > 80))

    checked = 0
    for image_id in ds.image_ids:
        path = ds.image_info[image_id]["path"]
        if "copy_paste" not in path:
            continue
        masks, _ = ds.load_mask(image_id)
        image = ds.load_image(image_id)
        if masks.shape[-1] == 0:
            continue                                   # a drawn phone-free frame
        inside = np.any(masks, -1)
        # the mask's pixels are the polygon's (magenta) pixels ...
        assert magenta(image)[inside].mean() > 0.75, path
        # ... and the whole pasted phone: the ring just outside the mask is not
        # as magenta as the inside (hue near, saturation at least 80 % of it)
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(int)
        sat = np.median(hsv[..., 1][inside])
        like = (np.abs(hsv[..., 0] - 150) <= 15) & (hsv[..., 1] >= 0.8 * sat)
        ring = cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        ring &= ~cv2.dilate(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert like[ring].mean() < 0.4, path
        checked += 1
    assert checked >= 6
    inpainted = [i for i in ds.image_ids if "inpainted" in ds.image_info[i]["path"]]
    assert len(inpainted) == 2
    for i in inpainted:
        assert magenta(ds.load_image(i)).sum() == 0
        assert ds.load_mask(i)[0].shape[-1] == 0
    real = [i for i in ds.image_ids if ds.image_info[i]["path"].startswith(str(tmp_path / "user"))]
    assert len(real) == 4


def test_fitness_is_the_mask_iou_guarded_by_the_phone_free_frames():
    start = {"mask_iou": 0.80, "no_phone_rate": 0.80}
    assert finetune.fitness({"mask_iou": 0.85, "no_phone_rate": 0.75}, start) == 0.85
    assert finetune.fitness({"mask_iou": 0.85, "no_phone_rate": 0.70}, start) == 0.85  # at the edge
    assert finetune.fitness({"mask_iou": 0.95, "no_phone_rate": 0.69}, start) == -1.0  # more false phones
    assert finetune.fitness({"mask_iou": 0.85, "no_phone_rate": 0.69}) == 0.85         # no start yet
    assert finetune.fitness({"mask_iou": None, "no_phone_rate": 0.4}) == 0.4
    assert finetune.fitness({"mask_iou": 0.8, "no_phone_rate": None}, start) == 0.8
    assert finetune.fitness({"mask_iou": None, "no_phone_rate": None}) is None


def test_comparison_table():
    start = {"per_frame": {"a.png": 0.5, "b.png": 0.7}, "mask_iou": 0.6, "no_phone_rate": 0.8,
             "fitness": 0.65}
    best = {"per_frame": {"a.png": 0.75, "b.png": 0.7}, "mask_iou": 0.725, "no_phone_rate": 0.8,
            "fitness": 0.74375}
    lines = finetune.comparison_table(start, best)
    assert lines[1].split() == ["a.png", "0.500", "0.750"]
    assert lines[3].split()[-2:] == ["0.600", "0.725"]
