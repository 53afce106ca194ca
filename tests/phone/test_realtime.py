"""phone.realtime: latest-frame mailbox, drop/no-drop loop with a fake slow
model and a fake fast source, output video, camera errors, and a headless
run of the real CLI on the bundled video."""
import pathlib
import shutil
import subprocess
import sys
import threading
import time

import cv2
import fakecam
import numpy as np
import pytest

from phone import realtime as rt
from video_frames import read_frames

REPO = pathlib.Path(__file__).resolve().parents[2]
VIDEO = REPO / "datasets" / "videos" / "phone_demo.mp4"


# ----------------------------------------------------------------- fakes
class FastSource:
    """n frames of 8x8 whose pixels hold the frame id, one every `period` s."""

    def __init__(self, n, period=0.001):
        self.n, self.period, self.i = n, period, 0
        self.name = "fake"

    def read(self):
        if self.i >= self.n:
            return False, None
        if self.period:
            time.sleep(self.period)
        frame = np.full((8, 8, 3), 0, np.uint16)
        frame[...] = self.i
        self.i += 1
        return True, frame


class BurstSource:
    """Frames that arrive in bursts while the model works, driven by events
    (no sleeps): frame 0 alone, then each time the model has started on a
    frame, ``burst`` more frames before the model may finish. So every burst
    leaves exactly ``burst - 1`` frames unprocessed, on any machine.
    ``model`` is the matching process(frame) function."""

    def __init__(self, groups, burst):
        self.n = 1 + groups * burst
        self.burst, self.i = burst, 0
        self.name = "burst"
        self.started, self.may_finish = threading.Event(), threading.Event()
        self.ended = False
        self.seen = []

    def _group_start(self, i):
        return i == 0 or (i - 1) % self.burst == 0

    def read(self):
        if self.i >= self.n:
            self.ended = True                     # the model never waits again
            self.may_finish.set()
            return False, None
        if self.i > 1 and self._group_start(self.i):
            self.may_finish.set()                 # a whole burst is in the mailbox
        if self.i > 0 and self._group_start(self.i):
            assert self.started.wait(10), "the model never took a frame"
            self.started.clear()
        frame = np.full((8, 8, 3), self.i, np.uint16)
        self.i += 1
        return True, frame

    def model(self, frame):
        self.seen.append(int(frame[0, 0, 0]))
        self.started.set()
        assert self.may_finish.wait(10), "the source never finished its burst"
        if not self.ended:
            self.may_finish.clear()
        return frame


def slow_model(delay, seen):
    def process(frame):
        seen.append(int(frame[0, 0, 0]))
        time.sleep(delay)
        return frame
    return process


# ----------------------------------------------------------------- mailbox
def test_latest_frame_keeps_only_the_newest():
    slot = rt.LatestFrame(drop=True)
    for i in range(3):
        assert slot.put(i, f"frame{i}", t_capture=float(i))
    assert slot.captured == 3 and slot.dropped == 2
    assert slot.get(timeout=0) == (2, "frame2", 2.0)
    assert slot.get(timeout=0) is None            # nothing new: no re-delivery
    slot.put(3, "frame3")
    assert slot.get(timeout=0)[0] == 3
    assert list(slot.take_log) == [(2, 2), (3, 3)]
    slot.close()
    assert slot.put(4, "frame4") is False
    assert slot.get(timeout=0) is None and slot.closed
    assert (slot.captured, slot.dropped, slot.taken) == (4, 2, 2)


def test_latest_frame_without_drop_waits_for_the_reader():
    slot = rt.LatestFrame(drop=False)
    slot.put(0, "a")
    t = threading.Thread(target=slot.put, args=(1, "b"), daemon=True)
    t.start()
    t.join(0.2)
    assert t.is_alive()                    # blocked: frame 0 not taken yet
    assert slot.get(timeout=1)[0] == 0
    t.join(2)
    assert not t.is_alive()
    assert slot.get(timeout=1)[0] == 1
    assert slot.dropped == 0 and slot.captured == 2


def test_close_wakes_a_blocked_writer():
    slot = rt.LatestFrame(drop=False)
    slot.put(0, "a")
    result = []
    t = threading.Thread(target=lambda: result.append(slot.put(1, "b")), daemon=True)
    t.start()
    slot.close()
    t.join(2)
    assert result == [False]


# ----------------------------------------------------------------- loop
def test_slow_model_drops_stale_frames_and_always_takes_the_latest():
    groups, burst = 20, 4
    src = BurstSource(groups, burst)
    n = src.n
    stats = rt.run_realtime(src, src.model, hud=False)
    assert stats.stop_reason == "end of source"
    assert stats.captured == n
    # frame 0, then the last frame of each burst; the other burst - 1 are dropped
    assert stats.processed_ids == [0] + [b * burst for b in range(1, groups + 1)]
    assert stats.dropped == groups * (burst - 1)
    # every frame is either processed or dropped; the last one is processed
    assert stats.processed + stats.dropped == n
    assert stats.processed_ids[-1] == n - 1
    # frame ids increase strictly, and are the frames the model saw
    ids = stats.processed_ids
    assert all(b > a for a, b in zip(ids, ids[1:]))
    assert src.seen == ids
    # each frame taken was the newest one captured at that moment
    assert len(stats.take_log) == stats.processed
    assert all(taken == newest for taken, newest in stats.take_log)
    assert len(stats.latency_ms) == len(stats.model_ms) == stats.processed


def test_every_frame_mode_processes_all_frames_in_order():
    n = 25
    seen = []
    stats = rt.run_realtime(FastSource(n, period=0), slow_model(0.002, seen), drop=False,
                            hud=False)
    assert stats.processed_ids == list(range(n)) == seen
    assert stats.dropped == 0 and stats.captured == n


def test_sinks_get_hud_frames_and_can_stop_the_run():
    got = []

    def sink(frame_id, image):
        got.append((frame_id, image))
        return len(got) < 3            # "q" after the third frame

    frames = [np.zeros((128, 128, 3), np.uint8) for _ in range(10)]
    src = rt.FrameSource(iter_reader(frames), "list", live=False)
    stats = rt.run_realtime(src, lambda f: f, sinks=[sink], drop=False)
    assert stats.stop_reason == "quit" and stats.processed == 3
    assert [i for i, _ in got] == [0, 1, 2]
    # the HUD band (darkened, bottom left) holds white text; the input frames stay black
    assert got[0][1].shape == (128, 128, 3)
    assert got[0][1][-20:, :80].max() > 200 and got[0][1][:60, :].max() == 0
    assert frames[0].max() == 0


def test_max_frames_stops():
    stats = rt.run_realtime(FastSource(50, period=0), lambda f: f, drop=False, max_frames=4,
                            hud=False)
    assert stats.processed == 4 and stats.stop_reason == "max frames"


class iter_reader:
    def __init__(self, frames):
        self.it = iter(frames)

    def read(self):
        f = next(self.it, None)
        return (f is not None), f


# ----------------------------------------------------------------- output video
def test_video_sink_keeps_the_slots_of_dropped_frames(tmp_path):
    colours = {0: (0, 0, 255), 3: (0, 255, 0), 4: (255, 0, 0)}
    out = tmp_path / "o.mp4"
    sink = rt.VideoSink(out, fps=10, repeat=True)
    for i, c in colours.items():
        sink(i, np.full((64, 96, 3), c, np.uint8))
    assert not out.exists()                    # written atomically on close
    assert sink.close() == str(out)
    frames = read_frames(out)
    assert len(frames) == sink.frames == 5     # ids 0..4: 1 and 2 repeat frame 0
    assert frames[0].shape == (64, 96, 3)
    means = [f.reshape(-1, 3).mean(axis=0) for f in frames]
    for k, expect in zip(range(5), [0, 0, 0, 3, 4]):
        assert np.abs(means[k] - np.array(colours[expect])).max() < 30, (k, means[k])
    assert [p.name for p in tmp_path.iterdir()] == ["o.mp4"]


# ----------------------------------------------------------------- sources
def test_parse_source():
    assert rt.parse_source("0") == 0 and rt.parse_source(" 2 ") == 2
    assert rt.parse_source("clip.mp4") == "clip.mp4"


def test_camera_that_hangs_gives_a_clear_error_within_the_timeout():
    release = threading.Event()

    class HangingCapture:
        def __init__(self, index):
            release.wait(30)

    class FakeCV2:
        VideoCapture = HangingCapture
        CAP_PROP_FPS = 5

    try:
        with pytest.raises(rt.CameraError, match=r"camera 3: no answer within 0.3 s"):
            rt.open_camera(3, timeout=0.3, cv2_module=FakeCV2)
    finally:
        release.set()


def test_camera_without_frames_is_an_error():
    class NoFrames:
        def __init__(self, index):
            self.released = False

        def isOpened(self):
            return True

        def read(self):
            return False, None

        def release(self):
            pass

    class FakeCV2:
        VideoCapture = NoFrames
        CAP_PROP_FPS = 5

    with pytest.raises(rt.CameraError, match="gives no frames"):
        rt.open_camera(0, timeout=5, cv2_module=FakeCV2)


def _script(args, env=None, cameras=None):
    """Run phone/realtime.py; cameras: {index: video} the fake cameras it
    sees (tests/fakecam), none by default, whatever this machine has."""
    e = fakecam.env(cameras or {})
    e.pop("PHONE_DEBUG", None)
    e.update(env or {})
    return subprocess.run([sys.executable, str(REPO / "phone" / "realtime.py")] + args,
                          cwd=str(REPO), env=e, capture_output=True, text=True, timeout=60)


def test_missing_camera_exits_2_with_one_line():
    # a machine whose only camera is 1: the default webcam (0) is missing
    r = _script(["--source", "0", "--no-display", "--camera-timeout", "3"],
                cameras={1: VIDEO})
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("phone realtime: error:")]
    assert len(errors) == 1 and "camera 0" in errors[0] and "--source" in errors[0]


def test_camera_source_runs_headless_and_writes_the_video(tmp_path, background_only_weights):
    """The webcam branch end to end in the real script: fake camera 0 gives
    six frames of distinct grey levels; every frame mode, 5 frames, overlay
    video. Each written frame is the camera frame of the same index (its
    median grey level: robust to the HUD band). The model detects nothing,
    so no mask covers the frame: an untrained model's random detections
    covered more than half of a frame in some runs and moved the median."""
    levels = [30, 80, 130, 180, 230, 60]
    clip = tmp_path / "camera.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 96))
    for v in levels:
        writer.write(np.full((96, 128, 3), v, np.uint8))
    writer.release()
    out = tmp_path / "cam.mp4"
    r = _script(["--source", "0", "--no-display", "--every-frame", "--max-frames", "5",
                 "--weights", background_only_weights, "--out", str(out)], cameras={0: clip})
    assert r.returncode == 0, r.stderr
    assert "camera 0" in r.stdout + r.stderr
    frames = read_frames(out)
    assert len(frames) == 5 and frames[0].shape == (96, 128, 3)
    medians = [float(np.median(f)) for f in frames]
    assert np.allclose(medians, levels[:5], atol=8), medians


def test_no_window_without_display_points_to_no_display():
    r = _script(["--source", str(VIDEO)], env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "--no-display" in r.stderr and "cannot open a window" in r.stderr


def test_bad_video_and_bad_out_are_clear_errors(tmp_path, capsys):
    from phone.cli import main
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    assert main(["realtime", "--source", str(bad), "--no-display"]) == 2
    assert "bad.mp4: cannot open video" in capsys.readouterr().err
    assert main(["realtime", "--source", str(VIDEO), "--no-display",
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "--out must be a video file" in capsys.readouterr().err


# ----------------------------------------------------------------- real model
@pytest.fixture(scope="module")
def scratch_weights(tmp_path_factory):
    """Untrained from-scratch model weights (the demo model's architecture)."""
    from mrcnn.model import MaskRCNN
    from phone.config import PhoneScratchInferenceConfig
    d = tmp_path_factory.mktemp("rt")
    model = MaskRCNN("inference", PhoneScratchInferenceConfig(), str(d))
    path = str(d / "scratch.h5")
    model.save_weights(path)
    return path


@pytest.fixture(scope="module")
def background_only_weights(scratch_weights, tmp_path_factory):
    """scratch_weights with a classifier that always says background:
    mrcnn_class_logits gives (+30, -30) whatever the ROI, so a phone's score
    is about e**-60 and the model detects nothing."""
    import h5py
    path = tmp_path_factory.mktemp("rt") / "background_only.h5"
    shutil.copyfile(scratch_weights, path)
    with h5py.File(path, "r+") as f:
        g = f["mrcnn_class_logits/mrcnn_class_logits"]
        g["kernel:0"][...] = 0.0
        g["bias:0"][...] = [30.0, -30.0]
    return str(path)


def test_headless_run_on_the_bundled_video_writes_an_mp4(tmp_path, background_only_weights, capsys):
    from phone.cli import main
    assert VIDEO.is_file()
    out = tmp_path / "out.mp4"
    code = main(["realtime", "--source", str(VIDEO), "--no-display", "--out", str(out),
                 "--weights", background_only_weights, "--every-frame", "--max-frames", "6",
                 "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    frames = read_frames(out)
    assert len(frames) == 6
    assert frames[0].shape == (256, 256, 3)
    assert "6 of" in captured.out and f"Wrote {out}" in captured.out
    # the HUD is drawn: the bottom-left band differs from the source frame (the
    # model detects nothing: no random mask under the band to pull it back)
    src = read_frames(VIDEO)[0]
    assert np.abs(frames[0][-12:, :60].astype(int) - src[-12:, :60]).mean() > 20


def test_window_sink_quits_on_q(monkeypatch):
    """The window path with OpenCV's GUI calls replaced (the headless build
    has none): frames are shown, q ends the run, the window is closed."""
    calls = {"imshow": 0, "destroy": 0}
    keys = iter([-1, -1, ord("q")])

    def imshow(name, image):
        assert name == rt.WINDOW_NAME and image.shape == (8, 8, 3)
        calls["imshow"] += 1

    monkeypatch.setattr(cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "resizeWindow", lambda name, w, h: calls.setdefault("size", (w, h)))
    monkeypatch.setattr(cv2, "imshow", imshow)
    monkeypatch.setattr(cv2, "waitKey", lambda delay: next(keys, -1))
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(cv2, "destroyWindow",
                        lambda name: calls.__setitem__("destroy", calls["destroy"] + 1))
    window = rt.WindowSink()
    frames = [np.full((8, 8, 3), i, np.uint8) for i in range(10)]
    stats = rt.run_realtime(rt.FrameSource(iter_reader(frames), "list", live=False),
                            lambda f: f, sinks=[window], drop=False, hud=False)
    window.close()
    assert stats.stop_reason == "quit" and stats.processed == 3 and calls["imshow"] == 3
    assert calls["size"] == (512, 512) and calls["destroy"] == 1


def test_window_closed_with_the_mouse_stops(monkeypatch):
    monkeypatch.setattr(cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "resizeWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "imshow", lambda *a: None)
    monkeypatch.setattr(cv2, "waitKey", lambda delay: -1)
    visible = iter([1.0, 0.0])
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: next(visible, 0.0))
    window = rt.WindowSink()
    assert window.poll() is True            # not shown yet: visibility not checked
    img = np.zeros((8, 8, 3), np.uint8)
    assert window(0, img) is True
    assert window(1, img) is False


# ----------------------------------------------------------------- --coco-class
def test_realtime_coco_class_keeps_only_that_class(tmp_path, monkeypatch, capsys):
    """`phone realtime --coco-class "cell phone"` with an 81-class model: the
    frames' masks hold the cell-phone detection only (the detector also
    reports a "person" box beside it)."""
    from mrcnn.model import MaskRCNN
    from phone import coco_classes as cc
    from phone.cli import main
    from tiny_configs import TINY_COCO, TinyCocoConfig

    def detect(self, images, verbose=0):
        outs = []
        for im in images:
            h, w = np.asarray(im).shape[:2]
            masks = np.zeros((h, w, 2), bool)
            masks[10:40, 20:60, 0] = True                  # the phone
            masks[50:90, 100:160, 1] = True                # a person
            outs.append({"rois": np.array([[10, 20, 40, 60], [50, 100, 90, 160]], np.int32),
                         "class_ids": np.array([cc.CELL_PHONE, 1], np.int32),
                         "scores": np.array([0.9, 0.95], np.float32), "masks": masks})
        return outs
    monkeypatch.setattr(MaskRCNN, "detect", detect)
    seen = []
    real = rt.frame_processor

    def frame_processor(seg):
        process = real(seg)

        def wrapped(frame_bgr):
            seen.append(seg.segment_image(frame_bgr[:, :, ::-1])[0])
            return process(frame_bgr)
        return wrapped
    monkeypatch.setattr(rt, "frame_processor", frame_processor)
    model = MaskRCNN("inference", TinyCocoConfig(), str(tmp_path))
    model.save_weights(str(tmp_path / "coco.h5"))
    code = main(["realtime", "--source", str(VIDEO), "--no-display", "--every-frame",
                 "--max-frames", "3", "--weights", str(tmp_path / "coco.h5"),
                 "--config", TINY_COCO,
                 "--coco-class", "cell phone", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert len(seen) >= 3
    want = np.zeros((256, 256), np.uint8)
    want[10:40, 20:60] = 255
    for bw in seen:
        np.testing.assert_array_equal(bw, want)


# ----------------------------------------------------------------- pacing and stalls (virtual time)
class VirtualTime:
    """A clock that moves only when the fake model works, shared by the two
    threads of run_realtime: the capture thread's pacing waits
    (``stop.wait(delay)`` in phone.realtime._capture_loop) block until the
    model's work has moved the clock past their end, and each model run
    (``work(seconds)``) returns only once the capture thread has read every
    frame due by then (it waits again, or the source has ended). Which
    frames the model gets is then fixed by the clock alone, on any machine."""

    def __init__(self):
        self.now = 0.0
        self.cond = threading.Condition()
        self.waiting_until = None      # end of the capture thread's current wait
        self.ended = False             # the source said there is no more frame
        self.waits = []                # end time of every pacing wait
        self.reads = []                # (clock, ok) of every source.read()

    def perf_counter(self):
        with self.cond:
            return self.now

    def event_class(self):
        clock = self

        class Stop:                    # stands in for threading.Event (the stop flag)
            def __init__(self):
                self.flag = False

            def is_set(self):
                return self.flag

            def set(self):
                with clock.cond:
                    self.flag = True
                    clock.cond.notify_all()

            def wait(self, delay):
                with clock.cond:
                    end = clock.now + delay
                    clock.waits.append(end)
                    clock.waiting_until = end
                    clock.cond.notify_all()
                    assert clock.cond.wait_for(lambda: clock.now >= end or self.flag, 30)
                    clock.waiting_until = None
                    return self.flag
        return Stop

    def timed(self, source):
        """source with its reads logged on this clock."""
        read = source.read

        def timed_read():
            ok, frame = read()
            with self.cond:
                self.reads.append((self.now, bool(ok)))
                if not ok:
                    self.ended = True
                    self.cond.notify_all()
            return ok, frame
        source.read = timed_read
        return source

    def work(self, seconds):
        """The model runs for ``seconds`` of this clock."""
        with self.cond:
            self.now += seconds
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: self.ended or (
                self.waiting_until is not None and self.waiting_until > self.now), 30), \
                "the capture thread did not catch up"


def _grey_clip(path, levels, fps, size=(96, 128)):
    """An MJPG clip whose frame i is uniformly grey at levels[i]."""
    h, w = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for v in levels:
        writer.write(np.full((h, w, 3), v, np.uint8))
    writer.release()
    return path


def _no_model(monkeypatch):
    """phone realtime without a model: segmenter_from_args builds nothing."""
    import phone.commands.realtime as cmd
    monkeypatch.setattr(cmd, "segmenter_from_args", lambda args, batch: (None, "fake.h5", None))


def test_video_file_is_read_at_its_frame_rate_and_stale_frames_dropped(tmp_path, monkeypatch,
                                                                       capsys):
    """`phone realtime --source clip.avi --no-display --out o.mp4` (the
    default for a file: paced at its frame rate, newest frame only) on a
    12-frame clip at 10 fps, with a model that takes 0.26 s of a virtual
    clock per frame. By hand: frame i is due at i / 10 s; model run k starts
    at 0.26 k s on the newest frame due by then, floor(2.6 k): frames 0, 2,
    5, 7, 10, then 11 (the last one, taken before the end is noticed);
    1, 3, 4, 6, 8, 9 are dropped. The capture thread never reads a frame
    before it is due: it waits until 0.1, 0.3, 0.6, 0.8 and 1.1 s, the
    slots of the frames due after each model run. The overlay video keeps
    every source slot (12 frames), each showing the last processed frame."""
    from phone.cli import main
    from types import SimpleNamespace
    levels = [10 + 20 * i for i in range(12)]
    clip = _grey_clip(tmp_path / "clip.avi", levels, fps=10)
    clock = VirtualTime()
    monkeypatch.setattr(rt, "time", SimpleNamespace(perf_counter=clock.perf_counter,
                                                    monotonic=time.monotonic))
    monkeypatch.setattr(rt, "threading", SimpleNamespace(
        Thread=threading.Thread, Condition=threading.Condition, Event=clock.event_class()))
    real_open, real_run = rt.open_source, rt.run_realtime
    monkeypatch.setattr(rt, "open_source", lambda s, **kw: clock.timed(real_open(s, **kw)))
    calls = {}

    def run_realtime(source, process, **kw):
        calls.update(kw, running=True)
        calls["stats"] = real_run(source, process, **kw)
        return calls["stats"]
    monkeypatch.setattr(rt, "run_realtime", run_realtime)
    seen = []

    def process(frame):
        if calls.get("running"):                   # not the warm-up call
            seen.append(int(np.median(frame)))
            clock.work(0.26)
        return frame
    monkeypatch.setattr(rt, "frame_processor", lambda seg: process)
    _no_model(monkeypatch)
    out = tmp_path / "o.mp4"
    code = main(["realtime", "--source", str(clip), "--no-display", "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert calls["pace"] == 10.0 and calls["drop"] is True
    stats = calls["stats"]
    kept = [0, 2, 5, 7, 10, 11]
    assert stats.processed_ids == kept and stats.stop_reason == "end of source"
    assert (stats.captured, stats.dropped) == (12, 6)
    assert np.allclose(seen, [levels[i] for i in kept], atol=4), seen   # the frames themselves
    assert np.allclose(clock.waits, [0.1, 0.3, 0.6, 0.8, 1.1]), clock.waits
    t = [0.0, 0.26, 0.26, 0.52, 0.52, 0.52, 0.78, 0.78, 1.04, 1.04, 1.04, 1.30]
    assert [ok for _, ok in clock.reads] == [True] * 12 + [False]
    assert np.allclose([c for c, _ in clock.reads], t + [1.30]), clock.reads
    assert all(c >= i / 10 - 1e-9 for i, (c, _) in enumerate(clock.reads[:12]))  # never early
    assert "Stopped (end of source): 6 of 12 captured frames processed, 6 dropped" in captured.out
    frames = read_frames(out)
    assert len(frames) == 12                       # every slot of the source
    slots = [0, 0, 2, 2, 2, 5, 5, 7, 7, 7, 10, 11]
    medians = [float(np.median(f[:40])) for f in frames]   # above the HUD band
    assert np.allclose(medians, [levels[i] for i in slots], atol=8), medians


class _HangingCamera:
    """A camera that gives one frame (read at open time) and then hangs in
    read() until the run closes its mailbox."""

    def __init__(self):
        self.hanging = threading.Event()
        self.release_ = threading.Event()

    def read(self):
        self.hanging.set()
        self.release_.wait(30)
        return False, None


@pytest.mark.parametrize("timeout_args,seconds", [([], "10"), (["--camera-timeout", "7"], "14")])
def test_camera_that_stops_delivering_stops_with_a_stall_error(tmp_path, monkeypatch, capsys,
                                                               timeout_args, seconds):
    """A camera that stops delivering frames mid-run: `phone realtime`
    stops with exit 2 and one line "camera 0: no new frame for N s;
    stopped", N = max(10, 2 x --camera-timeout) s, after processing the one
    frame it gave; the --out video is not left behind. The stall is
    measured on a fake monotonic clock that starts moving (0.5 s per look)
    only once the camera hangs: no real waiting, no race."""
    from phone.cli import main
    from types import SimpleNamespace
    cam = _HangingCamera()
    first = np.full((48, 64, 3), 90, np.uint8)
    opened = {}

    def open_source(source, camera_timeout):
        opened.update(source=source, camera_timeout=camera_timeout)
        return rt.FrameSource(cam, "camera 0", live=True, fps=30, first=first)

    class Mono:
        now = 0.0

        def __call__(self):
            if cam.hanging.is_set():
                Mono.now += 0.5
            if Mono.now > 1000:                 # fails the test instead of spinning forever
                raise AssertionError("no stall error after 1000 s without a frame")
            return Mono.now

    class Slot(rt.LatestFrame):
        def close(self):
            super().close()
            cam.release_.set()                  # the run is over: let the reader go
    monkeypatch.setattr(rt, "time", SimpleNamespace(perf_counter=time.perf_counter,
                                                    monotonic=Mono()))
    monkeypatch.setattr(rt, "LatestFrame", Slot)
    monkeypatch.setattr(rt, "open_source", open_source)
    processed = []
    monkeypatch.setattr(rt, "frame_processor", lambda seg: lambda f: processed.append(f) or f)
    _no_model(monkeypatch)
    out = tmp_path / "cam.mp4"
    code = main(["realtime", "--source", "0", "--no-display", "--out", str(out), "--quiet"]
                + timeout_args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert opened == {"source": "0", "camera_timeout": float(seconds) / 2}
    assert err.strip().splitlines() == [f"phone realtime: error: camera 0: no new frame for "
                                        f"{seconds} s; stopped"]
    assert len(processed) == 2                  # the warm-up and the one frame of the camera
    assert Mono.now > float(seconds)            # it waited the stall time out, on the clock
    assert list(tmp_path.iterdir()) == []       # no video, no temp file
