"""File-writing helpers shared by checkpoints (mrcnn.weights) and the phone
package's masks and videos: atomically written files (temp file + rename)
get the permissions a plain ``open()`` would have given them."""
import os


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
