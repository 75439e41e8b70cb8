"""Time to accuracy: the seed CNN with its recipe, fer_resnet with notebook 03's default recipe and fer_fastnet with
the README's 15-minute recipe, trained in one run on this machine on the full FER2013 train split; minutes of training
until validation accuracy first reaches 55%, 60%, 65.55% (the `fer` package's test accuracy) and 70%, and a plot of
accuracy against minutes. Validation only (carved from train); the test split is not read.

    python benchmarks/bench_time_to_accuracy.py [--minutes 100] [--ours-history RUN/checkpoints/history.csv]
                                                [--seed-history RUN/checkpoints/history.csv]
                                                [--fast-history RUN/checkpoints/history.csv]

--ours-history, --seed-history and --fast-history take a curve from a finished notebook-03 run of that architecture's
recipe (history.csv records each epoch's training time) instead of training it again; the report says so.
"""

import argparse
import tempfile
from pathlib import Path

import matplotlib
import pandas as pd
from report import DOC, markdown_table, write_section

from fer_helpers import data, pipeline, plots, profiling, training

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

THRESHOLDS = (0.55, 0.60, 0.6555, 0.70)
TRAINING_PARAMETERS = ("epochs", "batch_size", "learning_rate", "schedule", "augment", "augment_on", "erasing", "mixup", "patience",
                       "minutes", "precision")
PLOT = DOC.parent / "time_to_accuracy.png"
# The original design's recipe (Adam 0.0005 is seed_cnn's own), run until early stopping ends it, with the same
# augmentation as ours but no erasing or mixup.
SEED_RECIPE = {"schedule": "seed_plateau", "epochs": 60, "patience": 10, "augment": "full", "erasing": 0.0, "mixup": 0.0}
# The README's 15-minute recipe, on top of notebook 03's defaults.
FAST_RECIPE = {"minutes": 15, "augment": "light", "erasing": 0.0, "mixup": 0.0}


def recipes() -> dict[str, dict]:
    """Each architecture's own recipe: the original design's plateau schedule; fer_resnet as notebook 03's defaults;
    fer_fastnet as the README's 15-minute command."""
    ours = pipeline.default_parameters("03")
    defaults = {name: ours[name] for name in TRAINING_PARAMETERS} | {"seed": ours["train_seed"]}
    return {"seed_cnn": SEED_RECIPE, "fer_resnet": defaults, "fer_fastnet": defaults | FAST_RECIPE}


def train_curve(dataset: data.Dataset, architecture: str, recipe: dict, minutes: float) -> pd.DataFrame:
    """Train one architecture with its recipe for at most `minutes`; its history (elapsed_seconds, val_accuracy)."""
    with tempfile.TemporaryDirectory() as scratch:
        run = training.train(dataset, architecture, **recipe, output_dir=scratch,
                             extra_callbacks=[training.TimeLimit(minutes)])
    return run.history


def read_curve(history: Path, architecture: str, recipe: dict) -> tuple[pd.DataFrame, str]:
    """A finished notebook-03 run's curve and its source; refused if its run file records another recipe."""
    run_file = history.parent / training.RUN_FILE
    if not run_file.exists():
        return pd.read_csv(history), f"a notebook 03 run ({history}; settings not recorded)"
    settings, finished, _ = training.read_run(run_file)
    wanted = {"architecture": architecture} | {key: value for key, value in recipe.items() if value is not None and key != "seed"}
    differ = {key: settings.get(key) for key, value in wanted.items() if settings.get(key) != value}
    if differ or not finished:
        raise ValueError(f"{history} is not a finished run of {architecture}'s recipe {wanted}: "
                         f"{'it differs in ' + str(differ) if differ else 'it has not finished'}")
    return pd.read_csv(history), f"a notebook 03 run ({history})"


def minutes_to(history: pd.DataFrame, threshold: float) -> str:
    """Minutes until val_accuracy first reaches threshold, or 'not reached' with the best value and time spent."""
    reached = history[history["val_accuracy"] >= threshold]
    if len(reached):
        return f"{reached['elapsed_seconds'].iloc[0] / 60:.1f}"
    return (f"not reached (best {history['val_accuracy'].max():.1%} in "
            f"{history['elapsed_seconds'].iloc[-1] / 60:.0f} min)")


def plot(curves: dict[str, pd.DataFrame]) -> Path:
    """Validation accuracy against minutes of training, one line per architecture."""
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, history in curves.items():
        axis.plot(history["elapsed_seconds"] / 60, 100 * history["val_accuracy"], marker=".", label=name)
    axis.axhline(65.55, color="grey", linestyle="--", label="fer package (test accuracy)")
    axis.set(xlabel="minutes of training", ylabel="validation accuracy (%)", title="Time to accuracy")
    axis.legend()
    return plots.save_figure(figure, PLOT)


def main() -> None:
    """Train (or read) both curves, print the table and write it to docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=100, help="training budget per architecture (default 100)")
    parser.add_argument("--ours-history", type=Path, default=None, help="history.csv of a notebook-03 default run")
    parser.add_argument("--seed-history", type=Path, default=None,
                        help="history.csv of a notebook-03 seed_cnn run with schedule seed_plateau")
    parser.add_argument("--fast-history", type=Path, default=None,
                        help="history.csv of a notebook-03 fer_fastnet run with the README's 15-minute recipe")
    args = parser.parse_args()
    dataset = data.load_dataset()
    curves, sources, chosen = {}, {}, recipes()
    histories = {"seed_cnn": args.seed_history, "fer_resnet": args.ours_history, "fer_fastnet": args.fast_history}
    for name, recipe in chosen.items():
        if histories[name]:
            curves[name], sources[name] = read_curve(histories[name], name, recipe)
        else:
            curves[name], sources[name] = train_curve(dataset, name, recipe, args.minutes), "trained by this benchmark"
    table = pd.DataFrame({name: {f"minutes to {t:.2%}": minutes_to(history, t) for t in THRESHOLDS}
                          | {"epochs": len(history), "best val %": round(100 * history["val_accuracy"].max(), 2),
                             "source": sources[name]}
                          for name, history in curves.items()}).T
    table.index.name = "architecture"
    history_note = (" A curve read from a finished notebook-03 run instead has that run's own minutes, slow-downs"
                    " from anything else on the machine included.") if any(histories.values()) else ""
    print(table.to_string())
    plot(curves)
    ours, fast = chosen["fer_resnet"], chosen["fer_fastnet"]
    write_section("time-to-accuracy", f"""## Time to accuracy (`benchmarks/bench_time_to_accuracy.py`)

Minutes of training ({profiling.hardware()}) until validation accuracy (all
{len(dataset.splits["val"]):,} images carved from train) first reaches each threshold; each architecture with its
recipe on all {len(dataset.splits["train"]):,} train images, in the default precision. The seed CNN: Adam 0.0005,
ReduceLROnPlateau on val_loss, at most {SEED_RECIPE['epochs']} epochs, stopped after {SEED_RECIPE['patience']} without a
better val_accuracy, full augmentation. fer_resnet: notebook 03's defaults, {ours['schedule']} fitted to a
{ours['minutes']}-minute budget (at most {ours['epochs']} epochs), full augmentation, random erasing {ours['erasing']}
and mixup {ours['mixup']}, Adam 0.001 and label smoothing 0.1. fer_fastnet: the README's short recipe, the same but
fitted to {fast['minutes']} minutes, with {fast['augment']} augmentation (flip and shift) and no erasing or mixup, and a
stem that whitens 3x3 patches, fitted to the train faces. Each trained here gets at most {args.minutes:.0f}
minutes.{history_note} 65.55% is the `fer` package's test accuracy.

{markdown_table(table)}

![Validation accuracy against minutes of training](time_to_accuracy.png)
""")


if __name__ == "__main__":
    main()
