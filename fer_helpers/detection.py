"""Finding faces: detectors behind one interface (boxes of x, y, width, height in a grayscale frame),
tracking between full-frame scans for videos, and cutting out the face crops a classifier sees.

    detector = HaarDetector()                         # OpenCV's Haar cascade, the original design's detector
    boxes = detector.detect(gray)                     # (n, 4) int array
    tracked = TrackingDetector(detector)              # for videos: full scans every 10 frames, tracking between
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from fer_helpers.config import IMAGE_SIZE

NEAR_FACE_PIXELS = 64  # a known face is re-found at about this size: cheap, and well above Haar's 24 px window
TEMPLATE_PIXELS = 32  # a known face is followed by matching a copy of it shrunk to this size
REDETECT_EVERY = 10  # video: frames between full scans; known faces are followed in between


class Detector(Protocol):
    """Anything that finds faces: boxes (x, y, width, height) in a grayscale frame."""

    def detect(self, gray: np.ndarray) -> np.ndarray: ...


@dataclass
class HaarDetector:
    """OpenCV's Haar cascade (the original design's detector), run on a copy at most `detect_width`
    pixels wide (boxes are scaled back), which is 2-4x faster on 640x480 frames and finds the same faces."""

    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 40
    detect_width: int | None = 320
    cascade: str = "haarcascade_frontalface_default.xml"

    def __post_init__(self) -> None:
        if not self.scale_factor > 1:
            raise ValueError(f"scale_factor must be above 1 (each pyramid step shrinks the image), got {self.scale_factor}")
        if self.min_neighbors < 0 or self.min_size < 1:
            raise ValueError(f"min_neighbors must be at least 0 and min_size at least 1, got {self.min_neighbors} "
                             f"and {self.min_size}")
        self._classifier = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, self.cascade))
        if self._classifier.empty():
            raise FileNotFoundError(f"OpenCV could not load the cascade {self.cascade} from {cv2.data.haarcascades}")

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes as an (n, 4) int array of x, y, width, height."""
        small, scale = shrink(gray, self.detect_width)
        boxes = self._classifier.detectMultiScale(
            small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(max(int(self.min_size * scale), 1),) * 2,
        )
        return np.round(np.asarray(boxes, dtype=float).reshape(-1, 4) / scale).astype(int)

    def detect_near(self, gray: np.ndarray, box: np.ndarray, margin: float = 0.5) -> np.ndarray:
        """The face near a known box: search only around it and only at sizes close to it (a few
        pyramid levels instead of all), so following a face costs a fraction of a full-frame scan."""
        scale = min(1.0, NEAR_FACE_PIXELS / max(box[2:]))
        small, x0, y0 = surroundings(gray, box, margin, scale)
        if min(small.shape) == 0:
            return np.zeros((0, 4), int)
        side = max(box[2:]) * scale
        found = self._classifier.detectMultiScale(
            small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(int(side * 0.7),) * 2, maxSize=(int(side * 1.4) + 1,) * 2,
        )
        if len(found) == 0:
            return np.zeros((0, 4), int)
        best = np.asarray(max(found, key=lambda b: b[2] * b[3]), dtype=float) / scale
        return np.round(best + [x0, y0, 0, 0]).astype(int).reshape(1, 4)


@dataclass
class MTCNNDetector:
    """MTCNN, a three-stage convolutional face detector (the `mtcnn` package, whose weights ship inside it):
    finds turned, tilted and partly hidden faces that Haar misses, at a higher cost per frame. Run on a copy at
    most `detect_width` pixels wide; its boxes (taller than wide) are made square around the face's centre,
    as Haar's are, so crops look like FER2013's."""

    min_confidence: float = 0.9
    min_size: int = 40
    detect_width: int | None = 320

    def __post_init__(self) -> None:
        try:
            from mtcnn import MTCNN
        except ImportError:
            raise ImportError("MTCNNDetector needs the mtcnn package: pip install mtcnn") from None
        self._network = MTCNN()

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes as an (n, 4) int array of x, y, width, height."""
        small, scale = shrink(gray, self.detect_width)
        found = self._network.detect_faces(cv2.cvtColor(small, cv2.COLOR_GRAY2RGB),
                                           min_face_size=max(int(self.min_size * scale), 12))
        boxes = np.array([face["box"] for face in found if face["confidence"] >= self.min_confidence], float)
        return square_boxes(boxes.reshape(-1, 4) / scale, gray.shape)


DETECTORS = {"haar": HaarDetector, "mtcnn": MTCNNDetector}


def make_detector(name: str, **options) -> Detector:
    """A detector by its name in DETECTORS."""
    if name not in DETECTORS:
        raise ValueError(f"Unknown detector {name!r}; choose one of {sorted(DETECTORS)}")
    return DETECTORS[name](**options)


def shrink(gray: np.ndarray, width: int | None) -> tuple[np.ndarray, float]:
    """The frame resized to at most `width` pixels wide (unchanged if narrower or None), and the scale used."""
    scale = width / gray.shape[1] if width and gray.shape[1] > width else 1.0
    return (cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray), scale


def square_boxes(boxes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Boxes made square (side: the mean of width and height) around their centres, kept inside the frame."""
    if not len(boxes):
        return np.zeros((0, 4), int)
    side = np.minimum((boxes[:, 2] + boxes[:, 3]) / 2, min(shape[:2]))
    x = np.clip(boxes[:, 0] + boxes[:, 2] / 2 - side / 2, 0, shape[1] - side)
    y = np.clip(boxes[:, 1] + boxes[:, 3] / 2 - side / 2, 0, shape[0] - side)
    return np.round(np.stack([x, y, side, side], axis=1)).astype(int)


@dataclass
class TrackingDetector:
    """For videos: a full-frame scan every `redetect_every` frames (and whenever no face is known); in
    between, each known face is followed by matching its last detected appearance near its last box
    (a shrunk template: well under a millisecond), and the cascade searches near that box only when the
    match is weaker than `min_match` (normalised correlation, e.g. when a face turns or changes). Works with
    any Detector: one with its own `detect_near` (Haar) uses it, any other is run on the face's surroundings."""

    detector: Detector
    redetect_every: int = REDETECT_EVERY
    min_match: float = 0.6
    _last: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), int))
    _templates: list[np.ndarray] = field(default_factory=list)
    _frames: int = 0
    _shape: tuple[int, ...] = ()

    def detect(self, gray: np.ndarray) -> np.ndarray:
        """Face boxes of this frame (a frame of another size than the last starts afresh with a full scan:
        a browser camera can change resolution mid-stream)."""
        if self._frames % self.redetect_every == 0 or not len(self._last) or gray.shape != self._shape:
            boxes = self.detector.detect(gray)
            self._templates = [face_template(gray, box) for box in boxes]
        else:
            found = [self._follow(gray, box, template) for box, template in zip(self._last, self._templates)]
            kept = [pair for pair in found if pair is not None]
            boxes = np.array([box for box, _ in kept], int).reshape(-1, 4)
            self._templates = [template for _, template in kept]
        self._frames += 1
        self._last, self._shape = boxes, gray.shape
        return boxes

    def _follow(self, gray: np.ndarray, box: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The face's new box and template: by template matching, else by the cascade near it; None if lost."""
        moved = match_template(gray, box, template, self.min_match)
        if moved is not None:
            return moved, template
        near = detect_near(self.detector, gray, box)
        return (near[0], face_template(gray, near[0])) if len(near) else None


def detect_near(detector: Detector, gray: np.ndarray, box: np.ndarray, margin: float = 0.5) -> np.ndarray:
    """The face near a known box: the detector's own `detect_near` where it has one, else its `detect` on the
    frame within `margin` face sizes of the box (the largest face found there), as a (0 or 1, 4) array."""
    if hasattr(detector, "detect_near"):
        return detector.detect_near(gray, box, margin)
    region, x0, y0 = surroundings(gray, box, margin, 1.0)
    if min(region.shape) == 0:
        return np.zeros((0, 4), int)
    found = np.asarray(detector.detect(region)).reshape(-1, 4)
    if len(found) == 0:
        return np.zeros((0, 4), int)
    best = found[np.argmax(found[:, 2] * found[:, 3])]
    return (best + [x0, y0, 0, 0]).astype(int).reshape(1, 4)


def surroundings(gray: np.ndarray, box: np.ndarray, margin: float, scale: float) -> tuple[np.ndarray, int, int]:
    """The frame within `margin` face sizes of `box`, resized by `scale`, and its top-left corner in the frame."""
    x, y, w, h = box
    pad = int(margin * max(w, h))
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    region = gray[y0 : y + h + pad, x0 : x + w + pad]
    resize = scale != 1 and min(region.shape) > 0 and min(round(side * scale) for side in region.shape) > 0
    return (cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if resize else region), x0, y0


def face_template(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A face's appearance shrunk to TEMPLATE_PIXELS square, for following it by template matching."""
    return crop_faces(gray, np.asarray(box).reshape(1, 4), (TEMPLATE_PIXELS, TEMPLATE_PIXELS))[0, ..., 0]


def match_template(gray: np.ndarray, box: np.ndarray, template: np.ndarray, min_match: float,
                   margin: float = 0.25) -> np.ndarray | None:
    """Where `template` matches best within `margin` face sizes of `box` (same size as box), or None
    if the best normalised correlation is below `min_match`."""
    scale = TEMPLATE_PIXELS / max(box[2:])
    region, x0, y0 = surroundings(gray, box, margin, scale)
    if region.shape[0] < TEMPLATE_PIXELS or region.shape[1] < TEMPLATE_PIXELS:
        return None
    _, best, _, (mx, my) = cv2.minMaxLoc(cv2.matchTemplate(region, template, cv2.TM_CCOEFF_NORMED))
    if best < min_match:
        return None
    return np.array([round(x0 + mx / scale), round(y0 + my / scale), box[2], box[3]])


def crop_faces(gray: np.ndarray, boxes: np.ndarray, size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """The face crops resized to `size`, as one (n, h, w, 1) uint8 batch."""
    crops = [cv2.resize(gray[y : y + h, x : x + w], size[::-1], interpolation=cv2.INTER_AREA) for x, y, w, h in boxes]
    return np.stack(crops)[..., np.newaxis] if crops else np.zeros((0, *size, 1), np.uint8)
