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
