"""Downloads into the user cache: Matterport's COCO Mask R-CNN weights, the
ImageNet ResNet-50 (no top) weights, and (through ``download_file``) any other
archive the project fetches (CORe50, phone/core50.py).

Where files go (never into the package or the repository):

    cache_dir()            $MRCNN_HOME, else $XDG_CACHE_HOME/mrcnn, else
                           ~/.cache/mrcnn (created on demand)
    coco_weights_path()    $PHONE_COCO_WEIGHTS, else
                           cache_dir()/mask_rcnn_coco.h5
    get_imagenet_weights() cache_dir()/resnet50_weights_tf_..._notop.h5;
                           a copy already in Keras' cache
                           ($KERAS_HOME/models or ~/.keras/models) is used
                           as it is

Files are downloaded to `<path>.part`, checked (size, MD5 and/or SHA-256, and
an optional caller check) and moved into place with os.replace, so a failed or
truncated download never leaves a file at the final path. Network access
goes through `urlopen` (module attribute, or the `opener` argument) so tests
can fake it.
"""
import hashlib
import os
import socket
import urllib.error
import urllib.request

__all__ = ["COCO_MODEL_URL", "COCO_MODEL_SIZE", "COCO_FILENAME", "COCO_ENV",
           "IMAGENET_RESNET50_URL", "IMAGENET_RESNET50_MD5", "DownloadError",
           "WeightsDownloadError", "cache_dir", "coco_weights_path",
           "download_file", "download_trained_weights", "get_imagenet_weights"]

COCO_MODEL_URL = ("https://github.com/matterport/Mask_RCNN/releases/download/"
                  "v2.0/mask_rcnn_coco.h5")
COCO_MODEL_SIZE = 257557808
COCO_FILENAME = "mask_rcnn_coco.h5"
#: environment variable with the path of the COCO weights (phone's, kept)
COCO_ENV = "PHONE_COCO_WEIGHTS"

# Keras' (pre-keras-applications) release with Matterport's layer names.
IMAGENET_RESNET50_URL = (
    "https://github.com/fchollet/deep-learning-models/releases/download/v0.2/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
IMAGENET_RESNET50_FILENAME = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_RESNET50_MD5 = "a268eb855778b3df3c7506639542a6af"

urlopen = urllib.request.urlopen

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A file could not be downloaded or failed its check (one line)."""


class WeightsDownloadError(DownloadError):
    """A weights file could not be downloaded or failed its check."""


def cache_dir(create=True):
    """The user cache for downloads: $MRCNN_HOME, else
    $XDG_CACHE_HOME/mrcnn, else ~/.cache/mrcnn (created when ``create``)."""
    path = os.environ.get("MRCNN_HOME")
    if not path:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "mrcnn")
    path = os.path.abspath(os.path.expanduser(path))
    if create:
        os.makedirs(path, exist_ok=True)
    return path


def coco_weights_path():
    """Where the COCO weights live: $PHONE_COCO_WEIGHTS when set, else
    cache_dir()/mask_rcnn_coco.h5 (the file may not exist yet)."""
    env = os.environ.get(COCO_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(cache_dir(), COCO_FILENAME)


def _fail(error, what, url, path, reason):
    return error(
        "%s download failed (%s) from %s; download it by other means and "
        "place it at %s" % (what, reason, url, os.path.abspath(path)))


def _content_length(resp):
    headers = getattr(resp, "headers", None)
    value = headers.get("Content-Length") if hasattr(headers, "get") else None
    return int(value) if value is not None and str(value).isdigit() else None


def download_file(url, path, expected_size=None, md5=None, sha256=None,
                  what="file", verbose=1, opener=None, timeout=60, check=None,
                  error=WeightsDownloadError):
    """Download `url` to `path` atomically, with a tqdm progress bar.

    expected_size: bytes the file must have (else Content-Length when the
        server sends it); md5 / sha256: hex digests it must have;
    check: optional callable(part_path) -> problem text or None, run on the
        complete file before it is moved into place (e.g. "not a zip");
    opener: replaces urlopen (tests); error: the exception class raised.
    Raises `error` with one line (what, why, the URL and where to put the
    file by hand); no file is left at `path` or `path.part`. Returns `path`.
    """
    opener = opener or urlopen
    path = os.fspath(path)
    part = path + ".part"
    d = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        raise _fail(error, what, url, path, "cannot create folder %s: %s" % (d, e))
    digests = {"MD5": (hashlib.md5(), md5), "SHA-256": (hashlib.sha256(), sha256)}
    digests = {k: v for k, v in digests.items() if v[1] is not None}
    got = 0
    try:
        try:
            resp = opener(url, timeout=timeout)
        except urllib.error.HTTPError as e:
            raise _fail(error, what, url, path, "HTTP %s %s" % (e.code, e.reason))
        except urllib.error.URLError as e:
            raise _fail(error, what, url, path,
                        "network error: %s; offline?" % (e.reason,))
        except (socket.timeout, TimeoutError):
            raise _fail(error, what, url, path, "timed out; offline?")
        except OSError as e:
            raise _fail(error, what, url, path, "network error: %s; offline?" % (e,))
        try:
            total = expected_size if expected_size is not None \
                else _content_length(resp)
            bar = None
            if verbose:
                try:
                    from tqdm import tqdm
                    bar = tqdm(total=total, unit="B", unit_scale=True,
                               unit_divisor=1024, desc=os.path.basename(path))
                except ImportError:
                    print("Downloading %s to %s ..." % (url, path))
            try:
                with open(part, "wb") as f:
                    while True:
                        try:
                            chunk = resp.read(_CHUNK)
                        except (socket.timeout, TimeoutError):
                            raise _fail(error, what, url, path,
                                        "timed out after %d bytes" % got)
                        except (urllib.error.URLError, OSError) as e:
                            raise _fail(error, what, url, path, "connection broke "
                                        "after %d bytes: %s" % (got, e))
                        if not chunk:
                            break
                        f.write(chunk)
                        for h, _ in digests.values():
                            h.update(chunk)
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
            raise _fail(error, what, url, path, "truncated, incomplete: %d of %d "
                        "bytes" % (got, total))
        for name, (h, want) in digests.items():
            if want is not None and h.hexdigest() != want.lower():
                raise _fail(error, what, url, path, "corrupt: %s %s does not "
                            "match the expected %s" % (name, h.hexdigest(), want))
        problem = check(part) if check is not None else None
        if problem:
            raise _fail(error, what, url, path, problem)
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


def download_trained_weights(coco_model_path=None, verbose=1, opener=None):
    """Download Matterport's COCO-trained weights to `coco_model_path`
    (default: coco_weights_path(), in the user cache).

    The file must be COCO_MODEL_SIZE bytes; raises WeightsDownloadError
    otherwise (or when offline), leaving nothing behind.
    """
    if coco_model_path is None:
        coco_model_path = coco_weights_path()
    coco_model_path = os.fspath(coco_model_path)
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
    `cache_dir` (default: the user cache, ``cache_dir()``) if missing. With
    the default, a copy already in Keras' cache ($KERAS_HOME/models or
    ~/.keras/models, where earlier versions put it) is used as it is.

    The download is checked against Keras' published MD5.
    """
    if cache_dir is None:
        legacy = os.path.join(_keras_cache_dir(), IMAGENET_RESNET50_FILENAME)
        if os.path.isfile(legacy) and os.path.getsize(legacy) > 0:
            return legacy
        folder = _user_cache_dir()
    else:
        folder = cache_dir
    path = os.path.join(folder, IMAGENET_RESNET50_FILENAME)
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return path
    return download_file(IMAGENET_RESNET50_URL, path,
                         md5=IMAGENET_RESNET50_MD5,
                         what="ImageNet ResNet-50 weights", verbose=verbose,
                         opener=opener)


# get_imagenet_weights' argument shadows the function inside it.
_user_cache_dir = cache_dir
