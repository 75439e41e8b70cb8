"""air*: q15adam's recipe (batch 128, Adam, cosine over the epochs that fit, no erasing or mixup, 15-minute budget)
with an airbench-shaped network instead of fer_resnet: a small stem, then per stage conv -> max-pool -> BN-ReLU ->
conv -> BN-ReLU (no shortcuts), global max pooling (docs/experiments.md, "An airbench-shaped network").

    python3 docs/experiments/air.py RUN_ID '[48, 96, 192, 384]' [adam|muon] [BATCH] [LABEL_SMOOTHING]
"""
import json
import sys
from pathlib import Path

import keras
from keras import layers

from fer_helpers import data, evaluation, models, training


def airnet(num_classes, input_shape=models.INPUT_SHAPE, augmentation=None, widths=(48, 96, 192, 384), stem=24,
           label_smoothing=0.1):
    """Each stage convolves at the higher resolution, then pools; `stem`: the filters of a learned 2x2 stem."""
    inputs = keras.Input(input_shape, name="face")
    x = models.preprocess(inputs, augmentation, standardize=True)
    x = layers.Conv2D(stem, 2, padding="valid", name="stem")(x)
    for filters in widths:
        x = models.fastnet_stage(x, filters)
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="expression", dtype="float32")(x)
    return models.compile_model(keras.Model(inputs, outputs, name="airnet"), 1e-3, label_smoothing=label_smoothing)


def train_and_score(dataset, architecture, run_id, batch_size=128, model_options=None, seed=1337, augment="full"):
    """The 15-minute run (`seed`: the train seed), then its best network's float32 validation accuracy and macro-F1 in
    score.json."""
    run = training.train(dataset, architecture, epochs=60, minutes=15, augment=augment, erasing=0, mixup=0,
                         batch_size=batch_size, seed=seed, model_options=model_options,
                         output_dir=f"artifacts/runs/{run_id}/checkpoints")
    x_val, y_val = dataset.arrays("val")
    scores = evaluation.score_table({"best": run.model}, x_val, y_val, dataset.classes)
    print(scores)
    score = {"val_accuracy": float(scores.loc["best", "accuracy"]), "val_macro_f1": float(scores.loc["best", "macro_f1"])}
    Path(f"artifacts/runs/{run_id}/score.json").write_text(json.dumps(score))


if __name__ == "__main__":
    run_id, widths = sys.argv[1], json.loads(sys.argv[2])
    optimizer = sys.argv[3] if len(sys.argv) > 3 else "adam"  # "muon": muon.py's Muon for convolutions, AdamW for the rest
    batch_size = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    smoothing = float(sys.argv[5]) if len(sys.argv) > 5 else 0.1
    models.ARCHITECTURES["airnet"] = airnet
    if optimizer == "muon":
        import muon  # its ConvMuon, registered so that best.keras loads

        models.compile_model = muon.compile_with_muon
    train_and_score(data.load_dataset(seed=1337), "airnet", run_id, batch_size,
                    {"widths": widths, "label_smoothing": smoothing})
