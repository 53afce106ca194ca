#!/usr/bin/env python3
"""Execute the notebooks headless with nbclient (``make notebooks``).

    python notebooks/run_notebooks.py                  # all, in place, default parameters
    python notebooks/run_notebooks.py mrcnn            # one (name with or without .ipynb)
    python notebooks/run_notebooks.py mrcnn -p NUM_IMAGES=1 -p OUTPUT_DIR='"/tmp/x"' --out-dir /tmp/nb

Each notebook takes its parameters from its first code cell, tagged
``parameters`` (papermill's convention). ``-p NAME=VALUE`` (VALUE a Python
literal) replaces the value of that assignment in the cell before the run;
an unknown NAME is an error. By default the executed notebook, outputs
included, is written back in place (atomically); ``--out-dir`` writes it
elsewhere.

The kernel is the Python running this script (a kernel spec made on the fly),
so the notebooks see the same virtual environment whatever other Jupyter
kernels are installed. The kernel starts in notebooks/, as Jupyter does.
"""
import argparse
import ast
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

#: execution order of ``make notebooks`` (train_phone leaves a checkpoint in
#: its own logs folder; no notebook needs another one's output)
NOTEBOOKS = ["mrcnn.ipynb", "inspect_phone_data.ipynb", "train_phone.ipynb",
             "inspect_phone_model.ipynb", "Real_time_segment.ipynb", "annotate_phone.ipynb"]

__all__ = ["NOTEBOOKS", "NotebookError", "parameters_cell", "notebook_parameters",
           "inject_parameters", "execute_notebook", "cell_text", "main"]


class NotebookError(RuntimeError):
    """A notebook that cannot be parametrised or that failed while running
    (one line: notebook, cell, error)."""


def parameters_cell(nb):
    """The first code cell tagged ``parameters`` (NotebookError if none)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    raise NotebookError("no code cell tagged 'parameters'")


def notebook_parameters(nb):
    """{name: value} of the parameters cell (values evaluated as literals)."""
    tree = ast.parse(parameters_cell(nb).source)
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def inject_parameters(nb, params):
    """Replace the values of ``params`` ({name: python value}) in the
    parameters cell, keeping the rest of each line (comments) as it is.

    Every name must already be assigned in the cell (on one line).
    """
    cell = parameters_cell(nb)
    lines = cell.source.split("\n")
    tree = ast.parse(cell.source)
    where = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            where[node.targets[0].id] = node
    unknown = sorted(set(params) - set(where))
    if unknown:
        raise NotebookError(f"unknown parameter(s) {', '.join(unknown)} (the notebook has "
                            f"{', '.join(sorted(where))})")
    for name, value in params.items():
        node = where[name].value
        if node.lineno != node.end_lineno:
            raise NotebookError(f"parameter {name} spans several lines; cannot replace it")
        i = node.lineno - 1
        line = lines[i]
        # col offsets are in UTF-8 bytes
        raw = line.encode("utf8")
        new = raw[:node.col_offset] + repr(value).encode("utf8") + raw[node.end_col_offset:]
        lines[i] = new.decode("utf8")
    cell.source = "\n".join(lines)
    # check the result still parses and gives the new values
    got = notebook_parameters(nb)
    for name, value in params.items():
        if got[name] != value:
            raise NotebookError(f"parameter {name}: injection gave {got[name]!r}")
    return nb


def cell_text(cell):
    """Everything a code cell printed or returned, as one string (stream
    text, text/plain results and error tracebacks)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.get("output_type") == "error":
            parts.append("\n".join(out.get("traceback", [])))
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts if p)


def _kernel_manager(kernel_dir):
    """A KernelManager whose 'python3' kernel is this interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    spec_dir = os.path.join(kernel_dir, "python3")
    os.makedirs(spec_dir, exist_ok=True)
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f",
                            "{connection_file}"],
                   "display_name": "Python 3 (ipykernel)", "language": "python",
                   "metadata": {"debugger": False}}, f)
    ksm = KernelSpecManager(kernel_dirs=[kernel_dir])
    return KernelManager(kernel_name="python3", kernel_spec_manager=ksm)


def execute_notebook(path, parameters=None, out_path=None, timeout=900, cwd=None,
                     env=None):
    """Run a notebook top to bottom and write it with its outputs.

    path: the .ipynb; parameters: {name: value} injected into the
    ``parameters`` cell; out_path: where the executed notebook goes (default:
    ``path``, in place; None-like "" skips writing); timeout: seconds per
    cell; cwd: kernel working folder (default: the notebook's folder);
    env: extra environment variables for the kernel.
    Returns the executed NotebookNode. Raises NotebookError naming the
    notebook, the failing cell and the error (the partly executed notebook is
    still written to out_path, to inspect).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = os.fspath(path)
    nb = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    kernel_dir = tempfile.mkdtemp(prefix="phone-kernel-")
    # The kernel's own stdout/stderr (TensorFlow's C++ log lines also reach the
    # notebook through ipykernel's capture) go to a log, shown when it dies.
    kernel_log = os.path.join(kernel_dir, "kernel.log")
    old_env = {}
    for k, v in (env or {}).items():
        old_env[k] = os.environ.get(k)
        os.environ[k] = str(v)
    error = None
    km = _kernel_manager(kernel_dir)
    try:
        client = NotebookClient(nb, timeout=timeout, km=km,
                                resources={"metadata": {"path": cwd or os.path.dirname(
                                    os.path.abspath(path))}})
        with open(kernel_log, "wb") as log:
            try:
                client.execute(stdout=log, stderr=log)
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
                lines = [ln for ln in str(e).splitlines() if ln.strip()]
                detail = lines[-1] if lines else str(e)
                if isinstance(e, DeadKernelError):
                    with open(kernel_log, "rb") as f:
                        tail = f.read()[-2000:].decode("utf8", "replace").strip()
                    detail += f" (kernel log: ...{tail[-300:]})" if tail else ""
                error = NotebookError(f"{path}: {type(e).__name__}: {detail}")
    finally:
        # nbclient shuts down only a kernel it made itself: this one (given
        # as km) stayed alive, 1-2 GB each, until the caller's process ended.
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(kernel_dir, ignore_errors=True)
    target = path if out_path is None else out_path
    if target:
        _write_atomic(nb, target)
    if error is not None:
        raise error
    return nb


def _write_atomic(nb, path):
    import nbformat
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf8") as f:
            nbformat.write(nb, f)
        os.chmod(tmp, _file_mode(path))   # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_mode(path):
    """The mode of the file being replaced, else the umask's default."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _parse_param(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    name, value = text.split("=", 1)
    try:
        return name.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name.strip(), value   # a bare string


def main(argv=None):
    p = argparse.ArgumentParser(description="Execute the notebooks headless, writing their "
                                            "outputs (make notebooks).")
    p.add_argument("names", nargs="*", help="notebooks to run (default: all, in order)")
    p.add_argument("-p", "--param", action="append", type=_parse_param, default=[],
                   metavar="NAME=VALUE", help="override a parameter (Python literal)")
    p.add_argument("--out-dir", help="write the executed notebooks here instead of in place")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    a = p.parse_args(argv)
    names = a.names or NOTEBOOKS
    paths = []
    for n in names:
        n = n if n.endswith(".ipynb") else n + ".ipynb"
        path = n if os.path.isfile(n) else os.path.join(HERE, os.path.basename(n))
        if not os.path.isfile(path):
            p.error(f"{n}: no such notebook (known: {', '.join(NOTEBOOKS)})")
        paths.append(path)
    params = dict(a.param)
    if len(paths) > 1:   # several notebooks: each takes the parameters it has
        import nbformat
        known = set()
        for path in paths:
            known |= set(notebook_parameters(nbformat.read(path, as_version=4)))
        unknown = sorted(set(params) - known)
        if unknown:
            p.error(f"unknown parameter(s) {', '.join(unknown)}")
    failed = 0
    for path in paths:
        if len(paths) > 1:
            import nbformat
            has = notebook_parameters(nbformat.read(path, as_version=4))
            run_params = {k: v for k, v in params.items() if k in has}
        else:
            run_params = params
        out = os.path.join(a.out_dir, os.path.basename(path)) if a.out_dir else None
        t = time.time()
        print(f"{os.path.basename(path)} ...", flush=True)
        try:
            execute_notebook(path, parameters=run_params, out_path=out, timeout=a.timeout)
            print(f"  done in {time.time() - t:.0f} s -> {out or path}", flush=True)
        except NotebookError as e:
            failed += 1
            print(f"  FAILED after {time.time() - t:.0f} s: {e}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
