"""``phone segment``: black/white phone masks for an image, a folder or a
video (library: phone.segment, phone.segmenter)."""
import os
import sys

from phone.commands._args import (add_inference_options, add_model_options, positive_int,
                                  segmenter_from_args)
from phone.errors import CommandError

__all__ = ["add_parser", "run"]

#: --batch-size default for --dir / --video
DEFAULT_BATCH = 4


def add_parser(sub):
    s = sub.add_parser("segment", help="write phone masks for images, a folder or a video",
                       description="For each input NAME writes NAME_mask.png (single channel, "
                                   "0/255, the input's size, union of the phone instances) "
                                   "and NAME_overlay.png (or NAME_splash.png).")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", metavar="PATH", help="one image file")
    src.add_argument("--dir", metavar="DIR",
                     help="a folder of images (searched recursively; png/jpg/jpeg/bmp); "
                          "images whose mask exists in --out are skipped (resume)")
    src.add_argument("--video", metavar="PATH", help="a video file (frame masks NAME_000123_mask.png)")
    s.add_argument("--out", default=".", metavar="DIR",
                   help="output folder (default: the current folder)")
    add_model_options(s)
    add_inference_options(s)
    look = s.add_mutually_exclusive_group()
    look.add_argument("--splash", action="store_true",
                      help="write NAME_splash.png (grey background, phone in colour) "
                           "instead of the overlay")
    look.add_argument("--no-overlay", action="store_true", help="write the masks only")
    s.add_argument("--out-video", metavar="FILE.mp4",
                   help="with --video: also write an overlay (or --splash) video")
    s.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="with --dir: local (this process) or ray (an actor pool of models on a "
                        "Ray cluster; same outputs; needs pip install 'mrcnn-phone[distributed]'); "
                        "default: %(default)s")
    s.add_argument("--address", metavar="HOST:PORT",
                   help="with --engine ray: the running cluster ('ray start --head' prints it; "
                        "ray://HOST:PORT, auto); default: start a local one")
    s.add_argument("--workers", type=positive_int, metavar="N",
                   help="with --engine ray: models in the actor pool (default: one per GPU of "
                        "the cluster, else one per CPU)")
    s.set_defaults(run=run)
    return s


def _report_failures(failed):
    print(f"{len(failed)} file(s) failed:", file=sys.stderr)
    for _, msg in failed[:20]:
        print(f"  {msg}", file=sys.stderr)
    if len(failed) > 20:
        print(f"  ... and {len(failed) - 20} more", file=sys.stderr)


def _segment_dir_ray(args, out_dir, style, listing):
    """--engine ray: the model file is checked here, the models run in the
    actors of the cluster (phone.distributed)."""
    from phone.distributed import ray_cluster, segment_dir_ray
    from phone.model import PhoneModel
    model = PhoneModel(args.weights, config=args.config, coco_class=args.coco_class,
                       precision=args.precision, logs_dir=args.logs,
                       say=(lambda m: None) if args.quiet else None)
    with ray_cluster(args.address):
        try:
            return segment_dir_ray(args.dir, out_dir, model,
                                   batch_size=args.batch_size or DEFAULT_BATCH, score=args.score,
                                   one_per_frame=args.one_phone, image_size=args.image_size,
                                   style=style, workers=args.workers, quiet=args.quiet,
                                   listing=listing)
        except KeyboardInterrupt:
            print("Interrupted: every mask written so far is complete; run the same "
                  "command again to resume", file=sys.stderr)
            raise


def run(args):
    import phone.segment as lib
    from phone.imageio import read_image
    style = None if args.no_overlay else ("splash" if args.splash else "overlay")
    out_dir = args.out
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CommandError(f"{out_dir}: --out exists and is not a folder")
    if args.out_video and not args.video:
        raise CommandError("--out-video needs --video")
    if args.engine == "ray" and not args.dir:
        raise CommandError("--engine ray works with --dir (a folder of images)")
    for option in ("address", "workers"):
        if getattr(args, option) is not None and args.engine != "ray":
            raise CommandError(f"--{option} needs --engine ray")
    if args.engine == "ray":            # before the folder is listed or the model read
        from phone.distributed import check_address, require_ray
        require_ray()
        check_address(args.address)

    if args.image:
        if not os.path.isfile(args.image):
            raise CommandError(f"{args.image}: no such image file")
        image = read_image(args.image)  # a bad file fails here (exit 2), before the model
        seg, _, _ = segmenter_from_args(args, args.batch_size or 1)
        mask_path, r, bw = lib.segment_file(seg, args.image, out_dir, style=style, image=image)
        print(f"{args.image}: {len(r['class_ids'])} phone instance(s), "
              f"{int((bw > 0).sum())} mask pixels -> {mask_path}")
        return 0

    if args.dir:
        if not os.path.isdir(args.dir):
            raise CommandError(f"{args.dir}: no such folder (--dir)")
        items, todo, clashes = lib.pending_images(args.dir, out_dir)
        if not items:
            raise CommandError(f"{args.dir}: no images ({', '.join(lib.IMAGE_EXTENSIONS)}) found")
        skipped = len(items) - len(todo) - len(clashes)
        if skipped:
            print(f"Resuming: {skipped} of {len(items)} images already have a mask in "
                  f"{out_dir}; skipped", file=sys.stderr)
        if todo and args.engine == "ray":
            summary = _segment_dir_ray(args, out_dir, style, (items, todo, clashes))
        elif todo:
            seg, _, _ = segmenter_from_args(args, args.batch_size or DEFAULT_BATCH)
            try:
                summary = lib.segment_dir(seg, args.dir, out_dir, style=style, quiet=args.quiet,
                                          listing=(items, todo, clashes))
            except KeyboardInterrupt:
                print("Interrupted: every mask written so far is complete; run the same "
                      "command again to resume", file=sys.stderr)
                raise
        else:
            summary = lib.SegmentSummary(len(items))
            summary.skipped = skipped
            for path, msg in clashes:
                summary.failed.append((path, msg))
                print(f"error: {msg}", file=sys.stderr)
        print(f"Done: {summary.line()}; masks in {out_dir}")
        if summary.failed:
            _report_failures(summary.failed)
            return 1
        return 0

    # --video
    if not os.path.isfile(args.video):
        raise CommandError(f"{args.video}: no such video file")
    lib.probe_video(args.video)  # unreadable / empty video: fail before the model build
    seg, _, _ = segmenter_from_args(args, args.batch_size or DEFAULT_BATCH)
    summary = lib.segment_video(seg, args.video, out_dir, out_video=args.out_video,
                                style="splash" if args.splash else "overlay", quiet=args.quiet)
    extra = f"; video {args.out_video}" if args.out_video else ""
    print(f"Done: {summary.line()} frames; masks in {out_dir}{extra}")
    return 1 if summary.failed else 0
