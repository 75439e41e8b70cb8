"""Train a registered architecture on a loaded data set: augmentation, callbacks, resume, multi-device."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd

from fer_helpers import augmentation, evaluation, profiling, saving
from fer_helpers.config import SEED
from fer_helpers.data import Dataset, check_number
from fer_helpers.files import atomic_write
from fer_helpers.models import build_model, fitted_options, networks

BEST_FILE = "best.keras"
HISTORY_FILE = "history.csv"
BACKUP_DIR = "backup"
BACKUP_METADATA = "training_metadata.json"  # where BackupAndRestore records the epoch to resume at
RUN_FILE = "run.json"  # a run's settings, and whether it finished: resuming or rerunning it needs the same settings
SEED_PLATEAU = {"monitor": "val_loss", "mode": "min", "factor": 0.1, "patience": 2, "min_lr": 1e-5}  # the original design
SCHEDULES = ("cosine", "plateau", "seed_plateau", "constant")
AUGMENT = (*augmentation.LEVELS, "none")  # train()'s `augment`
STRATEGIES = ("single", "mirrored", "multiworker")
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
HOST_WORKERS = min(8, os.cpu_count() or 1)  # threads making augmented batches on the host (augment_on="host")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # CPU features that make bfloat16 training faster, not emulated
LONG_REST_SECONDS = 3600  # a run with no time budget whose rest takes longer gets a hint to set one
SHORT_RUN_EPOCHS = 10  # a budget fitting fewer: erasing and mixup cost accuracy (docs/experiments.md, 15-minute runs)


@dataclass
class TrainResult:
    """What training leaves behind."""

    model: keras.Model
    history: pd.DataFrame
    output_dir: Path
    seconds: float
    hardware: str  # what it trained on (recorded in its run file: a reused run may have trained elsewhere)
    precision: str


@dataclass
class TeacherViews:
    """Augmented copies of the train faces, each with its own distillation target (teacher_targets with `copies`):
    `images` (copies, n, h, w, 1) uint8 and `targets` (copies, n, classes). `mirrored`: each target is the mean of the
    teachers' answers on the copy and on its mirror image, so a mirrored copy keeps its target."""

    images: np.ndarray
    targets: np.ndarray
    mirrored: bool


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled training batches; with an `augment` level other than "none", each face augmented on the host
    (augmentation.augment_batch, with `erasing`); with `views`, each face is instead one of its augmented copies,
    drawn at random, with that copy's target (and mirrored half the time where its target allows; `labels` are then
    not read). With mixup's `alpha`
    (Zhang et al. 2018), each face is then blended with another of the batch by a Beta(alpha, alpha) weight, and their
    labels by the same weight.
    With augmentation or `views`, each batch draws from its own generator (seeded by seed, epoch and batch), so
    `workers` threads make the same batches in any order."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, alpha: float, seed: int,
                 augment: str = "none", erasing: float = 0.0, workers: int = 1, views: TeacherViews | None = None) -> None:
        super().__init__(workers=workers)
        self.images, self.labels, self.batch_size, self.alpha = images, labels, batch_size, alpha
        self.augment, self.erasing, self.views, self.seed, self.epoch = augment, erasing, views, seed, 0
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        picked = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        drawn = self.augment != "none" or self.views is not None
        rng = np.random.default_rng((self.seed, self.epoch, index)) if drawn else self.rng
        if self.views is not None:
            copy = rng.integers(len(self.views.images), size=len(picked))
            images, labels = self.views.images[copy, picked].astype("float32"), self.views.targets[copy, picked]
            if self.views.mirrored:
                images = np.where((rng.random(len(picked)) < 0.5)[:, None, None, None], images[:, :, ::-1], images)
        else:
            images, labels = self.images[picked].astype("float32"), self.labels[picked]
            if self.augment != "none":
                images = augmentation.augment_batch(images, rng, self.erasing, self.augment)
        if not self.alpha:
            return images, labels
        weight = rng.beta(self.alpha, self.alpha, size=len(picked)).astype("float32")
        partner = rng.permutation(len(picked))
        mixed = weight[:, None, None, None] * images + (1 - weight[:, None, None, None]) * images[partner]
        return mixed, weight[:, None] * labels + (1 - weight[:, None]) * labels[partner]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self.rng.permutation(len(self.images))


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


def resolve_precision(precision: str) -> str:
    """'auto' is mixed_bfloat16 on a GPU or a CPU with native bfloat16 (1.31x faster per step on this
    project's 2-core AVX-512 BF16 machine, docs/experiments.md), else float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; choose one of {PRECISIONS}")
    if precision != "auto":
        return precision
    native = bool(profiling.cpu_flags() & set(BF16_CPU_FLAGS)) or bool(profiling.gpu_names())
    return "mixed_bfloat16" if native else "float32"


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build layers under a Keras dtype policy, then restore the previous one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def as_float32(model: keras.Model, build: Callable[[], keras.Model]) -> keras.Model:
    """A float32 copy of a model trained under mixed precision (its weights are float32 already), so the
    saved and TFLite models compute in float32 everywhere; `build` makes the same architecture."""
    if all(layer.compute_dtype == "float32" for layer in model.layers):
        return model
    with dtype_policy("float32"):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy


class Notes(keras.callbacks.Callback):
    """What a run says about itself (its pace, its budget): printed when said and, with `repeat`, again after every
    epoch, for a live plot that clears the notebook cell's output each epoch. Goes after the live plot."""

    def __init__(self, repeat: bool = False) -> None:
        super().__init__()
        self.said, self.repeat = [], repeat

    def say(self, text: str) -> None:
        self.said.append(text)
        print(text, flush=True)

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self.repeat and self.said:
            print("\n".join(self.said), flush=True)


class EpochClock(keras.callbacks.Callback):
    """Adds `elapsed_seconds` (training time since the first epoch began, resumes included) to each epoch's logs,
    and after this process's first epoch says (`say`) how long the epochs left would take at that pace here."""

    def __init__(self, already: float = 0.0, budgeted: bool = False, say: Callable[[str], None] = print) -> None:
        super().__init__()
        self.already, self.budgeted, self.say = already, budgeted, say

    def on_train_begin(self, logs=None) -> None:
        self.started = time.perf_counter()
        self.paced = False

    def on_epoch_end(self, epoch, logs=None) -> None:
        seconds = time.perf_counter() - self.started
        if logs is not None:
            logs["elapsed_seconds"] = round(self.already + seconds, 1)
        if not self.paced:
            self.paced = True
            self.say(pace_note(epoch, seconds, self.params["epochs"] - epoch - 1, self.budgeted))


class ReplayEarlierEpochs(keras.callbacks.Callback):
    """On a resumed run, replays the earlier epochs' logs (history.csv) through the callbacks that carry state from
    epoch to epoch (ReduceLROnPlateau, EarlyStopping) on a stand-in model, after their own on_train_begin has reset
    them: their counters are then where an uninterrupted run's would be, and so is the learning rate a plateau cut at
    the epoch before the interruption (BackupAndRestore saved the optimizer before that cut, and keeps no counters)."""

    def __init__(self, earlier: pd.DataFrame, stateful: list[keras.callbacks.Callback]) -> None:
        super().__init__()
        self.earlier, self.stateful = earlier, stateful

    def on_train_begin(self, logs=None) -> None:
        for callback in self.stateful if len(self.earlier) else []:
            model = callback.model
            stand_in = SimpleNamespace(optimizer=SimpleNamespace(learning_rate=0.0), stop_training=False, get_weights=list)
            callback.set_model(stand_in)
            for row in self.earlier.to_dict("records"):
                stand_in.optimizer.learning_rate = row.get("learning_rate", 0.0)  # the rate that epoch ran at
                callback.on_epoch_end(int(row["epoch"]), row)
            callback.set_model(model)
            if isinstance(callback, keras.callbacks.ReduceLROnPlateau):
                model.optimizer.learning_rate = stand_in.optimizer.learning_rate


def pace_note(epoch: int, seconds: float, epochs_left: int, budgeted: bool = False) -> str:
    """What one epoch took on this machine and what the epochs left would take at that pace (a CPU without AVX-512
    BF16 can be several times slower than the one the default recipe was timed on); for a long rest of a run with no
    time budget, how to give it one."""
    note = f"Epoch {epoch + 1} took {duration(seconds)} on {profiling.hardware()}"
    if epochs_left <= 0:
        return note + "."
    hint = (" Set `minutes` to fit the run into a time budget instead."
            if not budgeted and epochs_left * seconds > LONG_REST_SECONDS else "")
    return (f"{note}: the {epochs_left} epoch{'s' if epochs_left > 1 else ''} left would take about "
            f"{duration(epochs_left * seconds)} at that pace (less if early stopping ends the run).{hint}")


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 40 s, 12 min, 7.4 h."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


class TimeBudget(keras.callbacks.Callback):
    """Fits a run into `minutes` of training time on this machine: after each epoch, the epochs that fit at the pace so
    far (resumes included; the first epoch, which compiles, only until there are others) become the run's length, at
    most `epochs`, and the run stops when the next epoch would not fit (it always trains one). With `cosine`, the
    cosine schedule is drawn over that length, so it still ends near zero; a run that fits keeps exactly the schedule
    it would have without a budget. `regularised` (erasing or mixup on) adds a hint when few epochs fit; `say` says
    it. Goes after EpochClock, whose elapsed_seconds it reads."""

    def __init__(self, minutes: float, epochs: int, learning_rate: float, cosine: bool, earlier: pd.DataFrame,
                 regularised: bool = False, say: Callable[[str], None] = print) -> None:
        super().__init__()
        self.seconds, self.epochs, self.learning_rate, self.cosine = minutes * 60, epochs, learning_rate, cosine
        self.regularised, self.say = regularised, say
        self.ends = [float(end) for end in earlier["elapsed_seconds"]] if len(earlier) else []
        self.length = self.fitting() if self.ends else epochs

    def fitting(self) -> int:
        """The run's length: the epochs done plus those left that fit at the pace so far."""
        took = np.diff(self.ends, prepend=0.0)
        pace = max(float(took[1:].mean()) if len(took) > 1 else float(took[0]), 0.1)  # elapsed_seconds has 0.1 s steps
        done = len(self.ends)
        return min(self.epochs, max(done, done + int((self.seconds - self.ends[-1]) // pace)))

    def rate(self, epoch: int) -> float:
        """The cosine schedule's rate for an epoch, over the run's current length."""
        return cosine_rate(self.learning_rate, epoch, self.length)

    def on_epoch_begin(self, epoch, logs=None) -> None:
        if self.cosine:
            self.model.optimizer.learning_rate = self.rate(epoch)

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self.cosine:  # as LearningRateScheduler logs it (fit always passes logs; elapsed_seconds is EpochClock's)
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.ends.append(logs["elapsed_seconds"])
        fits = self.fitting()
        if fits < self.epochs and self.length == self.epochs:  # the first time the budget binds: say so once
            self.say(budget_note(self.seconds, fits, self.epochs, self.cosine, self.regularised))
        self.length = fits
        if epoch + 1 >= self.length:
            self.model.stop_training = True


def budget_note(seconds: float, fits: int, epochs: int, cosine: bool, regularised: bool) -> str:
    """What a time budget that binds does to the run, and, when few epochs fit a run with erasing or mixup, what
    trains a more accurate network in that time."""
    note = (f"A budget of {duration(seconds)} fits about {fits} of the {epochs} epochs at this pace"
            f"{': the cosine schedule is drawn over those' if cosine else ''}.")
    if regularised and fits < SHORT_RUN_EPOCHS:
        note += (" So few epochs under-fit with random erasing and mixup: `erasing=0` and `mixup=0` train a more"
                 " accurate network in a short budget, and `architecture=\"fer_fastnet\"` with `augment=\"light\"`"
                 " learns more in it than fer_resnet (docs/experiments.md, \"An airbench-shaped network for a 15-minute run\").")
    return note


class TimeLimit(keras.callbacks.Callback):
    """Stops training after the first epoch that ends past `minutes` of training time."""

    def __init__(self, minutes: float) -> None:
        super().__init__()
        self.seconds = minutes * 60

    def on_train_begin(self, logs=None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        if time.perf_counter() - self.started >= self.seconds:
            self.model.stop_training = True


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


def cosine_rate(learning_rate: float, epoch: int, epochs: int) -> float:
    """A cosine schedule's rate for an epoch of a run of `epochs`: from learning_rate down towards zero."""
    return learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))


def learning_rate_callback(schedule: str, learning_rate: float, epochs: int) -> keras.callbacks.Callback | None:
    """The callback that drives the learning rate for a named schedule."""
    if schedule == "cosine":
        return keras.callbacks.LearningRateScheduler(lambda epoch: cosine_rate(learning_rate, epoch, epochs))
    if schedule == "plateau":
        return keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=0.5, patience=3, min_lr=1e-5)
    if schedule == "seed_plateau":
        return keras.callbacks.ReduceLROnPlateau(**SEED_PLATEAU)
    if schedule == "constant":
        return None
    raise ValueError(f"Unknown schedule {schedule!r}; choose one of {SCHEDULES}")


def _earlier_run(history_path: Path) -> pd.DataFrame:
    """The epochs an earlier, interrupted run logged (empty if none)."""
    if not history_path.exists() or history_path.stat().st_size == 0:
        return pd.DataFrame()
    return pd.read_csv(history_path)


def _best_so_far(history: pd.DataFrame) -> float | None:
    """Best val_accuracy of an earlier, interrupted run, so a resumed run keeps its best checkpoint."""
    return float(history["val_accuracy"].max()) if "val_accuracy" in history and len(history) else None


def callbacks(
    output_dir: Path, schedule: str, learning_rate: float, epochs: int, patience: int, live_plot: bool,
    minutes: float | None = None, regularised: bool = False,
) -> list[keras.callbacks.Callback]:
    """Backup for resume, best checkpoint, epoch CSV, learning-rate schedule (fitted to a time budget of `minutes`),
    early stopping (patience 0: none), live plot, and the run's notes after it; `regularised`: erasing or mixup on."""
    history_path = output_dir / HISTORY_FILE
    earlier = _earlier_run(history_path)
    notes = Notes(repeat=live_plot)
    budget = ([TimeBudget(minutes, epochs, learning_rate, schedule == "cosine", earlier, regularised, notes.say)]
              if minutes else [])
    rate = None if budget and schedule == "cosine" else learning_rate_callback(schedule, learning_rate, epochs)
    found = [
        keras.callbacks.BackupAndRestore(str(output_dir / BACKUP_DIR)),
        *([rate] if rate is not None else []),  # before the logger, so history.csv records the rate
        EpochClock(float(earlier["elapsed_seconds"].max()) if "elapsed_seconds" in earlier and len(earlier) else 0.0,
                   budgeted=bool(budget), say=notes.say),
        *budget,  # after the clock, whose elapsed_seconds it reads; before the logger, which records its rate
        keras.callbacks.ModelCheckpoint(
            str(output_dir / BEST_FILE), monitor="val_accuracy", mode="max", save_best_only=True,
            initial_value_threshold=_best_so_far(earlier),
        ),
        keras.callbacks.CSVLogger(str(history_path), append=True),
        *([keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience)] if patience else []),
    ]
    stateful = [c for c in found if isinstance(c, (keras.callbacks.ReduceLROnPlateau, keras.callbacks.EarlyStopping))]
    found.append(ReplayEarlierEpochs(earlier, stateful))  # last: after their own on_train_begin has reset them
    if live_plot:
        from livelossplot import PlotLossesKeras

        found.append(PlotLossesKeras())
    return [*found, notes]  # last: after the live plot, which clears the cell's output each epoch


def augments_on_host(augment: str, augment_on: str, mixup: float, class_weights: dict | None, strategy: str) -> bool:
    """Whether augmentation runs in numpy on the host; refuses settings train() cannot combine."""
    if augment_on not in augmentation.PLACES:
        raise ValueError(f"Unknown augment_on {augment_on!r}; choose one of {augmentation.PLACES}")
    on_host = augment != "none" and augment_on == "host"
    if (mixup or on_host) and (class_weights or strategy != "single"):
        raise ValueError("mixup and host augmentation work with single-device training and no class weights")
    return on_host


def training_feed(x_train: np.ndarray, y_fit: np.ndarray, batch_size: int, mixup: float, seed: int, on_host: bool,
                  augment: str, erasing: float, class_weights: dict[int, float] | None,
                  views: TeacherViews | None = None) -> dict:
    """model.fit's training inputs: batches made on the host for mixup, host augmentation or views, else the arrays."""
    if mixup or on_host:
        workers = HOST_WORKERS if on_host else 1  # threads: augmentation in numpy must keep up with a GPU
        return dict(x=TrainingBatches(x_train, y_fit, batch_size, mixup, seed, augment=augment if on_host else "none",
                                      erasing=erasing, workers=workers, views=views))
    return dict(x=x_train, y=y_fit, batch_size=batch_size, class_weight=class_weights, shuffle=True)


def train(
    dataset: Dataset,
    architecture: str = "fer_resnet",
    *,
    epochs: int = 40,
    batch_size: int = 128,
    learning_rate: float | None = None,
    schedule: str = "cosine",
    augment: str = "full",
    augment_on: str = "model",
    erasing: float = 0.0,
    mixup: float = 0.0,
    class_weights: dict[int, float] | None = None,
    targets: np.ndarray | TeacherViews | None = None,
    seed: int = SEED,
    patience: int = 10,
    minutes: float | None = None,
    strategy: str = "single",
    precision: str = "auto",
    model_options: dict | None = None,
    output_dir: str | Path = "artifacts/training",
    live_plot: bool = False,
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainResult:
    """Train on dataset's train split, select on val; resumes from the last finished epoch in output_dir, reuses a
    finished run there without training, and refuses a folder that holds a run with other settings.
    `model_options` go to the architecture (e.g. fer_resnet's widths and blocks; one with a `whitening` option gets
    the train faces' whitening_kernel unless they set it); `augment` is "full" (all the transforms), "light" (the
    flip and shift only: better in a short run) or "none"; `augment_on` places augmentation in the model's Keras
    layers ("model") or in numpy on the host ("host": for JAX on a GPU); `erasing` is random erasing's factor and
    `mixup` the Beta alpha of mixup (0: off); `targets` replace the train split's one-hot labels
    (distillation: see teacher_targets; its TeacherViews, made on the host, also replace augmentation); `patience`
    epochs without a better val_accuracy stop the run (0: the schedule runs to its end); `minutes` fits the run into
    that much training time (TimeBudget).
    `seed` seeds weights, augmentation and shuffles (the dataset's split is already made); a resumed process adds the
    epoch it resumes at, so it draws afresh. The model returned is the best epoch's, in float32 whatever precision
    trained it."""
    check_settings(epochs, batch_size, learning_rate, schedule, erasing, mixup, patience, minutes, augment)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    draws = seed + resumed_at(output_dir)  # a resumed process must not replay epoch 0's shuffle, augmentation and dropout
    keras.utils.set_random_seed(draws)
    x_train, y_train = dataset.arrays("train")
    x_val, y_val = dataset.arrays("val")
    if strategy != "single":
        x_train, y_train = whole_batches(x_train, y_train, batch_size, seed)
        x_val, y_val = whole_batches(x_val, y_val, batch_size, seed)
    on_host = augments_on_host(augment, augment_on, mixup, class_weights, strategy)
    options = {**fitted_options(architecture, x_train), **(model_options or {})}  # the user's own come last
    build = lambda: build_model(architecture, dataset.num_classes,  # noqa: E731
                                augmentation=(augmentation.keras_layers(draws, erasing, augment)
                                              if augment != "none" and not on_host else None),
                                **options)
    with distribution_scope(strategy), dtype_policy(resolve_precision(precision)):
        model = build()
        learning_rate = learning_rate or float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))  # None: its own
        model.optimizer.learning_rate = learning_rate
    views = targets if isinstance(targets, TeacherViews) else None
    if views is not None:
        check_views(views, x_train, on_host)
        targets = views.targets
    y_fit = keras.utils.to_categorical(y_train, dataset.num_classes) if targets is None else targets
    if y_fit.shape[-2:] != (len(y_train), dataset.num_classes):
        raise ValueError(f"targets must be {(len(y_train), dataset.num_classes)}, one row per train image, not {y_fit.shape}")
    settings = {"architecture": architecture, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                "schedule": schedule, "augment": augment, "augment_on": augment_on, "erasing": erasing, "mixup": mixup,
                "class_weights": class_weights, "seed": seed, "patience": patience, "minutes": minutes, "strategy": strategy,
                "precision": precision, "model_options": model_options, "data": dataset.fingerprint,
                "train_labels": _digest(y_train), "targets": None if targets is None else _digest(targets)}
    machine = {"hardware": profiling.hardware(), "precision": resolve_precision(precision)}
    finished, machines = claim_output_dir(output_dir, settings, machine)
    if finished:
        print(f"{output_dir} holds this run, finished: its best checkpoint is used, nothing is trained")
    else:
        model.fit(
            **training_feed(x_train, y_fit, batch_size, mixup, draws, on_host, augment, erasing, class_weights, views),
            validation_data=(x_val, keras.utils.to_categorical(y_val, dataset.num_classes)),
            epochs=epochs,
            callbacks=callbacks(output_dir, schedule, learning_rate, epochs, patience, live_plot, minutes,
                                regularised=bool(erasing or mixup))
            + (extra_callbacks or []),
            verbose=2,
        )
        _record_run(output_dir, settings, True, machines)
    history = pd.read_csv(output_dir / HISTORY_FILE)
    seconds = float(history["elapsed_seconds"].max()) if len(history) else 0.0  # EpochClock's: resumes included
    best = keras.models.load_model(output_dir / BEST_FILE) if (output_dir / BEST_FILE).exists() else model
    return TrainResult(as_float32(best, build), history, output_dir, seconds, _joined(machines, "hardware"),
                       _joined(machines, "precision"))


def check_settings(epochs: int, batch_size: int, learning_rate: float | None, schedule: str, erasing: float,
                   mixup: float, patience: int, minutes: float | None = None, augment: str = "full") -> None:
    """Refuse settings train() cannot use before anything is written to the run's folder: a run file recorded with
    a misspelt schedule would make the corrected rerun "another run", and epochs=0 would save an untrained model."""
    check_number("epochs", epochs, 1, whole=True)
    check_number("batch_size", batch_size, 1, whole=True)
    check_number("patience", patience, 0, whole=True)
    if learning_rate is not None:
        check_number("learning_rate", learning_rate, 0, above=True)  # None: the architecture's own
    check_number("erasing", erasing, 0, 1)
    check_number("mixup", mixup, 0)
    if minutes is not None:
        check_number("minutes", minutes, 0, above=True)  # None: no time budget
    if schedule not in SCHEDULES:
        raise ValueError(f"Unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    if augment not in AUGMENT:
        raise ValueError(f"Unknown augment {augment!r}; choose one of {AUGMENT}")


def check_views(views: TeacherViews, x_train: np.ndarray, on_host: bool) -> None:
    """Refuse teacher views that are not copies of these train faces, or that the feed cannot draw from."""
    if not on_host:
        raise ValueError("Teacher views replace augmentation in the host feed: train with augment_on='host' and an "
                         "augment other than 'none'")
    if views.images.shape[1:] != x_train.shape or views.targets.shape[:2] != views.images.shape[:2]:
        raise ValueError(f"Teacher views must be copies of the {x_train.shape} train faces with one target each, not "
                         f"{views.images.shape} faces and {views.targets.shape} targets")


def resumed_at(output_dir: Path) -> int:
    """The epoch an interrupted run in output_dir resumes at (BackupAndRestore's record), 0 for a new run."""
    try:
        return int(json.loads((output_dir / BACKUP_DIR / BACKUP_METADATA).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def claim_output_dir(output_dir: Path, settings: dict, machine: dict) -> tuple[bool, list[dict]]:
    """Record a new run's settings and machine in output_dir, or check them against the run already there (a resume
    or a rerun must not mix two runs in one history); whether that run has finished, and the machines it trained on."""
    settings = json.loads(json.dumps(settings, default=str))  # as JSON stores them: lists for tuples, string keys
    path = output_dir / RUN_FILE
    finished, machines = False, []
    if path.exists():
        recorded, finished, machines = read_run(path)
        differ = [key for key in sorted(settings.keys() | recorded.keys()) if settings.get(key) != recorded.get(key)]
        if differ:
            detail = "; ".join(f"{key} {recorded.get(key)!r} there, {settings.get(key)!r} now" for key in differ)
            raise ValueError(f"{output_dir} holds another run ({detail}): give the same settings to resume or reuse it, "
                             "or another output folder")
    elif len(_earlier_run(output_dir / HISTORY_FILE)) and not (output_dir / BACKUP_DIR).exists():
        raise ValueError(f"{output_dir} holds a finished run saved before runs recorded their settings: "
                         "give another output folder (or remove that one to train there again)")
    if not finished and machine not in machines:
        machines = [*machines, machine]
        _record_run(output_dir, settings, False, machines)
    return finished, machines


def read_run(path: Path) -> tuple[dict, bool, list[dict]]:
    """A run file's settings, whether its run finished and the machines it trained on; anything else is a clear error."""
    try:
        recorded = json.loads(path.read_text())
        settings, finished = dict(recorded["settings"].items()), recorded["finished"]
        machines = [{"hardware": str(m["hardware"]), "precision": str(m["precision"])} for m in recorded["trained_on"]]
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, AttributeError):
        settings, finished, machines = {}, None, []
    if finished not in (True, False) or not machines:
        raise ValueError(f"{path} is not a run file as training writes it: remove it, or give another output folder")
    return settings, finished, machines


def _record_run(output_dir: Path, settings: dict, finished: bool, machines: list[dict]) -> None:
    """Write output_dir's run file whole."""
    text = json.dumps({"settings": settings, "finished": finished, "trained_on": machines}, indent=2)
    atomic_write(output_dir / RUN_FILE, lambda tmp: tmp.write_text(text))


def _joined(machines: list[dict], key: str) -> str:
    """One field of the machines a run trained on, each value once, in order ('A + B' for a run resumed elsewhere)."""
    return " + ".join(dict.fromkeys(machine[key] for machine in machines))


def _digest(array: np.ndarray) -> str:
    """A short fingerprint of an array's values."""
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def teacher_targets(teachers: list[keras.Model], dataset: Dataset, teacher_weight: float, tta: str = "none",
                    copies: int = 0, erasing: float = 0.0, seed: int = SEED, augment: str = "full") -> np.ndarray | TeacherViews:
    """Training targets for distillation: the teachers' mean class probabilities for each train face, blended
    with its one-hot label (`teacher_weight` the teachers' share), averaged over `tta`'s views as
    evaluation.predict_probabilities takes them. The teachers answer once, on the unaugmented faces; or, with `copies`,
    on that many augmented copies of each face (augmentation.augment_batch at level `augment`, with `erasing`, drawn
    from `seed`), which
    the student then trains on, so that it learns its teachers' answers on the very faces it sees (Beyer et al. 2022,
    "consistent teaching"). A teacher that is an ensemble adds its networks, so each network weighs the same (as in
    models.average_ensemble)."""
    if not teachers or not 0 <= teacher_weight <= 1:
        raise ValueError(f"Distillation needs one or more teachers and a teacher_weight between 0 and 1, not "
                         f"{len(teachers)} teachers and {teacher_weight}")
    check_number("copies", copies, 0, whole=True)
    if copies and augment not in augmentation.LEVELS:
        raise ValueError(f"Teacher copies are augmented faces: augment must be one of {augmentation.LEVELS}, not {augment!r}")
    evaluation.check_tta(tta)
    images, labels = dataset.arrays("train")
    one_hot = keras.utils.to_categorical(labels, dataset.num_classes)

    def blended(faces: np.ndarray) -> np.ndarray:
        answers = np.mean([evaluation.predict_probabilities(network, faces, tta=tta)
                           for teacher in teachers for network in networks(teacher)], axis=0)
        if answers.shape[-1] != dataset.num_classes:
            raise ValueError(f"The teachers predict {answers.shape[-1]} classes, the data has {dataset.num_classes}")
        return (teacher_weight * answers + (1 - teacher_weight) * one_hot).astype("float32")

    if not copies:
        return blended(images)
    rng = np.random.default_rng(seed)
    faces = np.stack([np.rint(augmentation.augment_batch(images, rng, erasing, augment)).astype("uint8")
                      for _ in range(copies)])
    return TeacherViews(faces, np.stack([blended(copy) for copy in faces]), mirrored=tta != "none")


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
        "dataset": dataset.root.name,  # the folder's name only: a path would be this machine's
        "hardware": profiling.hardware(),
        **extra,
    }


ENSEMBLE_FIGURES = ("ensemble_members", "val_accuracy", "test_accuracy", "test_macro_f1", "tta_test_accuracy",
                    "tflite_test_accuracy")


def network_metadata(metadata: dict, command: str, val_accuracy: float) -> dict:
    """Metadata for a run's own network saved beside its ensemble: the run's, less the ensemble's members and figures,
    with the command that trains this network alone and its own validation accuracy (its test split is not read)."""
    return ({key: value for key, value in metadata.items() if key not in ENSEMBLE_FIGURES}
            | {"command": command, "val_accuracy": val_accuracy, "ensemble_members": []})


def check_ensemble_member(metadata: dict, dataset: Dataset, split_seed: int, path: str | Path) -> None:
    """Refuse a member trained on other data, another validation split or validation faces (fer_helpers.finetuning):
    the ensemble's validation score would then include faces that member trained on."""
    if metadata.get("validation_trained_on"):
        raise ValueError(f"{path} trained on {metadata['validation_trained_on']} validation faces, so its validation "
                         "score would count faces it learned: use the model it was fine-tuned from")
    found = (metadata.get("dataset_fingerprint"), metadata.get("split_seed"))
    if found != (dataset.fingerprint, split_seed):
        raise ValueError(f"{path} was trained on data {found[0]!r} with validation split seed {found[1]!r}; this run "
                         f"uses {dataset.fingerprint!r} with seed {split_seed!r}, so its validation faces may be "
                         "ones that model trained on")


def load_members(paths: list[str], dataset: Dataset, split_seed: int) -> list[tuple[keras.Model, dict]]:
    """Load earlier runs' models (ensemble members or teachers), each checked for classes, data and validation split."""
    members = [saving.load_model(path, classes=dataset.classes) for path in paths]
    for path, (_, metadata) in zip(paths, members):
        check_ensemble_member(metadata, dataset, split_seed, path)
    return members


def member_commands(members_metadata: list[dict]) -> list[str]:
    """The commands that reproduce an ensemble's members in order, a member's own members first."""
    return [command for meta in members_metadata for command in [*meta.get("ensemble_members", []), meta.get("command")]]
