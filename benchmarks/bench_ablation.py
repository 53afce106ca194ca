#!/usr/bin/env python
"""Before/after timings of the inference optimisations, in one process with
calls alternating between variants (so that all variants see the same
machine load; medians reported).

    python benchmarks/bench_ablation.py --configs phone,coco --repeats 5

Variants, each a complete detect() on the same image and model:
    before      the inference path before the optimisations: tf.function
                with reduce_retracing taking the anchors as an input each call,
                all seven graph outputs copied to NumPy (incl. the
                [B, D, 28, 28, K] per-class masks and the RPN outputs), class
                masks picked in NumPy, each mask pasted with unmold_mask
                (skimage resize)
    +paste      as before, but masks pasted with paste_masks (separable
                resampling)
    whole       the graph uncut (mask head on all DETECTION_MAX_INSTANCES
                slots), anchors a graph constant, class masks gathered in the
                graph, two outputs, paste_masks
    after       MaskRCNN.detect() now: as `whole` but the mask head runs on
                the detections only
    frozen      (--frozen) `after` with the graph's variables frozen into
                constants (convert_variables_to_constants_v2) so grappler can
                fold batch norms; not used by detect() (see RESULTS.md)

Also: --paste-only times paste_masks against the unmold_mask loop alone.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402
import bench_inference as B  # noqa: E402


def legacy_predict_fn(model):
    """The pre-optimisation _predict: reduce_retracing tf.function, anchors
    as an input, all outputs to NumPy."""
    import tensorflow as tf
    km = model.keras_model

    def forward(images, metas, anchors):
        return km([images, metas, anchors], training=False)

    fn = tf.function(forward, jit_compile=False, reduce_retracing=True)

    def predict(molded, metas, anchors):
        outs = fn(tf.constant(molded), tf.constant(metas), tf.constant(anchors))
        return [o.numpy() for o in outs]
    return predict


def legacy_unmold(model, detections, mrcnn_mask, original_shape, image_shape,
                  window, paste):
    """unmold_detections with per-class masks and a choice of pasting."""
    import numpy as np
    from mrcnn.core.boxes import denorm_boxes, norm_boxes
    from mrcnn.core.masks import paste_masks, unmold_mask
    zero_ix = np.where(detections[:, 4] == 0)[0]
    n = zero_ix[0] if zero_ix.shape[0] > 0 else detections.shape[0]
    boxes = detections[:n, :4]
    class_ids = detections[:n, 4].astype(np.int32)
    scores = detections[:n, 5].astype(np.float32)
    masks = mrcnn_mask[np.arange(n), :, :, class_ids]
    w = norm_boxes(window, image_shape[:2])
    shift = np.array([w[0], w[1], w[0], w[1]])
    scale = np.array([w[2] - w[0], w[3] - w[1]] * 2)
    boxes = denorm_boxes((boxes - shift) / scale, original_shape[:2]).astype(np.int32)
    keep = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) > 0
    boxes, class_ids, scores, masks = boxes[keep], class_ids[keep], scores[keep], masks[keep]
    if paste == "skimage":
        full = (np.stack([unmold_mask(m, b, original_shape) for m, b in zip(masks, boxes)], -1)
                if len(boxes) else np.zeros(original_shape[:2] + (0,), bool))
    else:
        full = paste_masks(masks, boxes, original_shape)
    return boxes, class_ids, scores, full


def variants(runner, frozen=False):
    import numpy as np
    model, image = runner.model, runner.image
    predict = legacy_predict_fn(model)

    def legacy(paste):
        def run():
            molded, metas, windows = model.mold_inputs([image])
            a = model.get_anchors(molded[0].shape)
            anchors = np.ascontiguousarray(np.broadcast_to(a, (1,) + a.shape))
            outs = predict(molded, metas, anchors)
            return legacy_unmold(model, outs[0][0], outs[3][0], image.shape,
                                 molded[0].shape, windows[0], paste)
        return run

    # `whole`: today's path but with the mask head on every detection slot
    # (the graph uncut), to isolate the effect of the cut
    molded, metas, windows = model.mold_inputs([image])
    key = tuple(molded.shape)
    split_entry = model._inference_fn(key)
    parts = model._inference_parts()
    model._parts = None
    model._predict_fns.pop(key)
    whole_entry = model._inference_fn(key)
    model._parts = parts
    model._predict_fns[key] = split_entry

    def whole():
        import tensorflow as tf
        molded, metas, windows = model.mold_inputs([image])
        d, m = whole_entry["fn"](tf.constant(molded), tf.constant(metas))
        return model.unmold_detections(d.numpy()[0], m.numpy()[0], image.shape,
                                       molded[0].shape, windows[0])

    out = {"before": legacy("skimage"), "+paste": legacy("fast"),
           "whole": whole, "after": lambda: model.detect([image])[0]}
    if frozen:
        import tensorflow as tf
        from tensorflow.python.framework.convert_to_constants import \
            convert_variables_to_constants_v2
        molded, metas, windows = model.mold_inputs([image])
        entry = model._inference_fn(molded.shape)
        t0 = time.perf_counter()
        frozen_fn = convert_variables_to_constants_v2(
            entry["fn"].get_concrete_function())
        runner.freeze_s = time.perf_counter() - t0

        def run_frozen():
            molded, metas, windows = model.mold_inputs([image])
            d, m = frozen_fn(tf.constant(molded), tf.constant(metas))
            return model.unmold_detections(d.numpy()[0], m.numpy()[0],
                                           image.shape, molded[0].shape,
                                           windows[0])
        out["frozen"] = run_frozen
    return out


def worker(spec):
    C.quiet_tf()
    threads = C.set_tf_threads(spec.get("threads"), spec.get("inter_op", 1))
    runner = B.OursRunner(spec)
    fns = variants(runner, frozen=spec.get("frozen"))
    for f in fns.values():          # trace + warm up every variant
        for _ in range(int(spec["warmup"])):
            f()
    times = {k: [] for k in fns}
    for _ in range(int(spec["repeats"])):
        for k, f in fns.items():
            time.sleep(0.02)
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {"label": spec["label"], "threads": threads,
            "freeze_s": getattr(runner, "freeze_s", None),
            "detections": int(len(runner.model.detect([runner.image])[0]["class_ids"])),
            "variants": {k: C.summarize(v) for k, v in times.items()},
            "peak_rss_mb": C.peak_rss_mb(), "loadavg": C.loadavg()}


def paste_only(repeats):
    """paste_masks vs the unmold_mask loop on random smooth masks."""
    import numpy as np
    from mrcnn.core.masks import paste_masks, unmold_mask
    rows = []
    for size, n in ((128, 10), (512, 100), (1024, 100)):
        rng = np.random.default_rng(0)
        y1 = rng.integers(0, size * 3 // 4, n)
        x1 = rng.integers(0, size * 3 // 4, n)
        h = rng.integers(size // 16, size // 2, n)
        w = rng.integers(size // 16, size // 2, n)
        boxes = np.stack([y1, x1, y1 + h, x1 + w], 1)
        masks = rng.uniform(0, 1, (n, 28, 28)).astype(np.float32)
        ref = lambda: np.stack([unmold_mask(m, b, (size, size))  # noqa: E731
                                for m, b in zip(masks, boxes)], -1)
        fast = lambda: paste_masks(masks, boxes, (size, size))  # noqa: E731
        assert (ref() != fast()).sum() <= 5
        t_ref, t_fast = [], []
        for _ in range(repeats):
            t_ref += C.time_calls(ref, 1)
            t_fast += C.time_calls(fast, 1)
        rows.append({"label": f"{size}x{size}, {n} masks",
                     "unmold_mask_loop_ms": C.summarize(t_ref)["median_ms"],
                     "paste_masks_ms": C.summarize(t_fast)["median_ms"]})
        rows[-1]["speedup"] = rows[-1]["unmold_mask_loop_ms"] / rows[-1]["paste_masks_ms"]
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="phone,phone-scratch,coco")
    C.add_frame_timing_options(p, repeats=5, warmup=1)
    p.add_argument("--frozen", action="store_true")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="DETECTION_MIN_CONFIDENCE (0: all detection slots used)")
    p.add_argument("--paste-only", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--inter-op", type=int, default=1)
    C.add_report_options(p)
    args = p.parse_args(argv)
    if C.ran_as_worker(args, worker):
        return 0
    if args.threads is None:
        args.threads = C.machine_info()["cores"]
    report = {"benchmark": "ablation", "machine": C.machine_info(),
              "results": [], "paste": []}
    if args.paste_only:
        report["paste"] = paste_only(args.repeats)
        print(C.table(report["paste"], [("case", "label"),
                                        ("unmold_mask loop ms", "unmold_mask_loop_ms"),
                                        ("paste_masks ms", "paste_masks_ms"),
                                        ("speed-up", "speedup")]))
    else:
        for name in C.parse_list(args.configs):
            if name not in B.CONFIG_NAMES:
                print(f"bench_ablation: unknown configuration {name!r}",
                      file=sys.stderr)
                return 2
            _, s, prop, _, _ = B.config_defaults(name)
            spec = {"config": name, "size": s, "proposals": prop,
                    "repeats": args.repeats if s < 1024 else min(args.repeats, 3),
                    "warmup": args.warmup, "threads": args.threads,
                    "inter_op": args.inter_op,
                    "min_confidence": args.min_confidence,
                    "frozen": args.frozen, "label": f"{name}@{s}/p{prop}"}
            print(f"[{time.strftime('%H:%M:%S')}] {spec['label']} ...",
                  file=sys.stderr, flush=True)
            res = C.run_worker(os.path.abspath(__file__), spec)
            report["results"].append(res)
            v = res["variants"]
            print(f"{res['label']} ({res['detections']} detections, load "
                  f"{res['loadavg']}): " + ", ".join(
                      f"{k} {t['median_ms']:.1f} ms" for k, t in v.items()),
                  flush=True)
    report["loadavg_after"] = C.loadavg()
    if args.json:
        C.write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
