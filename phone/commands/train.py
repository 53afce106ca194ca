"""``phone train``: fine-tune Mask R-CNN on VIA-annotated phone frames
(Matterport's balloon recipe; library: phone.train.train)."""
from phone.commands._args import LAYER_CHOICES, add_model_options, positive_float, positive_int
from phone.finetune import RECIPES, SMALL_SET_MAX_FRAMES

__all__ = ["add_parser", "run"]


def add_parser(sub):
    import phone.paths as paths
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
                                 "path; the model is built as the file describes it "
                                 "(default: coco)")
    t.add_argument("--recipe", choices=("auto",) + tuple(RECIPES), default="auto",
                   help="auto: small-set (copy-paste of your phones onto new scenes, replay, "
                        "phone-free frames, heads only, the best epoch kept by validation) "
                        f"when fine-tuning a trained phone model on at most "
                        f"{SMALL_SET_MAX_FRAMES} annotated frames, else balloon "
                        "(Matterport's: your frames as given); default: %(default)s")
    t.add_argument("--epochs", type=positive_int,
                   help="train up to this epoch in total (default: the recipe's: 6 small-set, "
                        "30 balloon)")
    t.add_argument("--layers", choices=LAYER_CHOICES,
                   help="layers to train (default: the recipe's, heads)")
    t.add_argument("--lr", type=positive_float, metavar="LR",
                   help="learning rate (default: the recipe's, else the config's LEARNING_RATE)")
    t.add_argument("--steps-per-epoch", type=positive_int, metavar="N",
                   help="training steps per epoch (default: the recipe's, else the config's)")
    t.add_argument("--augment", action="store_true", default=None,
                   help="augment training images (flips, small affine, colour; the small-set "
                        "recipe always does)")
    t.add_argument("--seed", type=int, help="makes data order and sampling reproducible")
    t.set_defaults(run=run)
    return t


def run(args):
    from phone.config import load_config_class
    from phone.train import train
    config = load_config_class(args.config) if args.config else None
    train(config, args.dataset, weights=args.weights, logs_dir=args.logs, epochs=args.epochs,
          layers=args.layers, augment=args.augment, train_via=args.train_via,
          recipe=args.recipe, lr=args.lr, steps_per_epoch=args.steps_per_epoch,
          precision=args.precision, image_size=args.image_size, seed=args.seed)
    return 0
