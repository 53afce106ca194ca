"""``phone train``: fine-tune Mask R-CNN on VIA-annotated phone frames
(Matterport's balloon recipe; library: phone.train.train)."""
from phone.commands._args import LAYER_CHOICES, add_model_options, positive_float, positive_int

__all__ = ["add_parser", "run"]


def add_parser(sub):
    from phone import paths
    t = sub.add_parser("train", help="fine-tune Mask R-CNN on VIA-annotated phone frames",
                       description="Fine-tune Mask R-CNN on dataset/train, validating on "
                                   "dataset/val (Matterport's balloon recipe). Every checkpoint "
                                   "stores its configuration, so segment/evaluate/realtime need "
                                   "no --config.")
    t.add_argument("--dataset", default=paths.bundled_dataset_dir(), metavar="DIR",
                   help="folder with train/ and val/ (images + via_region_data.json); "
                        "default: %(default)s")
    t.add_argument("--train-via", nargs="+", metavar="FILE",
                   help="VIA file(s) for the training frames instead of "
                        "train/via_region_data.json, e.g. a corrected 'phone annotate' project "
                        "and the hand-drawn annotations (a frame in several files: the later "
                        "file wins, with a warning)")
    add_model_options(t, "coco", "starting weights: coco (downloaded if needed, class layers "
                                 "re-initialised), last (resume), shipped, imagenet, or a .h5 "
                                 "path (default: coco)")
    t.add_argument("--epochs", type=positive_int, default=30,
                   help="train up to this epoch in total (default: %(default)s)")
    t.add_argument("--layers", choices=LAYER_CHOICES, default="heads",
                   help="layers to train (default: %(default)s)")
    t.add_argument("--lr", type=positive_float, metavar="LR",
                   help="learning rate (default: the config's LEARNING_RATE, 0.001)")
    t.add_argument("--steps-per-epoch", type=positive_int, metavar="N",
                   help="training steps per epoch (default: the config's, 100)")
    t.add_argument("--augment", action="store_true",
                   help="augment training images (flips, small affine, colour)")
    t.set_defaults(run=run)
    return t


def run(args):
    from phone.config import training_config
    from phone.train import train
    config = training_config(args.config, image_size=args.image_size, lr=args.lr,
                             steps_per_epoch=args.steps_per_epoch, precision=args.precision)
    train(config, args.dataset, weights=args.weights, logs_dir=args.logs, epochs=args.epochs,
          layers=args.layers, augment=args.augment, train_via=args.train_via)
    return 0
