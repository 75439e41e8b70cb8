"""Integrity report and exploration plots on real faces, with planted duplicates and blanks."""

import shutil

import cv2

import matplotlib
import numpy as np
import pytest

from conftest import real_faces
from fer_helpers import data, integrity, plots

matplotlib.use("Agg")


@pytest.fixture()
def planted(fer_dir, tmp_path):
    """A small real set with one train/test leak, one duplicate in train and one blank image."""
    for split in ("train", "test"):
        for label in ("happy", "sad", "disgust"):
            (tmp_path / split / label).mkdir(parents=True)
            count = 2 if label == "disgust" else 6
            for path in real_faces(fer_dir, split, label, count):
                shutil.copy(path, tmp_path / split / label / path.name)
    leaked = real_faces(fer_dir, "train", "happy", 1)[0]
    shutil.copy(leaked, tmp_path / "test" / "happy" / "leaked.jpg")
    shutil.copy(leaked, tmp_path / "train" / "happy" / "copy.jpg")
    blank = np.full((48, 48), 200, np.uint8)


    cv2.imwrite(str(tmp_path / "train" / "sad" / "blank.png"), blank)
    (tmp_path / "train" / "sad" / "notes.jpg").write_text("not a picture")
    (tmp_path / "train" / "__MACOSX" / "sad").mkdir(parents=True)  # what unzipping a Mac's zip leaves
    return data.load_dataset(tmp_path, val_fraction=0)


def test_report_finds_planted_problems(planted):
    report = integrity.integrity_report(planted)
    assert report.counts.loc["happy", "train"] == 7 and report.counts.loc["happy", "test"] == 7
    assert report.duplicates.set_index("split").loc["train", "extra copies"] == 1
    assert report.leakage.set_index("splits").loc["train & test", "shared images"] == 1
    assert report.blanks["source"].str.endswith("blank.png").tolist() == [True]
    assert report.imbalance == pytest.approx(7 / 2)
    summary = report.summary()["value"]
    assert summary["images"] == 31 and summary["blank or near-constant images"] == 1
    assert summary["skipped files"] == 1 and summary["skipped folders (a zip's __MACOSX, links)"] == 1


def test_balanced_class_weights_by_hand():
    labels = np.array([0, 0, 0, 1])  # 4 images, 2 present classes, class 2 absent
    assert integrity.balanced_class_weights(labels, 3) == {0: round(4 / 6, 4), 1: 2.0, 2: 0.0}


def test_exploration_figures(planted, tmp_path):
    assert len(plots.class_count_chart(planted).axes[0].patches) >= 6
    assert len(plots.sample_grid(planted, per_class=4).axes) == 3 * 4
    assert len(plots.mean_faces(planted).axes) == 3
    path = plots.save_figure(plots.intensity_histograms(planted), tmp_path / "out" / "hist.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_real_fer2013_splits_are_alike(fer_dir):
    report = integrity.integrity_report(data.load_dataset(fer_dir, limit_per_class=40))
    assert report.shifts == [], report.shifts
    assert report.summary().loc["splits flagged for sharpness or contrast", "value"] == 0
    sharpness = report.contrast["median sharpness"]
    assert sharpness.min() > 1000  # the real, sharp FER2013: median variance of the Laplacian about 2,100


@pytest.fixture()
def blurred_train(fer_dir, tmp_path):
    """Real faces whose train copy is Gaussian-blurred (sigma 3) and whose test copy is left sharp."""
    for split in ("train", "test"):
        for label in ("happy", "sad"):
            (tmp_path / split / label).mkdir(parents=True)
            for path in real_faces(fer_dir, split, label, 15):
                face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                face = cv2.GaussianBlur(face, (0, 0), 3.0) if split == "train" else face
                cv2.imwrite(str(tmp_path / split / label / f"{path.stem}.png"), face)
    return data.load_dataset(tmp_path, val_fraction=0)


def test_a_blurred_split_is_flagged(blurred_train):
    report = integrity.integrity_report(blurred_train)
    sharpness = report.contrast["median sharpness"]
    assert sharpness["test"] > 50 * sharpness["train"]
    assert any(line.startswith("train is") and "x less sharp than test" in line for line in report.shifts), report.shifts
    assert not any(line.startswith("test is") for line in report.shifts)


def test_a_contrast_shift_is_flagged(fer_dir, tmp_path):
    for split in ("train", "test"):
        (tmp_path / split / "happy").mkdir(parents=True)
        for path in real_faces(fer_dir, split, "happy", 15):
            face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            face = (face // 4 + 96).astype(np.uint8) if split == "test" else face  # a quarter of the contrast
            cv2.imwrite(str(tmp_path / split / "happy" / f"{path.stem}.png"), face)
    shifts = integrity.integrity_report(data.load_dataset(tmp_path, val_fraction=0)).shifts
    assert any(line.startswith("test has median pixel std") for line in shifts), shifts
