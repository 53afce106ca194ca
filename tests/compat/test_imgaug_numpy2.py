"""imgaug 0.4 imports under NumPy 2 in both import orders, in fresh
interpreters of this virtual environment (Mask_RCNN/mrcnn_imgaug_compat.py,
installed by `make venv`)."""
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# np.sctypes of NumPy 1.26 on x86-64 Linux (hand-copied from its output;
# NumPy 2 names float128/complex256 "longdouble"/"clongdouble": same types).
NUMPY1_LINUX_X86_64 = (
    "{'int': [np.int8, np.int16, np.int32, np.int64], "
    "'uint': [np.uint8, np.uint16, np.uint32, np.uint64], "
    "'float': [np.float16, np.float32, np.float64, np.float128], "
    "'complex': [np.complex64, np.complex128, np.complex256], "
    "'others': [bool, object, bytes, str, np.void]}")


def run_python(code, **env):
    e = dict(os.environ)
    # the worktree's modules first (as the test process sees them)
    e["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "Mask_RCNN"), REPO] + [
        p for p in e.get("PYTHONPATH", "").split(os.pathsep) if p])
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], env=e, cwd="/",
                          capture_output=True, text=True, timeout=300)


IS_X86_64_LINUX = sys.platform.startswith("linux") and os.uname().machine == "x86_64"
SHOW = ("import numpy as np; print(list(np.sctypes), "
        + ("np.sctypes == " + NUMPY1_LINUX_X86_64 if IS_X86_64_LINUX else "True") + ")")


@pytest.mark.parametrize("order", [
    "import imgaug.augmenters as iaa; import mrcnn.model",
    "import mrcnn.model; import imgaug.augmenters as iaa",
])
def test_both_import_orders_in_a_fresh_interpreter(order):
    r = run_python(order + "; " + SHOW + "; print(iaa.Fliplr(1.0).augment_image("
                   "np.arange(6, dtype=np.uint8).reshape(2, 3)).tolist())")
    assert r.returncode == 0, r.stderr[-2000:] + (
        "\n(imgaug first needs the start-up hook: run "
        "`python -m mrcnn_imgaug_compat install` or `make venv`)")
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "[[2, 1, 0], [5, 4, 3]]"
    assert lines[-2] == "['int', 'uint', 'float', 'complex', 'others'] True"


def test_numpy1_content_and_only_when_missing():
    import mrcnn_imgaug_compat as compat
    got = compat.numpy1_sctypes(np)
    assert list(got) == ["int", "uint", "float", "complex", "others"]
    assert got["others"] == [bool, object, bytes, str, np.void]
    assert got["int"][:4] == [np.int8, np.int16, np.int32, np.int64]
    assert got["uint"][:4] == [np.uint8, np.uint16, np.uint32, np.uint64]
    assert got["float"][:3] == [np.float16, np.float32, np.float64]
    assert got["complex"][:2] == [np.complex64, np.complex128]
    # an existing attribute is never replaced
    r = run_python("import numpy as np, mrcnn_imgaug_compat as c; mine = {'int': []}; "
                   "np.sctypes = mine; print(c.restore_sctypes(), np.sctypes is mine)")
    assert r.stdout.strip() == "False True", r.stderr[-2000:]
    r = run_python("import numpy as np, mrcnn_imgaug_compat as c; "
                   "print(c.restore_sctypes(), c.restore_sctypes())")
    assert r.stdout.strip() == "True False", r.stderr[-2000:]


def test_turned_off_by_environment_variable():
    r = run_python("import mrcnn.model; import imgaug", MRCNN_IMGAUG_COMPAT="0")
    assert r.returncode != 0 and "sctypes" in r.stderr
    r = run_python("import numpy as np, mrcnn; print(hasattr(np, 'sctypes'))",
                   MRCNN_IMGAUG_COMPAT="0")
    assert r.stdout.strip() == "False"


def test_nothing_changes_until_imgaug_is_imported():
    r = run_python("import numpy as np, mrcnn.utils, sys; "
                   "print(hasattr(np, 'sctypes'), 'imgaug' in sys.modules)")
    assert r.stdout.strip() == "False False", r.stderr[-2000:]


def test_install_writes_a_pth_that_site_runs(tmp_path):
    import mrcnn_imgaug_compat as compat
    assert compat.main(["install", str(tmp_path)]) == 0
    pth = tmp_path / compat.PTH_NAME
    assert pth.read_text() == compat.PTH_LINE
    # a site dir with only our .pth: imgaug first, no mrcnn import at all
    r = run_python("import site, sys; site.addsitedir(%r); "
                   "import imgaug.augmenters; print('mrcnn' in sys.modules)"
                   % str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "False"
    assert compat.main(["uninstall", str(tmp_path)]) == 0
    assert not pth.exists()
