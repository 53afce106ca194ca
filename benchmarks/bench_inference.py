#!/usr/bin/env python
"""Inference speed of mrcnn's MaskRCNN.detect(), beside torchvision.

    python benchmarks/bench_inference.py                    # default set, ~6 min
    python benchmarks/bench_inference.py --configs phone,phone-scratch \\
        --repeats 20 --json /tmp/inference.json
    python benchmarks/bench_inference.py --configs sweep --sizes 256,512 \\
        --proposals 300

Each (configuration, framework) runs in its own worker process so that peak
memory and thread pools are its own. Per configuration: warm-up calls (the
first one traces the graph), then `--repeats` timed calls at batch 1 of

    e2e    detect([image]): resize/mold + graph + unmold + mask pasting
    model  the compiled graph alone on an already molded image
    pre    mold_inputs alone;  post  unmold_detections alone

reported as median and p90 (ms), frames per second (1000 / median e2e),
peak resident memory (MiB) and MaskRCNN.trace_count (graph traces; 1 means
no retracing between same-size calls).

Configurations (--configs):
    coco           ResNet-101, 1024x1024, 81 classes, 1000 proposals, 100 dets
    phone          phone.config.PhoneInferenceConfig (ResNet-50, 128x128)
    phone-scratch  phone.config.PhoneScratchInferenceConfig (LightResNet, 128)
    sweep          ResNet-50, 81 classes, --sizes x --proposals (cost vs input
                   size), plus --proposal-sweep at --proposal-sweep-size
    tiny           PhoneScratchInferenceConfig at 64x64 (smoke tests)

Weights are random (timing only). DETECTION_MIN_CONFIDENCE is set to 0 (see
--min-confidence) so that every configuration returns its full
DETECTION_MAX_INSTANCES and the mask head and mask pasting do their
worst-case work whatever the random weights predict.

torchvision's maskrcnn_resnet50_fpn (weights=None, weights_backbone=None) runs
beside every ResNet-50 configuration at the same input size, number of
proposals (rpn_post_nms_top_n_test), detections (box_detections_per_img),
class count, NMS threshold and thread count (torch.set_num_threads == TF
intra-op threads); it is skipped with a note when torch is not installed
(pip install -e .[bench]).
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

SCRIPT = os.path.abspath(__file__)

# keys every result row has (the smoke test checks them)
RESULT_KEYS = ("label", "config", "framework", "backbone", "input_size",
               "proposals", "max_detections", "num_classes", "detections",
               "threads", "repeats", "warmup", "e2e", "model", "pre", "post",
               "fps", "peak_rss_mb", "trace_count", "build_s", "first_call_s",
               "xla")
TIMING_KEYS = ("median_ms", "p90_ms", "mean_ms", "min_ms", "max_ms", "n")


# ---------------------------------------------------------------- configs
def config_defaults(name):
    """(backbone, size, proposals, max detections, classes) of a named
    configuration without building it (for planning the run)."""
    return {
        "coco": ("resnet101", 1024, 1000, 100, 81),
        "sweep": ("resnet50", 512, 1000, 100, 81),
        "phone": ("resnet50", 128, 200, 10, 2),
        "phone-scratch": ("light", 128, 100, 10, 2),
        "tiny": ("light", 64, 50, 5, 2),
    }[name]


def make_config(spec):
    """The mrcnn Config instance for a worker spec."""
    from mrcnn.config import Config
    name = spec["config"]
    attrs = {"GPU_COUNT": 1, "IMAGES_PER_GPU": 1,
             "DETECTION_MIN_CONFIDENCE": float(spec.get("min_confidence", 0.0))}
    if name in ("coco", "sweep"):
        base = Config
        attrs.update(NAME=name, NUM_CLASSES=81,
                     BACKBONE="resnet101" if name == "coco" else "resnet50")
    elif name == "phone":
        from phone.config import PhoneInferenceConfig as base
    elif name in ("phone-scratch", "tiny"):
        from phone.config import PhoneScratchInferenceConfig as base
        if name == "tiny":
            attrs.update(POST_NMS_ROIS_INFERENCE=50, DETECTION_MAX_INSTANCES=5,
                         PRE_NMS_LIMIT=500)
    else:
        raise C.BenchError(f"unknown configuration {name!r}")
    size = spec.get("size")
    if size:
        attrs.update(IMAGE_MIN_DIM=int(size), IMAGE_MAX_DIM=int(size))
    if spec.get("proposals"):
        attrs["POST_NMS_ROIS_INFERENCE"] = int(spec["proposals"])
    if spec.get("xla") is not None:
        attrs["XLA"] = bool(spec["xla"])
    cls = type(f"Bench_{name.replace('-', '_')}", (base,), attrs)
    return cls()


def backbone_name(config):
    b = config.BACKBONE
    return b if isinstance(b, str) else type(b).__name__


# ---------------------------------------------------------------- workers
def _test_image(size, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    # smooth-ish random image: blocks of colour plus noise
    small = rng.integers(0, 256, (max(1, size // 16),) * 2 + (3,), np.uint8)
    image = np.kron(small, np.ones((16, 16, 1), np.uint8))[:size, :size]
    noise = rng.integers(-20, 21, image.shape)
    return np.clip(image.astype(int) + noise, 0, 255).astype(np.uint8)


class OursRunner:
    """Our MaskRCNN in inference mode, random weights, on one test image."""
    framework = "mrcnn"

    def __init__(self, spec):
        import keras
        from mrcnn.model import MaskRCNN
        keras.utils.set_random_seed(0)
        self.config = make_config(spec)
        # Config.MIXED_PRECISION: the model is built under that dtype policy
        self.config.MIXED_PRECISION = spec.get("mixed_precision") or None
        self.size = int(self.config.IMAGE_MAX_DIM)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as logs:
            self.model = MaskRCNN("inference", self.config, logs)
        self.build_s = time.perf_counter() - t0
        self.image = _test_image(self.size)
        self._molded = None

    def detect(self):
        return self.model.detect([self.image])[0]

    def _prepare(self):
        if self._molded is None:
            self._molded = self.model.mold_inputs([self.image])
            molded, metas, _ = self._molded
            self._outs = self.model._predict(molded, metas)

    def core(self):
        self._prepare()
        molded, metas, _ = self._molded
        return self.model._predict(molded, metas)

    def pre(self):
        return self.model.mold_inputs([self.image])

    def post(self):
        self._prepare()
        molded, _, windows = self._molded
        detections, masks = self._outs
        return self.model.unmold_detections(
            detections[0], masks[0], self.image.shape, molded[0].shape,
            windows[0])

    def describe(self, r):
        c = self.config
        return {"framework": self.framework, "backbone": backbone_name(c),
                "input_size": self.size,
                "proposals": int(c.POST_NMS_ROIS_INFERENCE),
                "max_detections": int(c.DETECTION_MAX_INSTANCES),
                "num_classes": int(c.NUM_CLASSES),
                "detections": int(len(r["class_ids"])),
                "trace_count": int(self.model.trace_count),
                "xla": bool(getattr(c, "XLA", False)),
                # the policy the model was built under, and why ("auto")
                "mixed_precision": self.model.mixed_precision,
                "precision_reason": self.model.mixed_precision_reason,
                # whether XLA actually compiled the graph (else it fell back)
                "xla_compiled": any(e["xla"] for e in
                                    self.model._predict_fns.values())}


class TorchRunner:
    """torchvision's maskrcnn_resnet50_fpn at the same size, proposals,
    detections and classes as our configuration."""
    framework = "torchvision"

    def __init__(self, spec):
        import torch
        from torchvision.models.detection import maskrcnn_resnet50_fpn
        self.torch = torch
        torch.manual_seed(0)
        _, size, proposals, dets, classes = config_defaults(spec["config"])
        self.size = int(spec.get("size") or size)
        self.proposals = int(spec.get("proposals") or proposals)
        self.dets, self.classes = dets, classes
        t0 = time.perf_counter()
        model = maskrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=classes,
            min_size=self.size, max_size=self.size,
            rpn_post_nms_top_n_test=self.proposals,
            box_detections_per_img=dets, box_nms_thresh=0.3)
        # Random weights give every class ~1/K, below torchvision's 0.05
        # score threshold: push class 1 up so that each ROI has one class
        # above it, like our DetectionLayer (argmax class per ROI with
        # DETECTION_MIN_CONFIDENCE 0); both then return up to `dets`.
        with torch.no_grad():
            model.roi_heads.box_predictor.cls_score.bias[1] += 10.0
        self.model = model.eval()
        self.build_s = time.perf_counter() - t0
        self.image = _test_image(self.size)
        self._prepared = None

    def _tensor(self):
        t = self.torch.from_numpy(self.image).permute(2, 0, 1)
        return t.float().div_(255.0)

    def detect(self):
        """numpy uint8 image in, Matterport-format numpy results out."""
        with self.torch.inference_mode():
            out = self.model([self._tensor()])[0]
            return {"rois": out["boxes"].round().int().numpy()[:, [1, 0, 3, 2]],
                    "class_ids": out["labels"].int().numpy(),
                    "scores": out["scores"].numpy(),
                    "masks": (out["masks"][:, 0] > 0.5).permute(1, 2, 0).numpy()}

    def pre(self):
        with self.torch.inference_mode():
            return self.model.transform([self._tensor()])

    def _prepare(self):
        if self._prepared is None:
            images, _ = self.pre()
            self._prepared = images
            self._dets = self.core()

    def core(self):
        """backbone + RPN + ROI heads (masks at 28x28), as our graph."""
        self._prepare()
        images = self._prepared
        with self.torch.inference_mode():
            feats = self.model.backbone(images.tensors)
            props, _ = self.model.rpn(images, feats)
            dets, _ = self.model.roi_heads(feats, props, images.image_sizes)
            return dets

    def post(self):
        self._prepare()
        with self.torch.inference_mode():
            out = self.model.transform.postprocess(
                self._dets, self._prepared.image_sizes,
                [self.image.shape[:2]])[0]
            return (out["masks"][:, 0] > 0.5).permute(1, 2, 0).numpy()

    def describe(self, r):
        return {"framework": self.framework, "backbone": "resnet50",
                "input_size": self.size, "proposals": self.proposals,
                "max_detections": self.dets, "num_classes": self.classes,
                "detections": int(len(r["class_ids"])), "trace_count": None,
                "xla": False, "torch_version": self.torch.__version__}


def torch_available():
    """True when torch and torchvision can be imported (checked without
    importing them)."""
    import importlib.util
    try:
        return (importlib.util.find_spec("torch") is not None and
                importlib.util.find_spec("torchvision") is not None)
    except (ImportError, ValueError):
        return False


def _tf_setup(spec):
    C.quiet_tf()
    return C.set_tf_threads(spec.get("threads"), spec.get("inter_op", 1))


def _torch_setup(spec):
    import torch
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    try:
        torch.set_num_interop_threads(int(spec.get("inter_op", 1)))
    except RuntimeError:
        pass
    return {"intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads()}


def _measure(runner, spec, threads):
    """Warm-up, then timed e2e / model / pre / post calls of one runner."""
    t0 = time.perf_counter()
    r = runner.detect()
    first_call_s = time.perf_counter() - t0
    for _ in range(max(0, int(spec["warmup"]) - 1)):
        runner.detect()
    repeats = int(spec["repeats"])
    e2e = C.summarize(C.time_calls(runner.detect, repeats))
    row = {"label": spec["label"], "config": spec["config"]}
    row.update(runner.describe(r))
    row.update({
        "threads": threads, "repeats": repeats, "warmup": int(spec["warmup"]),
        "e2e": e2e,
        "model": C.summarize(C.time_calls(runner.core, repeats)),
        "pre": C.summarize(C.time_calls(runner.pre, repeats)),
        "post": C.summarize(C.time_calls(runner.post, repeats)),
        "fps": 1000.0 / e2e["median_ms"] if e2e["median_ms"] else None,
        "peak_rss_mb": C.peak_rss_mb(), "build_s": runner.build_s,
        "first_call_s": first_call_s})
    row["trace_count"] = runner.describe(r)["trace_count"]  # after all calls
    return row


def tf_worker(spec):
    """Times our MaskRCNN on one configuration; returns a result row."""
    threads = _tf_setup(spec)
    return _measure(OursRunner(spec), spec, threads)


def torch_worker(spec):
    """Times torchvision alone on the configuration's size/proposals."""
    threads = _torch_setup(spec)
    return _measure(TorchRunner(spec), spec, threads)


def pair_worker(spec):
    """Ours and torchvision in one process, calls alternating (ours,
    theirs, ours, ...) so that both see the same machine load; returns
    {"ours": row, "torchvision": row} with e2e and model timings. torch
    runs alone first, so its peak_rss_mb is its own."""
    torch_threads = _torch_setup(spec)
    theirs = TorchRunner(spec)
    for _ in range(max(1, int(spec["warmup"]))):
        r_theirs = theirs.detect()
    torch_rss = C.peak_rss_mb()
    tf_threads = _tf_setup(spec)
    ours = OursRunner(spec)
    for _ in range(max(1, int(spec["warmup"]))):
        r_ours = ours.detect()
    pause = float(spec.get("pause_s", 0.02))
    times = {"ours": {"e2e": [], "model": []}, "theirs": {"e2e": [], "model": []}}
    for _ in range(int(spec["repeats"])):
        for kind in ("e2e", "model"):
            for who, runner in (("ours", ours), ("theirs", theirs)):
                fn = runner.detect if kind == "e2e" else runner.core
                time.sleep(pause)  # let the other pool's spinning threads sleep
                t0 = time.perf_counter()
                fn()
                times[who][kind].append(time.perf_counter() - t0)
    out = {}
    for who, runner, r, threads in (("ours", ours, r_ours, tf_threads),
                                    ("torchvision", theirs, r_theirs,
                                     torch_threads)):
        t = times["ours" if who == "ours" else "theirs"]
        row = {"label": spec["label"], "config": spec["config"], "paired": True}
        row.update(runner.describe(r))
        e2e = C.summarize(t["e2e"])
        row.update({"threads": threads, "repeats": int(spec["repeats"]),
                    "warmup": int(spec["warmup"]), "e2e": e2e,
                    "model": C.summarize(t["model"]),
                    "fps": 1000.0 / e2e["median_ms"] if e2e["median_ms"] else None,
                    "peak_rss_mb": torch_rss if who == "torchvision" else None})
        out[who] = row
    return out


def worker(spec):
    kind = spec.get("framework")
    if kind == "torch":
        return torch_worker(spec)
    if kind == "pair":
        return pair_worker(spec)
    return tf_worker(spec)


# ---------------------------------------------------------------- planning
CONFIG_NAMES = ("coco", "phone", "phone-scratch", "sweep", "tiny")


def plan(args):
    """The worker specs for the command line: one isolated run of ours per
    configuration point, plus one paired run (ours and torchvision
    alternating in one process) per ResNet-50 point when torch is there."""
    names = C.parse_list(args.configs)
    for n in names:
        if n not in CONFIG_NAMES:
            raise C.BenchError(f"--configs: unknown configuration {n!r} "
                               f"(choose from {', '.join(CONFIG_NAMES)})")
    common = {"warmup": args.warmup, "threads": args.threads,
              "inter_op": args.inter_op, "min_confidence": args.min_confidence,
              "xla": True if args.xla else None,
              "mixed_precision": args.mixed_precision}
    with_torch = args.torch and torch_available()
    specs = []

    def add(config, size=None, proposals=None, torch_too=False):
        _, s, p, _, _ = config_defaults(config)
        s = int(size or s)
        p = int(proposals or p)
        repeats = args.repeats if s < 1024 else max(1, min(args.repeats,
                                                           args.slow_repeats))
        label = f"{config}@{s}/p{p}"
        spec = dict(common, config=config, size=s, proposals=p,
                    repeats=repeats, label=label, framework="tf")
        specs.append(spec)
        if torch_too and with_torch:
            specs.append(dict(spec, framework="pair"))
            if args.torch_alone:
                specs.append(dict(spec, framework="torch"))

    for n in names:
        if n == "coco":
            add("coco")
        elif n == "phone":
            add("phone", torch_too=True)
        elif n in ("phone-scratch", "tiny"):
            add(n)
        elif n == "sweep":
            for p in C.parse_list(args.proposals, int):
                for s in C.parse_list(args.sizes, int):
                    add("sweep", s, p, torch_too=True)
            for p in C.parse_list(args.proposal_sweep, int):
                add("sweep", args.proposal_sweep_size, p,
                    torch_too=args.compare_proposal_sweep)
    # drop duplicates (a proposal-sweep point already in the size sweep)
    seen, unique = set(), []
    for s in specs:
        key = (s["label"], s["framework"])
        if key not in seen:
            seen.add(key)
            unique.append(s)
    return unique


def compare(pairs):
    """ours / torchvision from the paired runs (same process, alternating
    calls, equal backbone, size, proposals, detections and threads)."""
    out = []
    for p in pairs:
        r, t = p["ours"], p["torchvision"]
        out.append({
            "label": r["label"], "input_size": r["input_size"],
            "proposals": r["proposals"], "max_detections": r["max_detections"],
            "ours_e2e_ms": r["e2e"]["median_ms"],
            "torchvision_e2e_ms": t["e2e"]["median_ms"],
            "e2e_ratio": r["e2e"]["median_ms"] / t["e2e"]["median_ms"],
            "ours_model_ms": r["model"]["median_ms"],
            "torchvision_model_ms": t["model"]["median_ms"],
            "model_ratio": r["model"]["median_ms"] / t["model"]["median_ms"],
            "ours_detections": r["detections"],
            "torchvision_detections": t["detections"],
            "torchvision_peak_rss_mb": t["peak_rss_mb"],
            "n": r["e2e"]["n"]})
    return out


def print_tables(report, out=sys.stdout):
    rows = report["results"]
    cols = [("config", "label"), ("fw", "framework"), ("backbone", "backbone"),
            ("size", "input_size"), ("props", "proposals"),
            ("dets", "detections"),
            ("e2e med", lambda r: r["e2e"]["median_ms"]),
            ("e2e p90", lambda r: r["e2e"]["p90_ms"]),
            ("fps", "fps"),
            ("model med", lambda r: r["model"]["median_ms"]),
            ("model p90", lambda r: r["model"]["p90_ms"]),
            ("pre", lambda r: r["pre"]["median_ms"]),
            ("post", lambda r: r["post"]["median_ms"]),
            ("rss MiB", "peak_rss_mb"), ("traces", "trace_count"),
            ("n", lambda r: r["e2e"]["n"]), ("load", lambda r: (r.get("loadavg") or [None])[0])]
    m = report["machine"]
    print(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB; "
          f"TF {m['tensorflow']}, Keras {m['keras']}, torch {m['torch']}; "
          f"load before {m['loadavg']}, after {report['loadavg_after']}",
          file=out)
    print("batch 1, times in ms (median / p90); fps = 1000 / median "
          "e2e; load = 1-min load average after the row\n", file=out)
    print(C.table(rows, cols), file=out)
    if report["comparison"]:
        print("\nours / torchvision maskrcnn_resnet50_fpn (one process, calls "
              "alternating; same size, proposals, detections, threads):",
              file=out)
        print(C.table(report["comparison"], [
            ("config", "label"), ("size", "input_size"),
            ("props", "proposals"), ("ours e2e", "ours_e2e_ms"),
            ("tv e2e", "torchvision_e2e_ms"),
            ("ratio", lambda r: round(r["e2e_ratio"], 2)),
            ("ours model", "ours_model_ms"), ("tv model", "torchvision_model_ms"),
            ("ratio", lambda r: round(r["model_ratio"], 2)),
            ("dets ours/tv", lambda r: f"{r['ours_detections']}/"
                                       f"{r['torchvision_detections']}"),
            ("tv rss MiB", "torchvision_peak_rss_mb"), ("n", "n")]),
            file=out)
    for note in report["notes"]:
        print("note:", note, file=out)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="phone,phone-scratch,coco,sweep",
                   help="comma list of coco, phone, phone-scratch, sweep, tiny")
    p.add_argument("--slow-repeats", type=int, default=2,
                   help="cap on repeats for 1024 px inputs (default 2)")
    C.add_frame_timing_options(p, repeats=5, warmup=1)
    p.add_argument("--sizes", default="128,256,384,512,1024",
                   help="input sides of the sweep")
    p.add_argument("--proposals", default="1000",
                   help="POST_NMS_ROIS_INFERENCE values of the size sweep")
    p.add_argument("--proposal-sweep", default="100,2000",
                   help="extra POST_NMS_ROIS_INFERENCE values at "
                        "--proposal-sweep-size ('' for none)")
    p.add_argument("--proposal-sweep-size", type=int, default=512)
    p.add_argument("--compare-proposal-sweep", action="store_true",
                   help="also run torchvision at the proposal-sweep points")
    p.add_argument("--threads", type=int, default=None,
                   help="TF intra-op = torch threads (default: cores)")
    p.add_argument("--inter-op", type=int, default=1,
                   help="TF / torch inter-op threads (default 1)")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="DETECTION_MIN_CONFIDENCE (default 0: full "
                        "DETECTION_MAX_INSTANCES)")
    p.add_argument("--mixed-precision", metavar="POLICY", default=None,
                   help="Config.MIXED_PRECISION for our model: mixed_bfloat16, "
                        "mixed_float16 (GPU) or auto (decided by a probe on this "
                        "machine, mrcnn/precision.py); default float32")
    p.add_argument("--xla", action="store_true",
                   help="Config.XLA = True (XLA-compile what compiles)")
    p.add_argument("--no-torch", dest="torch", action="store_false",
                   help="skip torchvision")
    p.add_argument("--torch-alone", action="store_true",
                   help="also time torchvision in its own process (a row "
                        "like ours; checks that pairing is fair)")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="run configurations in this process (peak memory is "
                        "then the process's peak so far)")
    C.add_report_options(p)
    args = p.parse_args(argv)
    if args.repeats < 1 or args.warmup < 1 or args.slow_repeats < 1:
        p.error("--repeats, --slow-repeats and --warmup must be >= 1")
    if args.threads is None:
        args.threads = C.machine_info()["cores"]
    return args


def main(argv=None):
    args = parse_args(argv)
    if C.ran_as_worker(args, worker):
        return 0
    notes = []
    if args.torch and not torch_available():
        notes.append("torchvision comparison skipped: torch/torchvision not "
                     "installed (pip install -e .[bench])")
    elif not args.torch:
        notes.append("torchvision comparison skipped (--no-torch)")
    try:
        specs = plan(args)
    except C.BenchError as e:
        print(f"bench_inference: {e}", file=sys.stderr)
        return 2
    machine = C.machine_info()
    rows, pairs = [], []
    for spec in specs:
        print(f"[{time.strftime('%H:%M:%S')}] {spec['label']} "
              f"({spec['framework']}) ...", file=sys.stderr, flush=True)
        try:
            if args.isolate:
                res = C.run_worker(SCRIPT, spec)
            else:
                res = worker(spec)
        except C.BenchError as e:
            notes.append(str(e))
            print(f"bench_inference: {e}", file=sys.stderr)
            continue
        if spec["framework"] == "pair":
            for row in res.values():
                row["loadavg"] = C.loadavg()
            pairs.append(res)
        else:
            res["loadavg"] = C.loadavg()
            rows.append(res)
    report = {"benchmark": "inference", "machine": machine,
              "loadavg_after": C.loadavg(),
              "settings": {"repeats": args.repeats, "warmup": args.warmup,
                           "slow_repeats": args.slow_repeats,
                           "threads": args.threads, "inter_op": args.inter_op,
                           "min_confidence": args.min_confidence,
                           "xla": bool(args.xla), "isolate": args.isolate,
                           "mixed_precision": args.mixed_precision,
                           "batch": 1},
              "results": rows, "paired": pairs, "comparison": compare(pairs),
              "notes": notes}
    print_tables(report)
    if args.json:
        C.write_json(args.json, report)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
