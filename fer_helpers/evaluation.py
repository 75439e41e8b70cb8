"""Evaluate a classifier: accuracy, macro-F1, per-class table, confusion matrix, confident mistakes, TTA."""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

TTA_MODES = ("none", "flip", "flip+crops")
TTA_CROP = 2  # pixels cut from each border for the crop views of test-time augmentation


def predict_probabilities(model: keras.Model, images: np.ndarray, tta: str = "none", batch_size: int = 256) -> np.ndarray:
    """Class probabilities for (n, h, w[, 1]) uint8 images; tta: 'none', 'flip' or 'flip+crops'."""
    if tta not in TTA_MODES:
        raise ValueError(f"Unknown tta {tta!r}; choose one of {TTA_MODES}")
    if images.ndim == 3:
        images = images[..., np.newaxis]
    views = [images]
    if tta != "none":
        views.append(images[:, :, ::-1])
    if tta == "flip+crops":
        views.extend(_corner_crops(images))
    return np.mean([model.predict(view, batch_size=batch_size, verbose=0) for view in views], axis=0)


def _corner_crops(images: np.ndarray) -> list[np.ndarray]:
    """Four shifted views: crop TTA_CROP pixels off two borders and pad back by edge replication."""
    c = TTA_CROP
    pad = lambda view, spec: np.pad(view, ((0, 0), *spec, (0, 0)), mode="edge")  # noqa: E731
    return [
        pad(images[:, c:, c:], ((0, c), (0, c))),
        pad(images[:, c:, :-c], ((0, c), (c, 0))),
        pad(images[:, :-c, c:], ((c, 0), (0, c))),
        pad(images[:, :-c, :-c], ((c, 0), (c, 0))),
    ]


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_table(matrix: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined)."""
    true_positive = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": actual}, index=pd.Index(classes, name="class")
    ).round(4)


def metrics(labels: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro-F1 (over classes present in the labels), per-class table and confusion matrix."""
    predictions = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions, len(classes))
    table = per_class_table(matrix, classes)
    present = table["support"] > 0
    return {
        "accuracy": round(float((predictions == labels).mean()), 4),
        "macro_f1": round(float(table.loc[present, "f1"].mean()), 4),
        "images": int(len(labels)),
        "per_class": table.to_dict(orient="index"),
        "confusion_matrix": matrix.tolist(),
        "classes": list(classes),
    }


def confusion_heatmap(result: dict) -> plt.Figure:
    """Seaborn heatmap of the confusion matrix, normalised by row (recall on the diagonal)."""
    matrix = np.array(result["confusion_matrix"], float)
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    figure, axis = plt.subplots(figsize=(7, 6))
    sns.heatmap(normalised, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, square=True,
                xticklabels=result["classes"], yticklabels=result["classes"], ax=axis)
    axis.set(xlabel="predicted", ylabel="true", title=f"Confusion matrix (accuracy {result['accuracy']:.1%})")
    return figure


def confident_mistakes(
    images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, classes: list[str], count: int = 16
) -> plt.Figure:
    """A gallery of the wrong predictions the model was most sure of."""
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    worst = wrong[np.argsort(-probabilities[wrong, predictions[wrong]])][:count]
    columns = 8
    rows = max(1, math.ceil(len(worst) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.5, rows * 1.9), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, index in zip(axes.ravel(), worst):
        axis.imshow(images[index].squeeze(), cmap="gray", vmin=0, vmax=255)
        axis.set_title(
            f"{classes[predictions[index]]} {probabilities[index, predictions[index]]:.0%}\n(true {classes[labels[index]]})",
            fontsize=8,
        )
    figure.suptitle("Most confident mistakes: predicted (true)")
    return figure


def save_metrics(result: dict, path: str | Path) -> Path:
    """Write a metrics dict as JSON, creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    return path
