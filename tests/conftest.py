"""Suite-wide set-up: headless matplotlib, quiet TensorFlow, a throw-away
user cache ($MRCNN_HOME) for every test, mrcnn, phone and the rest alike, and
the fake cameras of tests/fakecam (``import fakecam``; fixture
``fake_cameras``)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakecam"))
import fakecam  # noqa: E402

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Downloads and "auto" precision decisions of the tests go to a throw-away
# user cache, never to ~/.cache/mrcnn (mrcnn.core.download.cache_dir).
if "MRCNN_HOME" not in os.environ:
    import atexit
    import shutil
    import tempfile
    os.environ["MRCNN_HOME"] = tempfile.mkdtemp(prefix="mrcnn_home_tests_")
    atexit.register(shutil.rmtree, os.environ["MRCNN_HOME"], True)


@pytest.fixture
def fake_cameras():
    """fake_cameras({index: video}) makes only those camera indices exist in
    this process (cv2.VideoCapture replaced) until the test ends."""
    restores = []

    def install(cameras):
        restores.append(fakecam.install(cameras))
    yield install
    for restore in reversed(restores):
        restore()


@pytest.fixture(autouse=True, scope="module")
def _op_determinism_not_left_on(request):
    """TensorFlow op determinism is process-wide: a module that turns it on
    must turn it off again, or the modules after it run differently under
    `make test` than alone."""
    yield
    if "tensorflow" in sys.modules:
        from tensorflow.python.framework import config as tf_config
        assert not tf_config.is_op_determinism_enabled(), \
            f"{request.module.__name__} left TensorFlow op determinism on"


# The longest modules of a full run (summed setup + call seconds, 2-core AMD
# EPYC, one process), longest first. `make test` runs with pytest-xdist,
# one worker per core, whole modules per worker (--dist loadfile), and a
# worker takes the next module in collection order: starting the long ones
# first keeps both workers busy to the end instead of leaving one module of
# three minutes to run alone. Only the order changes; a module missing from
# the list runs after these, in the usual order. Refresh from
# `pytest --durations=0` when the ranking in tests/README.md changes.
LONGEST_MODULES = (
    "phone/test_export.py",              # 194 s
    "phone/test_distributed.py",         # 186 s
    "test_notebooks.py",                 # 183 s
    "mrcnn/test_model_learns.py",        # 131 s
    "phone/test_demo.py",                # 117 s
    "phone/test_annotate.py",            # 107 s
    "mrcnn/test_multi_device.py",        #  87 s
    "robustness/test_interruptions.py",  #  84 s
    "phone/test_phone_model.py",         #  83 s
    "compat/test_matterport_workflows.py",
    "test_install_wheel.py",
    "mrcnn/test_end_to_end.py",
    "mrcnn/test_training_features.py",
    "mrcnn/test_mixed_precision.py",
    "phone/test_phone_learning.py",
)


def pytest_collection_modifyitems(config, items):
    """Modules of LONGEST_MODULES first, in its order; tests keep their
    order inside a module (module fixtures are built once either way)."""
    here = os.path.dirname(os.path.abspath(__file__))
    rank = {os.path.join(here, *name.split("/")): i for i, name in enumerate(LONGEST_MODULES)}
    gone = [name for name in LONGEST_MODULES if not os.path.isfile(os.path.join(here, name))]
    if gone:
        raise pytest.UsageError(f"tests/conftest.py LONGEST_MODULES names missing files: {gone}")
    first = len(rank)
    items[:] = sorted(items, key=lambda item: rank.get(str(item.path), first))
