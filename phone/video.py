"""Video files: probe a video before the slow model build, write one atomically.

    probe_video(path)                    -> (frame count, fps); VideoError if unusable
    w = AtomicVideoWriter("out.mp4", fps)
    w.write(frame_bgr)                   # [H, W, 3] uint8 BGR; later frames resized to the first's size
    w.close()                            # renamed into place; w.abort() removes the temp file

The output is written to a hidden temp file beside the target and renamed
when complete, so an interrupted run never leaves a half-written video.
Codec by extension: .avi -> MJPG, anything else (.mp4, .mov, .mkv) -> mp4v.
"""
import os
import tempfile

import numpy as np

from phone.errors import PhoneDataError

__all__ = ["VideoError", "AtomicVideoWriter", "probe_video", "FALLBACK_FPS"]

#: frame rate used when a source does not report one
FALLBACK_FPS = 30.0


class VideoError(PhoneDataError):
    """A video that cannot be opened, decoded or written."""


def probe_video(video_path):
    """Check that a video opens and yields a first frame; returns
    (frame count reported by the container, fps). Raises VideoError."""
    import cv2
    video_path = os.fspath(video_path)
    if not os.path.isfile(video_path):
        raise VideoError(f"{video_path}: no such video file")
    cap = cv2.VideoCapture(video_path)
    try:
        if not cap.isOpened():
            raise VideoError(f"{video_path}: cannot open video (unknown format or corrupt file)")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError(f"{video_path}: video has no frames (empty, or a codec OpenCV "
                             f"cannot decode)")
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), float(cap.get(cv2.CAP_PROP_FPS) or 0)
    finally:
        cap.release()


class AtomicVideoWriter:
    """Writes BGR frames to a video file through a temp file renamed on close.

    path: .mp4 / .avi / .mov / .mkv file. fps: frames per second (a missing
    or non-positive value means FALLBACK_FPS). hint: the option that named
    the file, for the error message ("--out", "--out-video").
    Counters: ``frames`` written; ``size`` (width, height) once opened.
    """

    def __init__(self, path, fps, hint="--out"):
        self.path = os.fspath(path)
        self.fps = float(fps) if fps and fps > 0 else FALLBACK_FPS
        self.hint = hint
        self.frames = 0
        self.size = None
        self._writer = None
        self._tmp = None

    def _open(self, size):
        import cv2
        ext = os.path.splitext(self.path)[1].lower() or ".mp4"
        fourcc = "MJPG" if ext == ".avi" else "mp4v"
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix="." + os.path.basename(self.path) + ".",
                                   suffix=ext)
        os.close(fd)
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*fourcc), self.fps, size)
        if not writer.isOpened():
            os.unlink(tmp)
            raise VideoError(f"{self.path}: cannot write a {ext} video with OpenCV (codec "
                             f"{fourcc}); try {self.hint} NAME.avi")
        self._writer, self._tmp, self.size = writer, tmp, size

    def write(self, frame_bgr):
        """Append one [H, W, 3] uint8 BGR frame."""
        h, w = frame_bgr.shape[:2]
        if self._writer is None:
            self._open((w, h))
        elif (w, h) != self.size:
            import cv2
            frame_bgr = cv2.resize(frame_bgr, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(frame_bgr))
        self.frames += 1

    def close(self):
        """Finish the file (renamed into place, usual file mode). Returns the
        path, or None when no frame was written."""
        if self._writer is None:
            return None
        from mrcnn.core.fileio import set_new_file_mode
        self._writer.release()
        self._writer = None
        set_new_file_mode(self._tmp, self.path)
        os.replace(self._tmp, self.path)
        self._tmp = None
        return self.path

    def abort(self):
        """Drop a partly written file (nothing appears at ``path``)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)
        self._tmp = None
