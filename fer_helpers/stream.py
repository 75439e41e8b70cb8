"""A live stream in the notebook from a camera on the kernel's machine or a video file: annotated frames
pushed as JPEG into an ipywidgets.Image (the browser's camera is `browser_camera.BrowserCamera`).

Start runs the loop in a background thread, so Stop stays clickable in JupyterLab; `run()` is the
same loop in the foreground, for papermill and tests.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path

import cv2
import ipywidgets as widgets

from fer_helpers.inference import Recogniser
from fer_helpers.sources import SourceError, VideoSource
from fer_helpers.tracking import FaceTracker
from fer_helpers.video import analyse_frames

JPEG_QUALITY = 80
FPS_WINDOW = 30  # frames in the rolling frames-per-second readout
LIVE_SOURCES = ("auto", "browser", "server", "video")
JUPYTER_SERVER_ENV = "JPY_SESSION_NAME"  # set by Jupyter Server for the kernels it starts (JupyterLab, Notebook 7, JupyterHub)


def choose_live_source(choice: str) -> str:
    """'browser' (the browser's camera), 'server' (a camera on the kernel's machine) or 'video' (the video
    file); 'auto' is the browser's camera where a Jupyter server started this kernel, so a browser is there,
    and the video file elsewhere (papermill, nbval)."""
    if choice not in LIVE_SOURCES:
        raise ValueError(f"Unknown live source {choice!r}; choose one of {LIVE_SOURCES}")
    if choice != "auto":
        return choice
    return "browser" if os.environ.get(JUPYTER_SERVER_ENV) else "video"


def open_source(camera: int | None, fallback_video: str | Path | None) -> tuple[VideoSource, str]:
    """The webcam if one opens, else the fallback video; and a sentence saying which."""
    if camera is not None:
        try:
            return VideoSource(camera), f"Streaming webcam {camera}."
        except SourceError as error:
            if not fallback_video:
                raise
            reason = str(error)
    else:
        reason = "No webcam requested."
    return VideoSource(fallback_video), f"{reason} Streaming {fallback_video} instead."


class LiveStream:
    """Image widget, Start/Stop buttons and an FPS readout over a recogniser and a video source."""

    def __init__(self, recogniser: Recogniser, source: VideoSource, tracker: FaceTracker | None = None,
                 max_frames: int | None = None, every_n_frames: int = 1) -> None:
        self.recogniser, self.source, self.tracker = recogniser, source, tracker or FaceTracker()
        self.max_frames, self.every_n_frames = max_frames, every_n_frames
        self.image = widgets.Image(format="jpeg", width=source.size[0])
        self.readout = widgets.Label("stopped")
        self.start_button = widgets.Button(description="Start", icon="play")
        self.stop_button = widgets.Button(description="Stop", icon="stop")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.frames_shown = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def widget(self) -> widgets.VBox:
        """The stream's controls and image, ready to display."""
        return widgets.VBox([widgets.HBox([self.start_button, self.stop_button, self.readout]), self.image])

    def run(self) -> dict:
        """Stream until the source ends, max_frames, or Stop; return frames pushed and mean FPS."""
        self._stop.clear()
        times: deque[float] = deque(maxlen=FPS_WINDOW)
        started = time.perf_counter()
        frames = analyse_frames(self.recogniser, self.source, self.source.fps, self.tracker,
                                self.every_n_frames, self.max_frames)
        for result in frames:
            ok, jpeg = cv2.imencode(".jpg", result.annotated, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if ok:
                self.image.value = jpeg.tobytes()
                self.frames_shown += 1
            times.append(time.perf_counter())
            if len(times) > 1:
                self.readout.value = f"{(len(times) - 1) / (times[-1] - times[0]):.1f} frames/s, {len(result.faces)} face(s)"
            if self._stop.is_set():
                break
        seconds = time.perf_counter() - started
        return {"frames": self.frames_shown, "fps": self.frames_shown / seconds if seconds else 0.0}

    def start(self) -> None:
        """Run the stream in a background thread (the notebook stays responsive)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self.run, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the stream to stop after the current frame."""
        self._stop.set()
