"""The browser's camera as a live source for a notebook: most people who run JupyterLab on a server, a
JupyterHub or a cloud notebook have their camera in the browser, not on the machine that runs the kernel.

    camera = BrowserCamera(recogniser)      # frames from getUserMedia -> kernel -> annotated frames back
    display(camera.view())                  # Start / Stop, the annotated picture, frames analysed per second
    camera.save("artifacts/browser")        # what it saw: per-frame CSV/JSON and timeline, as for videos

Built on anywidget. Each frame goes through the same FrameAnalyser as video files (detector, tracking,
smoothing). The front end keeps one frame in flight: while the kernel works, newer camera frames are dropped,
not queued, so the picture stays current (about one analysis behind).
"""

from __future__ import annotations

import html
import time
from collections import deque
from pathlib import Path

import anywidget
import cv2
import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from fer_helpers.inference import Recogniser, face_table
from fer_helpers.tracking import FaceTracker
from fer_helpers.video import FrameAnalyser, frame_rows, video_outputs, write_timeline

JPEG_QUALITY = 80
FPS_WINDOW = 30  # frames in the rolling frames-per-second readout
NOT_LOADED = ("<b>Waiting for the browser camera's front end.</b> If this line stays and no Start button appears, "
              "the widget could not load in this page: install anywidget in the kernel's environment "
              "(<code>pip install anywidget</code>), reload the page and run the cell again.")


class BrowserCamera(anywidget.AnyWidget):
    """Start/Stop, the annotated frames and an FPS readout for the browser's camera, analysed in the kernel."""

    _esm = Path(__file__).with_name("browser_camera.js")
    _css = """
    .fer-camera-bar { display: flex; gap: 8px; align-items: center; margin-bottom: 4px; }
    .fer-camera-status[data-problem="yes"] { color: #b00020; font-weight: bold; }
    .fer-camera-image { max-width: 100%; }
    .fer-camera-video { display: none; }
    """
    max_width = traitlets.Int(640).tag(sync=True)  # frames wider than this are shrunk in the browser before sending
    jpeg_quality = traitlets.Int(JPEG_QUALITY).tag(sync=True)

    def __init__(self, recogniser: Recogniser, tracker: FaceTracker | None = None, every_n_frames: int = 1,
                 record: bool = True) -> None:
        super().__init__()
        self.analyser = FrameAnalyser(recogniser, tracker, every_n_frames)
        self.record, self.rows = record, []
        self.frames_shown = self.frames_skipped = 0
        self.problems: list[str] = []
        self.front_end_ready = False
        self.notice = widgets.HTML(NOT_LOADED)
        self._times: deque[float] = deque(maxlen=FPS_WINDOW)
        self._started: float | None = None
        self.on_msg(self._on_message)

    def view(self) -> widgets.VBox:
        """The widget under a notice that stays only if its front end never loads."""
        return widgets.VBox([self.notice, self])

    def _on_message(self, _widget, content: dict, buffers: list) -> None:
        """Messages from the front end: ready, a frame to analyse, a problem with the camera."""
        kind = content.get("type")
        if kind == "ready":
            self.front_end_ready, self.notice.value = True, ""
        elif kind == "frame" and buffers:
            encoded, faces, problem = self.analyse_jpeg(bytes(buffers[0]))
            self.send({"type": "annotated", "sent": content.get("sent", 0), "fps": self.fps(), "faces": faces,
                       "problem": problem}, [encoded] if encoded else None)
        elif kind == "problem":
            self.problems.append(str(content.get("message")))
            self.notice.value = f"<b>{html.escape(self.problems[-1])}</b>"

    def analyse_jpeg(self, encoded: bytes) -> tuple[bytes | None, list[str], str]:
        """One frame from the browser: the annotated frame as JPEG and its faces as 'label 0.87' strings, or
        None and the reason when the bytes are no image (counted in frames_skipped)."""
        frame = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR) if encoded else None
        if frame is None or frame.size == 0:
            self.frames_skipped += 1
            return None, [], f"{self.frames_skipped} frame(s) from the browser could not be decoded and were skipped"
        now = time.perf_counter()
        self._started = self._started or now
        result = self.analyser.step(frame, now - self._started)
        if self.record and result.analysed:
            self.rows.extend(frame_rows(result, self.analyser.recogniser.classes))
        self.frames_shown += 1
        self._times.append(now)
        ok, jpeg = cv2.imencode(".jpg", result.annotated, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        return (jpeg.tobytes() if ok else None), [f"{face.label} {face.confidence:.2f}" for face in result.faces], ""

    def fps(self) -> float:
        """Frames analysed per second over the last FPS_WINDOW frames."""
        return (len(self._times) - 1) / (self._times[-1] - self._times[0]) if len(self._times) > 1 else 0.0

    def timeline(self) -> pd.DataFrame:
        """What the camera saw: one row per face per analysed frame (a frame without faces too), as for videos."""
        return face_table(self.rows)

    def save(self, output: str | Path) -> dict[str, Path]:
        """Write the timeline as <output>.faces.csv, .faces.json and .timeline.png; return the paths."""
        files = {kind: path for kind, path in video_outputs(Path(output)).items() if kind != "video"}
        write_timeline(self.timeline(), files, self.analyser.recogniser.classes)
        return files
