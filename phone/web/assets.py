"""The JavaScript runtime of the ``phone serve`` page: onnxruntime-web.

The page (index.html, app.js, style.css beside this file) has one
dependency, ``onnxruntime-web``, taken from the npm registry the ecosystem's
way: package.json and package-lock.json at the repository root pin it and
``npm ci`` fetches it into node_modules/. :func:`vendor_ort` then copies the
files the page loads, and only those, next to the page:

    vendor/ort.wasm.bundle.min.mjs      the runtime: ES module, WASM backend only,
                                        its Emscripten loader inlined
    vendor/ort-wasm-simd-threaded.wasm  the WebAssembly binary it fetches

Two callers, one function: ``setup.py`` (build_py: into the build folder, so
that wheels carry the files and the page works offline after ``pip
install``) and ``make venv`` (``python phone/web/assets.py``: into
phone/web/vendor/ of the checkout, for the editable install). Without npm
the copy is skipped with one line saying so; ``phone serve`` then refuses to
start with one line naming the missing files.

Standard library only: setup.py loads this file by its path, before
anything is installed.
"""
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

__all__ = ["ORT_PACKAGE", "ORT_FILES", "WEB_DIR", "VENDOR_DIR", "missing_vendor_files",
           "pinned_version", "vendor_ort"]

ORT_PACKAGE = "onnxruntime-web"
#: the files of node_modules/onnxruntime-web/dist that the page loads
ORT_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")
WEB_DIR = os.path.dirname(os.path.abspath(__file__))
VENDOR_DIR = os.path.join(WEB_DIR, "vendor")
#: the repository root in a checkout (where package.json is)
_ROOT = os.path.dirname(os.path.dirname(WEB_DIR))


def missing_vendor_files(vendor_dir=VENDOR_DIR):
    """Names of ORT_FILES that are not in ``vendor_dir`` (empty: complete)."""
    return [name for name in ORT_FILES if not os.path.isfile(os.path.join(vendor_dir, name))]


def pinned_version(root=_ROOT):
    """The onnxruntime-web version package.json pins (None without one)."""
    try:
        with open(os.path.join(root, "package.json"), encoding="utf-8") as f:
            return json.load(f).get("dependencies", {}).get(ORT_PACKAGE)
    except (OSError, ValueError):
        return None


def _installed_version(root):
    try:
        with open(os.path.join(root, "node_modules", ORT_PACKAGE, "package.json"),
                  encoding="utf-8") as f:
            return json.load(f).get("version")
    except (OSError, ValueError):
        return None


def _npm_ci(root, npm, say):
    """``npm ci`` in root (lock file versions, no install scripts: only dist
    files are used). True when it worked; otherwise one line said why."""
    exe = shutil.which(npm)
    if exe is None:
        say(f"phone serve page: {npm} not found, onnxruntime-web not bundled (install "
            f"Node.js + npm, then run 'make venv' or rebuild)")
        return False
    cmd = [exe, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        say(f"phone serve page: 'npm ci' in {root} failed ({e}); onnxruntime-web not bundled")
        return False
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        say(f"phone serve page: 'npm ci' in {root} failed (exit {proc.returncode}: "
            f"{lines[-1].strip() if lines else 'no output'}); onnxruntime-web not bundled")
        return False
    return True


def _copy_atomic(src, dst):
    """Copy src to dst through a temp file + rename (readers never see half
    a file), with ordinary permissions (0o666 minus the umask)."""
    parent = os.path.dirname(dst)
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix="." + os.path.basename(dst) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def vendor_ort(dest=VENDOR_DIR, root=_ROOT, npm="npm", say=None):
    """Copy the page's onnxruntime-web files (ORT_FILES) from
    ``root``/node_modules into ``dest``, running ``npm ci`` first when
    node_modules lacks the version package.json pins.

    Returns the list of files now in ``dest`` (all of ORT_FILES), or []
    when they could not be provided (no package.json, no npm, npm ci
    failed): then ``say`` (default: stderr) got one line saying why.
    """
    say = say or (lambda m: print(m, file=sys.stderr))
    want = pinned_version(root)
    if want is None:
        say(f"phone serve page: no package.json pinning {ORT_PACKAGE} in {root}; "
            f"onnxruntime-web not bundled")
        return []
    if _installed_version(root) != want and not _npm_ci(root, npm, say):
        return []
    have = _installed_version(root)
    if have != want:
        say(f"phone serve page: node_modules has {ORT_PACKAGE} {have}, package.json pins "
            f"{want}; onnxruntime-web not bundled")
        return []
    dist = os.path.join(root, "node_modules", ORT_PACKAGE, "dist")
    missing = [n for n in ORT_FILES if not os.path.isfile(os.path.join(dist, n))]
    if missing:
        say(f"phone serve page: {dist} lacks {', '.join(missing)}; onnxruntime-web not bundled")
        return []
    copied = []
    for name in ORT_FILES:
        src, dst = os.path.join(dist, name), os.path.join(dest, name)
        if not (os.path.isfile(dst) and filecmp.cmp(src, dst, shallow=False)):
            _copy_atomic(src, dst)
        copied.append(dst)
    return copied


def main(argv=None):
    """``python phone/web/assets.py [DEST]``: vendor the runtime into DEST
    (default phone/web/vendor). Exit 0 also without npm (the line printed
    says so): the Python package works without the page."""
    argv = sys.argv[1:] if argv is None else argv
    dest = argv[0] if argv else VENDOR_DIR
    files = vendor_ort(dest)
    if files:
        print(f"phone serve page: {ORT_PACKAGE} {pinned_version()} -> {dest} "
              f"({sum(os.path.getsize(f) for f in files) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
