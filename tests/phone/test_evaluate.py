"""phone.evaluate: per-image metrics by hand, and `phone evaluate` end to end
on a small VIA dataset with a monkeypatched detector."""
import hashlib
import json

import cv2
import numpy as np
import pytest

from tiny_configs import TINY, TINY_COCO, TinyCocoConfig, TinyInferenceConfig


def rect(h, w, y1, x1, y2, x2):
    m = np.zeros((h, w), bool)
    m[y1:y2, x1:x2] = True
    return m


def result(masks, class_ids, scores):
    masks = np.stack(masks, axis=-1) if masks else np.zeros((20, 20, 0), bool)
    rois = np.array([[np.where(m.any(1))[0][0], np.where(m.any(0))[0][0],
                      np.where(m.any(1))[0][-1] + 1, np.where(m.any(0))[0][-1] + 1]
                     for m in np.moveaxis(masks, -1, 0)], np.int32).reshape(-1, 4)
    return {"rois": rois, "class_ids": np.array(class_ids, np.int32),
            "scores": np.array(scores, np.float32), "masks": masks}


# ----------------------------------------------------------------- per image
def test_perfect_prediction():
    from phone.evaluate import evaluate_image
    a, b = rect(20, 20, 2, 2, 8, 10), rect(20, 20, 12, 5, 18, 15)
    gt = np.stack([a, b], -1)
    m = evaluate_image(gt, [1, 1], result([b, a], [1, 1], [0.9, 0.8]))
    assert m == {"gt_instances": 2, "pred_instances": 2, "mask_iou": 1.0, "ap50": 1.0,
                 "ap50_95": 1.0}


def test_one_of_two_found():
    from phone.evaluate import evaluate_image
    a, b = rect(20, 20, 2, 2, 8, 10), rect(20, 20, 12, 5, 18, 15)   # 48 and 60 px
    m = evaluate_image(np.stack([a, b], -1), [1, 1], result([a], [1], [0.9]))
    assert m["mask_iou"] == pytest.approx(48 / 108)
    # precision 1 up to recall 0.5, nothing after: AP = 0.5 at every threshold
    assert m["ap50"] == pytest.approx(0.5) and m["ap50_95"] == pytest.approx(0.5)


def test_partial_overlap_and_false_positive():
    from phone.evaluate import evaluate_image
    gt = rect(20, 20, 0, 0, 10, 10)                      # 100 px
    pred = rect(20, 20, 0, 0, 10, 7)                     # 70 px inside: IoU 0.7
    fp = rect(20, 20, 15, 15, 20, 20)                    # 25 px elsewhere
    m = evaluate_image(gt[:, :, None], [1], result([fp, pred], [1, 1], [0.95, 0.6]))
    assert m["mask_iou"] == pytest.approx(70 / 125)
    # ranked: FP (0.95) then TP (0.6): precision 1/2 at recall 1 -> AP 0.5
    assert m["ap50"] == pytest.approx(0.5)
    thresholds = np.arange(0.5, 1.0, 0.05)
    assert m["ap50_95"] == pytest.approx(0.5 * np.mean(0.7 >= thresholds))   # 0.5 * 5/10


def test_no_prediction_and_no_ground_truth():
    from phone.evaluate import evaluate_image
    gt = rect(20, 20, 0, 0, 10, 10)[:, :, None]
    m = evaluate_image(gt, [1], result([], [], []))
    assert (m["mask_iou"], m["ap50"], m["ap50_95"], m["pred_instances"]) == (0.0, 0.0, 0.0, 0)
    m = evaluate_image(np.zeros((20, 20, 0), bool), np.zeros(0, np.int32), result([], [], []))
    assert m["mask_iou"] == 1.0 and m["ap50"] is None and m["ap50_95"] is None


def test_class_map_for_raw_coco_model():
    from phone.coco_classes import CELL_PHONE
    from phone.evaluate import evaluate_image
    gt = rect(20, 20, 0, 0, 10, 10)
    r = result([gt], [CELL_PHONE], [0.9])
    assert evaluate_image(gt[:, :, None], [1], r)["ap50"] == 0.0           # class differs
    assert evaluate_image(gt[:, :, None], [1], r, class_map={CELL_PHONE: 1})["ap50"] == 1.0


def test_table_has_rows_and_mean():
    from phone.evaluate import format_table
    report = {"images": [
        {"image": "a.png", "gt_instances": 1, "pred_instances": 2, "mask_iou": 0.5, "ap50": 1.0,
         "ap50_95": 0.25},
        {"image": "long_name.png", "gt_instances": 0, "pred_instances": 0, "mask_iou": 1.0,
         "ap50": None, "ap50_95": None}],
        "mean": {"mask_iou": 0.75, "map50": 1.0, "map50_95": 0.25}}
    lines = format_table(report).splitlines()
    assert lines[2].split() == ["a.png", "1", "2", "0.500", "1.000", "0.250"]
    assert lines[3].split() == ["long_name.png", "0", "0", "1.000", "-", "-"]
    assert lines[-1].split() == ["mean", "0.750", "1.000", "0.250"]


# ----------------------------------------------------------------- CLI
def _rect_region(x, y, w, h):
    return {"shape_attributes": {"name": "rect", "x": x, "y": y, "width": w, "height": h},
            "region_attributes": {"name": "phone"}}


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    """val/ with two noise images: one with two phones, one with one."""
    root = tmp_path_factory.mktemp("evalds")
    val = root / "val"
    val.mkdir()
    rng = np.random.RandomState(0)
    specs = {"one.png": ((64, 80), [_rect_region(5, 6, 20, 10), _rect_region(40, 30, 25, 20)]),
             "two.png": ((48, 48), [_rect_region(10, 10, 20, 25)])}
    via = {}
    for name, ((h, w), regions) in specs.items():
        cv2.imwrite(str(val / name), rng.randint(0, 256, (h, w, 3)).astype(np.uint8))
        size = (val / name).stat().st_size
        via[f"{name}{size}"] = {"filename": name, "size": size, "regions": regions,
                                "file_attributes": {}}
    (val / "via_region_data.json").write_text(json.dumps(via))
    return root


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from mrcnn.model import MaskRCNN
    d = tmp_path_factory.mktemp("tiny_eval")
    model = MaskRCNN("inference", TinyInferenceConfig(), str(d))
    path = d / "tiny.h5"
    model.save_weights(str(path))
    return path


def _gt_by_image(dataset_dir):
    from phone.dataset import PhoneDataset
    ds = PhoneDataset()
    ds.load_phone(str(dataset_dir), "val")
    ds.prepare()
    table = {}
    for i in ds.image_ids:
        masks, _ = ds.load_mask(i)
        table[hashlib.sha1(ds.load_image(i).tobytes()).hexdigest()] = masks
    return table


def _detector(gt_table, transform):
    def detect(self, images, verbose=0):
        assert len(images) == self.config.BATCH_SIZE
        outs = []
        for im in images:
            masks = gt_table[hashlib.sha1(np.ascontiguousarray(im).tobytes()).hexdigest()]
            masks = np.stack([transform(masks[:, :, k]) for k in range(masks.shape[2])], -1)
            outs.append(result(list(np.moveaxis(masks, -1, 0)), [1] * masks.shape[2],
                               np.linspace(0.99, 0.9, masks.shape[2])))
        return outs
    return detect


def test_cli_evaluate_perfect_detector(tmp_path, dataset_dir, tiny_weights, monkeypatch, capsys):
    from mrcnn.model import MaskRCNN
    from phone.cli import main
    monkeypatch.setattr(MaskRCNN, "detect", _detector(_gt_by_image(dataset_dir), lambda m: m))
    code = main(["evaluate", "--dataset", str(dataset_dir), "--subset", "val", "--weights",
                 str(tiny_weights), "--config", TINY, "--out", str(tmp_path), "--quiet",
                 "--batch-size", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["num_images"] == 2
    assert sorted(r["image"] for r in report["images"]) == ["one.png", "two.png"]
    assert {r["image"]: r["gt_instances"] for r in report["images"]} == {"one.png": 2, "two.png": 1}
    for r in report["images"]:
        assert (r["mask_iou"], r["ap50"], r["ap50_95"]) == (1.0, 1.0, 1.0)
    assert report["mean"] == {"mask_iou": 1.0, "map50": 1.0, "map50_95": 1.0}
    assert [ln.split() for ln in out.splitlines() if ln.startswith("mean")] == [
        ["mean", "1.000", "1.000", "1.000"]]
    assert "one.png" in out and "two.png" in out
    # COCO-style mask AP (pycocotools) of a perfect detector: 1.0 at every IoU
    assert report["coco"] == {"mask_ap": 1.0, "mask_ap50": 1.0, "mask_ap75": 1.0}
    assert "COCO mask AP (pycocotools, segm): AP 1.000  AP50 1.000  AP75 1.000" in out


def test_cli_evaluate_degraded_detector(tmp_path, dataset_dir, tiny_weights, monkeypatch, capsys):
    """Predictions lose the top 40 % of each box's rows: IoU and AP computed
    independently here."""
    from mrcnn.model import MaskRCNN
    from phone.cli import main

    def cut(m):
        ys = np.where(m.any(axis=1))[0]
        out = m.copy()
        out[ys[0]:ys[0] + int(0.4 * len(ys))] = False
        return out
    gt = _gt_by_image(dataset_dir)
    monkeypatch.setattr(MaskRCNN, "detect", _detector(gt, cut))
    json_path = tmp_path / "sub" / "r.json"
    code = main(["evaluate", "--dataset", str(dataset_dir), "--subset", "val", "--weights",
                 str(tiny_weights), "--config", TINY, "--json", str(json_path), "--quiet"])
    assert code == 0, capsys.readouterr().err
    report = json.loads(json_path.read_text())
    thresholds = np.arange(0.5, 1.0, 0.05)
    expected = {}
    for masks in gt.values():
        cuts = [cut(masks[:, :, k]) for k in range(masks.shape[2])]
        union_gt, union_pred = masks.any(-1), np.any(cuts, axis=0)
        iou = (union_gt & union_pred).sum() / (union_gt | union_pred).sum()
        inst = [(c & masks[:, :, k]).sum() / (c | masks[:, :, k]).sum()
                for k, c in enumerate(cuts)]
        ap = np.mean([np.mean([i >= t for i in inst]) for t in thresholds])
        expected[masks.shape[:2]] = (iou, float(all(i >= 0.5 for i in inst)), ap)
    for r in report["images"]:
        shape = (64, 80) if r["image"] == "one.png" else (48, 48)
        iou, ap50, ap = expected[shape]
        assert r["mask_iou"] == pytest.approx(iou)
        assert r["ap50"] == pytest.approx(ap50)
        assert r["ap50_95"] == pytest.approx(ap)
        assert 0.5 < r["mask_iou"] < 0.7                     # really degraded
    assert report["mean"]["mask_iou"] == pytest.approx(np.mean([v[0] for v in expected.values()]))
    # every instance IoU is 0.6 (40 % of rows cut): COCO counts it a hit up to IoU 0.6,
    # so AP50 is 1 and AP75 is 0
    assert report["coco"]["mask_ap50"] == pytest.approx(1.0)
    assert report["coco"]["mask_ap75"] == pytest.approx(0.0)


def _one_png_iou_with_only_its_first_instance(gt):
    """one.png's union of both gt masks scored against its first mask alone."""
    masks = [m for m in gt.values() if m.shape[:2] == (64, 80)][0]
    return masks[:, :, 0].sum() / masks.any(-1).sum()


def test_cli_evaluate_via_file_replaces_the_default_annotations(tmp_path, dataset_dir,
                                                                tiny_weights, monkeypatch,
                                                                capsys):
    """--via FILE: ground truth from that file, not val/via_region_data.json.
    The detector returns the default annotations exactly; the other file
    keeps one.png's first phone only, so one.png scores IoU = |m0| / |m0 u m1|
    and two.png stays perfect."""
    from mrcnn.model import MaskRCNN
    from phone.cli import main
    gt = _gt_by_image(dataset_dir)
    monkeypatch.setattr(MaskRCNN, "detect", _detector(gt, lambda m: m))
    via = json.loads((dataset_dir / "val" / "via_region_data.json").read_text())
    for entry in via.values():
        if entry["filename"] == "one.png":
            entry["regions"] = entry["regions"][:1]
    other = tmp_path / "corrected.json"
    other.write_text(json.dumps(via))
    code = main(["evaluate", "--dataset", str(dataset_dir), "--via", str(other), "--weights",
                 str(tiny_weights), "--config", TINY, "--out", str(tmp_path), "--quiet"])
    assert code == 0, capsys.readouterr().err
    report = {r["image"]: r for r in json.loads((tmp_path / "evaluation.json").read_text())["images"]}
    assert (report["one.png"]["gt_instances"], report["one.png"]["pred_instances"]) == (1, 2)
    assert report["one.png"]["mask_iou"] == pytest.approx(
        _one_png_iou_with_only_its_first_instance(gt))
    assert report["one.png"]["mask_iou"] < 0.5
    assert report["two.png"]["mask_iou"] == 1.0


def test_cli_evaluate_coco_class_keeps_only_that_class(tmp_path, dataset_dir, monkeypatch,
                                                       capsys):
    """--coco-class with an 81-class model: only detections of that COCO class
    count. The detector finds both of one.png's phones but labels the first
    "cell phone" (phone.coco_classes.CELL_PHONE) and the second "person"
    (1): one.png then scores as if only the first was found."""
    from mrcnn.model import MaskRCNN
    from phone import coco_classes as cc
    from phone.cli import main
    gt = _gt_by_image(dataset_dir)
    perfect = _detector(gt, lambda m: m)

    def labelled(self, images, verbose=0):
        outs = perfect(self, images, verbose)
        for r in outs:
            r["class_ids"] = np.array([cc.CELL_PHONE, 1][:len(r["class_ids"])], np.int32)
        return outs
    monkeypatch.setattr(MaskRCNN, "detect", labelled)
    model = MaskRCNN("inference", TinyCocoConfig(), str(tmp_path))
    model.save_weights(str(tmp_path / "coco.h5"))
    code = main(["evaluate", "--dataset", str(dataset_dir), "--weights", str(tmp_path / "coco.h5"),
                 "--config", TINY_COCO, "--coco-class", "cell phone", "--out", str(tmp_path),
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    report = {r["image"]: r for r in json.loads((tmp_path / "evaluation.json").read_text())["images"]}
    assert (report["one.png"]["gt_instances"], report["one.png"]["pred_instances"]) == (2, 1)
    assert report["one.png"]["mask_iou"] == pytest.approx(
        _one_png_iou_with_only_its_first_instance(gt))
    assert report["two.png"]["mask_iou"] == 1.0
    # the same file without --coco-class: one line naming the fix
    code = main(["evaluate", "--dataset", str(dataset_dir), "--weights", str(tmp_path / "coco.h5"),
                 "--config", TINY, "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "81 classes" in err and "--coco-class" in err


def test_cli_evaluate_missing_dataset(tmp_path, capsys):
    from phone.cli import main
    code = main(["evaluate", "--dataset", str(tmp_path / "nope"), "--weights", "x.h5"])
    err = capsys.readouterr().err
    assert code == 2 and str(tmp_path / "nope") in err and "Traceback" not in err
