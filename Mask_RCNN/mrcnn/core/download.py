"""Downloads of pre-trained weights: Matterport's COCO Mask R-CNN weights and
the ImageNet ResNet-50 (no top) weights.

Files are downloaded to `<path>.part`, checked (size and/or MD5) and moved
into place with os.replace, so a failed or truncated download never leaves a
file at the final path.  Network access goes through `urlopen` (module
attribute, or the `opener` argument) so tests can fake it.
"""
import hashlib
import os
import socket
import urllib.error
import urllib.request

__all__ = ["COCO_MODEL_URL", "COCO_MODEL_SIZE", "IMAGENET_RESNET50_URL",
           "IMAGENET_RESNET50_MD5", "WeightsDownloadError",
           "download_trained_weights", "get_imagenet_weights", "download_file"]

COCO_MODEL_URL = ("https://github.com/matterport/Mask_RCNN/releases/download/"
                  "v2.0/mask_rcnn_coco.h5")
COCO_MODEL_SIZE = 257557808

# Keras' (pre-keras-applications) release with Matterport's layer names.
IMAGENET_RESNET50_URL = (
    "https://github.com/fchollet/deep-learning-models/releases/download/v0.2/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
IMAGENET_RESNET50_FILENAME = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_RESNET50_MD5 = "a268eb855778b3df3c7506639542a6af"

urlopen = urllib.request.urlopen

_CHUNK = 1 << 20


class WeightsDownloadError(RuntimeError):
    """A weights file could not be downloaded or failed its check."""


def _fail(what, url, path, reason):
    return WeightsDownloadError(
        "%s download failed (%s) from %s; download it by other means and "
        "place it at %s" % (what, reason, url, os.path.abspath(path)))


def download_file(url, path, expected_size=None, md5=None, what="file",
                  verbose=1, opener=None, timeout=60):
    """Download `url` to `path` atomically.

    expected_size: bytes the file must have (also taken from Content-Length
    when not given); md5: hex digest it must have.  Raises
    WeightsDownloadError (no file is left at `path` or `path.part`).
    Returns `path`.
    """
    opener = opener or urlopen
    part = path + ".part"
    d = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise _fail(what, url, path, "cannot create folder %s: %s" % (d, e))
    digest = hashlib.md5()
    got = 0
    try:
        try:
            resp = opener(url, timeout=timeout)
        except urllib.error.HTTPError as e:
            raise _fail(what, url, path, "HTTP %s %s" % (e.code, e.reason))
        except urllib.error.URLError as e:
            raise _fail(what, url, path, "network error: %s" % (e.reason,))
        except (socket.timeout, TimeoutError):
            raise _fail(what, url, path, "timed out")
        except OSError as e:
            raise _fail(what, url, path, "network error: %s" % (e,))
        try:
            total = expected_size
            if total is None:
                length = getattr(resp, "headers", {}) or {}
                length = length.get("Content-Length") if hasattr(length, "get") else None
                total = int(length) if length else None
            bar = None
            if verbose:
                try:
                    from tqdm import tqdm
                    bar = tqdm(total=total, unit="B", unit_scale=True,
                               desc=os.path.basename(path))
                except ImportError:
                    print("Downloading %s to %s ..." % (url, path))
            try:
                with open(part, "wb") as f:
                    while True:
                        try:
                            chunk = resp.read(_CHUNK)
                        except (socket.timeout, TimeoutError):
                            raise _fail(what, url, path,
                                        "timed out after %d bytes" % got)
                        except (urllib.error.URLError, OSError) as e:
                            raise _fail(what, url, path, "connection broke after "
                                        "%d bytes: %s" % (got, e))
                        if not chunk:
                            break
                        f.write(chunk)
                        digest.update(chunk)
                        got += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
        finally:
            close = getattr(resp, "close", None)
            if close:
                close()
        if total is not None and got != total:
            raise _fail(what, url, path, "truncated: got %d of %d bytes"
                        % (got, total))
        if md5 is not None and digest.hexdigest() != md5:
            raise _fail(what, url, path, "MD5 %s does not match the expected %s"
                        % (digest.hexdigest(), md5))
        os.replace(part, path)
    except BaseException:
        if os.path.exists(part):
            try:
                os.remove(part)
            except OSError:
                pass
        raise
    if verbose:
        print("Downloaded %s (%d bytes) to %s" % (what, got, path))
    return path


def download_trained_weights(coco_model_path, verbose=1, opener=None):
    """Download Matterport's COCO-trained weights to `coco_model_path`.

    The file must be COCO_MODEL_SIZE bytes; raises WeightsDownloadError
    otherwise (or when offline), leaving nothing behind.
    """
    if verbose > 0:
        print("Downloading pretrained model to " + coco_model_path + " ...")
    download_file(COCO_MODEL_URL, coco_model_path,
                  expected_size=COCO_MODEL_SIZE, what="COCO weights",
                  verbose=verbose, opener=opener)
    if verbose > 0:
        print("... done downloading pretrained model!")
    return coco_model_path


def _keras_cache_dir():
    base = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras")
    return os.path.join(base, "models")


def get_imagenet_weights(cache_dir=None, verbose=1, opener=None):
    """Path of the ResNet-50 ImageNet weights (no top), downloading them into
    `cache_dir` (default: $KERAS_HOME/models or ~/.keras/models) if missing.

    The download is checked against Keras' published MD5.
    """
    cache_dir = cache_dir or _keras_cache_dir()
    path = os.path.join(cache_dir, IMAGENET_RESNET50_FILENAME)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return path
    return download_file(IMAGENET_RESNET50_URL, path,
                         md5=IMAGENET_RESNET50_MD5,
                         what="ImageNet ResNet-50 weights", verbose=verbose,
                         opener=opener)
