"""File helpers shared by checkpoints (mrcnn.weights, MaskRCNN.find_last)
and the phone package: atomically written files (temp file + rename) get the
permissions a plain ``open()`` would have given them; the newest checkpoint
of a model's runs."""
import glob
import hashlib
import os


def run_dirs(model_dir, name):
    """The run folders ``{name}YYYYmmddTHHMM`` of model ``name`` under
    ``model_dir``, newest first (by name, i.e. by time stamp)."""
    key = (name or "model").lower()
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        return []
    return [os.path.join(model_dir, d) for d in sorted(os.listdir(model_dir), reverse=True)
            if d.startswith(key) and os.path.isdir(os.path.join(model_dir, d))]


def last_checkpoint_in(run_dir, name):
    """The highest-numbered ``mask_rcnn_{name}_NNNN.h5`` of a run folder, or
    None. Files of other names (``mask_rcnn_{name}_best.h5``) are not
    checkpoints of an epoch."""
    key = (name or "model").lower()
    found = sorted(glob.glob(os.path.join(run_dir, f"mask_rcnn_{key}_[0-9]*.h5")))
    return found[-1] if found else None


def find_last_checkpoint(model_dir, name):
    """Path of the last checkpoint of the newest run of model ``name`` under
    ``model_dir`` (``{name}YYYYmmddTHHMM/mask_rcnn_{name}_NNNN.h5``: the last
    folder by name, i.e. by time stamp, that holds one, and in it the
    highest-numbered file), or None."""
    for run in run_dirs(model_dir, name):
        last = last_checkpoint_in(run, name)
        if last:
            return last
    return None


def current_umask():
    """The process umask (read from /proc on Linux; elsewhere set and
    restored, which is what Python offers)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def set_new_file_mode(tmp, path):
    """Give the temp file ``tmp`` the permissions ``path`` will need: those
    of the file it replaces, else what open() would create (0o666 minus the
    umask). mkstemp makes 0o600 files, which os.replace would keep."""
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~current_umask()
    try:
        os.chmod(tmp, mode)
    except OSError:
        pass


def file_sha256(path):
    """The SHA-256 of a file, hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
