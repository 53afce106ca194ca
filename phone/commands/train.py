"""``phone train``: fine-tune Mask R-CNN on VIA-annotated phone frames
(Matterport's balloon recipe; library: phone.train.train)."""
from phone.commands._args import LAYER_CHOICES, add_model_options, positive_float, positive_int
from phone.errors import CommandError
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
    t.add_argument("--workers", type=positive_int, metavar="N",
                   help="train on N Ray workers (tf.distribute.MultiWorkerMirroredStrategy; "
                        "global batch N x IMAGES_PER_GPU; worker 0 writes the checkpoints; "
                        "needs pip install 'mrcnn-phone[distributed]')")
    t.add_argument("--address", metavar="HOST:PORT",
                   help="with --workers: the running Ray cluster ('ray start --head' prints "
                        "it; ray://HOST:PORT, auto); default: start a local one")
    t.set_defaults(run=run)
    return t


def run(args):
    from phone.config import load_config_class
    if args.address is not None and args.workers is None:
        raise CommandError("--address needs --workers")
    if args.workers is not None:        # before the dataset or the weights are read
        from phone.distributed import check_address, require_ray
        require_ray("--workers")
        check_address(args.address)
    config = load_config_class(args.config) if args.config else None
    options = dict(weights=args.weights, logs_dir=args.logs, epochs=args.epochs,
                   layers=args.layers, augment=args.augment, train_via=args.train_via,
                   recipe=args.recipe, lr=args.lr, steps_per_epoch=args.steps_per_epoch,
                   precision=args.precision, image_size=args.image_size, seed=args.seed)
    if args.workers is None:
        from phone.train import train
        train(config, args.dataset, **options)
        return 0
    from phone.distributed import ray_cluster, train_ray
    with ray_cluster(args.address):
        result = train_ray(args.workers, args.dataset, config=config, **options)
    if result is not None:
        print(f"Done: last checkpoint {result['last']}; resume or continue with --weights last")
    return 0
