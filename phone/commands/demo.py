"""``phone demo``: the whole job offline on the bundled data (library:
phone.demo.run_demo)."""
from phone.commands._args import positive_int

__all__ = ["add_parser", "run"]


def add_parser(sub):
    d = sub.add_parser(
        "demo", help="end-to-end demo on the bundled data (segment, fine-tune, segment again)",
        description="Segments the bundled CORe50 frames with the shipped model, fine-tunes it "
                    "as 'phone train --weights shipped' does on the two annotated train frames "
                    "(small-set recipe, the epoch chosen on the val frame), segments again and "
                    "prints both models' scores per frame (train, validation, unseen). The "
                    "fine-tuned model becomes the default only when it beat the shipped one on "
                    "its validation. Without a shipped model it trains from scratch.")
    d.add_argument("--steps", type=positive_int,
                   help="training steps, batch of 4 frames each (default: the small-set "
                        "recipe's 6 epochs of 100, early stopping, to fine-tune the shipped "
                        "model; 1000 from scratch)")
    d.add_argument("--n-train", type=positive_int, default=400,
                   help="generated training frames (copy-paste ones for the shipped model; "
                        "default %(default)s)")
    d.add_argument("--n-val", type=positive_int, default=40,
                   help="synthetic validation frames of the from-scratch and COCO runs "
                        "(default %(default)s)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default=None,
                   help="where masks, overlays and the model go (default: the outputs folder)")
    d.add_argument("--work", default=None,
                   help="scratch folder for generated data and logs (default OUT/demo)")
    d.add_argument("--coco", default=None, metavar="PATH",
                   help="fine-tune these COCO weights instead, when the file exists")
    d.add_argument("--from-scratch", action="store_true",
                   help="train the from-scratch model even when a shipped model exists")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(run=run)
    return d


def run(args):
    from phone.demo import run_demo
    run_demo(steps=args.steps, n_train=args.n_train, n_val=args.n_val, seed=args.seed,
             out=args.out, work=args.work, coco_weights=args.coco,
             from_scratch=args.from_scratch, quiet=args.quiet)
    return 0
