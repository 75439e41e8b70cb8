"""A test video built from real faces: FER2013 crops, upscaled, drifting across a 640x480 canvas.

There is no face video on this machine, so tests, notebook 04 and the speed benchmark use this;
the returned table is the ground truth (box and label of every placed face in every frame).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fer_helpers.config import SEED

FRAME_SIZE = (640, 480)  # width, height
FACE_PIXELS = 150
BACKGROUND = 90
MARGIN = 0.25  # canvas around each face, as a fraction of its size, so the detector sees some context


def face_tile(face: np.ndarray, pixels: int = FACE_PIXELS) -> np.ndarray:
    """A 48x48 face upscaled to `pixels`, framed by a border of the background grey."""
    border = int(pixels * MARGIN)
    tile = cv2.resize(face, (pixels, pixels), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(tile, border, border, border, border, cv2.BORDER_CONSTANT, value=BACKGROUND)


def make_face_video(
    faces: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    frames: int = 60,
    faces_per_frame: int = 2,
    fps: float = 15.0,
    hold: int | None = None,
    seed: int = SEED,
) -> pd.DataFrame:
    """Write an .mp4 of `faces` (n, 48, 48) drifting slowly, `faces_per_frame` at a time, each in its own
    lane; the next faces take over every `hold` frames (None: the first ones stay throughout).
    Return the ground truth: frame, slot, box (x, y, w, h) and label."""
    if len(faces) < faces_per_frame:
        raise ValueError(f"Need at least {faces_per_frame} faces, got {len(faces)}")
    width, height = FRAME_SIZE
    rng = np.random.default_rng(seed)
    shown = faces_per_frame * (-(-frames // hold) if hold else 1)
    tiles = [face_tile(face) for face in faces[:shown]]
    side = tiles[0].shape[0]
    lane = width // faces_per_frame  # each face drifts inside its own lane, so faces never overlap
    if side > lane or side > height:
        raise ValueError(f"{faces_per_frame} faces of {side} px do not fit side by side in {FRAME_SIZE}")
    low = np.array([[slot * lane, 0] for slot in range(faces_per_frame)])
    high = low + [lane - side, height - side]
    starts = rng.uniform(low, high)
    speeds = rng.uniform(-1.5, 1.5, size=(faces_per_frame, 2))
    border = int(FACE_PIXELS * MARGIN)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, FRAME_SIZE)
    rows = []
    for index in range(frames):
        canvas = np.full((height, width), BACKGROUND, np.uint8)
        first = index // hold * faces_per_frame if hold else 0
        for slot in range(faces_per_frame):
            shown_now = (first + slot) % len(tiles)
            tile, label = tiles[shown_now], labels[shown_now]
            x, y = np.clip(starts[slot] + speeds[slot] * index, low[slot], high[slot]).astype(int)
            canvas[y : y + side, x : x + side] = tile
            rows.append({"frame": index, "slot": slot, "x": x + border, "y": y + border,
                         "w": FACE_PIXELS, "h": FACE_PIXELS, "label": int(label)})
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
    writer.release()
    return pd.DataFrame(rows)


def demo_video(path: str | Path, data_dir: str | Path | None = None, frames: int = 90, hold: int = 30) -> Path:
    """A demo video of real FER2013 test faces, two at a time, changing every `hold` frames."""
    from fer_helpers.data import load_dataset

    test = load_dataset(data_dir, limit_per_class=10).splits["test"]
    order = np.random.default_rng(SEED).permutation(len(test))
    make_face_video(test.images[order], test.labels[order], path, frames=frames, faces_per_frame=2, hold=hold)
    return Path(path)
