"""Suite-wide set-up: headless matplotlib, quiet TensorFlow, and a throw-away
user cache ($MRCNN_HOME) for every test, mrcnn, phone and the rest alike."""
import os

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
