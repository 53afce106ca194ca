"""ResNet-50/101 backbone with Matterport's layer names.

Layer names are the checkpoint format (mask_rcnn_coco.h5) and the targets of
the ``layers=`` regexes in training, so they follow Matterport exactly:
``conv1``, ``bn_conv1``, ``res{stage}{block}_branch{2a,2b,2c,1}``,
``bn{stage}{block}_branch...``, ``res{stage}{block}_out``.

Shape shorthand (input [B, H, W, 3]):
    C1: [B, H/4, W/4, 64]      (after the stride-2 conv and stride-2 pool)
    C2: [B, H/4, W/4, 256]
    C3: [B, H/8, W/8, 512]
    C4: [B, H/16, W/16, 1024]
    C5: [B, H/32, W/32, 2048]
"""
import keras
from keras import layers as KL

from .norm import make_norm

# Identity blocks in stage 4 after its conv block.
STAGE4_BLOCKS = {"resnet50": 5, "resnet101": 22}


def identity_block(input_tensor, kernel_size, filters, stage, block,
                   use_bias=True, train_bn=True, norm="batch", groups=32):
    """ResNet block with no conv on the shortcut.

    input_tensor: [B, h, w, filters[2]]
    Returns: [B, h, w, filters[2]]
    """
    nb_filter1, nb_filter2, nb_filter3 = filters
    conv_name_base = f"res{stage}{block}_branch"
    bn_name_base = f"bn{stage}{block}_branch"

    x = KL.Conv2D(nb_filter1, (1, 1), name=conv_name_base + "2a",
                  use_bias=use_bias)(input_tensor)
    x = make_norm(norm, bn_name_base + "2a", train_bn, groups)(x)
    x = KL.Activation("relu")(x)
    x = KL.Conv2D(nb_filter2, (kernel_size, kernel_size), padding="same",
                  name=conv_name_base + "2b", use_bias=use_bias)(x)
    x = make_norm(norm, bn_name_base + "2b", train_bn, groups)(x)
    x = KL.Activation("relu")(x)
    x = KL.Conv2D(nb_filter3, (1, 1), name=conv_name_base + "2c",
                  use_bias=use_bias)(x)
    x = make_norm(norm, bn_name_base + "2c", train_bn, groups)(x)
    x = KL.Add()([x, input_tensor])
    return KL.Activation("relu", name=f"res{stage}{block}_out")(x)


def conv_block(input_tensor, kernel_size, filters, stage, block,
               strides=(2, 2), use_bias=True, train_bn=True, norm="batch",
               groups=32):
    """ResNet block with a 1x1 conv on the shortcut (first block of a stage).

    input_tensor: [B, h, w, c]
    Returns: [B, h / strides, w / strides, filters[2]]
    """
    nb_filter1, nb_filter2, nb_filter3 = filters
    conv_name_base = f"res{stage}{block}_branch"
    bn_name_base = f"bn{stage}{block}_branch"

    x = KL.Conv2D(nb_filter1, (1, 1), strides=strides,
                  name=conv_name_base + "2a", use_bias=use_bias)(input_tensor)
    x = make_norm(norm, bn_name_base + "2a", train_bn, groups)(x)
    x = KL.Activation("relu")(x)
    x = KL.Conv2D(nb_filter2, (kernel_size, kernel_size), padding="same",
                  name=conv_name_base + "2b", use_bias=use_bias)(x)
    x = make_norm(norm, bn_name_base + "2b", train_bn, groups)(x)
    x = KL.Activation("relu")(x)
    x = KL.Conv2D(nb_filter3, (1, 1), name=conv_name_base + "2c",
                  use_bias=use_bias)(x)
    x = make_norm(norm, bn_name_base + "2c", train_bn, groups)(x)
    shortcut = KL.Conv2D(nb_filter3, (1, 1), strides=strides,
                         name=conv_name_base + "1", use_bias=use_bias)(input_tensor)
    shortcut = make_norm(norm, bn_name_base + "1", train_bn, groups)(shortcut)
    x = KL.Add()([x, shortcut])
    return KL.Activation("relu", name=f"res{stage}{block}_out")(x)


def resnet_graph(input_image, architecture, stage5=False, train_bn=True,
                 norm="batch", groups=32):
    """Builds a ResNet graph (Matterport's ``resnet_graph``).

    architecture: "resnet50" or "resnet101".
    stage5: build stage 5 (Mask R-CNN always does).
    train_bn: train the BatchNorm statistics.
    norm: "batch" or "group".
    Returns: [C1, C2, C3, C4, C5] (C5 is None without stage5).
    """
    if architecture not in STAGE4_BLOCKS:
        raise ValueError(f"BACKBONE must be 'resnet50', 'resnet101' or a "
                         f"callable, not {architecture!r}")
    kw = dict(train_bn=train_bn, norm=norm, groups=groups)
    # Stage 1
    x = KL.ZeroPadding2D((3, 3))(input_image)
    x = KL.Conv2D(64, (7, 7), strides=(2, 2), name="conv1", use_bias=True)(x)
    x = make_norm(norm, "bn_conv1", train_bn, groups)(x)
    x = KL.Activation("relu")(x)
    C1 = x = KL.MaxPooling2D((3, 3), strides=(2, 2), padding="same")(x)
    # Stage 2
    x = conv_block(x, 3, [64, 64, 256], stage=2, block="a", strides=(1, 1), **kw)
    x = identity_block(x, 3, [64, 64, 256], stage=2, block="b", **kw)
    C2 = x = identity_block(x, 3, [64, 64, 256], stage=2, block="c", **kw)
    # Stage 3
    x = conv_block(x, 3, [128, 128, 512], stage=3, block="a", **kw)
    for block in "bcd":
        x = identity_block(x, 3, [128, 128, 512], stage=3, block=block, **kw)
    C3 = x
    # Stage 4
    x = conv_block(x, 3, [256, 256, 1024], stage=4, block="a", **kw)
    for i in range(STAGE4_BLOCKS[architecture]):
        x = identity_block(x, 3, [256, 256, 1024], stage=4, block=chr(98 + i),
                           **kw)
    C4 = x
    # Stage 5
    if stage5:
        x = conv_block(x, 3, [512, 512, 2048], stage=5, block="a", **kw)
        x = identity_block(x, 3, [512, 512, 2048], stage=5, block="b", **kw)
        C5 = identity_block(x, 3, [512, 512, 2048], stage=5, block="c", **kw)
    else:
        C5 = None
    return [C1, C2, C3, C4, C5]
