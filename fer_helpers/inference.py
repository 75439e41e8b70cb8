"""Recognise expressions in images, folders, videos and webcams: detect faces, classify them in one batch.

    recogniser = Recogniser()                      # the shipped model, Haar cascade detector
    faces = recogniser.detect_emotions(frame)      # [Face(box, label, probabilities), ...]
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

from fer_helpers import data, lite, saving
from fer_helpers.config import (
    CANONICAL_CLASSES,
    IMAGE_SUFFIXES,
    find_model,
    model_origin,
)
from fer_helpers.detection import Detector, HaarDetector, crop_faces
from fer_helpers.files import atomic_write
from fer_helpers.sources import SourceError

if TYPE_CHECKING:  # a model's recorded TFLite copy runs without Keras and TensorFlow (9 s to import)
    import keras

BOX_COLOUR = (0, 255, 0)  # BGR
ANNOTATED = ".annotated"  # marks our annotated outputs: <name>.annotated.png, <name>.annotated.mp4
FACE_TABLE = ".faces"  # marks our face tables: <name>.faces.csv, <name>.faces.json
OWN_OUTPUTS = {f"{ANNOTATED}.png", f"{ANNOTATED}.mp4", f"{FACE_TABLE}.csv", f"{FACE_TABLE}.json"}
INTEGER_COLUMNS = ("frame", "face_id", "x", "y", "w", "h")
# metadata that describes the whole saved model, wrong for a Recogniser that runs only some of its networks
WHOLE_MODEL_METADATA = ("val_accuracy", "test_accuracy", "test_macro_f1", "tta_test_accuracy", "tflite_test_accuracy",
                        "networks", saving.DIGESTS)


@dataclass
class Face:
    """One recognised face: box (x, y, w, h), label, probability per class, and a track id in videos."""

    box: tuple[int, int, int, int]
    label: str
    probabilities: dict[str, float]
    face_id: int | None = None

    @property
    def confidence(self) -> float:
        """Probability of the predicted label."""
        return self.probabilities[self.label]


def to_gray(frame: np.ndarray) -> np.ndarray:
    """A uint8 grayscale frame from grayscale, BGR or BGRA input of any integer or float depth, or a PIL image."""
    if frame is None:
        raise ValueError("Expected a grayscale, BGR or BGRA frame; got None (cv2.imread gives None for a file it "
                         "cannot read, and a video's read() at its end)")
    if hasattr(frame, "convert") and hasattr(frame, "mode"):  # a PIL image: its colours are RGB, not OpenCV's BGR
        frame = frame.convert("L")
    frame = np.asarray(frame)
    if frame.size == 0 or frame.ndim not in (2, 3):
        raise ValueError(f"Expected a grayscale, BGR or BGRA frame; got an array of shape {frame.shape}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.dtype not in (np.uint8, np.uint16, np.float32):  # float64, int64, bool...: depths OpenCV cannot convert
        frame = frame.astype(np.float32)
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if frame.ndim != 2 or frame.size == 0:
        raise ValueError(f"Expected a grayscale, BGR or BGRA frame; got an array of shape {frame.shape}")
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        frame = np.clip(frame * (255 if frame.max() <= 1 else 1), 0, 255).astype(np.uint8)
    return frame


def model_classes(outputs: int, channels: int, metadata: dict, path: Path) -> list[str]:
    """The class names, in output order, of a model with `outputs` outputs taking `channels`-channel input: its
    metadata's, else (a model saved without metadata.json) FER2013's canonical order, with a warning that this is
    assumed; a model fer_helpers cannot feed is a clear error."""
    if channels != 1:
        raise saving.ModelMismatchError(f"{path} takes {channels}-channel input; fer_helpers feeds it grayscale faces "
                                        "(height, width, 1)")
    if metadata.get("classes"):
        return list(metadata["classes"])  # checked against the outputs when the model or its copy was loaded
    if outputs > len(CANONICAL_CLASSES):
        raise saving.ModelMismatchError(f"{path} has {outputs} outputs and no {saving.METADATA_FILE} naming its classes")
    assumed = list(CANONICAL_CLASSES[:outputs])
    warnings.warn(f"{path} has no {saving.METADATA_FILE} beside it: assuming its {outputs} outputs are {assumed} in that "
                  "order, for grayscale faces of 0-255 as fer_helpers' models take them; a model trained otherwise "
                  "(another class order, scaled or colour input) gives wrong labels", stacklevel=3)
    return assumed


class Recogniser:
    """A face detector plus an expression classifier from a .keras file or JSON + weights.

    runtime: 'auto' classifies with the quantised model.tflite beside the model when there is one that agrees
    with it (several times faster on a CPU), else with Keras; 'tflite' or 'keras' insist on one. A copy whose
    digest and the model's are those saving.save_model recorded is used without loading the Keras model at all
    (`model` loads it when asked for); any other copy is first compared with the Keras model.
    networks: run only the first N networks of an ensemble (the shipped model stores its best first), for CPUs too slow
    for all of them; their quantised copy is converted on loading, and the metadata's accuracy figures, network count and
    file digests, which are the whole model's, are dropped."""

    def __init__(self, model_path: str | Path | None = None, detector: Detector | None = None,
                 runtime: str = "auto", networks: int | None = None) -> None:
        self.path = find_model(model_path)
        self.detector = detector or HaarDetector()
        self._model = None
        try:
            self.metadata = saving.read_metadata(self.path)
            self._lite = saving.recorded_lite_copy(self.path, self.metadata, runtime) if networks is None else None
            if not self._lite:
                self._load_keras(runtime, networks)
        except ValueError as error:
            raise type(error)(f"{error}{model_origin(model_path)}") from None
        if self._model is None:  # the recorded copy alone
            self.networks = self.metadata["networks"]
            outputs, shape = self._lite.num_classes, self._lite.input_shape
        else:
            outputs, shape = self._model.output_shape[-1], self._model.input_shape[1:]
        self.classes = model_classes(outputs, shape[-1], self.metadata, self.path)
        self.input_size = tuple(shape[:2])
        self.runtime = "tflite" if self._lite else "keras"

    def _load_keras(self, runtime: str, networks: int | None) -> None:
        """Load the Keras model and its metadata, keep its first `networks` networks, and find or make their
        TFLite copy (None where the runtime or the files rule it out)."""
        from fer_helpers import models  # Keras and TensorFlow load here

        whole, self.metadata = saving.load_model(self.path)
        count = len(models.networks(whole)) if networks is None else networks
        self._model = models.first_networks(whole, count)  # a count out of range is a ValueError
        if self._model is whole:
            self._lite = lite.load_beside(self.path, self._model, runtime)
        else:
            self.metadata = {key: value for key, value in self.metadata.items() if key not in WHOLE_MODEL_METADATA}
            self._lite = lite.converted(self._model, runtime)
        self.networks = len(models.networks(self._model))

    @property
    def model(self) -> keras.Model:
        """The Keras model this recogniser classifies with, or whose TFLite copy it runs (loaded on first use)."""
        if self._model is None:
            self._model = saving.load_model(self.path)[0]
        return self._model

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of (n, h, w, 1) uint8 crops, in one compiled call."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self._lite(crops) if self._lite else np.asarray(self._model.predict_on_batch(crops))

    def boxes_and_probabilities(self, frame: np.ndarray | str | Path, detector: Detector | None = None
                                ) -> tuple[np.ndarray, np.ndarray]:
        """Face boxes of a frame or image file (from `detector`, default this recogniser's) and their class
        probabilities, all faces classified in one call."""
        gray = to_gray(read_image(frame) if isinstance(frame, (str, Path)) else frame)
        boxes = (detector or self.detector).detect(gray)
        return boxes, self.classify(crop_faces(gray, boxes, self.input_size))

    def detect_emotions(self, frame: np.ndarray | str | Path) -> list[Face]:
        """Every face in a frame (an array, or an image file's path) with its label and class probabilities
        (an empty list if none)."""
        return self.faces(*self.boxes_and_probabilities(frame))

    def faces(self, boxes: np.ndarray, probabilities: np.ndarray, ids: list[int] | None = None) -> list[Face]:
        """Face records from boxes and probability rows."""
        return [
            Face(
                tuple(int(v) for v in box),
                self.classes[int(np.argmax(row))],
                {name: float(p) for name, p in zip(self.classes, row)},
                ids[i] if ids else None,
            )
            for i, (box, row) in enumerate(zip(boxes, probabilities))
        ]


def face_rows(faces: list[Face], classes: list[str], **base) -> list[dict]:
    """Table rows, one per face (box, label, probability per class), or one row of blanks for no face."""
    if not faces:
        return [base | dict.fromkeys(["face_id", "x", "y", "w", "h", "label", *classes])]
    return [
        base | {"face_id": face.face_id if face.face_id is not None else i, "x": face.box[0], "y": face.box[1],
                "w": face.box[2], "h": face.box[3], "label": face.label}
        | {name: round(face.probabilities[name], 4) for name in classes}
        for i, face in enumerate(faces)
    ]


def face_table(rows: list[dict]) -> pd.DataFrame:
    """Rows from face_rows as a table whose whole-number columns stay whole numbers where a frame has no face."""
    table = pd.DataFrame(rows)
    return table.astype({column: "Int64" for column in INTEGER_COLUMNS if column in table})


def output_stems(paths: list[Path], root: Path | None = None) -> dict[Path, str]:
    """The name each input's outputs start with: its whole stem (`day1.part1`), or its whole file name where two
    inputs of one folder share a stem (`a.jpg`, `a.png`); with `root` (the folder searched), after the input's
    subfolder of it (`2019/a`), so that no output is written over by another's."""
    def subfolder(path: Path) -> Path:
        return path.parent.relative_to(root) if root else Path()

    counts = Counter((subfolder(path), path.stem) for path in paths)
    return {path: str(subfolder(path) / (path.stem if counts[subfolder(path), path.stem] == 1 else path.name))
            for path in paths}


def refuse_overwriting_inputs(outputs: list[Path], inputs: list[Path]) -> None:
    """Stop before any output would replace an input."""
    clashes = {str(o) for o in outputs} & {str(i) for i in inputs} or {
        str(o) for o in outputs for i in inputs if o.exists() and i.exists() and o.samefile(i)}
    if clashes:
        raise SourceError(f"Refusing to write over inputs {sorted(clashes)}: choose another --output folder")


def analyse_images(recogniser: Recogniser, paths: list[Path], output_dir: str | Path, root: Path | None = None
                   ) -> tuple[pd.DataFrame, list[str], list[Path]]:
    """Annotated copies (<name>.annotated.png) in output_dir, in the inputs' own subfolders of `root` (the folder
    searched) if given, and a table of every face; unreadable files are skipped and listed. Returns the table, the
    skipped files and the annotated files written."""
    output_dir = Path(output_dir)
    stems = output_stems(paths, root)
    annotated = {path: output_dir / f"{stems[path]}{ANNOTATED}.png" for path in paths}
    refuse_overwriting_inputs(list(annotated.values()), paths)
    for folder in {file.parent for file in annotated.values()}:
        folder.mkdir(parents=True, exist_ok=True)
    rows, skipped, written = [], [], []
    for path in paths:
        try:
            image = read_image(path)
        except SourceError as error:
            skipped.append(str(error))
            continue
        faces = recogniser.detect_emotions(image)
        drawn = draw_faces(image, faces)
        atomic_write(annotated[path], lambda tmp, drawn=drawn: write_image(tmp, drawn))
        written.append(annotated[path])
        rows.extend(face_rows(faces, recogniser.classes, file=str(path)))
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} of {len(paths)} files: " + "; ".join(skipped))
    return face_table(rows), skipped, written


def write_image(path: Path, image: np.ndarray) -> None:
    """Encode an image by its suffix and write it (cv2.imwrite fails silently; this does not)."""
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise SourceError(f"OpenCV could not encode an image as {path.suffix}")
    path.write_bytes(encoded.tobytes())


def draw_faces(frame: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A BGR copy of the frame with each face's box, label and confidence drawn on it."""
    canvas = cv2.cvtColor(to_gray(frame), cv2.COLOR_GRAY2BGR) if np.ndim(frame) == 2 or frame.shape[2] != 3 else frame.copy()
    for face in faces:
        x, y, w, h = face.box
        text = f"{face.label} {face.confidence:.0%}" + (f" #{face.face_id}" if face.face_id is not None else "")
        cv2.rectangle(canvas, (x, y), (x + w, y + h), BOX_COLOUR, 2)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 1)
        top = max(y - th - 8, 0)
        cv2.rectangle(canvas, (x, top), (x + tw + 6, top + th + 8), BOX_COLOUR, -1)
        cv2.putText(canvas, text, (x + 3, top + th + 3), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def read_image(path: str | Path) -> np.ndarray:
    """An image file as a BGR or grayscale array, upright; a clear error names a missing, truncated or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"No image at {path}")
    image, _, reason = data.read_image_file(path)
    if image is None:
        raise SourceError(f"Cannot read {path} as an image ({reason})")
    return image


def image_files(folder: str | Path, recursive: bool = False) -> tuple[list[Path], list[Path]]:
    """Image files of a folder (and its subfolders if recursive) by suffix, sorted, and the other files, left out; our
    own outputs (annotated copies, face tables) and hidden files are in neither list, so a folder that is also the
    output folder is not analysed twice."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"No folder at {folder}")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(p for p in candidates if p.is_file() and not p.name.startswith(".") and not own_output(p))
    found = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    others = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    if not found:
        hint = "" if recursive else " (folders are not searched recursively; use --recursive)"
        if others:
            hint += f"; {len(others)} other file(s) left out: images are found by suffix ({', '.join(sorted(IMAGE_SUFFIXES))})"
        raise SourceError(f"No images found in {folder}{hint}")
    return found, others


def own_output(path: Path) -> bool:
    """Whether a file is one this tool writes: <name>.annotated.png or .mp4, <name>.faces.csv or .json."""
    return "".join(path.suffixes[-2:]).lower() in OWN_OUTPUTS
