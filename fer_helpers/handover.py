"""Train notebook 03's network on another machine, without Jupyter, and bring the run back for notebook 03.

A GPU box may have Keras and JAX but no TensorFlow, papermill or IPython. There, `train` runs notebook 03's
training step with the notebook's own defaults and your parameters, and `--pack` writes the finished run as one
small tar (its settings, history and best network, without the optimizer's state). Here, `unpack` puts it where
notebook 03 of a pipeline run looks, and the pipeline with the same parameters then finds a finished run with its
settings, trains nothing, and evaluates, converts and saves it as usual (a run with other settings is refused).

    # on the GPU machine (augmentation on the host: Keras's augmentation layers are slow under JAX on a GPU)
    KERAS_BACKEND=jax python3 -m fer_helpers.handover train --run-id gpu1 -p 'augment_on="host"' --pack gpu1.tar
    # here
    python3 -m fer_helpers.handover unpack gpu1.tar
    python3 -m fer_helpers.pipeline --only 03 --run-id gpu1 -p 'augment_on="host"'
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import keras

from fer_helpers import data, integrity, pipeline, training
from fer_helpers.config import artifacts_dir
from fer_helpers.files import atomic_write

NOTEBOOK = "03"
NOTEBOOK_FOLDER = "03_training"  # notebook 03's output folder inside a pipeline run (pipeline.run_notebook)
TRAIN_SETTINGS = ("architecture", "model_options", "epochs", "batch_size", "learning_rate", "schedule", "augment",
                  "augment_on", "erasing", "mixup", "patience", "minutes", "strategy", "precision")  # notebook 03's `settings`
PACKED = (training.RUN_FILE, training.HISTORY_FILE, training.BEST_FILE)


def checkpoints_dir(run_dir: str | Path) -> Path:
    """Where notebook 03 of the pipeline run in run_dir keeps its training run."""
    return Path(run_dir) / NOTEBOOK_FOLDER / "checkpoints"


def train_run(parameters: dict, run_dir: str | Path) -> training.TrainResult:
    """Notebook 03's training step with its defaults overridden by `parameters`, into checkpoints_dir(run_dir)."""
    defaults = pipeline.default_parameters(NOTEBOOK)
    unknown = sorted(set(parameters) - set(defaults))
    if unknown:
        raise ValueError(f"Unknown parameters {unknown}: notebook 03 declares {sorted(defaults)}")
    if "output_dir" in parameters:
        raise ValueError("output_dir is where the pipeline puts notebook 03's outputs: choose the run folder with --run-id")
    chosen = defaults | parameters
    if chosen["distill_from"]:
        raise ValueError("distill_from needs the teachers' models here: train a distilled run with the pipeline")
    dataset = data.load_dataset(chosen["data_dir"], limit_per_class=chosen["limit_per_class"], seed=chosen["seed"])
    labels = dataset.splits["train"].labels
    weights = integrity.balanced_class_weights(labels, dataset.num_classes) if chosen["class_weights"] else None
    settings = {name: chosen[name] for name in TRAIN_SETTINGS}
    return training.train(dataset, **settings, seed=chosen["train_seed"], class_weights=weights,
                          output_dir=checkpoints_dir(run_dir))


def pack(run_dir: str | Path, archive: str | Path) -> Path:
    """A finished run as one tar: its run file, history and best network without the optimizer's state."""
    folder = checkpoints_dir(run_dir)
    _, finished, _ = training.read_run(folder / training.RUN_FILE)
    if not finished:
        raise ValueError(f"{folder} holds an unfinished run: finish it (run train again) before packing it")
    best = keras.models.load_model(folder / training.BEST_FILE)
    with tempfile.TemporaryDirectory() as scratch:
        slim = Path(scratch) / training.BEST_FILE
        keras.Model(best.inputs, best.outputs).save(slim)  # the same layers and weights; no optimizer to save

        def write(tmp: Path) -> None:
            with tarfile.open(tmp, "w") as tar:
                for name in PACKED:
                    tar.add(slim if name == training.BEST_FILE else folder / name, arcname=name)

        atomic_write(Path(archive), write)
    return Path(archive)


def unpack(archive: str | Path, run_dir: str | Path) -> Path:
    """Put a packed run into checkpoints_dir(run_dir), which must not exist yet (a run is never written over)."""
    folder = checkpoints_dir(run_dir)
    if folder.exists():
        raise FileExistsError(f"{folder} exists: unpack into another run id, or remove it first")
    try:
        with tarfile.open(archive) as tar:
            names = sorted(tar.getnames())
            if names != sorted(PACKED):
                raise ValueError(f"{archive} is not a packed run: it holds {names}, not {sorted(PACKED)}")
            folder.parent.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder.parent))  # renamed into place once checked
            try:
                tar.extractall(partial, filter="data")
                training.read_run(partial / training.RUN_FILE)  # a clear error for a run file training did not write
                partial.rename(folder)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    except (OSError, tarfile.TarError) as error:
        raise ValueError(f"Cannot read {archive} as a packed run: {error}") from None
    return folder


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    train = verbs.add_parser("train", help="train notebook 03's network (resumes an interrupted run)")
    train.add_argument("--run-id", type=pipeline.run_id, required=True, help="the pipeline run folder under artifacts/runs/")
    train.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="a notebook 03 parameter")
    train.add_argument("--pack", type=Path, metavar="TAR", help="then pack the finished run into this file")
    unpacking = verbs.add_parser("unpack", help="put a packed run where notebook 03 of a pipeline run finds it")
    unpacking.add_argument("archive", type=Path)
    unpacking.add_argument("--run-id", type=pipeline.run_id,
                           help="the pipeline run folder under artifacts/runs/ (default: the archive's name)")
    args = parser.parse_args(argv)
    try:
        name = args.run_id or pipeline.run_id(args.archive.name.removesuffix(".tar"))
    except argparse.ArgumentTypeError as error:
        parser.error(f"the archive's name gives no run folder, {error}: give --run-id")

    run_dir = artifacts_dir() / "runs" / name
    try:
        if args.verb == "train":
            run = train_run(pipeline.parse_assignments(args.param), run_dir)
            print(f"{run.output_dir}: {len(run.history)} epochs, best val_accuracy {run.history['val_accuracy'].max():.4f}")
            if args.pack:
                print(f"packed into {pack(run_dir, args.pack)}")
        else:
            print(f"unpacked into {unpack(args.archive, run_dir)}: run notebook 03 with --run-id {run_dir.name} "
                  "and the parameters it was trained with")
    except (OSError, ValueError) as error:  # a missing or existing folder, missing data, other settings
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
