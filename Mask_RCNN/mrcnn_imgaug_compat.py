"""Let imgaug 0.4 import under NumPy 2: restore ``numpy.sctypes``.

Why: imgaug 0.4.0 (the last release, 2020) reads ``np.sctypes`` at import
time; NumPy 2.0 removed that attribute, so ``import imgaug`` fails with
AttributeError. Nothing else in imgaug 0.4 needs NumPy 1: with the attribute
back, its augmenters (``to_deterministic``, ``HooksImages`` on masks, ...)
run under NumPy 2.

What: an import hook (a ``sys.meta_path`` finder) that, the moment
``imgaug`` is about to be imported, sets ``numpy.sctypes`` to exactly the
dict NumPy 1.x had on this platform -- only when NumPy does not have it. It
imports nothing and changes nothing until then, so interpreters that never
import imgaug are untouched.

How it is switched on, in both import orders:
    * ``make venv`` runs ``python -m mrcnn_imgaug_compat install``, which
      writes ``mrcnn_imgaug_compat.pth`` into site-packages: Python runs it at
      start-up and it installs the hook (covers ``import imgaug`` first, as
      Matterport's COCO sample does);
    * ``import mrcnn`` installs the hook too (covers ``mrcnn`` first, also
      where the .pth was not installed).

How to turn it off: set ``MRCNN_IMGAUG_COMPAT=0`` in the environment (the
hook is then never installed), or remove the start-up file with
``python -m mrcnn_imgaug_compat uninstall``.

Deliberately not a package module (no ``import mrcnn`` at start-up: that
would set TensorFlow's log level in every interpreter).
"""
import os
import sys

__all__ = ["ENV_VAR", "PTH_NAME", "numpy1_sctypes", "restore_sctypes",
           "install_hook", "enabled", "pth_path", "main"]

#: environment variable: "0" (or "false", "no", "off") turns the hook off
ENV_VAR = "MRCNN_IMGAUG_COMPAT"
#: the start-up file written into site-packages by ``install``
PTH_NAME = "mrcnn_imgaug_compat.pth"
# One line, run by Python's site module at start-up. It must never fail:
# a missing module (repository moved, package uninstalled) is skipped.
PTH_LINE = ("import importlib.util as _u; "
            "_u.find_spec('mrcnn_imgaug_compat') and "
            "__import__('mrcnn_imgaug_compat').install_hook()\n")


def enabled(environ=None):
    """False when the user turned the compatibility step off."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "1")
    return value.strip().lower() not in ("0", "false", "no", "off")


def numpy1_sctypes(np):
    """The ``np.sctypes`` dict NumPy 1.x built on this platform.

    Same rule as NumPy 1.x: signed/unsigned integers of 1 to 64 bytes and
    floats/complexes of 2 to 64 bytes that exist here (on x86-64 Linux:
    int8..int64, float16..float128, complex64..complex256), the pointer-sized
    integer if missing, and the five "others".
    """
    def existing(prefix, bits_list):
        return [getattr(np, "%s%d" % (prefix, b)) for b in bits_list
                if hasattr(np, "%s%d" % (prefix, b))]

    int_bytes = [1, 2, 4, 8, 16, 32, 64]
    float_bytes = [2, 4, 8, 10, 12, 16, 32, 64]
    sctypes = {
        "int": existing("int", [8 * b for b in int_bytes]),
        "uint": existing("uint", [8 * b for b in int_bytes]),
        "float": existing("float", [8 * b for b in float_bytes]),
        "complex": existing("complex", [16 * b for b in float_bytes]),
        "others": [bool, object, bytes, str, np.void],
    }
    intp = np.dtype("p").type
    if intp not in sctypes["int"]:
        size = np.dtype("p").itemsize
        at = sum(1 for t in sctypes["int"] if np.dtype(t).itemsize <= size)
        sctypes["int"].insert(at, intp)
        sctypes["uint"].insert(at, np.dtype("P").type)
    return sctypes


def restore_sctypes():
    """Sets ``numpy.sctypes`` (NumPy 1.x content) when NumPy lacks it.
    Returns True when it set it."""
    import numpy as np
    try:
        np.sctypes  # noqa: B018 (NumPy 1.x, or someone already set it)
        return False
    except AttributeError:
        np.sctypes = numpy1_sctypes(np)
        return True


class _ImgaugFinder(object):
    """sys.meta_path entry: restores np.sctypes just before ``imgaug`` is
    imported, then lets the normal finders import it."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "imgaug":
            restore_sctypes()
        return None

    def invalidate_caches(self):
        pass


def install_hook():
    """Installs the import hook once (no-op when turned off, or when imgaug
    is already imported). Returns True when the hook is in place."""
    if not enabled():
        return False
    if any(isinstance(f, _ImgaugFinder) or type(f).__name__ == "_ImgaugFinder"
           for f in sys.meta_path):
        return True
    if "imgaug" in sys.modules:
        return False
    sys.meta_path.insert(0, _ImgaugFinder())
    return True


def pth_path(site_dir=None):
    """Where ``install`` writes the start-up file: this interpreter's
    site-packages (purelib) unless site_dir is given."""
    if site_dir is None:
        import sysconfig
        site_dir = sysconfig.get_paths()["purelib"]
    return os.path.join(site_dir, PTH_NAME)


def main(argv=None):
    """``python -m mrcnn_imgaug_compat install|uninstall|status [SITE_DIR]``"""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in ("install", "uninstall", "status"):
        print("usage: python -m mrcnn_imgaug_compat install|uninstall|status "
              "[SITE_DIR]", file=sys.stderr)
        return 2
    path = pth_path(argv[1] if len(argv) > 1 else None)
    if argv[0] == "install":
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(PTH_LINE)
        os.replace(tmp, path)
        print("installed %s (turn off: %s=0)" % (path, ENV_VAR))
    elif argv[0] == "uninstall":
        if os.path.exists(path):
            os.remove(path)
            print("removed %s" % path)
        else:
            print("not installed: %s" % path)
    else:
        print("%s: %s; %s=%s" % (
            path, "installed" if os.path.exists(path) else "not installed",
            ENV_VAR, os.environ.get(ENV_VAR, "(unset)")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
