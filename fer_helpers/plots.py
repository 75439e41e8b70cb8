"""Figures: class counts, sample faces, intensity histograms, mean faces, filters, face probabilities."""

from __future__ import annotations

from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from fer_helpers.data import Dataset
from fer_helpers.files import atomic_write
from fer_helpers.integrity import class_counts


def save_figure(figure: plt.Figure, path: str | Path) -> Path:
    """Save a figure as PNG, whole (atomic_write creates folders), and return the path."""
    path = Path(path)
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    return path


def class_count_chart(dataset: Dataset) -> plt.Figure:
    """Seaborn bar chart of images per class, one colour per split."""
    table = class_counts(dataset).reset_index().melt(id_vars="class", var_name="split", value_name="images")
    figure, axis = plt.subplots(figsize=(9, 4))
    sns.barplot(data=table, x="class", y="images", hue="split", ax=axis)
    axis.set_title("Images per class and split")
    return figure


def sample_grid(dataset: Dataset, split: str = "train", per_class: int = 6, seed: int = 0) -> plt.Figure:
    """A grid of random faces: one row per class."""
    part = dataset.splits[split]
    rng = np.random.default_rng(seed)
    figure, axes = plt.subplots(dataset.num_classes, per_class, figsize=(per_class * 1.2, dataset.num_classes * 1.3))
    for row, name in enumerate(dataset.classes):
        members = np.flatnonzero(part.labels == row)
        picks = rng.choice(members, size=min(per_class, len(members)), replace=False) if len(members) else []
        for col in range(per_class):
            axis = axes[row, col]
            axis.axis("off")
            if col < len(picks):
                axis.imshow(part.images[picks[col]], cmap="gray", vmin=0, vmax=255)
        axes[row, 0].set_title(name, loc="left", fontsize=9)
    figure.suptitle(f"Sample faces ({split})")
    return figure


def intensity_histograms(dataset: Dataset, split: str = "train") -> plt.Figure:
    """Pixel-intensity distribution of each class, overlaid."""
    part = dataset.splits[split]
    figure, axis = plt.subplots(figsize=(9, 4))
    bins = np.arange(0, 257, 8)
    for row, name in enumerate(dataset.classes):
        pixels = part.images[part.labels == row].ravel()
        if pixels.size:
            axis.hist(pixels, bins=bins, density=True, histtype="step", linewidth=1.5, label=name)
    axis.set(xlabel="pixel intensity", ylabel="density", title=f"Pixel intensities per class ({split})")
    axis.legend(ncol=4, fontsize=8)
    return figure


def mean_faces(dataset: Dataset, split: str = "train") -> plt.Figure:
    """The average face of each class."""
    part = dataset.splits[split]
    figure, axes = plt.subplots(1, dataset.num_classes, figsize=(dataset.num_classes * 1.6, 2))
    for row, (axis, name) in enumerate(zip(np.atleast_1d(axes), dataset.classes)):
        members = part.images[part.labels == row]
        if len(members):
            axis.imshow(members.mean(axis=0), cmap="gray")
        axis.set_title(f"{name}\n(n={len(members)})", fontsize=9)
        axis.axis("off")
    return figure


def first_layer_filters(model: keras.Model) -> plt.Figure:
    """The kernels of the first convolution, one small image each."""
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    kernels = keras.ops.convert_to_numpy(conv.kernel)[:, :, 0, :]
    count = kernels.shape[-1]
    columns = min(count, 12)
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.8, rows * 0.8), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < count:
            axis.imshow(kernels[:, :, index], cmap="gray")
    figure.suptitle(f"First-layer filters ({conv.name}, {count} kernels)")
    return figure


def feature_maps(model: keras.Model, face: np.ndarray, per_layer: int = 8) -> plt.Figure:
    """Activations of one face after each convolution block (the first `per_layer` channels)."""
    taps = [layer.output for layer in model.layers if isinstance(layer, keras.layers.Activation) and len(layer.output.shape) == 4]
    probe = keras.Model(model.inputs, taps)
    outputs = probe.predict(face.reshape(1, *model.input_shape[1:]), verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    figure, axes = plt.subplots(len(outputs), per_layer + 1, figsize=((per_layer + 1) * 1.1, len(outputs) * 1.2), squeeze=False)
    for row, activation in enumerate(outputs):
        axes[row, 0].imshow(face.squeeze(), cmap="gray")
        axes[row, 0].set_ylabel(f"{activation.shape[1]}px", fontsize=8)
        for col in range(per_layer):
            if col < activation.shape[-1]:
                axes[row, col + 1].imshow(activation[0, :, :, col], cmap="viridis")
        for axis in axes[row]:
            axis.set_xticks([]), axis.set_yticks([])
    figure.suptitle("Feature maps of one face, block by block")
    return figure


def face_probabilities(annotated: np.ndarray, faces: list) -> plt.Figure:
    """The annotated image beside a bar chart of every face's class probabilities."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1.3, 1]})
    left.imshow(annotated[..., ::-1] if annotated.ndim == 3 else annotated, cmap="gray")
    left.set_axis_off()
    rows = [{"face": f"#{i}", "class": name, "probability": p} for i, face in enumerate(faces)
            for name, p in face.probabilities.items()]
    if rows:
        sns.barplot(data=pd.DataFrame(rows), x="class", y="probability", hue="face", ax=right)
        right.set_ylim(0, 1)
    right.set_title(f"{len(faces)} face(s) found")
    return figure
