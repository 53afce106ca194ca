"""The wheel, built from the sdist and installed with its dependencies into a new virtual environment,
works from another folder: imgaug imported before mrcnn (Matterport's
coco.py order: the wheel's start-up file restores np.sctypes), `phone
--help`, `phone segment --image F --out O` with the shipped model. No extra
is installed there, so it also shows that every `phone X --help` works
without the optional packages and that a missing one is one line naming the
extra.

The dependencies come from the same package index and pip cache as the
suite's own environment (``make venv`` filled the cache, so nothing large is
downloaded again). Slow: a few minutes on two cores.
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cmd, cwd, timeout=1200, env=None):
    e = dict(os.environ, **(env or {}))
    for k in ("PYTHONPATH", "PHONE_OUTPUTS", "PHONE_DEBUG", "VIRTUAL_ENV"):
        e.pop(k, None)
    return subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=e, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """The way a package index delivers it: an sdist of the checkout, a wheel
    built from that sdist alone (so the sdist must carry everything the build
    needs, package-lock.json included), the wheel installed into a new venv."""
    # The sdist is made from a copy of the files git knows (tracked or not
    # ignored): the checkout's own egg-info/SOURCES.txt would otherwise add
    # every file an earlier build listed, whatever MANIFEST.in says now.
    src = tmp_path_factory.mktemp("src")
    r = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO)
    assert r.returncode == 0, r.stderr
    for name in filter(None, r.stdout.split("\0")):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    sdists = tmp_path_factory.mktemp("sdist")
    r = _run([sys.executable, "setup.py", "-q", "sdist", "-d", sdists], src)
    assert r.returncode == 0, r.stderr[-2000:]
    (sdist,) = sdists.glob("mrcnn*phone-*.tar.gz")
    wheels = tmp_path_factory.mktemp("wheels")
    r = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
              "-w", wheels, sdist], tmp_path_factory.mktemp("b"))
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("mrcnn_phone-*.whl")
    env_dir = tmp_path_factory.mktemp("venv")
    r = _run([sys.executable, "-m", "venv", env_dir], env_dir)
    assert r.returncode == 0, r.stderr[-2000:]
    py = env_dir / "bin" / "python"
    r = _run([py, "-m", "pip", "install", "-q", wheel], env_dir, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    return env_dir


def test_the_wheel_brings_its_dependencies_and_works_from_another_folder(venv, tmp_path):
    py = venv / "bin" / "python"
    r = _run([py, "-c", "import imgaug.augmenters as iaa; import mrcnn.model; import phone; "
              "print(iaa.Fliplr(0.5).__class__.__name__, phone.__file__)"], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    name, where = r.stdout.split()
    assert name == "Fliplr" and where.startswith(str(venv))      # the installed copy
    # PEP 639 licence metadata: the SPDX expression, and LICENSE itself in the dist-info
    r = _run([py, "-c", "import importlib.metadata as m; d = m.distribution('mrcnn-phone'); "
              "lic = next(f for f in d.files if f.name == 'LICENSE'); "
              "print(d.metadata['License-Expression']); print(lic.name); "
              "print('CC BY 4.0' in lic.read_text())"],
             tmp_path)
    assert r.stdout.split("\n")[:3] == ["MIT AND CC-BY-4.0", "LICENSE", "True"], r.stderr[-2000:]
    r = _run([venv / "bin" / "phone", "--help"], tmp_path)
    assert r.returncode == 0 and "segment" in r.stdout and "train" in r.stdout, r.stderr
    frame = REPO / "datasets" / "phone" / "val" / "C_01_08_000.png"
    r = _run([venv / "bin" / "phone", "segment", "--image", frame, "--out", "o"], tmp_path,
             env={"TF_CPP_MIN_LOG_LEVEL": "2"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "the model shipped with phone" in r.stderr
    import cv2
    mask = cv2.imread(str(tmp_path / "o" / "C_01_08_000_mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (128, 128) and 2500 < int((mask > 0).sum()) < 3700   # 3,091 px


def test_help_of_every_command_without_the_optional_packages(venv, tmp_path):
    py = venv / "bin" / "python"
    r = _run([py, "-c", "import importlib.util as u; "
              "print([m for m in ('tf2onnx', 'onnxruntime', 'nbclient', 'pytest', 'torch', 'ray') "
              "if u.find_spec(m)])"], tmp_path)
    assert r.stdout.strip() == "[]", r.stdout      # the optional packages really are absent
    from phone.commands import COMMANDS
    names = [m.__name__.rsplit(".", 1)[1] for m in COMMANDS]
    assert len(names) == 8
    for name in names:
        r = _run([venv / "bin" / "phone", name, "--help"], tmp_path)
        assert r.returncode == 0, f"phone {name} --help: {r.stderr[-2000:]}"
        assert r.stdout.startswith(f"usage: phone {name}") and not r.stderr, r.stderr


def test_a_missing_optional_package_is_one_line_naming_the_extra(venv, tmp_path):
    r = _run([venv / "bin" / "phone", "export", "--format", "onnx", "--out", "m.onnx"], tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "tf2onnx" in lines[0] and "pip install 'mrcnn-phone[export]'" in lines[0], lines
    assert not (tmp_path / "m.onnx").exists()



def test_the_serve_page_runtime_is_in_the_wheel_built_from_the_sdist(venv, tmp_path):
    """setup.py's build_py vendors onnxruntime-web from package-lock.json;
    the sdist carries the lock file, so the page's two runtime files are in
    the installed package, byte-equal to those `npm ci` put in the
    checkout's node_modules (make venv)."""
    r = _run([venv / "bin" / "python", "-c", "from phone.web import assets; "
              "print(assets.VENDOR_DIR); print(assets.ORT_FILES)"], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    where = pathlib.Path(r.stdout.splitlines()[0])
    assert str(where).startswith(str(venv)), where                 # the installed copy
    dist = REPO / "node_modules" / "onnxruntime-web" / "dist"
    for name in ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm"):
        assert name in r.stdout
        assert (where / name).read_bytes() == (dist / name).read_bytes(), name
