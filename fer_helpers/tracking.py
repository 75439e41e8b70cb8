"""Following faces across video frames: each frame's faces are matched to tracks by box overlap, and each
track's probabilities are smoothed over time. NumPy only, so the command line reads its options' defaults
here without loading TensorFlow."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

SMOOTHING = ("none", "ema", "mean")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0, min(ax2, bx2) - max(a[0], b[0])) * max(0, min(ay2, by2) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


@dataclass
class Track:
    """One face followed across frames: its last box and recent probabilities."""

    face_id: int
    box: np.ndarray
    last_frame: int
    history: deque
    smoothed: np.ndarray | None = None


@dataclass
class FaceTracker:
    """Match faces to tracks by box overlap and smooth each track's probabilities over time.

    smoothing: 'none', 'ema' (exponential, weight `alpha` on the newest frame) or 'mean' (moving
    average over `window` frames). A track unseen for `max_missing` analysed frames is dropped.
    """

    smoothing: str = "ema"
    alpha: float = 0.4
    window: int = 5
    min_iou: float = 0.3
    max_missing: int = 10
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 0

    def __post_init__(self) -> None:
        if self.smoothing not in SMOOTHING:
            raise ValueError(f"Unknown smoothing {self.smoothing!r}; choose one of {SMOOTHING}")
        if not 0 < self.alpha <= 1 or self.window < 1:
            raise ValueError("alpha must be in (0, 1] and window at least 1")

    def update(self, frame: int, boxes: np.ndarray, probabilities: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Track ids and smoothed probabilities for this frame's faces."""
        ids, smoothed = [], np.zeros_like(probabilities)
        free = list(self.tracks)
        for i in np.argsort([-b[2] * b[3] for b in boxes]):  # biggest faces pick first
            best = max(free, key=lambda t: iou(t.box, boxes[i]), default=None)
            if best is None or iou(best.box, boxes[i]) < self.min_iou:
                best = Track(self._next_id, boxes[i], frame, deque(maxlen=self.window))
                self._next_id += 1
                self.tracks.append(best)
            else:
                free.remove(best)
            best.box, best.last_frame = boxes[i], frame
            smoothed[i] = self._smooth(best, probabilities[i])
            ids.append((i, best.face_id))
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= self.max_missing]
        return [face_id for _, face_id in sorted(ids)], smoothed

    def _smooth(self, track: Track, row: np.ndarray) -> np.ndarray:
        """Fold one frame's probabilities into a track."""
        track.history.append(row)
        if self.smoothing == "mean":
            track.smoothed = np.mean(track.history, axis=0)
        elif self.smoothing == "ema" and track.smoothed is not None:
            track.smoothed = self.alpha * row + (1 - self.alpha) * track.smoothed
        else:
            track.smoothed = row
        return track.smoothed
