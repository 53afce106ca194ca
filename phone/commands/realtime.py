"""``phone realtime``: live phone segmentation from a camera or a video file
(library: phone.realtime)."""
import os
import sys
import time

from phone.commands._args import (add_inference_options, add_model_options, positive_float,
                                  positive_int, segmenter_from_args)
from phone.errors import CommandError

__all__ = ["add_parser", "run"]


def add_parser(sub):
    from phone.realtime import DEFAULT_CAMERA_TIMEOUT
    r = sub.add_parser("realtime", help="live phone segmentation from a camera or a video file",
                       description="Read a camera (index 0, 1, ...) or a video file, run the phone "
                                   "model on the newest frame (older frames are dropped when the "
                                   "model is slower), draw the mask overlay with FPS and latency, "
                                   "and show it in a window (q quits) or write it with --out.")
    r.add_argument("--source", default="0", metavar="CAMERA|VIDEO",
                   help="camera index or video file (default: camera %(default)s)")
    r.add_argument("--no-display", action="store_true",
                   help="no window (headless): use with --out to record the overlay video")
    r.add_argument("--out", metavar="FILE.mp4", help="also write the overlay video here")
    r.add_argument("--every-frame", action="store_true",
                   help="process every frame instead of dropping stale ones (for files)")
    r.add_argument("--max-frames", type=positive_int, metavar="N",
                   help="stop after N processed frames")
    r.add_argument("--camera-timeout", type=positive_float, default=DEFAULT_CAMERA_TIMEOUT,
                   metavar="S", help="give up on a camera that does not answer within S seconds "
                                     "(default: %(default)s)")
    add_model_options(r)
    add_inference_options(r, batch=False)
    r.set_defaults(run=run)
    return r


def run(args):
    import phone.realtime as rt
    if args.out:
        ext = os.path.splitext(args.out)[1].lower()
        if ext not in (".mp4", ".avi", ".mov", ".mkv"):
            raise CommandError(f"{args.out}: --out must be a video file (.mp4 or .avi)")
        if os.path.isdir(args.out):
            raise CommandError(f"{args.out}: --out is a folder; give a file name such as out.mp4")
    if not args.no_display:
        problem = rt.display_problem()
        if problem:
            raise CommandError(f"cannot open a window: {problem}; use --no-display "
                               f"(with --out out.mp4 to record the result)")

    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    source = rt.open_source(args.source, camera_timeout=args.camera_timeout)
    sink = window = None
    try:
        say(f"Source: {source.name} ({'live' if source.live else 'file'}, "
            f"{source.fps or 'unknown'} fps"
            + (f", {source.frame_count} frames" if source.frame_count else "") + ")")
        seg, path, _ = segmenter_from_args(args, 1)
        process = rt.frame_processor(seg)
        t = time.perf_counter()
        process(source.peek())          # first call traces the graph
        say(f"Model ready (warm-up {time.perf_counter() - t:.1f} s); "
            + ("press q in the window to quit" if not args.no_display else "Ctrl-C to stop"))
        sinks = []
        if args.out:
            sink = rt.VideoSink(args.out, source.fps, repeat=not args.every_frame)
            sinks.append(sink)
        if not args.no_display:
            window = rt.WindowSink()
            sinks.append(window)
        pace = None if (source.live or args.every_frame) else (source.fps or rt.FALLBACK_FPS)
        stats = rt.run_realtime(source, process, sinks=sinks, drop=not args.every_frame,
                                max_frames=args.max_frames, pace=pace,
                                poll=window.poll if window else None,
                                stall_timeout=max(10.0, 2 * args.camera_timeout),
                                status=None if args.quiet else say)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        source.release()
        if window is not None:
            window.close()
    print(f"Stopped ({stats.stop_reason}): {stats.line()}")
    if stats.dropped and not args.every_frame:
        print("Frames were dropped because the model is slower than the source; the newest "
              "frame is always the one processed (no growing lag)")
    if sink is not None:
        written = sink.close()
        if written:
            w, h = sink.size
            print(f"Wrote {written} ({sink.frames} frames, {w}x{h}, {sink.fps:g} fps)")
        else:
            print(f"No frame processed: {args.out} not written")
    return 0
