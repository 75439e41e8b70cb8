"""Evaluate a classifier: accuracy, macro-F1, per-class table, confusion matrix, confident mistakes, TTA,
and a model scored on any labelled folder of faces."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from fer_helpers import data, detection, inference
from fer_helpers.files import atomic_write

if TYPE_CHECKING:  # the command line's evaluate runs a model's TFLite copy without Keras and TensorFlow
    import keras

    from fer_helpers import lite

TTA_MODES = ("none", "flip", "flip+crops")
TTA_CROP = 2  # pixels cut from each border for the crop views of test-time augmentation
EVALUATE_BATCH = 256  # faces per classify call when scoring a folder
Box = tuple[int, int, int, int]  # x, y, width, height in the image's pixels


def check_tta(tta: str) -> None:
    """Refuse a test-time augmentation mode that does not exist."""
    if tta not in TTA_MODES:
        raise ValueError(f"Unknown tta {tta!r}; choose one of {TTA_MODES}")


def predict_probabilities(model: keras.Model, images: np.ndarray, tta: str = "none", batch_size: int = 256) -> np.ndarray:
    """Class probabilities for (n, h, w[, 1]) uint8 images from a Keras model or a lite.LiteModel;
    tta: 'none', 'flip' or 'flip+crops'."""
    check_tta(tta)
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
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined), unrounded."""
    true_positive = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": actual}, index=pd.Index(classes, name="class")
    )


def metrics(labels: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro-F1 (over classes present in the labels), per-class table and confusion matrix; figures rounded
    to 4 decimals only once computed (a mean of rounded F1s can be off by one in the last digit)."""
    predictions = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions, len(classes))
    table = per_class_table(matrix, classes)
    present = table["support"] > 0
    return {
        "accuracy": round(float((predictions == labels).mean()), 4),
        "macro_f1": round(float(table.loc[present, "f1"].mean()), 4),
        "images": int(len(labels)),
        "per_class": table.round(4).to_dict(orient="index"),
        "confusion_matrix": matrix.tolist(),
        "classes": list(classes),
    }


def headline(labels: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict:
    """Accuracy and macro-F1 only: a figure reported beside the main one."""
    result = metrics(labels, probabilities, classes)
    return {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}


def score_table(models: dict[str, keras.Model], images: np.ndarray, labels: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Accuracy and macro-F1 of each named model (or lite.LiteModel) on the same images, one plain pass per face."""
    return pd.DataFrame({name: headline(labels, predict_probabilities(model, images), classes)
                         for name, model in models.items()}).T


def test_report(model: keras.Model, images: np.ndarray, labels: np.ndarray, classes: list[str], tta: str,
                lite_copy: lite.LiteModel | None = None) -> tuple[dict, np.ndarray]:
    """The final report: metrics of one plain pass per face, with `tta`'s and the TFLite copy's (if given) accuracy
    and macro-F1 beside them, never instead; and the plain pass's probabilities."""
    check_tta(tta)
    probabilities = predict_probabilities(model, images)
    result = metrics(labels, probabilities, classes)
    result["tta"] = {"mode": tta} | headline(labels, predict_probabilities(model, images, tta=tta), classes)
    if lite_copy is not None:
        result["tflite"] = headline(labels, predict_probabilities(lite_copy, images), classes)
    return result, probabilities


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
    """Write a metrics dict as JSON, whole (atomic_write creates folders)."""
    path = Path(path)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(result, indent=2)))
    return path


@dataclass
class FolderEvaluation:
    """A model scored on a labelled folder of faces, and everything that was left out on the way."""

    result: dict  # metrics() on the labels the model and the folder share
    skipped_classes: dict[str, int]  # folder classes the model does not predict: images per class
    skipped_files: list[data.Skipped]  # unreadable files, with detect_faces images without a face, skipped folders
    empty_class_folders: list[str]  # class folders with no file in them: they add nothing to the scores
    predictions: pd.DataFrame  # one row per scored image: file, region classified, predicted and true label, probabilities
    files: dict[str, Path]  # what was written to the output folder


def evaluate_folder(
    model: inference.Recogniser | str | Path | None,
    data_dir: str | Path,
    output_dir: str | Path | None = None,
    detect_faces: bool = False,
) -> FolderEvaluation:
    """Score a model (a Recogniser, a model path, or None for the default) on class folders of any image
    size and mode; folder names map to canonical labels, classes the model lacks are skipped and counted.
    With detect_faces the largest face of each image is classified, not the whole image. A folder with
    train/ and test/ is scored on test/. Writes metrics.json, per_class.csv, predictions.csv (one row per
    image, to find the ones it gets wrong), skipped.csv and confusion_matrix.png to output_dir when given."""
    root = data.labelled_folder(data_dir)  # before the model loads: a wrong path is told at once
    recogniser = model if isinstance(model, inference.Recogniser) else inference.Recogniser(model)
    listing = data.list_files(root)
    splits = {split for split, _, _ in listing.files}
    chosen = "test" if "test" in splits else None
    files = [(label, path) for split, label, path in listing.files if chosen in (None, split)]
    skipped_classes = dict(Counter(label for label, _ in files if label not in recogniser.classes))
    crops, boxes, labels, scored, skipped = [], [], [], [], list(listing.skipped)
    for label, path in files:
        if label in recogniser.classes:
            crop, box, reason = _face_crop(recogniser, path, detect_faces)
            if crop is None:
                skipped.append(data.Skipped(str(path), reason))
                continue
            crops.append(crop)
            boxes.append(box)
            labels.append(recogniser.classes.index(label))
            scored.append(path)
    if not crops:
        empty = f", empty class folders {listing.empty_classes}" if listing.empty_classes else ""
        raise data.DataNotFoundError(f"No usable image of a class the model knows ({', '.join(recogniser.classes)}) "
                                     f"in {root}; skipped classes {skipped_classes}, {len(skipped)} files skipped{empty}")
    probabilities = np.concatenate([recogniser.classify(np.stack(crops[i:i + EVALUATE_BATCH]))
                                    for i in range(0, len(crops), EVALUATE_BATCH)])
    result = metrics(np.array(labels), probabilities, recogniser.classes)
    result["per_class"] = {name: row for name, row in result["per_class"].items() if row["support"] > 0}
    empty = [name for name in listing.empty_classes
             if chosen is None or data.SPLIT_NAMES.get(name.split("/")[0].lower()) == chosen]
    result |= {"data_dir": str(root), "split": chosen or "all", "detect_faces": detect_faces,
               "skipped_classes": skipped_classes, "skipped_files": sum(not s.folder for s in skipped),
               "skipped_folders": sum(s.folder for s in skipped), "empty_class_folders": empty}
    evaluated = FolderEvaluation(result, skipped_classes, skipped, empty,
                                 prediction_table(recogniser, scored, boxes, labels, probabilities), {})
    if output_dir is not None:
        evaluated.files = _write_evaluation(evaluated, Path(output_dir))
    return evaluated


def prediction_table(recogniser: inference.Recogniser, paths: list[Path], boxes: list[Box], labels: list[int],
                     probabilities: np.ndarray) -> pd.DataFrame:
    """One row per image in the layout of `predict`'s face table (file, region classified, predicted label, every
    class's probability), plus the true label and whether the prediction is right."""
    faces = recogniser.faces(np.array(boxes), probabilities)
    rows = [inference.face_rows([face], recogniser.classes, file=str(path))[0]
            | {"true_label": recogniser.classes[truth], "correct": face.label == recogniser.classes[truth]}
            for path, face, truth in zip(paths, faces, labels)]
    return inference.face_table(rows).drop(columns="face_id")


def _face_crop(recogniser: inference.Recogniser, path: Path, detect_faces: bool
               ) -> tuple[np.ndarray | None, Box | None, str]:
    """The (h, w, 1) crop the model sees for one file and the region it comes from (the whole image, or the largest
    face), or None, None and why the file is unusable."""
    image, _, info = data.read_image_file(path)
    if image is None:
        return None, None, info
    try:
        gray = inference.to_gray(image)
    except ValueError as error:
        return None, None, str(error)
    if not detect_faces:
        return data.to_gray(gray, recogniser.input_size)[..., np.newaxis], (0, 0, gray.shape[1], gray.shape[0]), ""
    found = recogniser.detector.detect(gray)
    if len(found) == 0:
        return None, None, "no face found"
    largest = found[np.argmax(found[:, 2] * found[:, 3])]
    return detection.crop_faces(gray, largest[np.newaxis], recogniser.input_size)[0], tuple(map(int, largest)), ""


def _write_evaluation(evaluated: FolderEvaluation, output_dir: Path) -> dict[str, Path]:
    """metrics.json, per_class.csv, predictions.csv, skipped.csv and confusion_matrix.png, each written whole."""
    names = ("metrics.json", "per_class.csv", "predictions.csv", "skipped.csv", "confusion_matrix.png")
    files = {name: output_dir / name for name in names}
    atomic_write(files["metrics.json"], lambda tmp: tmp.write_text(json.dumps(evaluated.result, indent=2)))
    table = pd.DataFrame(evaluated.result["per_class"]).T.rename_axis("class")
    atomic_write(files["per_class.csv"], lambda tmp: table.to_csv(tmp))
    atomic_write(files["predictions.csv"], lambda tmp: evaluated.predictions.to_csv(tmp, index=False))
    skipped = pd.DataFrame([vars(s) for s in evaluated.skipped_files], columns=["path", "reason"])
    atomic_write(files["skipped.csv"], lambda tmp: skipped.to_csv(tmp, index=False))
    figure = confusion_heatmap(evaluated.result)
    atomic_write(files["confusion_matrix.png"], lambda tmp: figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    plt.close(figure)
    return files
