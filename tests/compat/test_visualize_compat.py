"""mrcnn.visualize called as Matterport's notebooks call it (Agg backend),
and display_weight_stats on a MaskRCNN."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import mrcnn.model as modellib  # noqa: E402
from mrcnn import utils, visualize  # noqa: E402
from matterport_style import InferenceConfig  # noqa: E402


def get_ax(rows=1, cols=1, size=4):
    _, ax = plt.subplots(rows, cols, figsize=(size * cols, size * rows))
    return ax


def test_weight_stats_of_a_maskrcnn(tmp_path, capsys):
    model = modellib.MaskRCNN("inference", InferenceConfig(), str(tmp_path))
    model.keras_model.get_layer("conv1").set_weights([
        np.zeros_like(w) for w in model.keras_model.get_layer("conv1").get_weights()])
    table = visualize.display_weight_stats(model)
    out = capsys.readouterr().out
    assert table[0] == ["WEIGHT NAME", "SHAPE", "MIN", "MAX", "STD"]
    rows = {r[0].split(" ")[0]: r for r in table[1:]}
    kernel = [r for n, r in rows.items() if n.startswith("conv1/kernel")]
    assert kernel and "*** dead?" in kernel[0][0]          # all zeros: flagged
    bias = [r for n, r in rows.items() if n.startswith("conv1/bias")]
    assert bias and "dead" not in bias[0][0]                # Conv2D bias: never flagged
    assert kernel[0][1] == str(model.keras_model.get_layer("conv1").get_weights()[0].shape)
    assert "conv1/kernel" in out and "WEIGHT NAME" in out
    n_weights = sum(len(layer.get_weights()) for layer in model.keras_model.layers
                    if layer.get_weights() and layer.__class__.__name__ not in ("InputLayer",))
    assert len(table) - 1 >= n_weights - 5


def test_visualize_helpers_matterport_calls(shapes):
    train, _ = shapes
    image = train.load_image(0)
    mask, class_ids = train.load_mask(0)
    bbox = utils.extract_bboxes(mask)
    names = train.class_names
    visualize.display_top_masks(image, mask, class_ids, names, limit=2)
    visualize.display_instances(image, bbox, mask, class_ids, names, ax=get_ax())
    scores = np.linspace(0.9, 0.6, len(class_ids))
    visualize.display_differences(image, bbox, class_ids, mask, bbox, class_ids, scores,
                                  mask, names, ax=get_ax())
    visualize.draw_boxes(image, boxes=bbox, refined_boxes=bbox + 1, masks=mask,
                         captions=[names[c] for c in class_ids], ax=get_ax())
    colors = visualize.random_colors(3)
    assert len(colors) == 3 and all(0 <= c <= 1 for col in colors for c in col)
    out = visualize.apply_mask(image.astype(np.float64).copy(), mask[:, :, 0], colors[0], alpha=0.5)
    m = mask[:, :, 0]
    np.testing.assert_allclose(out[m][:, 0], image[m][:, 0] * 0.5 + 0.5 * colors[0][0] * 255)
    np.testing.assert_array_equal(out[~m], image[~m])
    boxed = visualize.draw_box(image.copy(), bbox[0], (255, 0, 0))
    y1, x1, y2, x2 = bbox[0]
    assert (boxed[y1, x1:x2] == (255, 0, 0)).all()
    AP, precisions, recalls, overlaps = utils.compute_ap(
        bbox, class_ids, mask, bbox, class_ids, scores, mask)
    assert AP == 1.0
    visualize.plot_precision_recall(AP, precisions, recalls)
    visualize.plot_overlaps(class_ids, class_ids, scores, overlaps, names)
    visualize.display_images([image, image[::-1]], titles=["a", "b"], cols=2)
    visualize.display_table([["a", "b"], ["1", "2"]])
    plt.close("all")
