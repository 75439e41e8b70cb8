"""Where video frames come from: a video file or a webcam, read one frame at a time (VideoSource), and the error
that names an input that cannot be opened or read (SourceError). OpenCV only, so the command line opens a camera
before loading TensorFlow."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np


class SourceError(OSError):
    """An image, video or webcam that cannot be opened or read; the message names it."""


@dataclass
class VideoSource:
    """Frames streamed from a video file or webcam index, one at a time (never all held); `seconds` is the time of
    the frame last read."""

    source: str | Path | int
    fps: float = field(init=False)
    frame_count: int = field(init=False)
    size: tuple[int, int] = field(init=False)
    seconds: float = field(init=False, default=0.0)
    frames_read: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        is_camera = isinstance(self.source, int)
        if is_camera and self.source < 0:
            raise SourceError(f"Webcam index must be 0 or more, got {self.source}")
        if not is_camera and not Path(self.source).is_file():
            raise SourceError(f"No video at {self.source}")
        self._capture = cv2.VideoCapture(self.source if is_camera else str(self.source))
        ok, first = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok:
            self._capture.release()
            what = f"Webcam {self.source} could not be opened (none attached, or in use)" if is_camera else (
                f"Cannot read video {self.source} (corrupt, or a format OpenCV cannot decode)"
            )
            raise SourceError(what)
        self._first = first
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or 30.0
        self._stamp()
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)) if not is_camera else 0
        self.size = (first.shape[1], first.shape[0])

    def __iter__(self) -> Iterator[np.ndarray]:
        """Frames in order from where reading stopped; the source is released at its end."""
        frame, self._first = self._first, None
        frame = frame if frame is not None else self._read()
        while frame is not None:
            yield frame
            frame = self._read()
        self.close()

    def _read(self) -> np.ndarray | None:
        """The next frame, or None at the end."""
        ok, frame = self._capture.read() if self._capture.isOpened() else (False, None)
        if ok:
            self._stamp()
        return frame if ok else None

    def _stamp(self) -> None:
        """Record the time of the frame just read: a file's own timestamp, which stays right when the frame rate
        varies (phones record so; the declared rate is then an average), else one frame after the last."""
        stamp = -1.0 if isinstance(self.source, int) else self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
        following = self.seconds + 1 / self.fps if self.frames_read else 0.0
        usable = math.isfinite(stamp) and stamp >= 0 and (not self.frames_read or stamp > self.seconds)
        self.seconds = stamp if usable else following
        self.frames_read += 1

    def close(self) -> None:
        """Release the file or camera."""
        self._capture.release()
