"""Train a saved model's networks a few epochs more on train plus validation faces, for a final model.

Once a recipe has been chosen on validation, its faces are worth learning from: each network of a saved fer_resnet
model (one network or an ensemble) trains on from its weights on the train split plus `add_validation` of the
validation split (drawn stratified with `split_seed`), with its own recipe's random erasing and mixup, augmentation
on the host and a cosine from `learning_rate` to 0 over the steps. The networks are then averaged in their order;
the validation faces not added score each network and the average, and none are left when all are added. Notebook
03's last steps follow (TFLite copy, test figures, saved model), so `saving.ship_model` ships the run like any other.
docs/experiments.md has the measurement behind it (`ft_half`, `ft_all`). Each finished network is saved, and a run
started again with the same arguments goes on from there. The shipped model was made from the README's model I by:

    python3 -m fer_helpers.finetuning artifacts/runs/I/03_training/model/model.keras --run-id ft_all --add-validation 1 \
        --blocks 2 2 2 1 2 --erasing 0.5 0.5 0.5 0.5 0 --mixup 0.2 0.2 0.2 0.2 0
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import keras
import numpy as np

from fer_helpers import data, evaluation, lite, models, plots, saving, training
from fer_helpers.config import artifacts_dir, find_model
from fer_helpers.data import Dataset
from fer_helpers.files import atomic_write

ARCHITECTURE = "fer_resnet"  # the networks are rebuilt under mixed precision, so their architecture must be known
LABEL_SMOOTHING = 0.1  # fer_resnet's own (models.fer_resnet)
SPLIT_SEED = 2027  # draws the validation faces added to training (ft_half's halves)
SEED = 1204  # network i trains with seed SEED + i
SETTINGS_FILE = "fine_tuning.json"


def trainable_copy(network: keras.Model, num_classes: int, blocks: int, precision: str) -> keras.Model:
    """fer_resnet with `blocks` blocks a stage, built under `precision` without augmentation layers, holding network's
    weights; a network of another shape is refused."""
    with training.dtype_policy(precision):
        copy = models.build_model(ARCHITECTURE, num_classes, blocks=blocks)
    if [w.shape for w in copy.get_weights()] != [w.shape for w in network.get_weights()]:
        raise ValueError(f"Network {network.name} is not a fer_resnet with {blocks} block(s) a stage and "
                         f"{num_classes} classes: give each network's --blocks")
    copy.set_weights(network.get_weights())
    return copy


def fine_tune(network: keras.Model, x: np.ndarray, y: np.ndarray, num_classes: int, *, blocks: int, erasing: float,
              mixup: float, epochs: int, learning_rate: float, batch_size: int, seed: int) -> keras.Model:
    """`network` trained `epochs` more on faces x with labels y (see the module's docstring); a float32 copy."""
    keras.utils.set_random_seed(seed)
    precision = training.resolve_precision("auto")
    with training.dtype_policy(precision):
        copy = trainable_copy(network, num_classes, blocks, precision)
        steps = epochs * math.ceil(len(y) / batch_size)
        models.compile_model(copy, keras.optimizers.schedules.CosineDecay(learning_rate, steps), LABEL_SMOOTHING)
    feed = training.TrainingBatches(x, keras.utils.to_categorical(y, num_classes), batch_size, mixup, seed,
                                    augment="full", erasing=erasing, workers=training.HOST_WORKERS)
    copy.fit(feed, epochs=epochs, verbose=2)
    return trainable_copy(copy, num_classes, blocks, "float32")


def training_faces(dataset: Dataset, add_validation: float, split_seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train faces and labels with `add_validation` of the validation faces (each class alike), and the indices of
    the validation faces left out to score the run (none when all are added)."""
    data.check_number("add_validation", add_validation, 0, 1, above=True)
    x_train, y_train = dataset.arrays("train")
    x_val, y_val = dataset.arrays("val")
    held_out, added = data.stratified_split(y_val, add_validation, split_seed)
    return np.concatenate([x_train, x_val[added]]), np.concatenate([y_train, y_val[added]]), held_out


def tuned_networks(model: keras.Model, x: np.ndarray, y: np.ndarray, num_classes: int, run_dir: Path,
                   options: dict) -> tuple[list[keras.Model], float]:
    """Each of model's networks fine-tuned on faces x with labels y with its own blocks, erasing and mixup, saved in
    run_dir/networks/i (a network already there is reused); the networks and the minutes spent training them here."""
    found = models.networks(model)
    recipes = [options[name] for name in ("blocks", "erasing", "mixup")]
    if any(len(values) != len(found) for values in recipes):
        raise ValueError(f"The model runs {len(found)} networks: give --blocks, --erasing and --mixup {len(found)} "
                         f"values each, not {[len(values) for values in recipes]}")
    tuned, start = [], time.time()
    for i, (network, blocks, erasing, mixup) in enumerate(zip(found, *recipes)):
        path = run_dir / "networks" / str(i) / saving.MODEL_FILE
        if not path.exists():
            print(f"Network {i + 1} of {len(found)}: {blocks} block(s) a stage, erasing {erasing}, mixup {mixup}", flush=True)
            done = fine_tune(network, x, y, num_classes, blocks=blocks, erasing=erasing, mixup=mixup,
                             epochs=options["epochs"], learning_rate=options["learning_rate"],
                             batch_size=options["batch_size"], seed=options["seed"] + i)
            atomic_write(path, lambda tmp, done=done: done.save(tmp))
        tuned.append(keras.models.load_model(path))
    return tuned, (time.time() - start) / 60


def claim_run_dir(run_dir: Path, options: dict) -> None:
    """Record the run's options in run_dir, or check them against the run already there (networks from two runs must
    not be averaged)."""
    path = run_dir / SETTINGS_FILE
    if path.exists() and json.loads(path.read_text()) != options:
        raise ValueError(f"{run_dir} holds a fine-tuning run with other options ({path}): give the same arguments to "
                         "go on with it, or another --run-id")
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(options, indent=1)))


def run(model_path: str | Path, run_dir: str | Path, options: dict, command: str, data_dir: str | None = None) -> Path:
    """Fine-tune the model at model_path into run_dir and evaluate and save it as notebook 03 does; its model file."""
    run_dir, split_seed = Path(run_dir), dataset_split_seed(saving.read_metadata(find_model(model_path)))
    dataset = data.load_dataset(data_dir, limit_per_class=options["limit_per_class"], seed=split_seed)
    base, base_metadata = saving.load_model(model_path, classes=dataset.classes)
    training.check_ensemble_member(base_metadata, dataset, split_seed, model_path)  # the same validation split
    claim_run_dir(run_dir, options)
    x, y, held_out = training_faces(dataset, options["add_validation"], options["split_seed"])
    tuned, minutes = tuned_networks(base, x, y, dataset.num_classes, run_dir, options)
    model = models.average_ensemble(tuned) if len(tuned) > 1 else tuned[0]
    x_val, y_val = dataset.arrays("val")
    flatbuffer = lite.convert(model) if lite.available() else None
    val_accuracy = None
    if len(held_out):
        candidates = {f"network {i}": network for i, network in enumerate(tuned, 1)} | {"fine-tuned model": model}
        scores = evaluation.score_table(candidates, x_val[held_out], y_val[held_out], dataset.classes)
        print(f"On the {len(held_out)} validation faces not trained on:\n{scores}")
        val_accuracy = float(scores.loc["fine-tuned model", "accuracy"])
    x_test, y_test = dataset.arrays("test")
    result, _ = evaluation.test_report(model, x_test, y_test, dataset.classes, "flip",
                                       lite.LiteModel(flatbuffer) if flatbuffer else None)
    evaluation.save_metrics(result, run_dir / "test_metrics.json")
    plots.save_figure(evaluation.confusion_heatmap(result), run_dir / "confusion_matrix.png")
    metadata = training.class_names_metadata(
        dataset, ARCHITECTURE, command=command, epochs_run=options["epochs"], training_seconds=round(minutes * 60),
        val_accuracy=val_accuracy, validation_trained_on=len(y_val) - len(held_out), test_accuracy=result["accuracy"],
        test_macro_f1=result["macro_f1"], tta="flip", tta_test_accuracy=result["tta"]["accuracy"],
        tflite_test_accuracy=result.get("tflite", {}).get("accuracy"), precision=training.resolve_precision("auto"),
        split_seed=split_seed, ensemble_members=[], teacher_commands=[],
        fine_tuned_from=training.member_commands([base_metadata]))
    print(f"test accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f}; flip TTA "
          f"{result['tta']['accuracy']:.4f}; TFLite copy {result.get('tflite', {}).get('accuracy')}")
    return saving.save_model(model, run_dir / "model", metadata, flatbuffer)


def dataset_split_seed(metadata: dict) -> int:
    """The validation split's seed a saved model was trained with (data.SEED when its metadata does not say)."""
    return int(metadata.get("split_seed", data.SEED))


def main(argv: list[str] | None = None) -> Path:
    """Command line: fine-tune a saved model's networks into artifacts/runs/RUN_ID."""
    parser = argparse.ArgumentParser(prog="python3 -m fer_helpers.finetuning", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a saved fer_resnet model (one network or an ensemble)")
    parser.add_argument("--run-id", required=True, help="the run's folder under artifacts/runs")
    parser.add_argument("--add-validation", type=float, default=1.0, help="share of the validation faces to train on")
    parser.add_argument("--blocks", type=int, nargs="+", required=True, help="each network's blocks a stage")
    parser.add_argument("--erasing", type=float, nargs="+", required=True, help="each network's random erasing")
    parser.add_argument("--mixup", type=float, nargs="+", required=True, help="each network's mixup alpha (0: off)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--split-seed", type=int, default=SPLIT_SEED)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit-per-class", type=int, default=None, help="at most this many faces a class (tests)")
    args = parser.parse_args(argv)
    training.check_settings(args.epochs, args.batch_size, args.learning_rate, "cosine", max(args.erasing),
                            max(args.mixup), 0)
    options = {name: getattr(args, name) for name in ("add_validation", "blocks", "erasing", "mixup", "epochs",
                                                      "learning_rate", "batch_size", "seed", "split_seed", "limit_per_class")}
    options["model"] = str(args.model)
    command = shlex.join(["python3", "-m", "fer_helpers.finetuning", *(sys.argv[1:] if argv is None else argv)])
    return run(args.model, artifacts_dir() / "runs" / args.run_id, options, command, args.data_dir)


if __name__ == "__main__":
    main()
