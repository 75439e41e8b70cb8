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


def test_balanced_class_weights_by_hand():
    labels = np.array([0, 0, 0, 1])  # 4 images, 2 present classes, class 2 absent
    assert integrity.balanced_class_weights(labels, 3) == {0: round(4 / 6, 4), 1: 2.0, 2: 0.0}


def test_exploration_figures(planted, tmp_path):
    assert len(plots.class_count_chart(planted).axes[0].patches) >= 6
    assert len(plots.sample_grid(planted, per_class=4).axes) == 3 * 4
    assert len(plots.mean_faces(planted).axes) == 3
    path = plots.save_figure(plots.intensity_histograms(planted), tmp_path / "out" / "hist.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_contrast_shift_between_fer2013_splits_is_reported(fer_dir):
    report = integrity.integrity_report(data.load_dataset(fer_dir, limit_per_class=40))
    contrast = report.contrast["median pixel std"]
    assert contrast["test"] > contrast["train"] + 5  # this copy's test faces have more contrast
    assert report.summary().loc["largest gap in median contrast between splits", "value"] > 5


def test_sharpness_gap_between_fer2013_splits_is_reported(fer_dir):
    report = integrity.integrity_report(data.load_dataset(fer_dir, limit_per_class=40))
    sharpness = report.contrast["median sharpness"]
    assert sharpness["test"] > 50 * sharpness["train"]  # this copy's train faces are blurred, test faces are not
    assert 2.0 <= report.blur_to_match <= 4.0


def test_matching_blur_recovers_a_known_sigma(fer_dir):
    faces = np.stack([cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in real_faces(fer_dir, "test", "happy", 60)])
    target = np.median(integrity.sharpness([cv2.GaussianBlur(face, (0, 0), 2.0) for face in faces]))
    assert integrity.matching_blur(faces, target) == pytest.approx(2.0, abs=0.25)
    assert integrity.matching_blur(faces, np.median(integrity.sharpness(faces))) == integrity.BLUR_SIGMAS[0]
