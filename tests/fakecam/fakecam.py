"""Fake cameras for tests: which camera indices exist is decided by the test,
not by the machine it runs on.

``install(cameras)`` replaces ``cv2.VideoCapture`` so that an integer source
opens only if it is in ``cameras`` ({index: video file whose frames the
"camera" gives}); every other index behaves like a camera that is not there
(``isOpened()`` False). File and URL sources are untouched.

Subprocesses get the same through ``env(cameras)``: PYTHONPATH starts with
this folder, whose ``sitecustomize.py`` calls ``install`` from the
``FAKECAM`` variable ("0=/path/clip.mp4,2=/path/other.mp4"; "" = no camera).
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VARIABLE = "FAKECAM"


def parse(spec):
    """{index: path} from "0=/a.mp4,1=/b.mp4" ("" -> {})."""
    cameras = {}
    for item in filter(None, (spec or "").split(",")):
        index, path = item.split("=", 1)
        cameras[int(index)] = path
    return cameras


def install(cameras, cv2_module=None):
    """Replace cv2.VideoCapture; returns a function that puts it back."""
    cv2 = cv2_module
    if cv2 is None:
        import cv2
    real = cv2.VideoCapture
    cameras = {int(k): os.fspath(v) for k, v in dict(cameras).items()}

    def video_capture(*args, **kwargs):
        source = args[0] if args else kwargs.get("index", kwargs.get("filename"))
        if isinstance(source, int) and not isinstance(source, bool):
            if source in cameras:
                return real(cameras[source])
            return real()                     # never opened: no such camera
        return real(*args, **kwargs)

    video_capture.fake_cameras = dict(cameras)
    cv2.VideoCapture = video_capture

    def restore():
        cv2.VideoCapture = real
    return restore


def env(cameras, base=None):
    """Environment for a subprocess (Python) that sees only ``cameras``."""
    e = dict(os.environ if base is None else base)
    e[VARIABLE] = ",".join(f"{int(k)}={os.fspath(v)}" for k, v in dict(cameras).items())
    parts = [HERE] + [p for p in e.get("PYTHONPATH", "").split(os.pathsep) if p]
    e["PYTHONPATH"] = os.pathsep.join(parts)
    return e
