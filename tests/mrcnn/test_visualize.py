"""Tests for mrcnn.visualize (headless)."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402

from mrcnn import visualize  # noqa: E402
from mrcnn.visualize import VisualizeError  # noqa: E402

CLASS_NAMES = ["BG", "phone", "cup"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _rects(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _polys(ax):
    return [p for p in ax.patches if isinstance(p, Polygon)]


def _two_instances(h=40, w=60):
    """Image, boxes, masks, class_ids for two disjoint rectangular blobs."""
    image = np.full((h, w, 3), 100, np.uint8)
    masks = np.zeros((h, w, 2), bool)
    masks[5:15, 5:20, 0] = True
    masks[20:35, 30:50, 1] = True
    boxes = np.array([[5, 5, 15, 20], [20, 30, 35, 50]], np.int32)
    class_ids = np.array([1, 2], np.int32)
    return image, boxes, masks, class_ids


# ---------------------------------------------------------------- apply_mask

def test_apply_mask_blends_only_masked_pixels_in_place():
    image = np.full((4, 5, 3), 100, np.uint8)
    image[0, 0] = (10, 20, 30)
    before = image.copy()
    mask = np.zeros((4, 5), bool)
    mask[1, 2] = mask[3, 4] = True
    out = visualize.apply_mask(image, mask, (1.0, 0.5, 0.0), alpha=0.5)
    assert out is image  # Matterport: modified in place and returned
    assert out.dtype == np.uint8 and out.shape == (4, 5, 3)
    # R: 100*0.5 + 0.5*1.0*255 = 177.5 -> 177 ; G: 50 + 63.75 = 113.75 -> 113 ; B: 50
    assert out[1, 2].tolist() == [177, 113, 50]
    assert out[3, 4].tolist() == [177, 113, 50]
    untouched = ~mask
    assert np.array_equal(out[untouched], before[untouched])


def test_apply_mask_float_exact_and_not_inplace():
    image = np.zeros((3, 3, 3), np.float64)
    image[..., 0] = 40.0
    mask = np.eye(3, dtype=np.uint8)
    out = visualize.apply_mask(image, mask, (0.2, 0.0, 1.0), alpha=0.25, inplace=False)
    assert out is not image and np.all(image[..., 0] == 40.0) and np.all(image[..., 1:] == 0)
    # 40*0.75 + 0.25*0.2*255 = 30 + 12.75
    assert out[1, 1, 0] == pytest.approx(42.75)
    assert out[1, 1, 2] == pytest.approx(0.25 * 255)
    assert out[0, 1].tolist() == [40.0, 0.0, 0.0]


def test_apply_mask_rejects_wrong_mask_shape():
    with pytest.raises(VisualizeError, match="mask"):
        visualize.apply_mask(np.zeros((4, 4, 3), np.uint8), np.ones((3, 4)), (1, 0, 0))


# ------------------------------------------------------------- random_colors

def test_random_colors_distinct_in_range_and_seeded():
    colors = visualize.random_colors(7)
    assert len(colors) == 7
    assert len(set(colors)) == 7
    for c in colors:
        assert isinstance(c, tuple) and len(c) == 3
        assert all(0.0 <= v <= 1.0 for v in c)
        assert max(c) == pytest.approx(1.0)  # bright: V = 1
    dim = visualize.random_colors(5, bright=False)
    assert all(max(c) == pytest.approx(0.7) for c in dim)
    assert visualize.random_colors(6, seed=3) == visualize.random_colors(6, seed=3)
    assert sorted(visualize.random_colors(6, seed=3)) == sorted(visualize.random_colors(6))


# ---------------------------------------------------------- display_instances

def test_display_instances_zero_instances():
    image = np.zeros((20, 30, 3), np.uint8)
    fig = visualize.display_instances(
        image, np.zeros((0, 4)), np.zeros((20, 30, 0), bool), np.zeros((0,), np.int32),
        CLASS_NAMES, title="empty")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(_rects(ax)) == 0 and len(ax.texts) == 0
    assert ax.get_title() == "empty"


def test_display_instances_two_instances():
    image, boxes, masks, class_ids = _two_instances()
    colors = [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)]
    fig = visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES,
                                      scores=np.array([0.9, 0.8]), colors=colors)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    rects = _rects(ax)
    assert len(rects) == 2
    assert (rects[0].get_x(), rects[0].get_y(), rects[0].get_width(),
            rects[0].get_height()) == (5, 5, 15, 10)
    assert [t.get_text() for t in ax.texts] == ["phone 0.900", "cup 0.800"]
    assert len(_polys(ax)) == 2  # one outline per blob
    shown = np.asarray(ax.images[0].get_array())
    # 100*0.5 + 0.5*255 = 177.5 -> 177 in the red channel inside mask 0
    assert shown[10, 10].tolist() == [177, 50, 50]
    assert shown[25, 40].tolist() == [50, 50, 177]
    assert shown[0, 0].tolist() == [100, 100, 100]


def test_display_instances_options_and_given_ax():
    image, boxes, masks, class_ids = _two_instances()
    fig, ax = plt.subplots(1)
    out = visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES,
                                      ax=ax, show_bbox=False, show_mask=False,
                                      captions=["a", "b"])
    assert out is fig
    assert len(_rects(ax)) == 0
    assert [t.get_text() for t in ax.texts] == ["a", "b"]
    assert np.array_equal(np.asarray(ax.images[0].get_array()), image)


def test_display_instances_bad_masks():
    image, boxes, masks, class_ids = _two_instances()
    with pytest.raises(VisualizeError, match="masks"):
        visualize.display_instances(image, boxes, masks[:, :, :1], class_ids, CLASS_NAMES)


def test_show_only_when_interactive_and_own_figure(monkeypatch):
    calls = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append(1))
    image, boxes, masks, class_ids = _two_instances()
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES)
    assert calls == []  # not interactive
    monkeypatch.setattr(plt, "isinteractive", lambda: True)
    _, ax = plt.subplots(1)
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES, ax=ax)
    assert calls == []  # caller's axes: caller decides
    visualize.display_instances(image, boxes, masks, class_ids, CLASS_NAMES)
    assert calls == [1]


# ------------------------------------------------------- draw_instances_image

def test_draw_instances_image_changes_only_expected_regions():
    h, w = 120, 200
    image = np.full((h, w, 3), 60, np.uint8)
    masks = np.zeros((h, w, 2), bool)
    masks[40:60, 20:50, 0] = True
    masks[80:100, 120:160, 1] = True
    boxes = np.array([[40, 20, 60, 50], [80, 120, 100, 160]])
    class_ids = np.array([1, 2])
    before = image.copy()
    out = visualize.draw_instances_image(image, boxes, masks, class_ids, CLASS_NAMES,
                                         scores=[0.97, 0.5],
                                         colors=[(1.0, 0.0, 0.0), (0, 255, 0)])
    assert np.array_equal(image, before)  # input untouched
    assert out.dtype == np.uint8 and out.shape == (h, w, 3)

    allowed = masks.any(axis=2).copy()
    for y1, x1, y2, x2 in boxes:
        allowed[max(y1 - 2, 0):y2 + 3, max(x1 - 2, 0):x2 + 3] = True  # box + outline
        allowed[max(y1 - 30, 0):y1 + 1, max(x1 - 2, 0):x1 + 150] = True  # caption label
    changed = np.any(out != image, axis=2)
    assert changed.any()
    assert not np.any(changed & ~allowed)
    # Mask interior (away from outline/caption): 60*0.5 + 0.5*255 = 157.5 -> 158
    assert out[50, 35].tolist() == [158, 30, 30]
    assert out[90, 140].tolist() == [30, 158, 30]
    # Box outline has the instance colour.
    assert out[60, 35].tolist() == [255, 0, 0]
    # A caption label was drawn above box 0 (pixels there changed).
    assert changed[25:40, 20:60].any()


def test_draw_instances_image_no_bbox_is_pure_blend_and_empty():
    image, boxes, masks, class_ids = _two_instances()
    out = visualize.draw_instances_image(image, boxes, masks, class_ids, CLASS_NAMES,
                                         show_bbox=False, alpha=1.0,
                                         colors=[(0, 0, 1.0), (1.0, 1.0, 1.0)])
    changed = np.any(out != image, axis=2)
    assert np.array_equal(changed, masks.any(axis=2))
    assert out[10, 10].tolist() == [0, 0, 255]
    empty = visualize.draw_instances_image(image, np.zeros((0, 4)),
                                           np.zeros((40, 60, 0), bool), [], CLASS_NAMES)
    assert np.array_equal(empty, image) and empty is not image


# ---------------------------------------------------------------- mask_to_bw

def test_mask_to_bw_union_and_filters():
    masks = np.zeros((4, 5, 2), bool)
    masks[0, 0:3, 0] = True
    masks[0:2, 2, 1] = True
    masks[3, 4, 1] = True
    expected = np.array([[255, 255, 255, 0, 0],
                         [0, 0, 255, 0, 0],
                         [0, 0, 0, 0, 0],
                         [0, 0, 0, 0, 255]], np.uint8)
    bw = visualize.mask_to_bw(masks)
    assert bw.dtype == np.uint8 and np.array_equal(bw, expected)
    only_second = visualize.mask_to_bw(masks, class_ids=[1, 2], keep_class_ids=[2])
    assert np.array_equal(only_second > 0, masks[:, :, 1])
    assert not visualize.mask_to_bw(masks, [1, 2], keep_class_ids=[7]).any()
    empty = visualize.mask_to_bw(np.zeros((4, 5, 0), bool))
    assert empty.shape == (4, 5) and empty.dtype == np.uint8 and not empty.any()
    with pytest.raises(VisualizeError):
        visualize.mask_to_bw(masks, keep_class_ids=[1])


# ------------------------------------------------------------ other figures

def test_display_images_and_top_masks():
    fig = visualize.display_images([np.zeros((4, 4, 3))] * 3, titles=["a", "b", "c"], cols=2)
    assert len(fig.axes) == 3 and [a.get_title() for a in fig.axes] == ["a", "b", "c"]

    image, _, masks, _ = _two_instances()
    masks = np.concatenate([masks, masks[:, :, :1]], axis=2)
    masks[:, :, 2] = False
    masks[0:2, 0:2, 2] = True
    class_ids = np.array([1, 2, 1])  # area: class 1 = 150 + 4, class 2 = 300
    fig = visualize.display_top_masks(image, masks, class_ids, CLASS_NAMES, limit=3)
    assert len(fig.axes) == 4
    assert [a.get_title() for a in fig.axes] == ["H x W=40x60", "cup", "phone", "-"]
    phone_panel = np.asarray(fig.axes[2].images[0].get_array())
    assert phone_panel[10, 10] == 1 and phone_panel[0, 0] == 2 and phone_panel[30, 40] == 0


def test_plot_precision_recall():
    fig = visualize.plot_precision_recall(0.75, [1.0, 1.0, 0.5], [0.0, 0.5, 1.0])
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.lines) == 1
    assert list(ax.lines[0].get_xdata()) == [0.0, 0.5, 1.0]
    assert "AP@50 = 0.750" in ax.get_title()


def test_plot_overlaps_texts():
    overlaps = np.array([[0.9, 0.0, 0.1],
                         [0.2, 0.6, 0.0]])
    fig = visualize.plot_overlaps(np.array([1, 2, 1, 0]), np.array([1, 1]),
                                  np.array([0.95, 0.7]), overlaps, CLASS_NAMES)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 6
    assert texts[0] == "0.900\nmatch"
    assert texts[4] == "0.600\nwrong"
    assert texts[1] == "0.000\n"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["phone (0.95)", "phone (0.70)"]


def test_draw_boxes_artists():
    image = np.zeros((50, 50, 3), np.uint8)
    boxes = np.array([[5, 5, 20, 20], [25, 25, 40, 45], [0, 0, 0, 0]])
    refined = boxes + 2
    masks = np.zeros((50, 50, 3), bool)
    masks[6:10, 6:10, 0] = True
    fig = visualize.draw_boxes(image, boxes=boxes, refined_boxes=refined, masks=masks,
                               captions=["x", "y", "z"], visibilities=[2, 1, 1],
                               title="t")
    ax = fig.axes[0]
    # third box is all zeros: skipped entirely
    assert len(_rects(ax)) == 4
    assert len(ax.lines) == 2
    assert [t.get_text() for t in ax.texts] == ["x", "y"]
    assert len(_polys(ax)) == 1


def test_display_differences_captions():
    image, boxes, masks, class_ids = _two_instances()
    pred_masks = masks.copy()
    pred_masks[:, :, 1] = False
    pred_masks[20:35, 30:40, 1] = True  # half of GT 1 -> IoU 0.5
    # order deliberately by ascending score
    fig = visualize.display_differences(
        image, boxes, class_ids, masks,
        boxes[::-1].copy(), class_ids[::-1].copy(), np.array([0.6, 0.9]),
        pred_masks[:, :, ::-1].copy(), CLASS_NAMES, iou_threshold=0.5)
    ax = fig.axes[0]
    assert len(_rects(ax)) == 4
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["", "", "0.90 / 1.00", "0.60 / 0.50"]


def test_draw_rois_and_draw_box(capsys):
    image = np.zeros((40, 40, 3), np.uint8)
    rois = np.array([[2, 2, 12, 12], [20, 20, 30, 30]])
    refined = rois + 1
    mask = np.ones((2, 4, 4), np.float32)
    fig = visualize.draw_rois(image, rois, refined, mask, np.array([1, 0]), CLASS_NAMES)
    ax = fig.axes[0]
    assert len(_rects(ax)) == 3 and len(ax.lines) == 1
    assert [t.get_text() for t in ax.texts] == ["phone"]
    assert "Positive Ratio: 0.50" in capsys.readouterr().out

    img = np.zeros((10, 10, 3), np.uint8)
    out = visualize.draw_box(img, (2, 3, 7, 8), (255, 0, 0))
    assert out is img
    assert img[2, 5].tolist() == [255, 0, 0] and img[7, 5].tolist() == [255, 0, 0]
    assert img[5, 5].tolist() == [0, 0, 0] and img[0, 0].tolist() == [0, 0, 0]


# ------------------------------------------------------------- tables, stats

def test_display_table_text(capsys):
    text = visualize.display_table([["A", "LONGER"], [1, 2.5], ["xyz", None]])
    assert text == "A    LONGER\n1    2.5\nxyz  None"
    assert text in capsys.readouterr().out


def test_display_weight_stats_dense():
    keras = pytest.importorskip("keras")
    inp = keras.Input((3,))
    dense = keras.layers.Dense(2, name="probe")
    keras_model = keras.Model(inp, dense(inp))
    kernel = np.array([[1.0, -2.0], [0.5, 3.0], [0.0, 1.5]], np.float32)
    dense.set_weights([kernel, np.zeros(2, np.float32)])

    class Holder:
        pass

    holder = Holder()
    holder.keras_model = keras_model
    table = visualize.display_weight_stats(holder)
    assert table[0] == ["WEIGHT NAME", "SHAPE", "MIN", "MAX", "STD"]
    assert len(table) == 3
    k_row, b_row = table[1], table[2]
    assert "probe" in k_row[0] and "kernel" in k_row[0] and "***" not in k_row[0]
    assert k_row[1] == "(3, 2)"
    assert float(k_row[2]) == pytest.approx(-2.0)
    assert float(k_row[3]) == pytest.approx(3.0)
    assert float(k_row[4]) == pytest.approx(float(kernel.std()), abs=1e-4)
    assert b_row[1] == "(2,)" and "dead?" in b_row[0]

    kernel[0, 0] = 5000.0
    dense.set_weights([kernel, np.array([0.1, 0.2], np.float32)])
    table = visualize.display_weight_stats(keras_model)
    assert "Overflow?" in table[1][0] and "dead?" not in table[2][0]
