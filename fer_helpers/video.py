"""Videos: track faces across frames, smooth their probabilities, write an annotated video and a timeline.

Frames are streamed, so memory stays flat however long the video is.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fer_helpers.detection import REDETECT_EVERY, TrackingDetector
from fer_helpers.files import atomic_write, partial_file
from fer_helpers.inference import (
    ANNOTATED,
    FACE_TABLE,
    Face,
    Recogniser,
    draw_faces,
    face_rows,
    face_table,
    refuse_overwriting_inputs,
)
from fer_helpers.sources import VideoSource
from fer_helpers.tracking import FaceTracker

VIDEO_CODEC = "mp4v"
EARLY_END_SLACK = 0.05  # share of a container's declared frame count that may be missing before we warn: the
# count is often an estimate (duration x fps); the real no_face.mp4 declares 98 frames and holds 95


@dataclass
class FrameResult:
    """What one analysed frame holds."""

    index: int
    seconds: float
    faces: list[Face]
    annotated: np.ndarray
    analysed: bool = True


class FrameAnalyser:
    """Frames in, one at a time (from a file, a webcam or a browser): faces found (full scans every
    `redetect_every` analysed frames, tracking in between), classified in one call per frame, tracked and
    smoothed by `tracker`; every `every_n_frames`-th frame is analysed and the others reuse the last faces."""

    def __init__(self, recogniser: Recogniser, tracker: FaceTracker | None = None, every_n_frames: int = 1,
                 redetect_every: int = REDETECT_EVERY) -> None:
        if every_n_frames < 1 or redetect_every < 1:
            raise ValueError("every_n_frames and redetect_every must be at least 1")
        self.recogniser, self.tracker = recogniser, tracker or FaceTracker()
        self.every_n_frames = every_n_frames
        given = recogniser.detector  # a TrackingDetector already tracks (with its own settings): used as it is
        self.detector = given if isinstance(given, TrackingDetector) else TrackingDetector(given, redetect_every)
        self.index, self.faces = 0, []

    def step(self, frame: np.ndarray, seconds: float) -> FrameResult:
        """The next frame's faces and its annotated copy; `seconds` is its time in the stream."""
        analysed = self.index % self.every_n_frames == 0
        if analysed:
            boxes, probabilities = self.recogniser.boxes_and_probabilities(frame, self.detector)
            ids, smoothed = self.tracker.update(self.index, boxes, probabilities)
            self.faces = self.recogniser.faces(boxes, smoothed, ids)
        result = FrameResult(self.index, seconds, self.faces, draw_faces(frame, self.faces), analysed)
        self.index += 1
        return result


def frame_rows(result: FrameResult, classes: list[str]) -> list[dict]:
    """The table rows of one analysed frame (one per face, or one empty row for a frame without faces)."""
    return face_rows(result.faces, classes, frame=result.index, time_s=round(result.seconds, 3))


def analyse_frames(
    recogniser: Recogniser,
    frames: Iterable[np.ndarray],
    fps: float,
    tracker: FaceTracker | None = None,
    every_n_frames: int = 1,
    max_frames: int | None = None,
    redetect_every: int = REDETECT_EVERY,
) -> Iterator[FrameResult]:
    """Recognise, track and smooth faces frame by frame (FrameAnalyser over a sequence of frames at `fps`, or at the
    times a VideoSource reads from its file)."""
    analyser = FrameAnalyser(recogniser, tracker, every_n_frames, redetect_every)
    for index, frame in enumerate(frames):
        if max_frames is not None and index >= max_frames:
            break
        yield analyser.step(frame, frames.seconds if isinstance(frames, VideoSource) else index / fps)


@dataclass
class VideoReport:
    """Outputs of analyse_video: the table, the files written and anything that went wrong on the way."""

    table: pd.DataFrame
    frames: int
    analysed_frames: int
    seconds: float
    files: dict[str, Path]
    warnings: list[str] = field(default_factory=list)


def video_outputs(output: Path) -> dict[str, Path]:
    """The files for one video, named by `output` kept whole (`out/day1.part1` gives `out/day1.part1.annotated.mp4`)."""
    return {"video": output.with_name(f"{output.name}{ANNOTATED}.mp4"), "csv": output.with_name(f"{output.name}{FACE_TABLE}.csv"),
            "json": output.with_name(f"{output.name}{FACE_TABLE}.json"), "timeline": output.with_name(f"{output.name}.timeline.png")}


def analyse_video(
    recogniser: Recogniser,
    source: str | Path | int | VideoSource,
    output: str | Path,
    *,
    tracker: FaceTracker | None = None,
    every_n_frames: int = 1,
    max_frames: int | None = None,
    redetect_every: int = REDETECT_EVERY,
    progress: bool = True,
) -> VideoReport:
    """Annotated video (<output>.annotated.mp4), per-frame table (<output>.faces.csv, .json) and timeline
    (<output>.timeline.png) of a video (a path, a webcam index or an opened VideoSource, closed at the end). Each
    file is written whole or not at all, never over the input."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    files = video_outputs(Path(output))
    video = source if isinstance(source, VideoSource) else VideoSource(source)
    total = min(filter(None, [video.frame_count, max_frames]), default=None)
    rows, frames, analysed, started = [], 0, 0, time.perf_counter()
    try:
        if not isinstance(video.source, int):
            refuse_overwriting_inputs(list(files.values()), [Path(video.source)])
        with partial_file(files["video"]) as partial:
            writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*VIDEO_CODEC), video.fps, video.size)
            try:
                for result in tqdm(analyse_frames(recogniser, video, video.fps, tracker, every_n_frames, max_frames,
                                                  redetect_every), total=total, disable=not progress, unit="frame"):
                    writer.write(result.annotated)
                    frames += 1
                    if result.analysed:
                        analysed += 1
                        rows.extend(frame_rows(result, recogniser.classes))
            finally:
                writer.release()  # before partial_file renames it into place
    finally:
        video.close()
    table = face_table(rows)
    write_timeline(table, files, recogniser.classes)
    problems = [message for message in [ended_early(video.source, frames, video.frame_count, max_frames)] if message]
    for message in problems:
        warnings.warn(message)
    return VideoReport(table, frames, analysed, time.perf_counter() - started, files, problems)


def write_timeline(table: pd.DataFrame, files: dict[str, Path], classes: list[str]) -> None:
    """The per-frame table as CSV and JSON and its timeline plot, each written whole, to the paths in `files`."""
    atomic_write(files["csv"], lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(files["json"], lambda tmp: tmp.write_text(json.dumps(json.loads(table.to_json(orient="records")), indent=1)))
    figure = timeline_figure(table, classes)
    atomic_write(files["timeline"], lambda tmp: figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    plt.close(figure)


def ended_early(source: str | Path | int, frames: int, declared: int, max_frames: int | None) -> str | None:
    """A warning when a video file gave fewer frames than its container declares (cut short or damaged)."""
    expected = min(declared, max_frames) if max_frames else declared
    if declared and expected - frames > max(1, EARLY_END_SLACK * expected):
        return (f"{source}: read {frames} of the {declared} frames the file declares; "
                "it ends early (cut short or damaged), so the results stop there")
    return None


def timeline_figure(table: pd.DataFrame, classes: list[str]) -> plt.Figure:
    """Probability of each expression over time, one panel per tracked face (up to four)."""
    tracked = table.dropna(subset=["face_id"])
    ids = tracked["face_id"].value_counts().index[:4] if len(tracked) else []
    figure, axes = plt.subplots(max(len(ids), 1), 1, figsize=(10, 2.6 * max(len(ids), 1)), squeeze=False)
    for axis, face_id in zip(axes[:, 0], ids):
        rows = tracked[tracked["face_id"] == face_id]
        for name in classes:
            axis.plot(rows["time_s"], rows[name], label=name)
        axis.set(title=f"face #{int(face_id)}", ylabel="probability", ylim=(0, 1))
    if len(ids):
        axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")  # beside the curves, not over them
    else:
        axes[0, 0].set_title("no faces found")
    axes[-1, 0].set_xlabel("time (s)")
    figure.tight_layout()
    return figure
