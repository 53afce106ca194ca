import hashlib
import os
import socket
import urllib.error

import pytest

from mrcnn.core import download as D
from mrcnn import utils


class FakeResponse:
    def __init__(self, data, length=None, fail_after=None):
        self.data = data
        self.pos = 0
        self.headers = {"Content-Length": str(length if length is not None
                                              else len(data))}
        self.fail_after = fail_after
        self.closed = False

    def read(self, n=-1):
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise socket.timeout("timed out")
        n = len(self.data) - self.pos if n < 0 else n
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk

    def close(self):
        self.closed = True


def _opener(resp, seen):
    def fake(url, timeout=None):
        seen.append(url)
        return resp
    return fake


def test_constants():
    assert utils.COCO_MODEL_URL == ("https://github.com/matterport/Mask_RCNN/"
                                    "releases/download/v2.0/mask_rcnn_coco.h5")
    assert D.COCO_MODEL_SIZE == 257557808
    assert issubclass(D.WeightsDownloadError, RuntimeError)


def test_download_success(tmp_path, monkeypatch):
    data = os.urandom(3 * (1 << 20) + 17)
    seen = []
    monkeypatch.setattr(D, "COCO_MODEL_SIZE", len(data))
    monkeypatch.setattr(D, "urlopen", _opener(FakeResponse(data), seen))
    path = str(tmp_path / "sub" / "mask_rcnn_coco.h5")
    assert D.download_trained_weights(path, verbose=0) == path
    assert seen == [D.COCO_MODEL_URL]
    with open(path, "rb") as f:
        assert f.read() == data
    assert not os.path.exists(path + ".part")


def test_download_truncated_leaves_nothing(tmp_path, monkeypatch):
    data = b"x" * 1000
    monkeypatch.setattr(D, "urlopen", _opener(FakeResponse(data, length=D.COCO_MODEL_SIZE), []))
    path = str(tmp_path / "mask_rcnn_coco.h5")
    with pytest.raises(D.WeightsDownloadError) as e:
        D.download_trained_weights(path, verbose=0)
    msg = str(e.value)
    assert "truncated" in msg and "1000" in msg and D.COCO_MODEL_URL in msg
    assert path in msg and "\n" not in msg
    assert os.listdir(str(tmp_path)) == []


def test_download_timeout_mid_stream(tmp_path, monkeypatch):
    resp = FakeResponse(b"y" * (3 << 20), fail_after=1 << 20)
    monkeypatch.setattr(D, "urlopen", _opener(resp, []))
    path = str(tmp_path / "w.h5")
    with pytest.raises(D.WeightsDownloadError) as e:
        D.download_trained_weights(path, verbose=0)
    assert "timed out" in str(e.value)
    assert os.listdir(str(tmp_path)) == []
    assert resp.closed


def test_download_offline(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    monkeypatch.setattr(D, "urlopen", offline)
    path = str(tmp_path / "w.h5")
    with pytest.raises(D.WeightsDownloadError) as e:
        utils.download_trained_weights(path, verbose=0)
    msg = str(e.value)
    assert "network error" in msg and D.COCO_MODEL_URL in msg and path in msg
    assert "\n" not in msg
    assert os.listdir(str(tmp_path)) == []


def test_imagenet_weights_md5_and_cache(tmp_path, monkeypatch):
    data = b"resnet" * 1000
    seen = []
    with pytest.raises(D.WeightsDownloadError) as e:
        D.get_imagenet_weights(str(tmp_path), verbose=0,
                               opener=_opener(FakeResponse(data), seen))
    assert "MD5" in str(e.value)
    assert os.listdir(str(tmp_path)) == []
    monkeypatch.setattr(D, "IMAGENET_RESNET50_MD5", hashlib.md5(data).hexdigest())
    p = D.get_imagenet_weights(str(tmp_path), verbose=0,
                               opener=_opener(FakeResponse(data), seen))
    assert os.path.basename(p) == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert seen == [D.IMAGENET_RESNET50_URL] * 2
    assert open(p, "rb").read() == data

    def boom(url, timeout=None):
        raise AssertionError("network used although the file is cached")
    assert D.get_imagenet_weights(str(tmp_path), verbose=0, opener=boom) == p


# ------------------------------------------------------------ user cache

def test_cache_dir_order(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("MRCNN_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert D.cache_dir() == str(home / ".cache" / "mrcnn")
    assert (home / ".cache" / "mrcnn").is_dir()            # created on demand
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert D.cache_dir() == str(tmp_path / "xdg" / "mrcnn")
    monkeypatch.setenv("MRCNN_HOME", str(tmp_path / "mine"))
    assert D.cache_dir(create=False) == str(tmp_path / "mine")
    assert not (tmp_path / "mine").exists()
    assert D.cache_dir() == str(tmp_path / "mine") and (tmp_path / "mine").is_dir()


def test_default_locations_under_mrcnn_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("MRCNN_HOME", str(home))
    monkeypatch.delenv("PHONE_COCO_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))   # empty
    assert D.coco_weights_path() == str(home / "mask_rcnn_coco.h5")
    monkeypatch.setenv("PHONE_COCO_WEIGHTS", str(tmp_path / "elsewhere" / "coco.h5"))
    assert D.coco_weights_path() == str(tmp_path / "elsewhere" / "coco.h5")
    monkeypatch.delenv("PHONE_COCO_WEIGHTS")

    # COCO weights with no path given: into the cache, not the working folder
    data = b"c" * 2048
    seen = []
    monkeypatch.setattr(D, "COCO_MODEL_SIZE", len(data))
    monkeypatch.setattr(D, "urlopen", _opener(FakeResponse(data), seen))
    monkeypatch.chdir(tmp_path)
    assert D.download_trained_weights(verbose=0) == str(home / "mask_rcnn_coco.h5")
    assert (home / "mask_rcnn_coco.h5").read_bytes() == data
    assert not (tmp_path / "mask_rcnn_coco.h5").exists()

    # ImageNet weights: into the cache too ...
    img = b"resnet" * 100
    monkeypatch.setattr(D, "IMAGENET_RESNET50_MD5", hashlib.md5(img).hexdigest())
    p = D.get_imagenet_weights(verbose=0, opener=_opener(FakeResponse(img), seen))
    assert p == str(home / D.IMAGENET_RESNET50_FILENAME)
    # ... unless Keras' cache already holds a copy (earlier versions put it there)
    legacy = tmp_path / "keras" / "models" / D.IMAGENET_RESNET50_FILENAME
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(img)
    assert D.get_imagenet_weights(verbose=0, opener=None) == str(legacy)
    assert len(seen) == 2


@pytest.mark.parametrize("kind", ["md5", "sha256"])
def test_checksum_failure_leaves_nothing(tmp_path, kind):
    data = b"payload" * 500
    good = getattr(hashlib, kind)(data).hexdigest()
    path = tmp_path / "dl" / "file.bin"
    with pytest.raises(D.DownloadError) as e:
        D.download_file("http://x/file.bin", str(path), verbose=0,
                        opener=_opener(FakeResponse(data), []),
                        **{kind: "0" * len(good)})
    msg = str(e.value)
    assert "corrupt" in msg and ("MD5" if kind == "md5" else "SHA-256") in msg
    assert "\n" not in msg and "http://x/file.bin" in msg
    assert os.listdir(tmp_path / "dl") == []
    assert D.download_file("http://x/file.bin", str(path), verbose=0,
                           opener=_opener(FakeResponse(data), []),
                           **{kind: good.upper()}) == str(path)
    assert path.read_bytes() == data


def test_caller_check_and_error_class(tmp_path):
    class MyError(Exception):
        pass
    path = tmp_path / "a.zip"
    with pytest.raises(MyError, match="not a zip archive"):
        D.download_file("http://x/a.zip", str(path), verbose=0, error=MyError,
                        opener=_opener(FakeResponse(b"PK?"), []),
                        check=lambda part: "not a zip archive")
    assert os.listdir(tmp_path) == []


def test_offline_error_is_one_line_with_hint(tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))
    path = tmp_path / "w.h5"
    with pytest.raises(D.WeightsDownloadError) as e:
        D.download_file("https://example.org/w.h5", str(path), what="test weights",
                        verbose=0, opener=offline)
    msg = str(e.value)
    assert msg.startswith("test weights download failed (network error:")
    assert "offline?" in msg and "https://example.org/w.h5" in msg and str(path) in msg
    assert "\n" not in msg
    assert os.listdir(tmp_path) == []


def test_progress_bar_counts_bytes(tmp_path, capsys):
    data = os.urandom((1 << 20) + 5)
    D.download_file("http://x/b", str(tmp_path / "b"), verbose=1,
                    opener=_opener(FakeResponse(data), []))
    err = capsys.readouterr().err
    assert "1.00M" in err and "b:" in err                  # tqdm, 1 MiB + 5 B
