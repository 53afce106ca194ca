"""`pip install .` (not editable), then from another folder: the commands
work with what the package installed (no checkout, no repository paths).

The install goes to a --target folder (--no-deps: the dependencies are the
test environment's); PYTHONPATH puts it first, so `import phone` is the
installed copy, as in a fresh virtual environment.
"""
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--no-build-isolation", "--target", str(target), str(REPO)],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, TMPDIR=str(build)))
    assert r.returncode == 0, r.stderr[-2000:]
    return target


def _run(installed, cwd, *args):
    env = dict(os.environ, PYTHONPATH=str(installed), TF_CPP_MIN_LOG_LEVEL="2")
    for k in ("PHONE_OUTPUTS", "PHONE_DEBUG"):
        env.pop(k, None)
    return subprocess.run([sys.executable] + list(args), cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=600)


def test_installed_package_is_used_and_carries_its_data(installed, tmp_path):
    r = _run(installed, tmp_path, "-c",
             "import phone, mrcnn; from phone import paths; "
             "print(phone.__file__); print(mrcnn.__file__); print(paths.checkout_root()); "
             "print(paths.bundled_dataset_dir()); print(paths.default_logs_dir())")
    assert r.returncode == 0, r.stderr
    phone_file, mrcnn_file, root, data, logs = r.stdout.split("\n")[:5]
    assert phone_file.startswith(str(installed)) and mrcnn_file.startswith(str(installed))
    assert root == "None" and logs == str(tmp_path / "logs")
    assert sorted(p.name for p in pathlib.Path(data).glob("*/*.png")) == sorted(
        p.name for p in (REPO / "datasets" / "phone").glob("*/*.png"))
    assert (pathlib.Path(data) / "train" / "via_region_data.json").is_file()


def test_demo_help_and_segment_from_another_folder(installed, tmp_path):
    r = _run(installed, tmp_path, "-m", "phone", "demo", "--help")
    assert r.returncode == 0 and "--steps" in r.stdout, r.stderr
    shipped = installed / "phone" / "models" / "mask_rcnn_phone.h5"
    assert shipped.is_file(), "the shipped model is not in the installed package"
    frame = REPO / "datasets" / "phone" / "val" / "C_01_08_000.png"
    r = _run(installed, tmp_path, "-m", "phone", "segment", "--image", str(frame),
             "--out", "o")
    assert r.returncode == 0, r.stderr
    assert f"Weights: {shipped}" in r.stderr and "shipped" in r.stderr
    assert (tmp_path / "o" / "C_01_08_000_mask.png").is_file()
    assert not (REPO / "o").exists()
