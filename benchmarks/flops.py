#!/usr/bin/env python
"""Multiply-accumulates (MACs) of Matterport's Mask R-CNN inference graph and
of torchvision's maskrcnn_resnet50_fpn, counted by hand from the architecture
(convolutions and dense layers only; batch 1). Explains the measured times:
a 2-core CPU does at most ~100 GMAC/s in float32 (see RESULTS.md).

    python benchmarks/flops.py --size 1024 --backbone resnet101 \\
        --proposals 1000 --detections 100

Differences between the two graphs at equal backbone: the RPN's shared 3x3
conv has 512 channels in Matterport (256 in torchvision), so the RPN costs
twice as much; everything else is the same architecture (torchvision's
ResNet puts a block's stride in its 3x3 conv instead of the first 1x1, a few
per cent more backbone MACs, not modelled here).
"""
import argparse
import math


def resnet_macs(size, depth):
    """ResNet-50/101 (Matterport / Keras layout, stride in the first 1x1 of a
    conv block) on a size x size input."""
    blocks = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}[depth]
    macs = 0
    h = math.ceil(size / 2)                       # conv1 7x7/2, 3 -> 64
    macs += h * h * 7 * 7 * 3 * 64
    h = math.ceil(h / 2)                          # max-pool 3x3/2
    cin = 64
    for stage, n in enumerate(blocks):
        width = 64 * 2 ** stage
        for b in range(n):
            stride = 2 if (b == 0 and stage > 0) else 1
            ho = math.ceil(h / stride)
            macs += ho * ho * cin * width             # 1x1 (strided)
            macs += ho * ho * 9 * width * width       # 3x3
            macs += ho * ho * width * 4 * width       # 1x1 expand
            if b == 0:
                macs += ho * ho * cin * 4 * width     # shortcut 1x1
            cin, h = 4 * width, ho
    return macs


def fpn_macs(size, channels=256):
    c_in = {2: 256, 3: 512, 4: 1024, 5: 2048}
    macs = 0
    for level in (2, 3, 4, 5):
        h = math.ceil(size / 2 ** level)
        macs += h * h * c_in[level] * channels        # lateral 1x1
        macs += h * h * 9 * channels * channels       # output 3x3
    return macs


def rpn_macs(size, shared=512, anchors=3, channels=256):
    macs = 0
    for level in (2, 3, 4, 5, 6):
        h = math.ceil(size / 2 ** level)
        macs += h * h * 9 * channels * shared         # shared 3x3
        macs += h * h * shared * anchors * (2 + 4)    # class + box 1x1
    return macs


def box_head_macs(proposals, classes, fc=1024, channels=256, pool=7):
    per_roi = pool * pool * channels * fc + fc * fc + fc * classes * 5
    return proposals * per_roi


def mask_head_macs(detections, classes, channels=256, pool=14):
    per_roi = 4 * pool * pool * 9 * channels * channels     # 4 3x3 convs
    per_roi += (2 * pool) ** 2 * channels * channels        # 2x2/2 deconv
    per_roi += (2 * pool) ** 2 * channels * classes         # 1x1 to classes
    return detections * per_roi


def count(size, backbone, proposals, detections, classes, rpn_shared):
    parts = {"backbone": resnet_macs(size, backbone), "fpn": fpn_macs(size),
             "rpn": rpn_macs(size, shared=rpn_shared),
             "box_head": box_head_macs(proposals, classes),
             "mask_head": mask_head_macs(detections, classes)}
    parts["total"] = sum(parts.values())
    return parts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--backbone", default="resnet101",
                   choices=("resnet50", "resnet101"))
    p.add_argument("--proposals", type=int, default=1000)
    p.add_argument("--detections", type=int, default=100)
    p.add_argument("--classes", type=int, default=81)
    args = p.parse_args(argv)
    ours = count(args.size, args.backbone, args.proposals, args.detections,
                 args.classes, rpn_shared=512)
    tv = count(args.size, args.backbone, args.proposals, args.detections,
               args.classes, rpn_shared=256)
    print(f"GMACs at {args.size}x{args.size}, {args.backbone}, "
          f"{args.proposals} proposals, {args.detections} detections, "
          f"{args.classes} classes")
    print(f"{'part':10s} {'Matterport':>11s} {'torchvision':>12s}")
    for k in ours:
        print(f"{k:10s} {ours[k] / 1e9:11.1f} {tv[k] / 1e9:12.1f}")
    return 0


if __name__ == "__main__":
    main()
