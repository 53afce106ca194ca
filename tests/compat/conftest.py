"""Fixtures of the Matterport compatibility suite (the Matterport-style
classes live in matterport_style.py)."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from matterport_style import shapes_datasets  # noqa: E402


@pytest.fixture
def shapes():
    """(train, val) ShapesDataset, prepared: 6 and 2 images of 64x64."""
    return shapes_datasets()
