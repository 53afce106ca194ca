#!/usr/bin/env python3
"""Real-time phone segmentation from a camera or a video file.

    phone realtime                            # camera 0 in a window (q quits)
    phone realtime --source 1                 # another camera
    phone realtime --source clip.mp4          # a video file, played at its frame rate
    phone realtime --source datasets/videos/phone_demo.mp4 --no-display --out out.mp4
    python phone/realtime.py --source ...     # the same, from a checkout without installing

This module is the library (sources, the one-slot mailbox, sinks, the loop);
``phone/commands/realtime.py`` parses the options.

How it keeps up
---------------
A capture thread reads frames as the source delivers them (a camera at its
own rate; a video file paced at its frame rate, as if it were a camera) and
puts each into a one-slot mailbox (:class:`LatestFrame`). A frame that the
model has not taken yet is overwritten by the next one and counted as
dropped. The main loop always takes the newest frame, runs the model, draws
the mask overlay and a status line (FPS, latency) and shows it (cv2.imshow)
or writes it to ``--out``. When the model is slower than the source, frames
are dropped rather than queued, so the lag stays at about one model run
instead of growing. ``--every-frame`` turns dropping off (the capture waits
for the model), e.g. to render every frame of a file.

In the ``--out`` video every source frame keeps its slot: the overlay stays
on screen until the next processed frame replaces it (what a viewer of the
window saw), so the video lasts as long as the source.

Exit status as for the other ``phone`` commands: 0 done (end of file, q,
Ctrl-C, --max-frames), 2 unusable input (camera that cannot be opened or does
not answer within --camera-timeout, unreadable video, missing weights, no
window support without --no-display).
"""
import os
import sys

if __name__ == "__main__":  # a script from a checkout: phone/ is sys.path[0]
    import _script  # noqa: F401  (sets sys.path so that `import phone` is the package)

import threading  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402

import numpy as np  # noqa: E402

from phone.errors import PhoneDataError  # noqa: E402
from phone.video import FALLBACK_FPS, AtomicVideoWriter, VideoError  # noqa: E402

__all__ = ["LatestFrame", "FrameSource", "RealtimeStats", "CameraError", "VideoSourceError",
           "parse_source", "open_source", "open_camera", "open_video", "display_problem",
           "draw_hud", "VideoSink", "WindowSink", "run_realtime", "frame_processor",
           "DEFAULT_CAMERA_TIMEOUT", "WINDOW_NAME", "FALLBACK_FPS"]

DEFAULT_CAMERA_TIMEOUT = 5.0
WINDOW_NAME = "phone realtime (q to quit)"
_FALLBACK_FPS = FALLBACK_FPS


class CameraError(PhoneDataError):
    """A camera that cannot be opened, does not answer or gives no frames."""


class VideoSourceError(VideoError):
    """A video file that cannot be opened or read, or an output video that
    cannot be written."""


# ------------------------------------------------------------------ mailbox
class LatestFrame:
    """One-slot mailbox between the capture thread and the model loop.

    drop=True: ``put`` overwrites a frame nobody has taken yet (counted in
    ``dropped``), so ``get`` always returns the newest captured frame.
    drop=False: ``put`` waits until the previous frame was taken (nothing is
    dropped; the source is slowed down to the model's pace).

    Counters: ``captured`` (frames put), ``dropped`` (overwritten), ``taken``.
    ``take_log`` holds, for each ``get``, (id taken, newest id captured at
    that moment); with drop=True the two are always equal.
    """

    def __init__(self, drop=True, log_size=100000):
        self.drop = bool(drop)
        self._cond = threading.Condition()
        self._item = None
        self._closed = False
        self.captured = 0
        self.dropped = 0
        self.taken = 0
        self.newest_id = None
        self.take_log = deque(maxlen=log_size)

    @property
    def closed(self):
        return self._closed

    def put(self, frame_id, frame, t_capture=None):
        """Offer a frame. Returns False (and stores nothing) once closed."""
        with self._cond:
            if not self.drop:
                while self._item is not None and not self._closed:
                    self._cond.wait()
            if self._closed:
                return False
            if self._item is not None:
                self.dropped += 1
            self._item = (frame_id, frame,
                          time.perf_counter() if t_capture is None else t_capture)
            self.captured += 1
            self.newest_id = frame_id
            self._cond.notify_all()
            return True

    def get(self, timeout=None):
        """The newest frame as (frame_id, frame, t_capture), waiting up to
        ``timeout`` seconds (None: forever). Returns None on timeout or when
        the mailbox is closed and empty."""
        with self._cond:
            end = None if timeout is None else time.monotonic() + timeout
            while self._item is None and not self._closed:
                remaining = None if end is None else end - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._item is None:
                return None
            item, self._item = self._item, None
            self.taken += 1
            self.take_log.append((item[0], self.newest_id))
            self._cond.notify_all()
            return item

    def pending(self):
        """1 if a frame waits to be taken, else 0."""
        with self._cond:
            return 0 if self._item is None else 1

    def close(self):
        """No more frames: wakes up waiting ``get``/``put`` calls."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


# ------------------------------------------------------------------ sources
class FrameSource:
    """A frame reader: ``read() -> (ok, frame)`` like cv2.VideoCapture.

    reader: object with read() (and optionally release()).
    name: for messages ("camera 0", "clip.mp4").
    live: True for cameras (read() blocks until the next frame); False for
        files, which run_realtime paces at ``fps``.
    fps: frames per second of the source (0 / None: unknown).
    first: an already-read first frame, returned by the first read().
    """

    def __init__(self, reader, name, live, fps=None, first=None, frame_count=None):
        self.reader = reader
        self.name = name
        self.live = bool(live)
        self.fps = float(fps) if fps and 0 < float(fps) < 1000 else None
        self.frame_count = frame_count
        self._first = first

    def read(self):
        if self._first is not None:
            frame, self._first = self._first, None
            return True, frame
        return self.reader.read()

    def peek(self):
        """The buffered first frame (None if it was read already)."""
        return self._first

    def release(self):
        release = getattr(self.reader, "release", None)
        if release is not None:
            release()


def parse_source(text):
    """"0", " 2 " -> camera index (int); anything else -> file path (str)."""
    if isinstance(text, int):
        return text
    s = str(text).strip()
    if s.isdigit():
        return int(s)
    return os.fspath(text)


def _quiet_opencv(cv2):
    """Silence OpenCV's own log lines (we report the problem ourselves).
    Returns a function that restores the previous level."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None or not hasattr(log, "setLogLevel"):
        return lambda: None
    old = log.getLogLevel()
    log.setLogLevel(getattr(log, "LOG_LEVEL_SILENT", 0))
    return lambda: log.setLogLevel(old)


def open_camera(index, timeout=DEFAULT_CAMERA_TIMEOUT, cv2_module=None):
    """Open camera ``index`` and read its first frame, giving up after
    ``timeout`` seconds (some drivers hang instead of failing).

    Returns a live FrameSource. Raises CameraError.
    """
    cv2 = cv2_module
    if cv2 is None:
        import cv2
    result = {}

    def attempt():
        restore = _quiet_opencv(cv2)
        try:
            cap = cv2.VideoCapture(int(index))
            result["cap"] = cap
            if not cap.isOpened():
                result["error"] = "cannot open it (no camera with this index, or no permission)"
                return
            ok, frame = cap.read()
            if not ok or frame is None:
                result["error"] = "it opened but gives no frames (in use by another program?)"
                return
            result["first"] = frame
            result["fps"] = cap.get(cv2.CAP_PROP_FPS)
        except Exception as e:  # a driver error: reported as one line below
            result["error"] = f"cannot open it ({type(e).__name__}: {' '.join(str(e).split())})"
        finally:
            restore()

    hint = "; pass a video file instead: --source clip.mp4"
    worker = threading.Thread(target=attempt, name=f"open-camera-{index}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise CameraError(f"camera {index}: no answer within {timeout:g} s (a camera that "
                          f"hangs, or one in use by another program){hint}")
    if "error" in result:
        cap = result.get("cap")
        if cap is not None:
            cap.release()
        raise CameraError(f"camera {index}: {result['error']}{hint}")
    return FrameSource(result["cap"], f"camera {index}", live=True, fps=result.get("fps"),
                       first=result["first"])


def open_video(path, cv2_module=None):
    """Open a video file and read its first frame. Returns a FrameSource
    (not live: paced at the file's frame rate). Raises VideoSourceError."""
    cv2 = cv2_module
    if cv2 is None:
        import cv2
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoSourceError(f"{path}: no such video file (--source takes a camera index "
                               f"such as 0, or a video file)")
    if os.path.isdir(path):
        raise VideoSourceError(f"{path}: is a folder, not a video file")
    restore = _quiet_opencv(cv2)
    try:
        cap = cv2.VideoCapture(path)
        if not cap.isOpened():
            raise VideoSourceError(f"{path}: cannot open video (unknown format or corrupt file)")
        ok, frame = cap.read()
    finally:
        restore()
    if not ok or frame is None:
        cap.release()
        raise VideoSourceError(f"{path}: video has no frames (empty, or a codec OpenCV cannot "
                               f"decode)")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return FrameSource(cap, path, live=False, fps=cap.get(cv2.CAP_PROP_FPS), first=frame,
                       frame_count=count or None)


def open_source(source, camera_timeout=DEFAULT_CAMERA_TIMEOUT):
    """Camera index or video path (see parse_source) -> FrameSource."""
    source = parse_source(source)
    if isinstance(source, int):
        return open_camera(source, timeout=camera_timeout)
    return open_video(source)


# ------------------------------------------------------------------ output
def display_problem():
    """Why no OpenCV window can be opened here (a one-line reason), or None."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY is not set)"
    import cv2
    try:
        cv2.namedWindow(WINDOW_NAME, cv2.WINDOW_NORMAL)
    except cv2.error:
        return ("this OpenCV build has no window support (opencv-python-headless); "
                "pip install opencv-python for windows")
    return None


def _to_bgr(frame):
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(f"expected an [H, W, 3] frame, got shape {frame.shape}")
    return np.ascontiguousarray(frame[:, :, :3])


def draw_hud(image_bgr, lines, corner="bottom"):
    """Write text lines in the bottom-left (or "top"-left) corner on a dark
    band. The bottom keeps clear of the instance captions, which sit above
    the boxes.

    image_bgr: [H, W, 3] uint8 (modified in place and returned).
    The font scales with the frame width (readable from 128 px up).
    """
    import cv2
    h, w = image_bgr.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.3, min(1.0, w / 700.0))
    thick = 1 if scale < 0.8 else 2
    sizes = [cv2.getTextSize(t, font, scale, thick) for t in lines]
    line_h = max([s[0][1] + s[1] for s in sizes] + [1]) + 4
    band_w = min(w, max([s[0][0] for s in sizes] + [0]) + 8)
    band_h = min(h, line_h * len(lines) + 4)
    top = 0 if corner == "top" else h - band_h
    if band_w > 0 and band_h > 0:
        roi = image_bgr[top:top + band_h, :band_w]
        roi[:] = (roi.astype(np.uint16) * 2 // 5).astype(np.uint8)
    for i, text in enumerate(lines):
        y = top + 2 + line_h * (i + 1) - 4
        cv2.putText(image_bgr, text, (4, y), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return image_bgr


class VideoSink:
    """Writes frames to a video file, atomically (phone.video.AtomicVideoWriter).

    With ``repeat=True`` (drop mode) each frame id keeps its slot: before a
    frame with id i is written, the previous image is repeated for the ids
    that were dropped in between, so the video keeps the source's timing.
    """

    def __init__(self, path, fps, repeat=True):
        self._out = AtomicVideoWriter(path, fps, hint="--out")
        self.path = self._out.path
        self.fps = self._out.fps
        self.repeat = bool(repeat)
        self._prev = None
        self._prev_id = None

    @property
    def frames(self):
        return self._out.frames

    @property
    def size(self):
        return self._out.size

    def __call__(self, frame_id, image_bgr):
        if self.repeat and self._prev is not None and frame_id is not None:
            for _ in range(max(0, int(frame_id) - int(self._prev_id) - 1)):
                self._out.write(self._prev)
        image_bgr = np.ascontiguousarray(image_bgr)
        self._out.write(image_bgr)
        self._prev, self._prev_id = image_bgr, frame_id
        return True

    def close(self):
        """Finish the file (renamed into place). Returns the path, or None
        when no frame was written."""
        return self._out.close()

    def abort(self):
        self._out.abort()


class WindowSink:
    """Shows frames in an OpenCV window; returns False when q / Esc is pressed
    or the window is closed."""

    def __init__(self, name=WINDOW_NAME, min_width=512):
        self.name = name
        self.min_width = min_width
        self._sized = False

    def poll(self):
        """Keep the window responsive while waiting; False = quit."""
        import cv2
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), ord("Q"), 27):
            return False
        if self._sized:   # closed with the mouse (only meaningful once shown)
            try:
                if cv2.getWindowProperty(self.name, cv2.WND_PROP_VISIBLE) < 1:
                    return False
            except cv2.error:
                return False
        return True

    def __call__(self, frame_id, image_bgr):
        import cv2
        if not self._sized:
            cv2.namedWindow(self.name, cv2.WINDOW_NORMAL)
            h, w = image_bgr.shape[:2]
            f = max(1.0, self.min_width / float(w))
            cv2.resizeWindow(self.name, int(w * f), int(h * f))
        cv2.imshow(self.name, image_bgr)
        self._sized = True
        return self.poll()

    def close(self):
        import cv2
        try:
            cv2.destroyWindow(self.name)
            cv2.waitKey(1)
        except cv2.error:
            pass


# ------------------------------------------------------------------ loop
class RealtimeStats:
    """What a run did.

    captured: frames read from the source; processed: frames the model ran
    on; dropped: frames overwritten before the model took them;
    processed_ids: ids (source order, from 0) of the processed frames;
    latency_ms: per processed frame, capture -> overlay ready; model_ms: the
    model + drawing time alone; seconds: wall time of the loop; stop_reason.
    """

    def __init__(self):
        self.captured = 0
        self.processed = 0
        self.dropped = 0
        self.processed_ids = []
        self.latency_ms = []
        self.model_ms = []
        self.take_log = []
        self.seconds = 0.0
        self.stop_reason = None

    @property
    def fps(self):
        """Processed frames per second over the whole run."""
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def line(self):
        lat = f"{np.mean(self.latency_ms):.0f}" if self.latency_ms else "-"
        mod = f"{np.mean(self.model_ms):.0f}" if self.model_ms else "-"
        return (f"{self.processed} of {self.captured} captured frames processed, "
                f"{self.dropped} dropped; {self.fps:.1f} FPS, latency {lat} ms "
                f"(model {mod} ms)")

    def __repr__(self):
        return f"RealtimeStats({self.line()})"


def _capture_loop(source, slot, stop, pace, errors):
    """Capture thread: read frames and put them in the slot until the source
    ends, ``stop`` is set or the slot is closed. Files are paced at ``pace``
    frames per second (None: as fast as they decode)."""
    frame_id = 0
    t0 = time.perf_counter()
    try:
        while not stop.is_set():
            if pace:
                delay = t0 + frame_id / pace - time.perf_counter()
                if delay > 0 and stop.wait(delay):
                    break
            ok, frame = source.read()
            if not ok or frame is None:
                break
            if not slot.put(frame_id, frame, time.perf_counter()):
                break
            frame_id += 1
    except Exception as e:  # reported by the main loop
        errors.append(e)
    finally:
        slot.close()


def run_realtime(source, process, sinks=(), drop=True, max_frames=None, pace=None,
                 poll=None, stall_timeout=10.0, status=None, status_every=2.0,
                 hud=True, clock=time.perf_counter):
    """Run the capture thread + model loop until the source ends, a sink
    returns False, ``max_frames`` frames were processed or Ctrl-C.

    source: FrameSource (or any object with read() -> (ok, frame)).
    process: frame -> annotated frame (same kind of array), e.g. model +
        overlay on a BGR frame.
    sinks: callables sink(frame_id, image) -> bool (False stops the run).
    drop: keep only the newest frame (True) or process every frame (False).
    pace: frames per second at which to read a non-live source (None: as
        fast as it reads).
    poll: called while waiting for a frame; False stops the run (window keys).
    stall_timeout: seconds without any new frame before giving up with a
        CameraError (a camera that stopped delivering).
    status: callable(str) for a periodic status line (every status_every s).
    hud: draw FPS / latency / counters onto the frame before the sinks.
    Returns RealtimeStats.
    """
    stats = RealtimeStats()
    slot = LatestFrame(drop=drop)
    stop = threading.Event()
    errors = []
    thread = threading.Thread(target=_capture_loop, args=(source, slot, stop, pace, errors),
                              name="capture", daemon=True)
    recent = deque(maxlen=30)
    start = clock()
    last_status = start
    last_frame_at = time.monotonic()
    thread.start()
    try:
        while True:
            item = slot.get(timeout=0.05)
            if item is None:
                if slot.closed:
                    stats.stop_reason = "end of source"
                    break
                if poll is not None and poll() is False:
                    stats.stop_reason = "quit"
                    break
                if stall_timeout and time.monotonic() - last_frame_at > stall_timeout:
                    raise CameraError(f"{getattr(source, 'name', 'source')}: no new frame for "
                                      f"{stall_timeout:g} s; stopped")
                continue
            last_frame_at = time.monotonic()
            frame_id, frame, t_capture = item
            t0 = clock()
            out = process(frame)
            t1 = clock()
            stats.processed += 1
            stats.processed_ids.append(frame_id)
            stats.model_ms.append((t1 - t0) * 1000.0)
            stats.latency_ms.append((t1 - t_capture) * 1000.0)
            recent.append(t1)
            if hud:
                fps = ((len(recent) - 1) / (recent[-1] - recent[0])
                       if len(recent) > 1 and recent[-1] > recent[0] else 0.0)
                out = draw_hud(np.array(out, copy=True), [
                    f"{fps:4.1f} FPS  {stats.latency_ms[-1]:4.0f} ms",
                    f"frame {frame_id}  dropped {slot.dropped}"])
            keep_going = True
            for sink in sinks:
                if sink(frame_id, out) is False:
                    keep_going = False
            if not keep_going:
                stats.stop_reason = "quit"
                break
            if max_frames and stats.processed >= max_frames:
                stats.stop_reason = "max frames"
                break
            if status is not None and t1 - last_status >= status_every:
                last_status = t1
                stats.seconds = t1 - start
                stats.captured, stats.dropped = slot.captured, slot.dropped
                status(stats.line())
    except KeyboardInterrupt:
        stats.stop_reason = "interrupted"
    finally:
        stop.set()
        slot.close()
        thread.join(timeout=5.0)
        stats.seconds = clock() - start
        stats.captured = slot.captured
        stats.dropped = slot.dropped
        stats.take_log = list(slot.take_log)
    if errors:
        e = errors[0]
        raise CameraError(f"{getattr(source, 'name', 'source')}: reading a frame failed "
                          f"({type(e).__name__}: {' '.join(str(e).split())})")
    return stats


# ------------------------------------------------------------------ model
def frame_processor(segmenter):
    """BGR frame -> BGR overlay (model + Matterport-style instance overlay)."""
    def process(frame_bgr):
        frame_bgr = _to_bgr(frame_bgr)
        rgb = np.ascontiguousarray(frame_bgr[:, :, ::-1])
        _bw, r = segmenter.segment_image(rgb)
        return np.ascontiguousarray(segmenter.overlay(rgb, r)[:, :, ::-1])
    return process


if __name__ == "__main__":  # python phone/realtime.py ARGS = phone realtime ARGS
    sys.exit(_script.run_command("realtime"))
