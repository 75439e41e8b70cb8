"""Train a registered architecture on a loaded data set: augmentation, callbacks, resume, multi-device."""

from __future__ import annotations

import contextlib
import math
import shlex
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from keras import layers

from fer_helpers import saving
from fer_helpers.config import SEED
from fer_helpers.data import Dataset
from fer_helpers.models import build_model

BEST_FILE = "best.keras"
HISTORY_FILE = "history.csv"
BACKUP_DIR = "backup"
SEED_PLATEAU = {"monitor": "val_loss", "factor": 0.1, "patience": 2, "min_lr": 1e-5}  # the original design
SCHEDULES = ("cosine", "plateau", "seed_plateau", "constant")
STRATEGIES = ("single", "mirrored", "multiworker")


@dataclass
class TrainResult:
    """What training leaves behind."""

    model: keras.Model
    history: pd.DataFrame
    output_dir: Path
    seconds: float


def augmentation(seed: int = SEED) -> keras.Sequential:
    """Random flip, small rotation, shift, zoom and contrast; active in training, identity at inference."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.04, fill_mode="nearest", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed),
            layers.RandomZoom(0.1, fill_mode="nearest", seed=seed),
            layers.RandomContrast(0.3, seed=seed),
        ],
        name="augmentation",
    )


def distribution_scope(strategy: str) -> contextlib.AbstractContextManager:
    """single device, MirroredStrategy (all GPUs, else all logical CPUs) or MultiWorkerMirroredStrategy (TF_CONFIG)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    if strategy == "single":
        return contextlib.nullcontext()
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"strategy={strategy!r} needs the TensorFlow backend (this is {keras.backend.backend()})")
    import tensorflow as tf

    if strategy == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices]).scope()
    return tf.distribute.MultiWorkerMirroredStrategy().scope()


def whole_batches(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle cut to whole batches: Keras 3 fails on a ragged last batch under a distribution
    strategy (keras-team/keras#19246), so the remainder is left out, with a warning."""
    keep = len(labels) - len(labels) % batch_size
    if keep == 0:
        raise ValueError(f"{len(labels)} images cannot fill one batch of {batch_size}: lower batch_size")
    if keep < len(labels):
        warnings.warn(f"Distributed training uses whole batches only: {len(labels) - keep} of {len(labels)} images left out")
    order = np.random.default_rng(seed).permutation(len(labels))[:keep]
    return images[order], labels[order]


def learning_rate_callback(schedule: str, learning_rate: float, epochs: int) -> keras.callbacks.Callback | None:
    """The callback that drives the learning rate for a named schedule."""
    if schedule == "cosine":
        return keras.callbacks.LearningRateScheduler(
            lambda epoch: learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
        )
    if schedule == "plateau":
        return keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=3, min_lr=1e-5)
    if schedule == "seed_plateau":
        return keras.callbacks.ReduceLROnPlateau(**SEED_PLATEAU)
    if schedule == "constant":
        return None
    raise ValueError(f"Unknown schedule {schedule!r}; choose one of {SCHEDULES}")


def _best_so_far(history_path: Path) -> float | None:
    """Best val_accuracy recorded by an earlier, interrupted run, so a resumed run keeps its best checkpoint."""
    if not history_path.exists() or history_path.stat().st_size == 0:
        return None
    history = pd.read_csv(history_path)
    return float(history["val_accuracy"].max()) if "val_accuracy" in history and len(history) else None


def callbacks(
    output_dir: Path, schedule: str, learning_rate: float, epochs: int, patience: int, live_plot: bool
) -> list[keras.callbacks.Callback]:
    """Backup for resume, best checkpoint, epoch CSV, learning-rate schedule, early stopping, live plot."""
    history_path = output_dir / HISTORY_FILE
    rate = learning_rate_callback(schedule, learning_rate, epochs)
    found = [
        keras.callbacks.BackupAndRestore(str(output_dir / BACKUP_DIR)),
        *([rate] if rate is not None else []),  # before the logger, so history.csv records the rate
        keras.callbacks.ModelCheckpoint(
            str(output_dir / BEST_FILE), monitor="val_accuracy", mode="max", save_best_only=True,
            initial_value_threshold=_best_so_far(history_path),
        ),
        keras.callbacks.CSVLogger(str(history_path), append=True),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience),
    ]
    if live_plot:
        from livelossplot import PlotLossesKeras

        found.append(PlotLossesKeras())
    return found


def train(
    dataset: Dataset,
    architecture: str = "fer_resnet",
    *,
    epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float | None = None,
    schedule: str = "cosine",
    augment: bool = True,
    class_weights: dict[int, float] | None = None,
    seed: int = SEED,
    patience: int = 10,
    strategy: str = "single",
    output_dir: str | Path = "artifacts/training",
    live_plot: bool = False,
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainResult:
    """Train on dataset's train split, select on val; resumes from the last finished epoch in output_dir."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    x_train, y_train = dataset.arrays("train")
    x_val, y_val = dataset.arrays("val")
    if strategy != "single":
        x_train, y_train = whole_batches(x_train, y_train, batch_size, seed)
        x_val, y_val = whole_batches(x_val, y_val, batch_size, seed)
    with distribution_scope(strategy):
        model = build_model(
            architecture, dataset.num_classes, augmentation=augmentation(seed) if augment else None
        )
        learning_rate = learning_rate or float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))  # None: its own
        model.optimizer.learning_rate = learning_rate
    started = time.perf_counter()
    model.fit(
        x_train,
        keras.utils.to_categorical(y_train, dataset.num_classes),
        validation_data=(x_val, keras.utils.to_categorical(y_val, dataset.num_classes)),
        epochs=epochs,
        batch_size=batch_size,
        class_weight=class_weights,
        callbacks=callbacks(output_dir, schedule, learning_rate, epochs, patience, live_plot) + (extra_callbacks or []),
        shuffle=True,
        verbose=2,
    )
    seconds = time.perf_counter() - started
    best = keras.models.load_model(output_dir / BEST_FILE) if (output_dir / BEST_FILE).exists() else model
    return TrainResult(best, pd.read_csv(output_dir / HISTORY_FILE), output_dir, seconds)


def images_per_second(history: pd.DataFrame, train_images: int, seconds: float) -> float:
    """Training throughput of a finished run."""
    return len(history) * train_images / seconds if seconds else float("nan")


def reproduce_command() -> str:
    """The command line that started this process (a notebook run records papermill's instead)."""
    return " ".join(shlex.quote(arg) for arg in [Path(sys.executable).name, *sys.argv])


def class_names_metadata(dataset: Dataset, architecture: str, **extra) -> dict:
    """Metadata saved beside a model: classes, input, preprocessing, data fingerprint and extras."""
    return {
        "classes": dataset.classes,
        "architecture": architecture,
        "preprocessing": "48x48 grayscale uint8 0-255; rescaling to 0-1 happens inside the model",
        "dataset_fingerprint": dataset.fingerprint,
        "dataset_root": str(dataset.root),
        **extra,
    }

