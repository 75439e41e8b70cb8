"""Training recipes compared on validation accuracy and minutes, one after the other in one run on this
machine, on the full FER2013 train split (validation carved from train; the test split is not read).
Each recipe's row goes into docs/experiments.md, beside the rows of earlier runs.

    FER_DATA_DIR=../shared/data/fer2013 python benchmarks/bench_recipes.py [--epochs 8] [--only NAME ...]
"""

import argparse
import re
import tempfile
from pathlib import Path

from fer_helpers import data, profiling, training
from fer_helpers.files import atomic_write

EXPERIMENTS = Path(__file__).resolve().parent.parent / "docs" / "experiments.md"
SMALL = {"widths": (24, 48, 96, 192), "blocks": 1}  # fer_resnet before this issue: one block per stage
RECIPES = {  # name: training.train options; each trains `--epochs` epochs with a cosine schedule over them
    "small fer_resnet, float32": {"model_options": SMALL, "precision": "float32"},
    "small fer_resnet, mixed_bfloat16": {"model_options": SMALL, "precision": "mixed_bfloat16"},
    "default fer_resnet, float32": {"precision": "float32"},
    "default fer_resnet, mixed_bfloat16": {"precision": "mixed_bfloat16"},
}


def run_recipe(dataset: data.Dataset, options: dict, epochs: int) -> dict:
    """Train one recipe; its best validation accuracy, epochs and minutes."""
    with tempfile.TemporaryDirectory() as scratch:
        run = training.train(dataset, epochs=epochs, output_dir=scratch, **options)
    return {"best val %": round(100 * run.history["val_accuracy"].max(), 2),
            "final train %": round(100 * run.history["accuracy"].iloc[-1], 2),
            "epochs": len(run.history), "minutes": round(run.seconds / 60, 1),
            "s per epoch": round(run.seconds / len(run.history), 1)}


def record(name: str, epochs: int, row: dict) -> None:
    """Put one row into docs/experiments.md's benchmark table, replacing an earlier row of the same recipe and epochs."""
    key = f"| {name} ({epochs} epochs) |"
    line = key + " " + " | ".join(str(v) for v in row.values()) + f" | {profiling.hardware()} |"
    text = EXPERIMENTS.read_text()
    pattern = re.compile(rf"^{re.escape(key)}.*$", re.M)
    text = pattern.sub(lambda _: line, text) if pattern.search(text) else text.replace(
        "<!-- /recipes -->", line + "\n<!-- /recipes -->")
    atomic_write(EXPERIMENTS, lambda tmp: tmp.write_text(text))


def main() -> None:
    """Train the chosen recipes in turn and record each as it finishes."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8, help="epochs per recipe (default 8)")
    parser.add_argument("--only", nargs="*", choices=sorted(RECIPES), default=None, help="recipes to run (default all)")
    args = parser.parse_args()
    dataset = data.load_dataset()
    for name in args.only or RECIPES:
        row = run_recipe(dataset, RECIPES[name], args.epochs)
        print(name, row, flush=True)
        record(name, args.epochs, row)


if __name__ == "__main__":
    main()
