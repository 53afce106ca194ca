"""Export a phone segmenter for deployment: SavedModel, TFLite or ONNX.

Every format holds the whole pipeline of ``phone segment`` (resize, mold,
anchors, the network, unmold, mask pasting, the score / class filter and the
union mask) as one graph (mrcnn.export.DetectionPipeline):

    input   image           uint8 [H, W, 3] RGB (TFLite: fixed H, W)
    outputs mask            uint8 [H, W], 255 on a kept instance, else 0
            boxes           int32 [N, (y1, x1, y2, x2)] image pixels
            scores          float32 [N]
            class_ids       int32 [N]
            instance_masks  uint8 [N, H, W] 0/255

Library use::

    from phone.export import export_model, ExportedSegmenter
    report = export_model(segmenter, "onnx", "phone.onnx")   # verified, then renamed
    seg = ExportedSegmenter("phone.onnx")
    for bw, r in seg.segment_images(frames):   # as Segmenter.segment_images
        ...

An export is written to a temporary path next to ``out``, run on the
verification frames and compared with the segmenter it came from (mask IoU
and instance count per frame); only an export that matches is renamed to
``out``. A mismatch raises ExportError and leaves ``out`` untouched.
"""
import importlib.util
import os
import shutil
import sys
import tempfile
import time

import numpy as np
from mrcnn.core.metrics import mask_iou  # re-exported (phone.export.mask_iou): one home for it

from phone.errors import ExportError, ImageReadError, one_line

__all__ = ["FORMATS", "ExportFormat", "OUTPUT_NAMES", "ExportError", "ExportedSegmenter",
           "export_model", "verify_export", "detect_format", "format_for_path",
           "check_destination", "default_verify_images", "mask_iou", "export_pipeline"]

OUTPUT_NAMES = ("mask", "boxes", "scores", "class_ids", "instance_masks")
#: ONNX opset written by tf2onnx
ONNX_OPSET = 17
#: verification passes when every frame's mask IoU is >= this and the
#: instance counts are equal
DEFAULT_MIN_IOU = 0.99


# ------------------------------------------------------------------ helpers
def detect_format(path):
    """The format of an exported model (a SavedModel folder, or a file with
    one of the FORMATS suffixes); ExportError otherwise."""
    path = os.fspath(path)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ExportError(f"{path}: folder without saved_model.pb (not a SavedModel)")
        return "saved_model"
    fmt = _format_of_suffix(path)
    if fmt is None:
        raise ExportError(f"{path}: not an exported model (a SavedModel folder, "
                          f"{' or '.join(f.suffix for f in FORMATS.values() if f.suffix)})")
    return fmt


def _format_of_suffix(path):
    ext = os.path.splitext(os.fspath(path))[1].lower()
    return next((name for name, f in FORMATS.items() if f.suffix and f.suffix == ext), None)


def format_for_path(out):
    """The format an output path asks for: its suffix's, else a SavedModel
    folder."""
    return _format_of_suffix(out) or "saved_model"


def check_destination(fmt, out):
    """ExportError (one line) when ``out`` cannot receive a ``fmt`` export:
    an unknown format, the wrong suffix, a file where a folder goes (or the
    reverse), a folder that is not a SavedModel. Cheap: the commands call it
    before building the model. A missing package of the format is one line
    naming the extra to install."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    missing = [m for m in FORMATS[fmt].packages if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"{FORMATS[fmt].title} export needs {', '.join(missing)} (not "
                          f"installed): pip install 'mrcnn-phone[export]'")
    suffix = FORMATS[fmt].suffix
    ext = os.path.splitext(out)[1].lower()
    if suffix and ext != suffix:
        raise ExportError(f"{out}: {FORMATS[fmt].title} export needs a {suffix} path")
    if suffix is None and os.path.isfile(out):
        raise ExportError(f"{out}: exists and is a file; a SavedModel is a folder")
    if (suffix is None and os.path.isdir(out) and os.listdir(out)
            and not os.path.isfile(os.path.join(out, "saved_model.pb"))):
        raise ExportError(f"{out}: folder exists and is not a SavedModel; not replacing it")
    if suffix is not None and os.path.isdir(out):
        raise ExportError(f"{out}: exists and is a folder")


def _as_uint8_rgb(image, where):
    """[H, W, 3] uint8 from an RGB, RGBA or grey uint8 array; one-line
    ImageReadError for anything else (float images, wrong rank)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ImageReadError(f"{where}: expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
        raise ImageReadError(f"{where}: expected an [H, W, 3] RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3])


# ------------------------------------------------------------------ building
def _float32_single_config(config):
    """config with BATCH_SIZE 1 and float32 compute (what export needs)."""
    from phone.config import derive_config
    cfg = config
    if int(cfg.BATCH_SIZE) != 1 or int(cfg.GPU_COUNT) != 1:
        cfg = derive_config(cfg, GPU_COUNT=1, IMAGES_PER_GPU=1)
    if getattr(cfg, "MIXED_PRECISION", None):
        base = type(cfg)
        cfg = type(base.__name__, (base,), {"MIXED_PRECISION": None, "__doc__": base.__doc__,
                                            "__module__": base.__module__})()
    return cfg


def _export_model(model):
    """``model`` itself when it can be exported, else a float32 batch-1 copy
    with the same weights."""
    if int(model.config.BATCH_SIZE) == 1 and not getattr(model, "mixed_precision", None):
        return model
    from mrcnn.model import MaskRCNN
    copy = MaskRCNN("inference", _float32_single_config(model.config), model.model_dir)
    copy.keras_model.set_weights(model.keras_model.get_weights())
    return copy


def _unpack(segmenter_or_model):
    """(MaskRCNN, score, keep_class_ids, class_names) from a Segmenter or a
    MaskRCNN."""
    if hasattr(segmenter_or_model, "keras_model"):
        model = segmenter_or_model
        n = int(model.config.NUM_CLASSES)
        return model, None, None, (["BG", "phone"] + [f"class {i}" for i in range(2, n)])[:n]
    seg = segmenter_or_model
    return seg.model, seg.score, seg.keep_class_ids, seg.class_names


def export_pipeline(segmenter_or_model, input_shape=None, builtin_ops=False):
    """mrcnn.export.DetectionPipeline for a Segmenter (its score and class
    filter) or a MaskRCNN (no filter beyond DETECTION_MIN_CONFIDENCE)."""
    from mrcnn.export import DetectionPipeline
    model, score, keep, _ = _unpack(segmenter_or_model)
    return DetectionPipeline(_export_model(model), score=score, keep_class_ids=keep,
                             input_shape=input_shape, builtin_ops=builtin_ops)


def _write_saved_model(pipeline, tmp):
    import tensorflow as tf
    tf.saved_model.save(pipeline, tmp, signatures={"serving_default": pipeline.serve})
    return {}


def _frozen_module(pipeline):
    """A tf.Module whose ``serve`` is the pipeline with its weights frozen
    into constants (same input and output names)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)
    concrete = pipeline.serve.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False,
                                               aggressive_inlining=True)
    names = sorted(concrete.structured_outputs)   # tf.nest's flattening order
    module = tf.Module()

    def serve(image):
        return dict(zip(names, frozen(image)))

    module.serve = tf.function(serve, input_signature=pipeline.serve.input_signature,
                               autograph=False)
    return module


def _write_tflite(pipeline, tmp):
    import tensorflow as tf
    # Weights frozen first: TF 2.21's converter keeps the captured weights of
    # a concrete function (or a SavedModel) as resource variables
    # (VAR_HANDLE / READ_VARIABLE) that the interpreter never initialises
    # (NaN outputs or a READ_VARIABLE error), whatever
    # experimental_enable_resource_variables says.
    module = _frozen_module(pipeline)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        data = converter.convert()
    except Exception as e:  # ConverterError carries pages of MLIR
        raise ExportError(f"TFLite conversion failed: {one_line(e, 300)}") from None
    with open(tmp, "wb") as f:
        f.write(data)
    return {"select_tf_ops": []}


def _write_onnx(pipeline, tmp):
    import tensorflow as tf
    try:
        import tf2onnx
    except ImportError:
        raise ExportError("ONNX export needs tf2onnx: pip install 'mrcnn-phone[export]' "
                          "(from a checkout: pip install '.[export]')") from None
    spec = pipeline.serve.input_signature[0]
    try:
        model_proto, _ = tf2onnx.convert.from_function(
            pipeline.serve, input_signature=[tf.TensorSpec(spec.shape, spec.dtype, name="image")],
            opset=ONNX_OPSET)
    except Exception as e:
        raise ExportError(f"ONNX conversion (tf2onnx {tf2onnx.__version__}) failed: "
                          f"{one_line(e, 300)}") from None
    # tf2onnx keeps the signature's names (image -> mask, boxes, ...)
    names = [o.name for o in model_proto.graph.output]
    if sorted(names) != sorted(OUTPUT_NAMES):
        raise ExportError(f"ONNX export: unexpected output names {names}")
    with open(tmp, "wb") as f:
        f.write(model_proto.SerializeToString())
    return {"opset": ONNX_OPSET}


class ExportFormat:
    """One row of the export-format table: ``suffix`` of the output (None:
    a folder), ``write(pipeline, tmp) -> details``, ``title`` for messages,
    ``packages``: the modules it needs beyond TensorFlow (import names; all
    of them come with the ``export`` extra), ``summary`` for help texts."""

    def __init__(self, suffix, write, title, packages, summary):
        self.suffix, self.write, self.title = suffix, write, title
        self.packages, self.summary = tuple(packages), summary


#: The export formats, one row each (add a format here and nowhere else).
FORMATS = {
    "saved_model": ExportFormat(None, _write_saved_model, "a SavedModel", (),
                                "TensorFlow SavedModel folder, any input size"),
    # verified with ai_edge_litert when installed, else TensorFlow's interpreter
    "tflite": ExportFormat(".tflite", _write_tflite, "a TFLite", (),
                           "LiteRT / TFLite flatbuffer, fixed input size"),
    "onnx": ExportFormat(".onnx", _write_onnx, "an ONNX", ("tf2onnx", "onnx", "onnxruntime"),
                         f"ONNX opset {ONNX_OPSET}, any input size"),
}


def _file_size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


def _install(tmp, out):
    """Move the verified export from tmp to out (replacing an old one)."""
    from mrcnn.core.fileio import set_new_file_mode
    if os.path.isdir(tmp):
        old = None
        if os.path.isdir(out):
            old = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(out)),
                                   prefix="." + os.path.basename(out) + ".old.")
            os.rmdir(old)
            os.rename(out, old)
        os.rename(tmp, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    else:
        set_new_file_mode(tmp, out)
        os.replace(tmp, out)


def default_verify_images(config, n_synthetic=4, seed=0):
    """Frames to verify an export on: the bundled real CORe50 frames
    (phone.paths.bundled_dataset_dir(), a checkout's datasets/phone or the
    installed package's copy) and ``n_synthetic`` synthetic frames at the
    config's input size."""
    import glob
    import phone.paths as paths
    import phone.synthetic as synthetic
    from phone.imageio import read_image
    root = paths.bundled_dataset_dir()
    images = []
    for path in sorted(glob.glob(os.path.join(root, "*", "*.png"))):
        images.append((os.path.join("phone-data", os.path.relpath(path, root)),
                       read_image(path)))
    size = int(config.IMAGE_MIN_DIM)
    for i in range(int(n_synthetic)):
        image, _ = synthetic.make_sample(synthetic.frame_rng(seed, i), size=max(32, size))
        images.append((f"synthetic {i}", image))
    return images


def export_model(segmenter_or_model, fmt, out, input_size=None, verify_images=None,
                 min_iou=DEFAULT_MIN_IOU, quiet=False):
    """Export a Segmenter (or a MaskRCNN) to ``out`` in format ``fmt``.

    fmt: "saved_model" (out: a folder), "tflite" (out: NAME.tflite, fixed
        input size) or "onnx" (out: NAME.onnx).
    input_size: (H, W) of the TFLite input; default (IMAGE_MIN_DIM,
        IMAGE_MIN_DIM) of the model's config. SavedModel and ONNX take any
        size.
    verify_images: [(name, image)] or [image] to verify on (default:
        default_verify_images). The export is compared with the segmenter
        on each; ExportError when a mask IoU is below ``min_iou`` or the
        instance counts differ (then ``out`` is not written).
    Returns a report dict: format, path, bytes, input_shape, seconds,
    verification (see verify_export), and format details (select_tf_ops
    for TFLite, opset for ONNX).
    """
    out = os.fspath(out)
    check_destination(fmt, out)
    model, _, _, _ = _unpack(segmenter_or_model)
    config = model.config
    input_shape = None
    if fmt == "tflite":
        side = int(config.IMAGE_MIN_DIM)
        input_shape = tuple(int(v) for v in (input_size or (side, side)))
    t0 = time.perf_counter()
    pipeline = export_pipeline(segmenter_or_model, input_shape=input_shape,
                               builtin_ops=(fmt == "tflite"))
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    base = "." + os.path.basename(out.rstrip(os.sep)) + ".tmp-"
    if fmt == "saved_model":
        tmp = tempfile.mkdtemp(dir=parent, prefix=base)
        os.rmdir(tmp)   # tf.saved_model.save creates it
    else:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=base, suffix=os.path.splitext(out)[1])
        os.close(fd)
    try:
        if not quiet:
            print(f"Exporting {fmt} to {out} ...", file=sys.stderr)
        details = FORMATS[fmt].write(pipeline, tmp)
        seconds = time.perf_counter() - t0
        if verify_images is None:
            verify_images = default_verify_images(config)
        if input_shape is not None:
            verify_images = _fit_to(verify_images, input_shape)
        verification = verify_export(tmp, segmenter_or_model, verify_images, min_iou=min_iou,
                                     fmt=fmt)
        if not verification["ok"]:
            raise ExportError(f"{out}: export does not match detect(): {verification['problem']}; "
                              f"nothing written")
        _install(tmp, out)
        tmp = None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True) if os.path.isdir(tmp) else os.unlink(tmp)
    report = {"format": fmt, "path": out, "bytes": _file_size(out),
              "input_shape": list(input_shape) + [3] if input_shape else [None, None, 3],
              "seconds": round(seconds, 3), "verification": verification}
    report.update(details)
    return report


def _fit_to(images, input_shape):
    """Verification frames for a fixed-size export: those of the right
    size; when none is, each frame resized to it (OpenCV, area)."""
    import cv2
    named = [(f"image {i}", im) if not isinstance(im, tuple) else im
             for i, im in enumerate(images)]
    h, w = input_shape
    same = [(n, im) for n, im in named if np.asarray(im).shape[:2] == (h, w)]
    if same:
        return same
    return [(f"{n} (resized to {h}x{w})",
             cv2.resize(np.asarray(im), (w, h), interpolation=cv2.INTER_AREA)) for n, im in named]


# ------------------------------------------------------------------ running
class ExportedSegmenter:
    """Runs an exported file (SavedModel folder, .tflite or .onnx) with the
    interface of phone.segment.Segmenter: ``segment_images(images) ->
    [(bw, result)]`` where bw is [H, W] uint8 0/255 and result the dict
    rois / class_ids / scores / masks [H, W, N] bool, and ``render`` /
    ``overlay`` / ``batch_size`` for phone.segment.segment_dir.

    path: the export; fmt: its format (default: from the path);
    class_names: names for overlays; num_threads: CPU threads of the
    runtime (None: its default).
    """

    batch_size = 1

    def __init__(self, path, fmt=None, class_names=None, num_threads=None):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise ExportError(f"{self.path}: no such exported model")
        self.format = fmt or detect_format(self.path)
        self.class_names = list(class_names) if class_names else None
        self.input_shape = None
        loader = {"saved_model": self._load_saved_model, "tflite": self._load_tflite,
                  "onnx": self._load_onnx}[self.format]
        try:
            self._run = loader(num_threads)
        except ExportError:
            raise
        except Exception as e:
            raise ExportError(f"{self.path}: cannot load the {self.format} export: "
                              f"{one_line(e, 300)}") from None

    # ---------------------------------------------------------- runtimes
    def _load_saved_model(self, num_threads):
        import tensorflow as tf
        fn = tf.saved_model.load(self.path).signatures["serving_default"]

        def run(image):
            return {k: v.numpy() for k, v in fn(image=tf.constant(image)).items()}
        return run

    def _load_tflite(self, num_threads):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # TensorFlow's own (deprecated) interpreter
            import tensorflow as tf
            Interpreter = tf.lite.Interpreter
        interp = Interpreter(model_path=self.path, num_threads=num_threads)
        runner = interp.get_signature_runner("serving_default")
        shape = runner.get_input_details()["image"]["shape"]
        self.input_shape = (int(shape[0]), int(shape[1]))

        def run(image):
            return runner(image=image)
        return run

    def _load_onnx(self, num_threads):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ExportError(f"{self.path}: running an ONNX export needs onnxruntime: pip "
                              f"install 'mrcnn-phone[export]'") from None
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]

        def run(image):
            return dict(zip(names, session.run(names, {"image": image})))
        return run

    # ---------------------------------------------------------- results
    def run_image(self, image, where="image"):
        """The export's raw outputs (dict of OUTPUT_NAMES) for one image."""
        image = _as_uint8_rgb(image, where)
        if self.input_shape is not None and image.shape[:2] != self.input_shape:
            h, w = self.input_shape
            raise ImageReadError(f"{where}: {image.shape[0]}x{image.shape[1]} image, but "
                                 f"{os.path.basename(self.path)} takes {h}x{w} (TFLite exports "
                                 f"have a fixed input size; re-export with --input-size)")
        return self._run(image)

    def segment_images(self, images):
        """As Segmenter.segment_images: [(bw [H, W] uint8, result dict)]."""
        out = []
        for i, image in enumerate(images):
            o = self.run_image(image, f"image {i}")
            inst = np.asarray(o["instance_masks"])
            r = {"rois": np.asarray(o["boxes"], np.int32).reshape(-1, 4),
                 "class_ids": np.asarray(o["class_ids"], np.int32).reshape(-1),
                 "scores": np.asarray(o["scores"], np.float32).reshape(-1),
                 "masks": np.ascontiguousarray(np.moveaxis(inst != 0, 0, -1))}
            out.append((np.asarray(o["mask"], np.uint8), r))
        return out

    def segment_image(self, image):
        return self.segment_images([image])[0]

    def overlay(self, image, r):
        from mrcnn.render import draw_instances_image
        names = self.class_names or ["BG"] + [f"class {i}" for i in range(
            1, int(max(r["class_ids"], default=1)) + 1)]
        return draw_instances_image(image, r["rois"], r["masks"], r["class_ids"], names,
                                    r["scores"])

    def render(self, image, bw, r, style):
        from phone.segment import color_splash
        return color_splash(image, bw) if style == "splash" else self.overlay(image, r)


def verify_export(path, segmenter_or_model, images, min_iou=DEFAULT_MIN_IOU, fmt=None):
    """Run an export and the segmenter it came from on ``images`` and compare.

    images: [(name, image)] or [image] (uint8 RGB).
    Returns {"ok", "problem" (None or one line), "min_iou", "frames":
    [{"name", "iou", "instances", "reference_instances"}]}.
    """
    from phone.segment import Segmenter
    named = [(f"image {i}", im) if not isinstance(im, tuple) else im
             for i, im in enumerate(images)]
    if not named:
        raise ExportError("no frames to verify the export on")
    runner = ExportedSegmenter(path, fmt=fmt)
    seg = segmenter_or_model
    if hasattr(seg, "keras_model"):
        seg = Segmenter(model=seg)
    frames, problem = [], None
    for name, image in named:
        image = _as_uint8_rgb(image, name)
        ref_bw, ref = seg.segment_image(image)
        bw, r = runner.segment_image(image)
        iou = mask_iou(bw, ref_bw)
        frame = {"name": name, "iou": round(iou, 6), "instances": int(len(r["class_ids"])),
                 "reference_instances": int(len(ref["class_ids"]))}
        frames.append(frame)
        if problem is None and (iou < min_iou or frame["instances"] != frame["reference_instances"]):
            problem = (f"{name}: mask IoU {iou:.4f} (needs >= {min_iou}), "
                       f"{frame['instances']} instance(s) vs {frame['reference_instances']}")
    return {"ok": problem is None, "problem": problem,
            "min_iou": min(f["iou"] for f in frames), "frames": frames}
