"""The Ray engine: the phone commands beyond one machine.

    from phone.distributed import ray_cluster, segment_dir_ray, train_ray
    with ray_cluster(address=None):            # None: a local cluster; "HOST:PORT": a running one
        summary = segment_dir_ray("frames/", "masks/", PhoneModel("shipped"), workers=4)
    result = train_ray(2, "datasets/phone", weights="coco", recipe="balloon", seed=1)

``phone segment --engine ray --dir DIR --out OUT`` (segment_dir_ray): Ray Data
takes the list of frames still without a mask (phone.segment.pending_images,
so a rerun skips the finished ones) and an actor pool of ``workers`` models
(``map_batches`` with a callable class: each actor builds its
``PhoneModel(weights).segmenter(batch_size)`` once) decodes, segments and
writes each batch with phone.segment.segment_to_files, the function the
local command uses: the same NAME_mask.png (0/255) and overlays, written
atomically (temp file + rename), the mask last. The driver shows the
progress and collects the one-line errors.

``phone train --workers N`` (train_ray): Ray Train's TensorflowTrainer starts
N workers and sets TF_CONFIG on each; every worker builds a
tf.distribute.MultiWorkerMirroredStrategy and runs phone.train.train with it
(``strategy=``, ``worker=(rank, N)``): the same recipe and model, each worker
reading its share of every global batch of N x IMAGES_PER_GPU images
(mrcnn.data.generator.distribute_sequence), the gradients summed across
workers. The chief (rank 0) alone writes the self-describing checkpoints
``logs/phoneYYYYMMDDTHHMM/mask_rcnn_phone_NNNN.h5``, so ``--weights last``
resumes such a run like any other.

Paths (frames, --out, the dataset, the weights, --logs) are opened by the
actors and workers: on a cluster of several machines they must be the same
path on every node (a shared filesystem), as on one machine they are.

Ray stays optional: importing this module does not import ray; each entry
point does, and without Ray installed says in one line how to get it.
"""
import contextlib
import logging
import os
import socket
import sys

from phone.errors import EXIT_FAILED, CommandError, PhoneDataError, one_line

__all__ = ["INSTALL_HINT", "LOCAL_OBJECT_STORE_BYTES", "require_ray", "check_address",
           "ray_cluster", "segment_dir_ray", "train_ray"]

#: what to install for the Ray engine (pyproject.toml's ``distributed`` extra)
INSTALL_HINT = "pip install 'mrcnn-phone[distributed]'"
#: object store of the local cluster: only paths and one-line results travel
#: through it, and a small store starts fast
LOCAL_OBJECT_STORE_BYTES = 200 * 2 ** 20


def require_ray(what="--engine ray"):
    """The ray module, or CommandError (one line) naming what to install."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise CommandError(f"{what} needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def check_address(address, timeout=3.0):
    """Fail fast, in one line, on an --address no Ray cluster answers at
    (``ray.init`` would retry for minutes). Accepts HOST:PORT,
    ray://HOST:PORT (Ray Client) and "auto" (the cluster ``ray start --head``
    started on this machine: ray.init checks that itself)."""
    if address is None or address == "auto":
        return
    text = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--address {address!r}: expected HOST:PORT (the head node's "
                           f"'ray start --head' address, e.g. 10.0.0.5:6379), "
                           f"ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise CommandError(f"--address {address}: no Ray cluster answers there ({reason}); "
                           f"start one with 'ray start --head' on that machine, or leave "
                           f"--address out to run on this one") from None


@contextlib.contextmanager
def ray_cluster(address=None, num_cpus=None):
    """Connected to a Ray cluster for the ``with`` block.

    address: None starts a local cluster for the block (``num_cpus``:
        default all of this machine's; no dashboard; a small object store) and
        stops it after; HOST:PORT / ray://HOST:PORT / "auto" connects to a
        running one (``ray start --head``) and disconnects after.
    When this process is already connected (a notebook, the tests), that
    cluster is used and left running (a given address is only checked).
    Yields the ray module. Raises CommandError (one line) for a missing Ray
    or an address nobody answers.
    """
    ray = require_ray()
    check_address(address)
    if ray.is_initialized():
        yield ray
        return
    # Workers: TensorFlow's log level, print() not doubled by Ray Train's
    # print-to-logger patch. Ray's own log records in the job's processes
    # off: its warnings (Ray Train's placement group cleaner asks the state
    # API, which needs the dashboard, every few seconds) and its error dumps
    # (a failed run: the command says it in one line; Ray's session logs,
    # /tmp/ray/session_latest/logs, keep them).
    env = {"RAY_TRAIN_ENABLE_PRINT_PATCH": "0"}
    env.update({k: os.environ[k] for k in ("TF_CPP_MIN_LOG_LEVEL",) if k in os.environ})
    options = dict(logging_level=logging.ERROR, runtime_env={"env_vars": env},
                   logging_config=ray.LoggingConfig(log_level="CRITICAL"))
    try:
        if address is None:
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1,
                     include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as e:
        where = "a local Ray cluster" if address is None else f"--address {address}"
        raise CommandError(f"{where}: {one_line(e, limit=300)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


# ------------------------------------------------------------ segmentation
class _SegmentActor:
    """One model of the actor pool: built once per actor, then called with
    batches {"path": [B] str, "rel": [B] str}; returns {"path": [B],
    "error": [B] ("" when written)}."""

    def __init__(self, model_options, segmenter_options, out_dir, style, threads):
        if threads:
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        options = dict(model_options)
        config_text = options.pop("config_json", None)
        if config_text is not None:
            options["config"] = _config_from_json(config_text)
        from phone.model import PhoneModel
        self.segmenter = PhoneModel(say=False, **options).segmenter(**segmenter_options)
        self.out_dir, self.style = out_dir, style

    def __call__(self, batch):
        import numpy as np

        from phone.imageio import read_image
        from phone.segment import segment_to_files
        paths = [str(p) for p in batch["path"]]
        errors, items = {}, []
        for path, rel in zip(paths, batch["rel"]):
            try:
                items.append(((path, str(rel)), read_image(path)))
            except PhoneDataError as e:
                errors[path] = one_line(e)
        for path, msg in segment_to_files(self.segmenter, items, self.out_dir, self.style):
            if msg is not None:
                errors[path] = msg
        return {"path": np.array(paths, dtype=object),
                "error": np.array([errors.get(p, "") for p in paths], dtype=object)}


def _config_from_json(text):
    """A Config from mrcnn.weights.config_json text (what checkpoints store)."""
    import json

    from mrcnn.config import config_from_dict
    return config_from_dict(json.loads(text)["config"])


def _model_options(model):
    """What an actor needs to build the same PhoneModel as ``model`` (the
    driver's, which resolved the file and checked it): the resolved path and
    the configuration, as the JSON checkpoints store."""
    from mrcnn.weights import config_json
    coco_class = None
    if model.coco:
        from phone.coco_classes import COCO_CLASS_NAMES
        coco_class = COCO_CLASS_NAMES[model.keep_class_ids[0]]
    return {"weights": model.path, "coco_class": coco_class, "precision": model.precision,
            "logs_dir": model.logs_dir,
            "config_json": config_json(model.config) if model._config_given else None}


def _pool_resources(ray, workers):
    """(actors, CPUs per actor, GPUs per actor): one actor per GPU of the
    cluster when it has GPUs, else one per CPU; ``workers`` overrides the
    count (actors beyond the free GPUs or CPUs wait for one)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return (workers or gpus), 1, 1
    return (workers or max(1, int(resources.get("CPU", 1)))), 1, 0


def segment_dir_ray(in_dir, out_dir, model, batch_size=4, score=None, one_per_frame=False,
                    image_size=None, style="overlay", workers=None, quiet=False, listing=None):
    """``phone segment --engine ray --dir``: segment every image under
    in_dir whose mask is not in out_dir yet, on the connected Ray cluster
    (see ray_cluster).

    model: the phone.model.PhoneModel to run (the driver's: its file is read
        here only to check it; each actor builds its own from the same path
        and configuration).
    batch_size: images per detect() call (and per Ray Data batch).
    workers: actors in the pool (default: one per GPU of the cluster, else
        one per CPU).
    style, quiet, listing: as phone.segment.segment_dir.
    Returns a phone.segment.SegmentSummary (the local command's counts).
    An actor that dies is restarted and its batch retried (Ray Data's
    default). Raises CommandError (one line, exit 1) when the run fails on
    the cluster (e.g. an actor cannot build its model): every mask written
    before is complete, a rerun resumes.
    """
    import ray
    from ray.data import DataContext

    from phone.segment import _progress, _say, start_summary
    summary, pending = start_summary(in_dir, out_dir, listing)
    if not pending:
        return summary
    actors, cpus, gpus = _pool_resources(ray, workers)
    context = DataContext.get_current()
    context.enable_progress_bars = False          # ours below counts images
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)    # its notes on the above
    segmenter_options = {"batch_size": int(batch_size), "score": score,
                         "one_per_frame": bool(one_per_frame), "image_size": image_size}
    frames = ray.data.from_items([{"path": p, "rel": r} for p, r in pending])
    # Ray Data's fault tolerance: an actor that dies is restarted and its
    # batch retried; a batch is written by segment_to_files file by file,
    # atomically, so a retried one rewrites complete files.
    results = frames.map_batches(
        _SegmentActor, batch_size=int(batch_size),
        compute=ray.data.ActorPoolStrategy(size=int(actors)),
        num_cpus=cpus, num_gpus=gpus or None, batch_format="numpy",
        fn_constructor_kwargs={"model_options": _model_options(model),
                               "segmenter_options": segmenter_options,
                               "out_dir": os.fspath(out_dir), "style": style,
                               "threads": None if gpus else cpus})
    bar = _progress(len(pending), quiet)
    try:
        for row in results.iter_rows():
            if row["error"]:
                summary.failed.append((row["path"], row["error"]))
                _say(bar, f"error: {row['error']}")
            else:
                summary.done += 1
            bar.update(1)
    except ray.exceptions.RayError as e:
        raise CommandError(f"the Ray cluster failed after {summary.done} of {len(pending)} "
                           f"images: {_ray_error_line(e)}; every mask written is complete, "
                           f"run the same command again to resume",
                           exit_code=EXIT_FAILED) from None
    finally:
        bar.close()
    return summary


def _ray_error_line(e):
    """One line for a Ray exception: its cause's type and message, not the
    remote traceback Ray puts in str(e)."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException) and cause is not e:
        return f"{type(cause).__name__}: {one_line(cause, limit=300)}"
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return one_line(lines[-1] if lines else type(e).__name__, limit=300)


# ---------------------------------------------------------------- training
def _say_line(message):
    """A line on the worker's stdout (Ray forwards it to the driver)."""
    sys.stdout.write(f"{message}\n")
    sys.stdout.flush()


def _train_worker(options):
    """The loop of one Ray Train worker: its MultiWorkerMirroredStrategy
    (from the TF_CONFIG Ray set) and phone.train.train with it. Every worker
    reports once (ray.train.report is a barrier); the chief's report is the
    result."""
    import ray.train
    import tensorflow as tf
    options = dict(options)
    context = ray.train.get_context()
    rank, count = context.get_world_rank(), context.get_world_size()
    tf.get_logger().setLevel(logging.ERROR)     # its INFO lines on the strategy
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    config_text = options.pop("config_json")
    config = None if config_text is None else _config_from_json(config_text)
    extra = [make() for make in options.pop("callback_factories")]
    verbose = options.pop("verbose") if rank == 0 else 0
    options.pop("verbose", None)
    from phone.train import train
    result = train(config, worker=(rank, count), strategy=strategy, extra_callbacks=extra,
                   say=_say_line if rank == 0 else (lambda message: None), verbose=verbose,
                   display_config=False, **options)
    sys.stdout.flush()
    report = {"done": result is not None}
    if rank != 0 or result is None:
        ray.train.report(report)
        return
    # Ray Train keeps the metrics of reports that carry a checkpoint: a
    # small one with the same summary (the model checkpoints are in --logs).
    import json
    import tempfile
    report.update(last=result["last"], log_dir=result["log_dir"], history=result["history"])
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "result.json"), "w") as f:
            json.dump(report, f)
        ray.train.report(report, checkpoint=ray.train.Checkpoint.from_directory(folder))


def _worker_failure(error):
    """(message, exit code) for a failed Ray Train run: the first worker's
    own error (a CommandError keeps its message and exit code), not the
    remote tracebacks."""
    import ray
    failures = getattr(error, "worker_failures", None) or {}
    for rank in sorted(failures):
        cause = failures[rank]
        # Ray wraps: a RayTaskError's .cause is the worker's own exception;
        # a failed health check's .health_check_failure why it failed.
        for attr in ("health_check_failure", "cause"):
            inner = getattr(cause, attr, None)
            if isinstance(inner, BaseException) and inner is not cause:
                cause = inner
        if isinstance(cause, ray.exceptions.ActorDiedError):
            return (f"worker {rank} died (its process was killed or crashed, e.g. out of "
                    f"memory)"), EXIT_FAILED
        if isinstance(cause, CommandError):
            return cause.message, cause.exit_code
        return f"worker {rank} failed: {type(cause).__name__}: {one_line(cause, limit=300)}", \
            EXIT_FAILED
    return _ray_error_line(error), EXIT_FAILED


def train_ray(workers, dataset_dir, config=None, weights="coco", logs_dir=None, seed=None,
              use_gpu=None, say=print, verbose=2, callback_factories=(), **options):
    """``phone train --workers N``: phone.train.train on ``workers`` Ray Train
    workers of the connected cluster (see ray_cluster), under
    tf.distribute.MultiWorkerMirroredStrategy.

    The global batch is workers x IMAGES_PER_GPU images (each worker reads
    its share: mrcnn.data.generator.distribute_sequence); an epoch is
    STEPS_PER_EPOCH global steps; the learning rate is the recipe's, not
    scaled. The chief (rank 0) writes the checkpoints in logs_dir as
    ``phone train`` does (``weights="last"`` resumes).
    config: a Config instance or class (--config), sent to the workers as
        the JSON every checkpoint stores; None: from the start weights.
    seed: the data order every worker must agree on; None draws one (said).
    use_gpu: one GPU per worker (default: when the cluster has GPUs).
    callback_factories: zero-argument callables each worker calls for an
        extra Keras callback (picklable; for monitoring).
    options: the other phone.train.train options (epochs, layers, recipe,
        lr, steps_per_epoch, augment, train_via, precision, image_size).
    Returns the chief's {"last", "log_dir", "history"} or None when there
    was nothing to do. Raises CommandError (one line) when a worker fails or
    dies: checkpoints written before are complete (written atomically),
    ``weights="last"`` resumes.
    """
    import random
    import shutil
    import tempfile

    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig

    import phone.paths as paths
    from phone.weights import resolve_weights
    try:
        from ray.train.tensorflow import TensorflowTrainer
    except ImportError as e:
        raise CommandError(f"--workers needs Ray Train with TensorFlow: {one_line(e)}; "
                           f"{INSTALL_HINT}") from None
    if not os.path.isdir(dataset_dir):
        raise CommandError(f"{dataset_dir}: no such dataset folder (--dataset)")
    logs_dir = os.path.abspath(logs_dir or paths.default_logs_dir())
    config_text = None
    if config is not None:
        # Sized here as train() sizes a class (its for_size scales the
        # anchors), then sent as the JSON every checkpoint stores.
        from mrcnn.weights import config_json

        from phone.config import sized_config
        if options.get("image_size"):
            config = sized_config(config, options.pop("image_size"))
        config_text = config_json(config() if isinstance(config, type) else config)
    # Resolved (downloaded) here once, so the workers find the file, and a
    # bad --weights fails before any worker starts.
    name = "phone" if config is None else getattr(config, "NAME", "phone")
    resolve_weights(weights, logs_dir=logs_dir, name=name)
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2 ** 31)
        say(f"Seed {seed} (the workers draw the same data order from it; --seed chooses it)")
    if use_gpu is None:
        use_gpu = ray.cluster_resources().get("GPU", 0) >= 1
    say(f"Training on {workers} Ray worker(s) ({'one GPU' if use_gpu else 'one CPU'} each); "
        f"global batch = {workers} x IMAGES_PER_GPU; checkpoints by worker 0 in {logs_dir}")
    if os.path.exists(weights):             # a path: the workers start in another folder
        weights = os.path.abspath(weights)
    if options.get("train_via"):
        options["train_via"] = [os.path.abspath(p) for p in options["train_via"]]
    before = _checkpoint_files(logs_dir)
    # Ray Train's own records (a run summary) and the other workers' scratch
    # checkpoints: beside the checkpoints, where every node can reach them,
    # removed after the run (also when a killed worker could not).
    os.makedirs(logs_dir, exist_ok=True)
    storage = tempfile.mkdtemp(prefix=".ray_train_", dir=logs_dir)
    loop = dict(options, dataset_dir=os.path.abspath(dataset_dir), weights=weights,
                logs_dir=logs_dir, seed=int(seed), config_json=config_text, verbose=verbose,
                callback_factories=list(callback_factories), scratch_dir=storage)
    run = dict(name="phone_train", storage_path=storage,
               failure_config=FailureConfig(max_failures=0))
    try:        # Ray Train's notes (start-up, the failure dump) off: one line below says it
        from ray.train import LoggingConfig
        run_config = RunConfig(logging_config=LoggingConfig(log_level="WARNING"), **run)
    except (ImportError, TypeError):                  # Ray before Train's LoggingConfig
        run_config = RunConfig(**run)
    trainer = TensorflowTrainer(
        _train_worker, train_loop_config=loop,
        scaling_config=ScalingConfig(num_workers=int(workers), use_gpu=bool(use_gpu),
                                     resources_per_worker=None if use_gpu else {"CPU": 1}),
        run_config=run_config)
    try:
        result = trainer.fit()
    except ray.train.TrainingFailedError as e:
        message, code = _worker_failure(e)
        raise CommandError(f"training failed: {message}; {_checkpoints_note(logs_dir, before)}",
                           exit_code=code) from None
    except ray.exceptions.RayError as e:
        raise CommandError(f"training failed: {_ray_error_line(e)}; "
                           f"{_checkpoints_note(logs_dir, before)}",
                           exit_code=EXIT_FAILED) from None
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    metrics = dict(result.metrics or {})
    if not metrics.get("done"):
        return None
    return {k: metrics.get(k) for k in ("last", "log_dir", "history")}


def _checkpoint_files(logs_dir):
    """{path: size} of the checkpoints under logs_dir (its run folders)."""
    found = {}
    if os.path.isdir(logs_dir):
        for run in os.listdir(logs_dir):
            folder = os.path.join(logs_dir, run)
            if os.path.isdir(folder):
                for f in os.listdir(folder):
                    if f.startswith("mask_rcnn_") and f.endswith(".h5"):
                        found[os.path.join(folder, f)] = os.path.getsize(os.path.join(folder, f))
    return found


def _checkpoints_note(logs_dir, before):
    """What a failed run left: the checkpoints it wrote (complete: each is
    written to a temp file and renamed)."""
    new = sorted(p for p, size in _checkpoint_files(logs_dir).items() if before.get(p) != size)
    if new:
        return (f"its {len(new)} checkpoint(s) are complete (newest {new[-1]}); resume with "
                f"--weights last")
    return "it wrote no checkpoint"
