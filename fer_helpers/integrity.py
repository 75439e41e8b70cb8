"""Integrity report of a loaded data set: counts, modes, duplicates, leakage, blanks, contrast and sharpness,
class weights."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np
import pandas as pd

from fer_helpers.config import SEED
from fer_helpers.data import Dataset

BLANK_STD = 3.0  # pixel standard deviation under which an image counts as blank or near-constant
FULL_RANGE = 230  # max - min pixel value from which an image counts as using the full intensity range
SHARPNESS_GAP = 4.0  # ratio of median sharpness between splits from which blur matching is suggested
BLUR_SIGMAS = np.arange(0.5, 6.01, 0.25)  # Gaussian sigmas tried when matching one split's sharpness to another's
MATCH_SAMPLE = 500  # images per split used to match sharpness


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
    blur_to_match: float | None  # Gaussian sigma that makes the sharpest split as sharp as train; None if no gap

    def summary(self) -> pd.DataFrame:
        """The headline numbers in one table."""
        rows = {
            "images": int(self.counts.to_numpy().sum()),
            "skipped files": len(self.skipped),
            "duplicate copies within splits": int(self.duplicates["extra copies"].sum()),
            "images shared across splits": int(self.leakage["shared images"].sum()),
            "blank or near-constant images": len(self.blanks),
            "largest gap in median contrast between splits": round(float(np.ptp(self.contrast["median pixel std"])), 1)
            if len(self.contrast) else 0.0,
            "sharpness ratio, sharpest / blurriest split": round(float(self.contrast["median sharpness"].max()
                                                                   / max(self.contrast["median sharpness"].min(), 1e-9)), 1)
            if len(self.contrast) else 1.0,
            "Gaussian sigma that matches train's sharpness": self.blur_to_match,
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


def matching_blur(sharp_images: np.ndarray, target_sharpness: float) -> float:
    """The Gaussian sigma that brings the median sharpness of sharp_images closest to target_sharpness."""
    medians = [np.median(sharpness([cv2.GaussianBlur(image, (0, 0), sigma) for image in sharp_images]))
               for sigma in BLUR_SIGMAS]
    gaps = np.abs(np.log(np.maximum(medians, 1e-9)) - np.log(max(target_sharpness, 1e-9)))
    return float(BLUR_SIGMAS[int(np.argmin(gaps))])


def _contrast(dataset: Dataset) -> pd.DataFrame:
    """Per split: median per-image pixel std, the share of images spanning the full range and median
    sharpness; splits that differ here differ in distribution (this copy of FER2013's train split is
    blurred and lower in contrast than its test split)."""
    rows = {}
    for name, part in dataset.splits.items():
        if len(part):
            pixels = part.images.reshape(len(part), -1)
            spread = pixels.max(axis=1).astype(int) - pixels.min(axis=1)
            rows[name] = {"median pixel std": round(float(np.median(pixels.std(axis=1))), 1),
                          "full-range images": round(float((spread >= FULL_RANGE).mean()), 3),
                          "median sharpness": round(float(np.median(sharpness(part.images))), 1)}
    return pd.DataFrame(rows).T.rename_axis("split")


def blur_to_match(dataset: Dataset, contrast: pd.DataFrame | None = None) -> float | None:
    """Sigma that blurs the sharpest split down to train's sharpness, when they differ by SHARPNESS_GAP or
    more (pixels only, never labels); None when the splits are alike."""
    contrast = _contrast(dataset) if contrast is None else contrast
    if "train" not in contrast.index or len(contrast) < 2:
        return None
    sharpest = contrast["median sharpness"].idxmax()
    if contrast.loc[sharpest, "median sharpness"] < SHARPNESS_GAP * contrast.loc["train", "median sharpness"]:
        return None
    images = dataset.splits[sharpest].images
    sample = images[np.random.default_rng(SEED).permutation(len(images))[:MATCH_SAMPLE]]
    return matching_blur(sample, contrast.loc["train", "median sharpness"])


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
        skipped=pd.DataFrame([vars(s) for s in dataset.skipped], columns=["path", "reason"]),
        class_weights=balanced_class_weights(train.labels, dataset.num_classes) if train is not None else {},
        imbalance=float(nonzero.max() / nonzero.min()) if len(nonzero) else 0.0,
        blur_to_match=blur_to_match(dataset, contrast),
    )
