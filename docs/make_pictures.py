"""Make the docs' pictures from a phone model (default: the shipped one), so
that they show what the model does today. Run after the shipped model
changes::

    make pictures            # = python docs/make_pictures.py

Writes, each atomically (temp file, then rename):

* ``docs/annotate_regions.png``: the regions ``phone annotate`` pre-draws
  on the bundled validation frame C_01_08_000.png (VIA's view, 4x).
* ``docs/realtime_overlay.png``: three frames of ``phone realtime`` on the
  bundled clip (datasets/videos/phone_demo.mp4), overlay and HUD, drawn
  512 px tall.
* ``docs/realtime.gif``: the whole clip as ``phone realtime`` shows it.
* ``docs/pictures.json``: the sha256 of the model file they were made with
  (tests/test_pictures.py fails when the shipped model has changed since).

The HUD's FPS and latency are this machine's; everything else follows from
the model and the bundled data.
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLIP = os.path.join(REPO, "datasets", "videos", "phone_demo.mp4")
ANNOTATED_FRAME = "C_01_08_000.png"


def annotate_picture(model, out_png, scale=4):
    """Pre-annotate the bundled train/ and val/ frames with ``model`` and
    draw the regions of ANNOTATED_FRAME as VIA shows them."""
    from phone import paths
    from phone.annotate import draw_regions
    from phone.imageio import read_image, write_png_atomic
    from phone.via import load_via
    data = paths.bundled_dataset_dir()
    with tempfile.TemporaryDirectory(prefix="pictures_") as tmp:
        for subset in ("train", "val"):
            folder = os.path.join(data, subset)
            for name in sorted(os.listdir(folder)):
                if name.endswith(".png"):
                    shutil.copy(os.path.join(folder, name), tmp)
        project = os.path.join(tmp, "via_project.json")
        model.annotate(tmp, project, quiet=True, model_name=os.path.basename(model.path or ""))
        (image,) = [im for im in load_via(project, keep_empty=True)
                    if im.filename == ANNOTATED_FRAME]
        drawn = draw_regions(read_image(image.path), image.regions, scale=scale)
    write_png_atomic(out_png, drawn)
    return len(image.regions)


def realtime_frames(model, clip=CLIP, height=512):
    """[BGR frame] of ``phone realtime`` on ``clip``, every frame, the
    overlay drawn on the frame enlarged to about ``height`` pixels
    (readable labels)."""
    import cv2
    from mrcnn.render import draw_instances_image
    from phone.realtime import open_video, run_realtime
    seg = model.segmenter(1)

    def process(frame_bgr):
        rgb = np.ascontiguousarray(frame_bgr[:, :, ::-1])
        _bw, r = seg.segment_image(rgb)
        h, w = rgb.shape[:2]
        scale = max(1, int(round(height / h)))
        big = cv2.resize(rgb, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
        masks = r["masks"].astype(np.uint8)
        masks = np.stack([cv2.resize(masks[:, :, i], (w * scale, h * scale),
                                     interpolation=cv2.INTER_NEAREST)
                          for i in range(masks.shape[2])], axis=2) if masks.shape[2] else \
            np.zeros((h * scale, w * scale, 0), np.uint8)
        drawn = draw_instances_image(big, r["rois"] * scale, masks.astype(bool), r["class_ids"],
                                     seg.class_names, r["scores"])
        return np.ascontiguousarray(drawn[:, :, ::-1])

    frames = []
    run_realtime(open_video(clip), process, sinks=[lambda i, im: frames.append(im.copy())],
                 drop=False, stall_timeout=0)
    return frames


def write_overlay_strip(frames, out_png, picks=3):
    """``picks`` frames spread over the clip, side by side."""
    import cv2
    from phone.imageio import write_png_atomic
    at = np.linspace(0.1, 0.9, picks) * (len(frames) - 1)
    strip = np.concatenate([frames[int(round(i))] for i in at], axis=1)
    write_png_atomic(out_png, cv2.cvtColor(strip, cv2.COLOR_BGR2RGB))


def write_gif(frames, out_gif, width=192, fps=10, colors=64):
    """The frames as a looping GIF ``width`` pixels wide, ``colors`` colours
    per frame (a small file for the docs)."""
    import cv2
    from PIL import Image
    h, w = frames[0].shape[:2]
    size = (width, int(round(h * width / w)))
    images = [Image.fromarray(cv2.cvtColor(cv2.resize(f, size, interpolation=cv2.INTER_AREA),
                                           cv2.COLOR_BGR2RGB)).quantize(colors)
              for f in frames]
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(out_gif)),
                               prefix=".realtime_", suffix=".gif")
    os.close(fd)
    try:
        images[0].save(tmp, save_all=True, append_images=images[1:], duration=int(1000 / fps),
                       loop=0, optimize=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_gif)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="shipped",
                        help="the model (phone's --weights: shipped, last, best or a .h5)")
    parser.add_argument("--out", default=HERE, help="folder for the pictures (default docs/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from phone import PhoneModel
    model = PhoneModel(args.weights)
    os.makedirs(args.out, exist_ok=True)
    n = annotate_picture(model, os.path.join(args.out, "annotate_regions.png"))
    print(f"annotate_regions.png: {ANNOTATED_FRAME}, {n} region(s)")
    frames = realtime_frames(model)
    write_overlay_strip(frames, os.path.join(args.out, "realtime_overlay.png"))
    write_gif(frames, os.path.join(args.out, "realtime.gif"))
    print(f"realtime_overlay.png, realtime.gif: {len(frames)} frames of {os.path.basename(CLIP)}")
    from mrcnn.core.fileio import file_sha256
    from phone.imageio import write_json_atomic
    write_json_atomic(os.path.join(args.out, "pictures.json"), {
        "model": os.path.basename(model.path), "model_sha256": file_sha256(model.path),
        "pictures": ["annotate_regions.png", "realtime_overlay.png", "realtime.gif"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
