"""Save and load models: .keras (primary), JSON + weights (the original design's format), metadata JSON.

Every file is written whole (files.atomic_write), so an interrupted save never leaves a broken model
where a good one was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from fer_helpers import lite
from fer_helpers.config import MODEL_FILE, find_model
from fer_helpers.files import atomic_write, sha256

if TYPE_CHECKING:  # Keras (and TensorFlow, 9 s) load only when a Keras model is read or saved
    import keras

ARCHITECTURE_FILE = "model.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
DIGESTS = "sha256"  # metadata.json's record of the model.keras and model.tflite it was saved with


class ModelMismatchError(ValueError):
    """A model's classes or input size do not match the data it is used with, or its own metadata."""


class ModelLoadError(ValueError):
    """A model file that exists but cannot be read as a model; the message names it."""


def save_model(model: keras.Model, directory: str | Path, metadata: dict, flatbuffer: bytes | None = None) -> Path:
    """Write model.keras, model.json + model.weights.h5, (TensorFlow backend) model.tflite and, last,
    metadata.json with the digests of model.keras and model.tflite; `flatbuffer`: the model's lite.convert copy
    when the caller already made (and scored) it, so the file shipped is the one measured."""
    directory = Path(directory)
    atomic_write(directory / MODEL_FILE, lambda tmp: model.save(tmp))
    atomic_write(directory / ARCHITECTURE_FILE, lambda tmp: tmp.write_text(model.to_json()))
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: model.save_weights(tmp))
    written = [MODEL_FILE]
    if lite.available():
        atomic_write(directory / lite.TFLITE_FILE, lambda tmp: tmp.write_bytes(flatbuffer or lite.convert(model)))
        written.append(lite.TFLITE_FILE)
    metadata = metadata | model_facts(model) | {DIGESTS: file_digests(directory, written)}
    atomic_write(directory / METADATA_FILE, lambda tmp: tmp.write_text(json.dumps(metadata, indent=2, default=str)))
    return directory / MODEL_FILE


def model_facts(model: keras.Model) -> dict:
    """What metadata.json records of the model itself: input shape, number of classes, number of networks."""
    from fer_helpers import models

    return {"input_shape": list(model.input_shape[1:]), "num_classes": int(model.output_shape[-1]),
            "networks": len(models.networks(model))}


def file_digests(directory: Path, names: list[str]) -> dict[str, str]:
    """SHA-256 of the named files in `directory`, as metadata.json records them."""
    return {name: sha256(directory / name) for name in names}


def read_metadata(model_path: str | Path) -> dict:
    """The metadata.json beside a model file, or {} if there is none; a broken one is an error naming it."""
    path = Path(model_path).with_name(METADATA_FILE)
    if not path.exists():
        return {}
    try:
        metadata = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"Cannot read {path}: {error}") from None
    if not isinstance(metadata, dict):
        raise ModelLoadError(f"{path} must hold a JSON object, not {type(metadata).__name__}")
    return metadata


def load_model(
    path: str | Path, classes: list[str] | None = None, input_shape: tuple[int, ...] | None = None
) -> tuple[keras.Model, dict]:
    """Load a .keras file or a model.json (weights beside it); check classes and input size if given."""
    path = find_model(path)
    model = _read_model(path)
    metadata = read_metadata(path)
    _check_compatible(model, metadata, path, classes, input_shape)
    return model, metadata


def _read_model(path: Path) -> keras.Model:
    """A .keras file or a model.json with its weights beside it; anything unreadable is a ModelLoadError naming the file."""
    import keras

    try:
        if path.suffix == ".json":
            model = keras.models.model_from_json(path.read_text())
            weights = path.with_name(WEIGHTS_FILE)
            if not weights.is_file():
                raise ModelLoadError(f"{path} needs its weights beside it: no {weights}")
            model.load_weights(weights)
            return model
        return keras.models.load_model(path, compile=False)  # for inference: no optimizer state to restore
    except ModelLoadError:
        raise
    except Exception as error:  # Keras raises many kinds (ValueError, OSError, zipfile, JSON, TypeError): one message
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelLoadError(f"Cannot load {path} as a Keras model ({type(error).__name__}: {detail[:300]})") from None


def recorded_lite_copy(path: Path, metadata: dict, runtime: str = "auto") -> lite.LiteModel | None:
    """The model.tflite beside the model at `path` if both files still have the digests save_model recorded in
    `metadata`, beside the network count (so the copy is the one made from this model, and loading the Keras model
    to compare them can be skipped), and `runtime` allows TFLite; else None. Its outputs are checked against the
    metadata's classes."""
    files, recorded = [path, path.with_name(lite.TFLITE_FILE)], metadata.get(DIGESTS) or {}
    if lite.unusable(runtime) or "networks" not in metadata or not all(
            file.is_file() and recorded.get(file.name) == sha256(file) for file in files):
        return None
    found = lite.LiteModel.from_file(files[1])
    _check_outputs(found.num_classes, metadata, path)
    return found


def _check_outputs(outputs: int, metadata: dict, path: Path) -> None:
    """Raise ModelMismatchError if the metadata names another number of classes than the model has outputs."""
    if metadata.get("classes") is not None and len(metadata["classes"]) != outputs:
        raise ModelMismatchError(f"{path}: the model has {outputs} outputs but {METADATA_FILE} lists "
                                 f"{len(metadata['classes'])} classes ({metadata['classes']})")


def _check_compatible(model: keras.Model, metadata: dict, path: Path, classes, input_shape) -> None:
    """Raise ModelMismatchError naming what differs between the model and the data."""
    outputs = model.output_shape[-1]
    _check_outputs(outputs, metadata, path)
    if input_shape is not None and tuple(model.input_shape[1:]) != tuple(input_shape):
        raise ModelMismatchError(f"{path} expects input {tuple(model.input_shape[1:])}, the data has {tuple(input_shape)}")
    if classes is None:
        return
    if outputs != len(classes):
        raise ModelMismatchError(f"{path} predicts {outputs} classes, the data has {len(classes)}: {classes}")
    if metadata.get("classes") and list(metadata["classes"]) != list(classes):
        raise ModelMismatchError(f"{path} was trained on classes {metadata['classes']}, the data has {classes}")


def ship_model(run_dir: str | Path, destination: str | Path) -> Path:
    """Copy a notebook-03 run's model files and confusion matrix to `destination` and write its card
    (MODEL_CARD.md: test accuracy, per-class table, training time, the command that reproduces it)."""
    run_dir, destination = Path(run_dir), Path(destination)
    metrics = json.loads((run_dir / "test_metrics.json").read_text())
    optional = [lite.TFLITE_FILE] if (run_dir / "model" / lite.TFLITE_FILE).exists() else []
    for name in (MODEL_FILE, ARCHITECTURE_FILE, WEIGHTS_FILE, METADATA_FILE, *optional):
        source = run_dir / "model" / name
        atomic_write(destination / name, lambda tmp, source=source: tmp.write_bytes(source.read_bytes()))
    confusion = run_dir / "confusion_matrix.png"
    atomic_write(destination / confusion.name, lambda tmp: tmp.write_bytes(confusion.read_bytes()))
    card = model_card(metrics, read_metadata(destination / MODEL_FILE), tflite=bool(optional))
    atomic_write(destination / "MODEL_CARD.md", lambda tmp: tmp.write_text(card))
    return destination / MODEL_FILE


def model_card(metrics: dict, metadata: dict, tflite: bool = True) -> str:
    """The shipped model's card as Markdown (`tflite`: a model.tflite copy ships beside the model)."""
    tta = metrics.get("tta")
    tta_line = (f"\n  With test-time augmentation ({tta['mode']}, reported beside, never instead): {tta['accuracy']:.2%} "
                f"(macro-F1 {tta['macro_f1']:.3f}).") if tta else ""
    quantised = metrics.get("tflite")
    copy_line = (f"\n  Its TFLite copy (what the recogniser runs), one plain pass per face: {quantised['accuracy']:.2%} "
                 f"(macro-F1 {quantised['macro_f1']:.3f}).") if quantised else ""
    tflite_line = ("; `model.tflite`, a dynamic-range quantised copy (int8 weights) for TFLite, which the recogniser uses "
                   f"when its probabilities agree with the Keras model's (to {lite.AGREEMENT_TOLERANCE})") if tflite else ""
    members = metadata.get("ensemble_members") or []
    ensemble_line = (f"\n- Ensemble: the mean of the class probabilities of that run's model and {len(members)} earlier "
                     "model(s), made by: " + "; ".join(f"`{command}`" for command in members) + ".") if members else ""
    teachers = metadata.get("teacher_commands") or []
    teacher_line = ("\n- Distilled: trained on a blend of the labels and the mean answers of teachers made by: "
                    + "; ".join(f"`{command}`" for command in teachers) + ".") if teachers else ""
    tuned = metadata.get("fine_tuned_from") or []
    seen = metadata.get("validation_trained_on", 0)
    tuned_line = (f"\n- Fine-tuned: {metadata.get('networks', 1)} network(s) made by "
                  + "; ".join(f"`{command}`" for command in tuned)
                  + f", each trained {metadata.get('epochs_run')} epochs more on train plus {seen:,} validation faces.") if tuned else ""
    val = metadata.get("val_accuracy")
    val_line = f"{val:.2%}" if val is not None else "not recorded"
    if seen:
        val_line = (f"{val_line} on the validation faces it did not train on" if val is not None else
                    f"none left: it trained on all {seen:,} validation faces, once its recipe had been chosen on them")
    rows = "\n".join(f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {int(v['support'])} |"
                     for name, v in metrics["per_class"].items())
    return f"""# Model card: {metadata.get('architecture')} (shipped)

- Test accuracy on all {metrics['images']:,} FER2013 test images, one plain pass per face: **{metrics['accuracy']:.2%}**
  (macro-F1 {metrics['macro_f1']:.3f}).{tta_line}{copy_line}
- Validation accuracy (split carved from train, used for model selection): {val_line}.
- Training: {metadata.get('epochs_run')} epochs in {metadata.get('training_seconds', 0) / 60:.0f} minutes on {metadata.get('hardware', 'unrecorded hardware')}
  ({metadata.get('precision', 'float32')} training; the saved model is float32).{ensemble_line}{teacher_line}{tuned_line}
- Input: {metadata.get('preprocessing')}. Classes: {', '.join(metadata.get('classes', []))}.
- Files: `model.keras` (plain Keras layers: `keras.models.load_model` reads it without this package); `model.json` +
  `model.weights.h5` (the original design's format){tflite_line}.
- Data fingerprint: `{metadata.get('dataset_fingerprint')}`.
- Reproduce: `{metadata.get('command')}`, then
  `saving.ship_model("artifacts/runs/<run-id>{'' if tuned else '/03_training'}", "artifacts/models/{metadata.get('architecture')}")`

| class | precision | recall | F1 | test images |
|---|---:|---:|---:|---:|
{rows}

![Confusion matrix, normalised by row](confusion_matrix.png)
"""
