"""phone.core50: phone selection, session split, stride, annotation to-do list, download (no network)."""
import hashlib
import io
import json
import os
import urllib.error
import zipfile

import cv2
import numpy as np
import pytest

from phone import core50
from phone.errors import PhoneDataError

PNG = cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))[1].tobytes()


@pytest.fixture
def fake_root(tmp_path):
    """core50_128x128/s1..s11/o5..o11 with frames 000..003."""
    data = tmp_path / "core50_128x128"
    for s in range(1, 12):
        for o in range(5, 12):
            d = data / f"s{s}" / f"o{o}"
            d.mkdir(parents=True)
            for f in range(4):
                (d / f"C_{s:02d}_{o:02d}_{f:03d}.png").write_bytes(PNG)
            (d / "Thumbs.db").write_bytes(b"x")
    return tmp_path


def _lines(p):
    return p.read_text().splitlines()


def test_prepare_selects_phones_and_holds_out_sessions(fake_root):
    res = core50.prepare(fake_root, verbose=False)
    train, test = _lines(fake_root / "train.txt"), _lines(fake_root / "test.txt")
    assert train == res["train"] and test == res["test"]
    assert len(train) == 8 * 5 * 4 and len(test) == 3 * 5 * 4
    assert train[0] == "core50_128x128/s1/o6/C_01_06_000.png"
    assert test[0] == "core50_128x128/s3/o6/C_03_06_000.png"
    sess = lambda p: int(p.split("/")[1][1:])          # noqa: E731
    obj = lambda p: int(p.split("/")[2][1:])           # noqa: E731
    assert {sess(p) for p in test} == {3, 7, 10}
    assert {sess(p) for p in train} == {1, 2, 4, 5, 6, 8, 9, 11}
    assert {obj(p) for p in train + test} == {6, 7, 8, 9, 10}
    assert all((fake_root / p).is_file() for p in train + test)


def test_stride_and_out_dir(fake_root, tmp_path):
    out = tmp_path / "lists"
    res = core50.prepare(fake_root, stride=2, out_dir=out, verbose=False)
    assert {p[-7:-4] for p in res["train"]} == {"000", "002"}
    assert len(res["train"]) == 8 * 5 * 2
    assert _lines(out / "train.txt")[0] == "../core50_128x128/s1/o6/C_01_06_000.png"
    assert all((out / p).resolve().is_file() for p in res["train"])
    with pytest.raises(ValueError, match="stride must be >= 1"):
        core50.prepare(fake_root, stride=0, verbose=False)


def test_todo_annotate(fake_root, capsys):
    via = fake_root / "via.json"
    poly = {"shape_attributes": {"name": "polygon", "all_points_x": [0, 1, 1], "all_points_y": [0, 0, 1]},
            "region_attributes": {"name": "phone"}}
    via.write_text(json.dumps({
        "a": {"filename": "C_01_06_000.png", "regions": [poly]},
        "b": {"filename": "C_03_07_001.png", "regions": [poly]},
        "c": {"filename": "C_01_06_001.png", "regions": []},          # loaded but not annotated
    }))
    res = core50.prepare(fake_root, via=str(via))
    assert res["annotated"] == {"train": (1, 160), "test": (1, 60)}
    todo = _lines(fake_root / "todo_annotate.txt")
    assert len(todo) == 218 and todo == res["todo"]
    assert "core50_128x128/s1/o6/C_01_06_000.png" not in todo
    assert "core50_128x128/s1/o6/C_01_06_001.png" in todo
    out = capsys.readouterr().out
    assert "train: 1 of 160 annotated, 159 to do" in out and "test: 1 of 60 annotated, 59 to do" in out


def test_missing_root_and_wrong_names(tmp_path):
    with pytest.raises(PhoneDataError, match="no core50_128x128/ with session folders"):
        core50.prepare(tmp_path, verbose=False)
    d = tmp_path / "core50_128x128" / "s1" / "o6"
    d.mkdir(parents=True)
    (d / "C_02_06_000.png").write_bytes(PNG)
    with pytest.raises(PhoneDataError, match="name says s2/o6 but it is in s1/o6"):
        core50.prepare(tmp_path, verbose=False)


def test_cli_prepare(fake_root, capsys):
    assert core50.main(["prepare", "--root", str(fake_root), "--stride", "4"]) == 0
    assert len(_lines(fake_root / "train.txt")) == 8 * 5
    assert core50.main(["prepare", "--root", str(fake_root / "nowhere")]) == 2
    assert "error:" in capsys.readouterr().err


# --------------------------------------------------------------- download

class FakeResponse(io.BytesIO):
    def __init__(self, data, length=None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}


def _zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("core50_128x128/s1/o6/C_01_06_000.png", PNG)
        z.writestr("core50_128x128/s3/o6/C_03_06_000.png", PNG)
    return buf.getvalue()


def test_download_offline_error_leaves_nothing(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))
    monkeypatch.setattr(core50, "_urlopen", offline)
    with pytest.raises(core50.DownloadError) as ei:
        core50.download(tmp_path, 128, progress=False)
    msg = str(ei.value)
    assert "\n" not in msg and core50.URLS[128] in msg and "offline?" in msg
    assert os.listdir(tmp_path) == []
    assert core50.main(["download", "--root", str(tmp_path)]) == 2


def test_download_truncated_and_corrupt(tmp_path, monkeypatch):
    data = _zip_bytes()
    monkeypatch.setattr(core50, "_urlopen", lambda url, timeout=None: FakeResponse(data[:50], length=len(data)))
    with pytest.raises(core50.DownloadError, match=f"incomplete: 50 of {len(data)} bytes"):
        core50.download(tmp_path, 128, url="http://mirror/x.zip", progress=False)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(core50, "_urlopen", lambda url, timeout=None: FakeResponse(data))
    with pytest.raises(core50.DownloadError, match="corrupt: MD5"):
        core50.download(tmp_path, 128, progress=False)            # official URL -> official MD5
    assert os.listdir(tmp_path) == []


def test_download_and_extract(tmp_path, monkeypatch):
    data = _zip_bytes()
    seen = []

    def opener(url, timeout=None):
        seen.append(url)
        return FakeResponse(data)
    monkeypatch.setattr(core50, "_urlopen", opener)
    out = core50.download(tmp_path, 128, url="http://mirror/x.zip", md5=hashlib.md5(data).hexdigest(),
                          progress=False)
    assert out == str(tmp_path / "core50_128x128") and seen == ["http://mirror/x.zip"]
    assert sorted(os.listdir(tmp_path)) == ["core50_128x128", "core50_128x128.zip"]
    assert (tmp_path / "core50_128x128" / "s1" / "o6" / "C_01_06_000.png").read_bytes() == PNG
    res = core50.prepare(tmp_path, verbose=False)
    assert res["train"] == ["core50_128x128/s1/o6/C_01_06_000.png"]
    assert res["test"] == ["core50_128x128/s3/o6/C_03_06_000.png"]
    # Present already: no second download.
    core50.download(tmp_path, 128, url="http://mirror/x.zip", progress=False)
    assert len(seen) == 1


def test_extract_refuses_path_traversal(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../evil.txt", "x")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(core50.DownloadError, match="unsafe member path"):
        core50.extract(z, root)
    assert not (tmp_path / "evil.txt").exists() and os.listdir(root) == []
