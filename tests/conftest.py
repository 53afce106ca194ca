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
