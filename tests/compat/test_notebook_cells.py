"""What a Jupyter cell shows when it ends with a Matterport call, run in a
real kernel (nbclient): ``model.load_weights(...)`` shows nothing (it returns
None, as Matterport's), ``visualize.display_instances(...)`` shows its figure
once (with or without ``ax=``), ``display_weight_stats`` its table once, and a
figure kept in a variable still shows in a later cell."""
import importlib.util
import pathlib

import nbformat
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
COMPAT = pathlib.Path(__file__).resolve().parent

pytestmark = pytest.mark.slow

SETUP = f"""\
%matplotlib inline
import sys
sys.path.insert(0, {str(COMPAT)!r})
import numpy as np
import matplotlib.pyplot as plt
import mrcnn.model as modellib
from mrcnn import visualize
from matterport_style import InferenceConfig
image = np.full((64, 64, 3), 120, np.uint8)
masks = np.zeros((64, 64, 2), bool)
masks[10:30, 10:30, 0] = True
masks[35:60, 30:55, 1] = True
boxes = np.array([[10, 10, 30, 30], [35, 30, 60, 55]])
class_ids = np.array([1, 2])
names = ["BG", "square", "circle", "triangle"]
"""

# (tag, source): the tag names the cell in the assertions below
CELLS = [
    ("setup", SETUP),
    ("instances", "visualize.display_instances(image, boxes, masks, class_ids, names)"),
    ("instances_ax", "fig_ax, ax = plt.subplots(1, figsize=(4, 4))\n"
                     "visualize.display_instances(image, boxes, masks, class_ids, names, ax=ax)"),
    ("kept", "fig = visualize.display_instances(image, boxes, masks, class_ids, names)"),
    ("later", "fig"),
    ("model", "model = modellib.MaskRCNN('inference', InferenceConfig(), 'logs')\n"
              "model.keras_model.save_weights('w.h5')"),
    ("load", "model.load_weights('w.h5', by_name=True)"),
    ("loaded", "print(len(model.loaded_layer_names), 'conv1' in model.loaded_layer_names)"),
    ("stats", "visualize.display_weight_stats(model)"),
    ("table", "visualize.display_table([['A', 'B'], [1, 2]])"),
]


def _runner():
    spec = importlib.util.spec_from_file_location(
        "run_notebooks", REPO / "notebooks" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """{tag: outputs of that cell} of the notebook above, executed."""
    folder = tmp_path_factory.mktemp("cells")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for _, src in CELLS]
    path = folder / "cells.ipynb"
    nbformat.write(nb, str(path))
    done = _runner().execute_notebook(path, out_path="", timeout=300, cwd=str(folder))
    return {tag: cell.outputs for (tag, _), cell in zip(CELLS, done.cells)}


def _kinds(outputs):
    """[(output_type, sorted mime types or stream name)] of one cell."""
    return [(o.output_type, o.get("name") or tuple(sorted(o.get("data", {}))))
            for o in outputs]


def _pngs(outputs):
    return sum("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.parametrize("tag", ["instances", "instances_ax", "kept"])
def test_display_instances_shows_its_figure_once(cells, tag):
    assert _pngs(cells[tag]) == 1, _kinds(cells[tag])
    # no "<Figure size ...>" text either (the Out[] of a returned Figure)
    assert not [o for o in cells[tag] if o.output_type == "execute_result"], _kinds(cells[tag])


def test_a_kept_figure_shows_in_a_later_cell(cells):
    assert _pngs(cells["later"]) == 1, _kinds(cells["later"])


def test_load_weights_cell_shows_nothing(cells):
    assert cells["load"] == [], _kinds(cells["load"])
    text = "".join(o.get("text", "") for o in cells["loaded"])
    count, has_conv1 = text.split()
    assert int(count) > 20 and has_conv1 == "True"


def test_weight_stats_and_table_show_once(cells):
    for tag in ("stats", "table"):
        html = [o for o in cells[tag] if "text/html" in o.get("data", {})]
        assert len(html) == 1 and "<table>" in html[0]["data"]["text/html"], _kinds(cells[tag])
        assert len(cells[tag]) == 1, _kinds(cells[tag])
    assert "conv1/kernel" in cells["stats"][0]["data"]["text/html"]
