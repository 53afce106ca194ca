"""The import graph of phone/ and mrcnn/ has no cycle, and installed
packages never edit sys.path (issue: a library with thin commands).

Every import statement counts, also those inside functions: a cycle hidden
behind a function-level import is still a cycle in the design. Edges are
resolved to the project's own modules; an import of a package's submodule
(``from phone import paths``) points at that submodule.
"""
import ast
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = {"phone": ROOT / "phone", "mrcnn": ROOT / "Mask_RCNN" / "mrcnn"}
#: the one bootstrap of scripts run from a checkout (never imported by the package)
SCRIPT_BOOTSTRAP = {"phone._script"}


def project_modules():
    mods = {}
    for pkg, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [pkg] + list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def imports_of(name, path, modules):
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            targets = [f"{mod}.{a.name}" for a in node.names] + [mod]
        else:
            continue
        for t in targets:
            # the longest project module that the import names
            parts = t.split(".")
            for k in range(len(parts), 0, -1):
                cand = ".".join(parts[:k])
                if cand in modules and cand != name:
                    found.add(cand)
                    break
    return found


def graph():
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()
            if name not in SCRIPT_BOOTSTRAP}


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_graph_sees_function_level_and_relative_imports(tmp_path):
    modules = project_modules()
    edges = graph()
    # function-level import: phone.segmenter imports phone.weights inside check_weights_for_config
    assert "phone.weights" in edges["phone.segmenter"]
    # relative import inside mrcnn
    assert "mrcnn.core.fileio" in edges["mrcnn.weights"]
    assert "phone.commands.segment" in modules


def test_no_import_cycles():
    found = cycles(graph())
    assert found == [], f"import cycles: {found}"


def test_library_never_imports_the_command_layer():
    edges = graph()
    bad = {m: sorted(t for t in targets if t.startswith(("phone.commands", "phone.cli")))
           for m, targets in edges.items()
           if not m.startswith(("phone.commands", "phone.cli", "phone.__main__"))}
    assert {m: t for m, t in bad.items() if t} == {}


def test_mrcnn_never_imports_phone():
    edges = graph()
    assert {m: sorted(t) for m, t in edges.items()
            if m.startswith("mrcnn") and any(x.startswith("phone") for x in t)} == {}


@pytest.mark.parametrize("pkg", sorted(PACKAGES))
def test_installed_packages_do_not_edit_sys_path(pkg):
    offenders = []
    for path in PACKAGES[pkg].rglob("*.py"):
        rel = os.path.relpath(path, ROOT)
        if rel == os.path.join("phone", "_script.py"):
            continue
        tree = ast.parse(path.read_text(), rel)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr == "path"
                    and isinstance(node.value, ast.Name) and node.value.id == "sys"):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
