"""CORe50 tooling: download the official archive and prepare phone file lists.

CORe50 (Lomonaco & Maltoni, 2017; CC BY 4.0, https://vlomonaco.github.io/core50/)
holds 50 hand-held objects filmed in 11 sessions (s1..s11), 300 frames each,
as ``core50_128x128/sN/oM/C_SS_OO_FFF.png`` (also ``core50_350x350/``).
Objects o6..o10 are the five mobile phones. The standard test sessions are
s3, s7 and s10; we train on the other eight. Splitting by session (not by
frame) keeps near-identical consecutive frames of one video out of both sides.

    python datasets/core50.py download --root DIR [--size 128]
    python datasets/core50.py prepare  --root DIR [--size 128] [--stride 1] [--via FILE ...]

``prepare`` writes, in ``--out`` (default: ROOT):
    train.txt, test.txt      selected frames, paths relative to that folder
    todo_annotate.txt        selected frames that have no region in the VIA file(s)
and prints the counts.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import urllib.request
import zipfile

from phone.errors import PhoneDataError

__all__ = ["URLS", "MD5", "PHONE_OBJECTS", "TEST_SESSIONS", "ALL_SESSIONS", "FRAME_RE",
           "DownloadError", "download", "extract", "find_data_dir", "list_frames", "split_frames",
           "prepare", "main"]

URLS = {
    128: "http://bias.csr.unibo.it/maltoni/download/core50/core50_128x128.zip",
    350: "http://bias.csr.unibo.it/maltoni/download/core50/core50_350x350.zip",
}
#: MD5 of the official archives (as published with the Avalanche CORe50 loader)
MD5 = {
    128: "745f3373fed08d69343f1058ee559e13",
    350: "e304258739d6cd4b47e19adfa08e7571",
}
PHONE_OBJECTS = (6, 7, 8, 9, 10)
TEST_SESSIONS = (3, 7, 10)
ALL_SESSIONS = tuple(range(1, 12))
FRAME_RE = re.compile(r"^C_(\d{2})_(\d{2})_(\d{3})\.png$", re.IGNORECASE)

# Indirection so tests can replace the network.
_urlopen = urllib.request.urlopen


class DownloadError(PhoneDataError):
    """A download failed (offline, HTTP error, truncated or corrupt archive)."""


# ---------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------

def _archive_name(size):
    return f"core50_{int(size)}x{int(size)}"


def download(root, size=128, url=None, md5="default", force=False, unzip=True, timeout=60,
             progress=True):
    """Download (and extract) the official CORe50 archive.

    root: directory for the .zip and the extracted ``core50_{size}x{size}/``.
    size: 128 or 350.
    url: override the official URL (mirrors); md5 then defaults to no check.
    md5: expected MD5 hex digest, "default" (the official one for the
        official URL) or None (no check).
    Downloaded with mrcnn.core.download.download_file: data arrives in
    ``<zip>.part`` and is renamed only once complete and verified (byte count
    against Content-Length, MD5, a zip archive); on any failure the .part
    file is deleted. Raises DownloadError with a one-line message.
    Returns: the extracted data directory (or the zip path if unzip=False).
    """
    size = int(size)
    if url is None:
        if size not in URLS:
            raise DownloadError(f"no official CORe50 archive for size {size} (use 128 or 350)")
        url = URLS[size]
        md5 = MD5[size] if md5 == "default" else md5
    elif md5 == "default":
        md5 = None
    root = os.path.abspath(os.fspath(root))
    os.makedirs(root, exist_ok=True)
    zip_path = os.path.join(root, _archive_name(size) + ".zip")
    data_dir = os.path.join(root, _archive_name(size))
    if unzip and os.path.isdir(data_dir) and not force:
        return data_dir
    if force or not os.path.isfile(zip_path):
        from mrcnn.core.download import download_file

        def not_a_zip(part):
            return None if zipfile.is_zipfile(part) else "not a zip archive"
        download_file(url, zip_path, md5=md5, what=f"CORe50 {size}x{size} archive",
                      verbose=progress, timeout=timeout, check=not_a_zip,
                      error=DownloadError,
                      opener=lambda u, timeout=None: _urlopen(u, timeout=timeout))
    if not unzip:
        return zip_path
    return extract(zip_path, root, size)


def extract(zip_path, root, size=128):
    """Extract a CORe50 archive into ``root/core50_{size}x{size}`` safely.

    Members are unpacked into a temporary folder inside root first (so a
    failure leaves no half tree) and refused if they would escape it.
    """
    root = os.path.abspath(os.fspath(root))
    target = os.path.join(root, _archive_name(size))
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DownloadError(f"{zip_path}: not a readable zip archive ({e})") from None
    tmp = tempfile.mkdtemp(prefix=".core50_extract_", dir=root)
    try:
        with zf:
            for name in zf.namelist():
                dest = os.path.abspath(os.path.join(tmp, name))
                if not dest.startswith(tmp + os.sep) and dest != tmp:
                    raise DownloadError(f"{zip_path}: unsafe member path {name!r}")
            try:
                zf.extractall(tmp)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise DownloadError(f"{zip_path}: extraction failed ({e})") from None
        entries = [e for e in os.listdir(tmp) if not e.startswith((".", "__MACOSX"))]
        src = os.path.join(tmp, entries[0]) if len(entries) == 1 and os.path.isdir(os.path.join(tmp, entries[0])) \
            else tmp
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(src, target)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------

def _has_sessions(d):
    return os.path.isdir(d) and any(os.path.isdir(os.path.join(d, f"s{s}")) for s in ALL_SESSIONS)


def find_data_dir(root, size=128):
    """The folder holding s1..s11: root/core50_{size}x{size}[/core50_...], or root itself."""
    root = os.fspath(root)
    name = _archive_name(size)
    for d in (os.path.join(root, name), os.path.join(root, name, name), root):
        if _has_sessions(d):
            return os.path.abspath(d)
    raise PhoneDataError(
        f"{root}: no {name}/ with session folders s1..s11 found "
        f"(run: python datasets/core50.py download --root {root} --size {size})")


def list_frames(data_dir, objects=PHONE_OBJECTS, sessions=ALL_SESSIONS, stride=1):
    """Frames of the selected objects: sorted list of (session, object, frame, path).

    stride: keep frames whose number is a multiple of it (by frame number,
    so the selection does not shift when a frame is missing).
    """
    stride = int(stride)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    out = []
    for s in sessions:
        for o in objects:
            d = os.path.join(data_dir, f"s{s}", f"o{o}")
            if not os.path.isdir(d):
                continue
            for fn in os.listdir(d):
                m = FRAME_RE.match(fn)
                if not m:
                    continue
                ss, oo, ff = (int(g) for g in m.groups())
                if ss != s or oo != o:
                    raise PhoneDataError(f"{os.path.join(d, fn)}: name says s{ss}/o{oo} but it is in s{s}/o{o}")
                if ff % stride:
                    continue
                out.append((s, o, ff, os.path.join(d, fn)))
    out.sort()
    return out


def split_frames(frames, test_sessions=TEST_SESSIONS):
    """(train, test) lists: test = frames of the held-out sessions."""
    test_sessions = set(test_sessions)
    train = [f for f in frames if f[0] not in test_sessions]
    test = [f for f in frames if f[0] in test_sessions]
    return train, test


def _annotated_names(via_files):
    from phone.via import load_via
    names = set()
    for v in via_files:
        for im in load_via(v, keep_empty=False):
            names.add(os.path.basename(im.filename))
    return names


def _write_lines(path, lines):
    from phone.imageio import write_bytes_atomic
    write_bytes_atomic(path, "".join(line + "\n" for line in lines).encode("utf-8"))


def prepare(root, size=128, stride=1, via=None, out_dir=None, objects=PHONE_OBJECTS,
            test_sessions=TEST_SESSIONS, verbose=True):
    """Select the phone frames, split them by session, write the file lists.

    root: folder with core50_{size}x{size}/ (or the session folders).
    stride: keep every stride-th frame.
    via: VIA file path or list of paths; frames with at least one region in
        them count as annotated (matched by file name, which is unique in
        CORe50: C_session_object_frame.png).
    out_dir: where train.txt, test.txt, todo_annotate.txt go (default: root).
    Returns: dict with train / test / todo lists of relative paths and counts.
    """
    data_dir = find_data_dir(root, size)
    out_dir = os.path.abspath(os.fspath(out_dir) if out_dir is not None else os.fspath(root))
    os.makedirs(out_dir, exist_ok=True)
    frames = list_frames(data_dir, objects=objects, stride=stride)
    if not frames:
        raise PhoneDataError(f"{data_dir}: no frames of objects {list(objects)} found")
    train, test = split_frames(frames, test_sessions)

    def rel(f):
        return os.path.relpath(f[3], out_dir).replace(os.sep, "/")

    lists = {"train": [rel(f) for f in train], "test": [rel(f) for f in test]}
    _write_lines(os.path.join(out_dir, "train.txt"), lists["train"])
    _write_lines(os.path.join(out_dir, "test.txt"), lists["test"])
    result = dict(lists, data_dir=data_dir, out_dir=out_dir)

    if via:
        via_files = [via] if isinstance(via, (str, os.PathLike)) else list(via)
        annotated = _annotated_names(via_files)
        todo, counts = [], {}
        for split, fr in (("train", train), ("test", test)):
            missing = [f for f in fr if os.path.basename(f[3]) not in annotated]
            counts[split] = (len(fr) - len(missing), len(fr))
            todo += [rel(f) for f in missing]
        _write_lines(os.path.join(out_dir, "todo_annotate.txt"), todo)
        result.update(todo=todo, annotated=counts)
    if verbose:
        print(f"CORe50 {size}x{size} phones (objects o{objects[0]}-o{objects[-1]}), stride {stride}: "
              f"{len(train)} train frames (sessions {sorted(set(f[0] for f in train))}), "
              f"{len(test)} test frames (sessions {sorted(set(f[0] for f in test))})")
        if via:
            for split in ("train", "test"):
                a, n = result["annotated"][split]
                print(f"  {split}: {a} of {n} annotated, {n - a} to do")
            print(f"  wrote {os.path.join(out_dir, 'todo_annotate.txt')} ({len(result['todo'])} frames)")
        print(f"  wrote {os.path.join(out_dir, 'train.txt')} and {os.path.join(out_dir, 'test.txt')}")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description="CORe50 download and phone-frame preparation.")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download", help="download and extract the official archive")
    d.add_argument("--root", required=True)
    d.add_argument("--size", type=int, default=128, choices=(128, 350))
    d.add_argument("--url", default=None, help="mirror URL (no MD5 check)")
    d.add_argument("--no-unzip", action="store_true")
    d.add_argument("--force", action="store_true", help="download again even if present")
    q = sub.add_parser("prepare", help="select phone frames o6-o10, split by session, list frames to annotate")
    q.add_argument("--root", required=True)
    q.add_argument("--size", type=int, default=128)
    q.add_argument("--stride", type=int, default=1, help="keep every k-th frame")
    q.add_argument("--via", nargs="*", default=None, help="VIA file(s) with the annotations done so far")
    q.add_argument("--out", default=None, help="where to write the lists (default: ROOT)")
    a = p.parse_args(argv)
    try:
        if a.cmd == "download":
            print(download(a.root, a.size, url=a.url, unzip=not a.no_unzip, force=a.force))
        else:
            prepare(a.root, a.size, a.stride, via=a.via, out_dir=a.out)
    except (PhoneDataError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0

