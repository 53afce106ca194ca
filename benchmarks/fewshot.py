"""Few-shot fine-tuning benchmark: do a user's few frames make the model
better on their other frames, never worse?

For each leave-out split of the seven annotated real CORe50 frames
(datasets/phone: train/ 2, val/ 1, more/ 4), a user's data set is made of
3 frames (train/) and 1 frame (val/), and the model starts from the shipped
file exactly as a user runs it:

    phone train --dataset SPLIT --weights shipped --logs LOGS --seed S

(the library call phone.train.train, default recipe: the small-set one).
The kept model (the best file, or the shipped one when the run lost to its
start) and the shipped model are then scored on the 3 frames the run never
saw (mask IoU of the mask ``phone segment`` writes). The table shows per
split the test mean of both, the difference, the best epoch, the wall time
and the peak memory; the JSON keeps every frame and every epoch's
validation scores.

    python benchmarks/fewshot.py                      # all splits
    python benchmarks/fewshot.py --splits 1,2 --json benchmarks/results/fewshot.json

Speed and memory are measured on whatever machine runs it: run it on a
quiet one (2 cores here; the table in docs/fine-tuning.md names the CPU).
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from _common import ROOT, machine_info, peak_rss_mb, table, write_json

DATA = os.path.join(ROOT, "datasets", "phone")
FRAMES = {"A": "train/C_01_06_001.png", "B": "train/C_01_07_000.png",
          "C": "val/C_01_08_000.png", "D": "more/C_02_08_005.png",
          "E": "more/C_06_08_012.png", "F": "more/C_02_10_012.png",
          "G": "more/C_03_07_009.png"}
#: split -> (train frames, validation frame, test frames); every frame is a
#: test frame in at least two splits, and every phone type is in some train set
SPLITS = {1: ("DFG", "E", "ABC"), 2: ("ACE", "B", "DFG"), 3: ("BDF", "C", "AEG"),
          4: ("CEG", "A", "BDF"), 5: ("AFG", "D", "BCE")}


def _entries():
    """{subset/file name: (VIA key, entry)} of the bundled annotations."""
    out = {}
    for sub in ("train", "val", "more"):
        with open(os.path.join(DATA, sub, "via_region_data.json")) as f:
            for key, entry in json.load(f).items():
                out[f"{sub}/{entry['filename']}"] = (key, entry)
    return out


def write_subset(folder, letters, entries):
    """Copies the frames ``letters`` and their VIA entries into ``folder``."""
    os.makedirs(folder, exist_ok=True)
    via = {}
    for k in letters:
        rel = FRAMES[k]
        shutil.copy(os.path.join(DATA, rel), folder)
        key, entry = entries[rel]
        via[key] = entry
    with open(os.path.join(folder, "via_region_data.json"), "w") as f:
        json.dump(via, f)
    return folder


def score(weights, folder):
    """{frame: mask IoU} of ``weights`` on the annotated frames of ``folder``."""
    from phone import PhoneModel
    from phone.dataset import PhoneDataset
    from phone.evaluate import evaluate_dataset
    ds = PhoneDataset()
    ds.load_phone(folder, "")
    ds.prepare()
    seg = PhoneModel(weights, say=False).segmenter(batch_size=1)
    return {r["image"]: r["mask_iou"] for r in evaluate_dataset(seg, ds)["images"]}


def run_split(n, work, seed, verbose):
    from phone import paths
    from phone.train import train
    entries = _entries()
    train_k, val_k, test_k = SPLITS[n]
    root = os.path.join(work, f"split{n}")
    write_subset(os.path.join(root, "train"), train_k, entries)
    write_subset(os.path.join(root, "val"), val_k, entries)
    test = write_subset(os.path.join(root, "test"), test_k, entries)
    t0 = time.time()
    result = train(None, root, weights="shipped", logs_dir=os.path.join(root, "logs"), seed=seed,
                   say=(print if verbose else (lambda m: None)), verbose=1 if verbose else 0)
    seconds = time.time() - t0
    shipped = paths.shipped_model_path()
    kept = result["best"] or shipped
    base, tuned = score(shipped, test), score(kept, test)
    summary = result["summary"]
    return {"split": n, "train": [FRAMES[k] for k in train_k], "val": FRAMES[val_k],
            "test": [FRAMES[k] for k in test_k], "seconds": round(seconds, 1),
            "best_epoch": summary["best_epoch"], "lost_to_start": summary["lost_to_start"],
            "shipped": base, "fine_tuned": tuned,
            "shipped_mean": sum(base.values()) / len(base),
            "fine_tuned_mean": sum(tuned.values()) / len(tuned),
            "history": [{k: v for k, v in h.items() if k != "checkpoint"}
                        for h in summary["history"]]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--splits", default=",".join(map(str, SPLITS)),
                   help="comma-separated split numbers (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--verbose", action="store_true", help="show the training output")
    args = p.parse_args(argv)
    splits = [int(s) for s in args.splits.split(",")]
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        p.error(f"--splits: unknown split(s) {bad}; known: {sorted(SPLITS)}")
    work = args.work or tempfile.mkdtemp(prefix="fewshot_")
    rows = []
    for n in splits:
        r = run_split(n, work, args.seed, args.verbose)
        r["peak_rss_mb"] = round(peak_rss_mb())
        rows.append(r)
        print(f"split {n}: shipped {r['shipped_mean']:.3f} -> fine-tuned "
              f"{r['fine_tuned_mean']:.3f} (best epoch {r['best_epoch']}, "
              f"{r['seconds'] / 60:.1f} min)", flush=True)
    columns = ["split", "train", "val", "test", "shipped", "fine-tuned", "diff", "best epoch",
               "min", "peak MiB"]
    short = lambda names: " ".join(os.path.basename(x)[:-4] for x in names)  # noqa: E731
    print(table([{"split": r["split"], "train": short(r["train"]), "val": short([r["val"]]),
                  "test": short(r["test"]), "shipped": f"{r['shipped_mean']:.3f}",
                  "fine-tuned": f"{r['fine_tuned_mean']:.3f}",
                  "diff": f"{r['fine_tuned_mean'] - r['shipped_mean']:+.3f}",
                  "best epoch": r["best_epoch"], "min": f"{r['seconds'] / 60:.1f}",
                  "peak MiB": r["peak_rss_mb"]} for r in rows], [(c, c) for c in columns]))
    if rows:
        a = sum(r["shipped_mean"] for r in rows) / len(rows)
        b = sum(r["fine_tuned_mean"] for r in rows) / len(rows)
        print(f"mean over {len(rows)} splits: shipped {a:.3f}, fine-tuned {b:.3f} ({b - a:+.3f})")
    if args.json:
        write_json(args.json, {"machine": machine_info(), "seed": args.seed, "splits": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
