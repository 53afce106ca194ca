"""The Python API reference, generated from the code's signatures and docstrings.

``docs/hooks.py`` puts :func:`api_markdown` into the API page of the docs
site at build time. Docstrings are Matterport style (plain text, not
Markdown), so they go into ``text`` code blocks unchanged.

Importing ``mrcnn.model`` imports TensorFlow (several seconds); the result
is computed once per process.
"""
import functools
import importlib
import inspect
import os

from cli_reference import _fence, _portable, ensure_import_path

#: (the name users import, the names of the class members to show first;
#: every other public member follows in source order). A module entry lists
#: the public functions and classes of its __all__.
OBJECTS = (
    ("phone.PhoneModel", ("__init__", "segment", "detect", "train", "evaluate", "export",
                          "annotate")),
    ("mrcnn.model.MaskRCNN", ("__init__", "detect", "train", "load_weights", "save_weights",
                              "find_last", "get_imagenet_weights")),
    ("mrcnn.config.Config", ()),
    ("mrcnn.utils.Dataset", ()),
    ("mrcnn.visualize", ()),
)


def resolve(dotted):
    """The object a dotted name gives: ``pkg.mod.Name`` or ``pkg.mod``."""
    ensure_import_path()
    try:
        return importlib.import_module(dotted)
    except ImportError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _doc(obj):
    doc = inspect.getdoc(obj)
    return _fence(_portable(doc) if doc else "(no docstring)")


def _signature(obj, drop_first=False):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    if drop_first:
        params = list(sig.parameters.values())[1:]
        sig = sig.replace(parameters=params)
    return _portable(str(sig))


def _members(cls, first):
    """[(name, kind, function or property)] of cls's own public members:
    the names in ``first`` in that order, then the rest in source order."""
    found = []
    for name, value in vars(cls).items():
        if name.startswith("_") and name != "__init__":
            continue
        if isinstance(value, property):
            found.append((name, "property", value))
        elif isinstance(value, staticmethod):
            found.append((name, "staticmethod", value.__func__))
        elif isinstance(value, classmethod):
            found.append((name, "classmethod", value.__func__))
        elif inspect.isfunction(value):
            found.append((name, "method", value))
    order = {name: i for i, name in enumerate(first)}
    return sorted(found, key=lambda m: order.get(m[0], len(order)))  # stable: source order


def _class_markdown(title, cls, first):
    short = title.rpartition(".")[2]
    out = [f"## {title}\n",
           _fence(f"class {short}{_signature(cls)}", "python"),
           _doc(cls)]
    for name, kind, member in _members(cls, first):
        if name == "__init__":
            continue                            # its signature is the class's
        out.append(f"### {short}.{name}\n")
        if kind == "property":
            out.append(f"*property*\n\n{_doc(member.fget)}")
            continue
        prefix = {"staticmethod": "@staticmethod\n", "classmethod": "@classmethod\n"}.get(kind, "")
        sig = _signature(member, drop_first=kind in ("method", "classmethod"))
        out.append(_fence(f"{prefix}{short}.{name}{sig}", "python"))
        out.append(_doc(member))
    defaults = [(n, v) for n, v in vars(cls).items() if n.isupper() and not callable(v)]
    if defaults:
        out.append(f"### {short} attributes and their defaults\n")
        out.append(_fence("\n".join(f"{n} = {_portable(repr(v))}" for n, v in defaults),
                          "python"))
    return "\n".join(out)


def _module_markdown(title, module):
    names = getattr(module, "__all__", None)
    if names is None:                           # its own public names, no re-exports
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", None) == module.__name__]
    out = [f"## {title}\n", _doc(module)]
    for name in names:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            out.append(f"### {title}.{name}\n")
            out.append(_fence(f"class {name}{_signature(obj)}", "python"))
            out.append(_doc(obj))
        elif callable(obj):
            out.append(f"### {title}.{name}\n")
            out.append(_fence(f"{name}{_signature(obj)}", "python"))
            out.append(_doc(obj))
    return "\n".join(out)


@functools.lru_cache(maxsize=None)
def api_markdown(objects=OBJECTS):
    """The reference as Markdown: a section per entry of ``objects``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")
    parts = []
    for title, first in objects:
        obj = resolve(title)
        if inspect.ismodule(obj):
            parts.append(_module_markdown(title, obj))
        else:
            parts.append(_class_markdown(title, obj, first))
    return "\n".join(parts)


if __name__ == "__main__":
    print(api_markdown())
