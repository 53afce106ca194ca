"""The one bootstrap of the scripts inside phone/ (``cd phone && python
phone.py train ...``, ``python phone/realtime.py ...``), for a checkout used
without ``pip install``.

Run as a script, Python puts phone/ itself first on sys.path, where
phone/phone.py would shadow the phone package. Importing this module (it is
found as a top-level module for that same reason) drops phone/ from
sys.path and puts the repository root (and Mask_RCNN/, for ``import mrcnn``
without an install) first. Installed packages never import it.
"""
import importlib
import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))
_ROOT = os.path.dirname(_HERE)

sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.getcwd()) != _HERE]
for _p in (os.path.join(_ROOT, "Mask_RCNN"), _ROOT):
    if os.path.isdir(_p) and _p not in sys.path:
        sys.path.insert(0, _p)
_mod = sys.modules.get("phone")
if _mod is not None and not hasattr(_mod, "__path__"):
    del sys.modules["phone"]  # phone/phone.py, imported under the package's name


def run_command(command=None, argv=None):
    """``phone [command] ARGS`` with ARGS from sys.argv; returns the exit status."""
    main = importlib.import_module("phone.commands").main
    argv = list(sys.argv[1:] if argv is None else argv)
    return main(([command] if command else []) + argv)
