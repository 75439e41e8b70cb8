"""Integrity report of a loaded data set: counts, modes, duplicates, leakage, blanks, contrast and sharpness,
class weights."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np
import pandas as pd

from fer_helpers.data import Dataset

BLANK_STD = 3.0  # pixel standard deviation under which an image counts as blank or near-constant
FULL_RANGE = 230  # max - min pixel value from which an image counts as using the full intensity range
SHARPNESS_GAP = 4.0  # ratio of median sharpness (sharpest / this split) from which a split is flagged as blurred
CONTRAST_GAP = 10.0  # gap in median pixel std (grey levels) from which a split is flagged as differing in contrast


@dataclass
class IntegrityReport:
    """What a data set holds and what is wrong with it, as tables."""

    counts: pd.DataFrame
    modes: pd.DataFrame
    duplicates: pd.DataFrame
    leakage: pd.DataFrame
    blanks: pd.DataFrame
    contrast: pd.DataFrame
    skipped: pd.DataFrame
    class_weights: dict[int, float]
    imbalance: float
    shifts: list[str]  # splits that differ from the others in sharpness or contrast, one sentence each

    def summary(self) -> pd.DataFrame:
        """The headline numbers in one table."""
        rows = {
            "images": int(self.counts.to_numpy().sum()),
            "skipped files": int((~self.skipped["folder"]).sum()),
            "skipped folders (a zip's __MACOSX, links)": int(self.skipped["folder"].sum()),
            "duplicate copies within splits": int(self.duplicates["extra copies"].sum()),
            "images shared across splits": int(self.leakage["shared images"].sum()),
            "blank or near-constant images": len(self.blanks),
            "largest gap in median contrast between splits": round(float(np.ptp(self.contrast["median pixel std"])), 1)
            if len(self.contrast) else 0.0,
            "sharpness ratio, sharpest / blurriest split": round(float(self.contrast["median sharpness"].max()
                                                                   / max(self.contrast["median sharpness"].min(), 1e-9)), 1)
            if len(self.contrast) else 1.0,
            "splits flagged for sharpness or contrast": len(self.shifts),
            "imbalance (largest / smallest train class)": round(self.imbalance, 2),
        }
        return pd.DataFrame({"value": rows})


def class_counts(dataset: Dataset) -> pd.DataFrame:
    """Images per class (rows) and split (columns)."""
    table = {
        name: np.bincount(part.labels, minlength=dataset.num_classes) for name, part in dataset.splits.items()
    }
    return pd.DataFrame(table, index=pd.Index(dataset.classes, name="class"))


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """Weights n / (k * count) per class, so each class adds equally to the loss; 0 for absent classes."""
    counts = np.bincount(labels, minlength=num_classes)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return {i: round(float(w), 4) for i, w in enumerate(weights)}


def _duplicates_within(dataset: Dataset) -> pd.DataFrame:
    """Per split: images that occur more than once, and how many extra copies there are."""
    rows = []
    for name, part in dataset.splits.items():
        _, counts = np.unique(part.hashes, return_counts=True)
        rows.append({"split": name, "duplicated images": int((counts > 1).sum()), "extra copies": int((counts - 1).sum())})
    return pd.DataFrame(rows, columns=["split", "duplicated images", "extra copies"])


def _leakage(dataset: Dataset) -> pd.DataFrame:
    """Per pair of splits: distinct images present in both (train/test leakage)."""
    rows = []
    for (a, part_a), (b, part_b) in combinations(dataset.splits.items(), 2):
        shared = np.intersect1d(part_a.hashes, part_b.hashes)
        rows.append({"splits": f"{a} & {b}", "shared images": len(shared)})
    return pd.DataFrame(rows, columns=["splits", "shared images"])


def _blanks(dataset: Dataset) -> pd.DataFrame:
    """Images whose pixels barely vary (blank, black or constant frames)."""
    rows = []
    for name, part in dataset.splits.items():
        stds = part.images.std(axis=(1, 2))
        for i in np.flatnonzero(stds < BLANK_STD):
            rows.append({"split": name, "source": part.sources[i], "class": dataset.classes[part.labels[i]], "pixel std": round(float(stds[i]), 2)})
    return pd.DataFrame(rows, columns=["split", "source", "class", "pixel std"])


def sharpness(images: np.ndarray) -> np.ndarray:
    """Variance of the Laplacian per image: high for sharp faces, low for blurred ones."""
    return np.array([cv2.Laplacian(image.astype(np.float32), cv2.CV_32F).var() for image in images])


def _contrast(dataset: Dataset) -> pd.DataFrame:
    """Per split: median per-image pixel std, the share of images spanning the full range and median
    sharpness; splits that differ here differ in distribution (a blurred or re-encoded copy of one split,
    say), which a model trained on one and tested on another pays for."""
    rows = {}
    for name, part in dataset.splits.items():
        if len(part):
            pixels = part.images.reshape(len(part), -1)
            spread = pixels.max(axis=1).astype(int) - pixels.min(axis=1)
            rows[name] = {"median pixel std": round(float(np.median(pixels.std(axis=1))), 1),
                          "full-range images": round(float((spread >= FULL_RANGE).mean()), 3),
                          "median sharpness": round(float(np.median(sharpness(part.images))), 1)}
    return pd.DataFrame(rows).T.rename_axis("split")


def distribution_shifts(contrast: pd.DataFrame) -> list[str]:
    """One sentence per split that is SHARPNESS_GAP times less sharp than the sharpest split, or whose
    median contrast is CONTRAST_GAP grey levels off the others'; [] when the splits are alike."""
    if len(contrast) < 2:
        return []
    found = []
    sharpest = contrast["median sharpness"].idxmax()
    for name, row in contrast.iterrows():
        ratio = contrast.loc[sharpest, "median sharpness"] / max(row["median sharpness"], 1e-9)
        if ratio >= SHARPNESS_GAP:
            found.append(f"{name} is {ratio:,.0f}x less sharp than {sharpest} (median variance of the Laplacian "
                         f"{row['median sharpness']:,.1f} against {contrast.loc[sharpest, 'median sharpness']:,.1f}): "
                         "blurred or heavily compressed images?")
        others = contrast["median pixel std"].drop(name).median()
        if abs(row["median pixel std"] - others) >= CONTRAST_GAP:
            found.append(f"{name} has median pixel std {row['median pixel std']} against {others} in the other splits")
    return found


def integrity_report(dataset: Dataset) -> IntegrityReport:
    """Build the integrity report of a loaded data set (nothing on disk is touched)."""
    counts = class_counts(dataset)
    train = dataset.splits.get("train")
    train_counts = counts["train"] if "train" in counts else counts.sum(axis=1)
    nonzero = train_counts[train_counts > 0]
    contrast = _contrast(dataset)
    return IntegrityReport(
        counts=counts,
        modes=pd.DataFrame({"images": dict(dataset.modes)}).rename_axis("size and mode"),
        duplicates=_duplicates_within(dataset),
        leakage=_leakage(dataset),
        blanks=_blanks(dataset),
        contrast=contrast,
        skipped=pd.DataFrame([vars(s) for s in dataset.skipped], columns=["path", "reason", "folder"]).astype({"folder": bool}),
        class_weights=balanced_class_weights(train.labels, dataset.num_classes) if train is not None else {},
        imbalance=float(nonzero.max() / nonzero.min()) if len(nonzero) else 0.0,
        shifts=distribution_shifts(contrast),
    )
