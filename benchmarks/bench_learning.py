"""Seed CNN versus ours on accuracy: both trained in one run on the same stratified subset of FER2013's
train split for the same epochs, both scored on the whole validation split (never on test).

    python benchmarks/bench_learning.py [--train-images 4000] [--epochs 5]
"""

import argparse
import dataclasses
import os
import tempfile

import pandas as pd
from report import markdown_table, write_section

from fer_helpers import data, evaluation, training

SCHEDULES = {"seed_cnn": "seed_plateau", "fer_resnet": "cosine"}  # each architecture's own


def subset(dataset: data.Dataset, train_images: int) -> data.Dataset:
    """The data set with its train split cut to a stratified, seeded subset of about train_images."""
    train = dataset.splits["train"]
    _, taken = data.stratified_split(train.labels, min(1.0, train_images / len(train)))
    return dataclasses.replace(dataset, splits=dataset.splits | {"train": train.take(taken)})


def learn(dataset: data.Dataset, architecture: str, epochs: int) -> dict:
    """Train one architecture with its own defaults; validation accuracy, macro-F1 and wall time."""
    with tempfile.TemporaryDirectory() as scratch:
        run = training.train(dataset, architecture, epochs=epochs, schedule=SCHEDULES[architecture], patience=epochs, output_dir=scratch)
    x_val, y_val = dataset.arrays("val")
    result = evaluation.metrics(y_val, evaluation.predict_probabilities(run.model, x_val), dataset.classes)
    return {"val_accuracy_%": round(100 * result["accuracy"], 2), "val_macro_f1_%": round(100 * result["macro_f1"], 2),
            "train_minutes": round(run.seconds / 60, 1)}


def main() -> None:
    """Train both architectures in one run and write the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-images", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    dataset = subset(data.load_dataset(), args.train_images)
    table = pd.DataFrame({name: learn(dataset, name, args.epochs) for name in SCHEDULES}).T
    table.index.name = "architecture"
    print(table.to_string())
    write_section("learning", f"""## Accuracy of the seed CNN and ours (`benchmarks/bench_learning.py`)

One run on {os.cpu_count()} CPU cores: each architecture with its own defaults (seed CNN: Adam 0.0005,
ReduceLROnPlateau on val_loss; ours: Adam 0.001, cosine, label smoothing 0.1), both with augmentation, trained {args.epochs}
epochs on the same stratified {len(dataset.splits["train"]):,} train images, scored on all
{len(dataset.splits["val"]):,} validation images (carved from train; blurred like train in this copy).

{markdown_table(table)}
""")


if __name__ == "__main__":
    main()
