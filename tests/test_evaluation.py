"""Scoring a model on a user's own labelled folder: renamed classes, odd sizes, an extra class, bad files."""

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import read_gray, real_faces, run_cli
from fer_helpers import config, data, evaluation, inference, lite, saving, synthetic

RENAMED = {"happy": "Happiness", "sad": "sadness", "angry": "anger", "surprise": "surprise"}
PER_CLASS = 12


@pytest.fixture(scope="module")
def recogniser() -> inference.Recogniser:
    """The shipped model on the Keras runtime."""
    return inference.Recogniser(runtime="keras")


@pytest.fixture()
def user_set(fer_dir, tmp_path):
    """Real FER2013 test faces as 224x224 upscaled PNGs in renamed class folders, plus an extra class
    (contempt, 5 images) and a corrupt file; returns the folder and the original 48x48 faces and labels."""
    root = tmp_path / "my_faces"
    faces, labels = [], []
    for label, folder in RENAMED.items():
        (root / folder).mkdir(parents=True)
        for path in real_faces(fer_dir, "test", label, PER_CLASS):
            face = read_gray(path)
            cv2.imwrite(str(root / folder / f"{path.stem}.png"), cv2.resize(face, (224, 224), interpolation=cv2.INTER_CUBIC))
            faces.append(face)
            labels.append(label)
    (root / "contempt").mkdir()
    for path in real_faces(fer_dir, "test", "neutral", 5):
        cv2.imwrite(str(root / "contempt" / f"{path.stem}.png"), read_gray(path))
    (root / "Happiness" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    (root / "__MACOSX" / "Happiness").mkdir(parents=True)  # what unzipping a Mac's zip leaves
    (root / "__MACOSX" / "Happiness" / "._broken.png").write_bytes(b"\0\5\22\7")
    (root / "fear").mkdir()
    return root, np.stack(faces), labels


def test_evaluate_folder_maps_names_skips_and_scores(recogniser, user_set, tmp_path):
    root, faces, labels = user_set
    evaluated = evaluation.evaluate_folder(recogniser, root, tmp_path / "report")
    result = evaluated.result
    assert result["images"] == len(RENAMED) * PER_CLASS
    assert evaluated.skipped_classes == {"contempt": 5}
    assert [(Path(s.path).name, s.reason) for s in evaluated.skipped_files] == [
        ("__MACOSX", "not a class folder (a name starting with __)"), ("broken.png", "not a decodable image")]
    assert (result["skipped_files"], result["skipped_folders"], result["empty_class_folders"]) == (1, 1, ["fear"])
    assert sorted(result["per_class"]) == sorted(RENAMED)  # only the labels the folder and the model share
    assert np.array(result["confusion_matrix"]).sum() == result["images"]
    truth = np.array([recogniser.classes.index(label) for label in labels])
    direct = (recogniser.classify(faces[..., np.newaxis]).argmax(axis=1) == truth).mean()
    assert abs(result["accuracy"] - direct) <= 0.1  # 224x224 and back to 48x48 changes a few pixels, not the score
    assert result["accuracy"] > 2 / len(recogniser.classes)  # far above chance on real faces
    written = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert written["accuracy"] == result["accuracy"] and written["skipped_classes"] == {"contempt": 5}
    assert (tmp_path / "report" / "per_class.csv").read_text().startswith("class,")
    predictions = pd.read_csv(tmp_path / "report" / "predictions.csv")
    assert len(predictions) == result["images"] and predictions["correct"].mean() == pytest.approx(result["accuracy"], abs=1e-4)
    assert sorted(set(predictions["true_label"])) == sorted(RENAMED)  # canonical labels, not the folder names
    assert all(Path(path).parent.name in RENAMED.values() and Path(path).exists() for path in predictions["file"])
    assert (predictions[["x", "y", "w", "h"]] == [0, 0, 224, 224]).all(axis=None)  # the whole image is the face
    probabilities = predictions[recogniser.classes].to_numpy()
    assert (predictions["label"] == [recogniser.classes[i] for i in probabilities.argmax(axis=1)]).all()
    assert (predictions["correct"] == (predictions["label"] == predictions["true_label"])).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    assert "broken.png" in (tmp_path / "report" / "skipped.csv").read_text()
    assert (tmp_path / "report" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_folder_with_face_detection_on_photos(recogniser, fer_dir, tmp_path):
    root = tmp_path / "photos"
    for label in ("happy", "surprise"):
        (root / label).mkdir(parents=True)
        for path in real_faces(fer_dir, "test", label, 6):
            canvas = np.full((480, 640), synthetic.BACKGROUND, np.uint8)
            tile = synthetic.face_tile(read_gray(path))
            canvas[100:100 + len(tile), 200:200 + len(tile)] = tile
            cv2.imwrite(str(root / label / f"{path.stem}.jpg"), cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
    cv2.imwrite(str(root / "happy" / "empty.jpg"), np.full((480, 640, 3), 128, np.uint8))
    evaluated = evaluation.evaluate_folder(recogniser, root, detect_faces=True)
    assert ("empty.jpg", "no face found") in [(s.path.rsplit("/", 1)[-1], s.reason) for s in evaluated.skipped_files]
    assert evaluated.result["images"] + len(evaluated.skipped_files) == 13
    assert evaluated.result["images"] >= 8  # Haar finds most upscaled FER2013 faces
    assert evaluated.result["detect_faces"] is True and evaluated.files == {}
    boxes = evaluated.predictions[["x", "y", "w", "h"]].to_numpy()
    assert len(boxes) == evaluated.result["images"]
    assert ((boxes[:, :2] >= [200, 100]) & (boxes[:, :2] + boxes[:, 2:] <= [200 + len(tile), 100 + len(tile)])
            & (boxes[:, 2:] >= 100)).all()  # the face found inside the tile pasted at (200, 100)


def test_evaluate_folder_on_fer2013_uses_its_test_split(recogniser, fer_dir, tmp_path):
    root = tmp_path / "fer_like"
    for split in ("train", "test"):
        (root / split / "happy").mkdir(parents=True)
        for path in real_faces(fer_dir, split, "happy", 3 if split == "test" else 7):
            cv2.imwrite(str(root / split / "happy" / path.name), read_gray(path))
    result = evaluation.evaluate_folder(recogniser, root).result
    assert result["split"] == "test" and result["images"] == 3


def test_evaluate_folder_refuses_what_it_cannot_score(recogniser, tmp_path):
    with pytest.raises(data.DataNotFoundError, match="No folder at"):
        evaluation.evaluate_folder(recogniser, tmp_path / "missing")
    (tmp_path / "only_contempt" / "contempt").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "only_contempt" / "contempt" / "a.png"), np.full((48, 48), 90, np.uint8))
    with pytest.raises(data.DataNotFoundError, match=r"knows .*; skipped classes \{'contempt': 1\}, 0 files skipped$"):
        evaluation.evaluate_folder(recogniser, tmp_path / "only_contempt")
    (tmp_path / "only_contempt" / "happy").mkdir()
    with pytest.raises(data.DataNotFoundError, match=r"0 files skipped, empty class folders \['happy'\]$"):
        evaluation.evaluate_folder(recogniser, tmp_path / "only_contempt")


def test_cli_evaluate(user_set, tmp_path, capsys):
    root, _, _ = user_set
    model = str(config.default_model_path())
    assert run_cli(["evaluate", model, str(root), "--output", str(tmp_path / "out"), "--runtime", "keras"], root) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == len(RENAMED) * PER_CLASS and summary["skipped_classes"] == {"contempt": 5}
    assert [entry.split(": ")[1] for entry in summary["skipped_files"]] == ["not a decodable image"]
    assert [Path(entry.split(": ")[0]).name for entry in summary["skipped_folders"]] == ["__MACOSX"]
    assert summary["empty_class_folders"] == ["fear"]
    assert (tmp_path / "out" / "confusion_matrix.png").exists()
    default = ["evaluate", str(root), "--output", str(tmp_path / "default_model"), "--runtime", "keras"]  # no MODEL:
    assert run_cli(default, root) == 0  # the shipped one (its quantised copy by default, which may move a face here)
    assert json.loads(capsys.readouterr().out)["accuracy"] == summary["accuracy"]
    assert run_cli(["evaluate", str(tmp_path / "nowhere")]) == 2
    assert "No folder at" in capsys.readouterr().err


def test_test_report_puts_tta_and_the_tflite_copy_beside_the_plain_pass(fer_dir):
    path = config.find_model()
    model = saving.load_model(path)[0]
    copy = lite.load_beside(path, model, "tflite")
    faces = [(read_gray(face), label) for label in ("happy", "fear", "surprise")
             for face in real_faces(fer_dir, "test", label, 10)]
    images = np.stack([face for face, _ in faces])[..., np.newaxis].astype("float32")
    classes = saving.read_metadata(path)["classes"]
    labels = np.array([classes.index(label) for _, label in faces])
    result, probabilities = evaluation.test_report(model, images, labels, classes, "flip", copy)
    assert np.allclose(probabilities, model.predict(images, verbose=0), atol=1e-5)
    assert result == evaluation.metrics(labels, probabilities, classes) | {
        "tta": {"mode": "flip"} | evaluation.headline(labels, evaluation.predict_probabilities(model, images, tta="flip"), classes),
        "tflite": evaluation.headline(labels, copy.predict(images), classes)}
    assert "tflite" not in evaluation.test_report(model, images, labels, classes, "none")[0]
    with pytest.raises(ValueError, match="flip"):
        evaluation.test_report(model, images, labels, classes, "mirror")
