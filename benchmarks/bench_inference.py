"""End-to-end frames per second (detect + classify + draw) on the same 640x480 frames, the share of
faces each pipeline finds, and per-face classification latency: ours, the original design's loop
(model.predict once per face), and the `fer` package (FER(mtcnn=False).detect_emotions), side by
side in one run.

    FER_DATA_DIR=../shared/data/fer2013 python benchmarks/bench_inference.py [--frames 100] [--repeats 3]
"""

import argparse
import copy
import logging
import os
import statistics
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from peers import fer_preprocess, import_fer, original_loop
from report import markdown_table, median_seconds, write_section

from fer_helpers import (
    config,
    data,
    detection,
    inference,
    models,
    profiling,
    sources,
    synthetic,
    tracking,
    video,
)

FOUND_IOU = 0.5
OURS = "ours"  # prefix of our rows
TRACKED = "ours (Recogniser + tracking + drawing)"
FIRST_NETWORK = "ours, first network only (networks=1), tracked"  # for CPUs too slow for the whole ensemble
FER = "fer package, FER(mtcnn=False).detect_emotions"


def video_frames(faces: int, frames: int) -> tuple[list[np.ndarray], pd.DataFrame]:
    """`frames` 640x480 BGR frames with `faces` real FER2013 test faces, held in memory, and the
    true box of every face in every frame."""
    test = data.load_dataset(limit_per_class=10).splits["test"]
    path = Path(tempfile.mkdtemp()) / "bench.mp4"
    truth = synthetic.make_face_video(test.images, test.labels, path, frames=frames, faces_per_frame=faces)
    return list(sources.VideoSource(path)), truth


def found_share(boxes_per_frame: list, truth: pd.DataFrame) -> float:
    """Share of the true faces that a pipeline's boxes overlap at IoU >= 0.5, frame by frame."""
    found = sum(
        any(tracking.iou(np.asarray(box), np.array([row.x, row.y, row.w, row.h])) >= FOUND_IOU for box in boxes_per_frame[row.frame])
        for row in truth.itertuples()
    )
    return found / len(truth)


def ours(recogniser: inference.Recogniser, redetect_every: int = detection.REDETECT_EVERY, min_match: float | None = None):
    """Our video pipeline as a contender returning each frame's boxes; `min_match` above 1 means no
    template match is ever good enough, so every tracked frame searches with the cascade."""

    def run(frames: list[np.ndarray]) -> list:
        used = recogniser
        if min_match is not None:
            used = copy.copy(recogniser)
            used.detector = detection.TrackingDetector(recogniser.detector, redetect_every, min_match)
        results = video.analyse_frames(used, frames, 30.0, tracking.FaceTracker(), redetect_every=redetect_every)
        return [[face.box for face in result.faces] for result in results]

    return run


def contenders(recogniser: inference.Recogniser, first_network: inference.Recogniser) -> dict:
    """name -> function(frames) that processes every frame end to end and returns each frame's boxes."""
    fer = import_fer()
    logging.getLogger("fer").setLevel(logging.WARNING)
    peer = fer.fer.FER(mtcnn=False)
    seed = models.seed_cnn(len(recogniser.classes))  # the original architecture: its cost, not its weights
    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
    runs = {
        TRACKED: ours(recogniser),
        FIRST_NETWORK: ours(first_network),
        "ours, cascade near each face every frame (tracking's worst case)": ours(recogniser, min_match=2.0),
        "ours, full-frame scan every frame": ours(recogniser, redetect_every=1),
        "original loop (seed CNN, predict per face)": lambda frames: [
            original_loop(frame.copy(), cascade, seed, recogniser.classes) for frame in frames],
        FER: lambda frames: [
            [face["box"] for face in peer.detect_emotions(frame)] for frame in frames],
    }
    classifiers = {  # one per model, timed once for the rows whose names start with its key (the longest such key)
        OURS: lambda face: recogniser.classify(face[np.newaxis, ..., np.newaxis]),
        FIRST_NETWORK: lambda face: first_network.classify(face[np.newaxis, ..., np.newaxis]),
        "original loop (seed CNN, predict per face)": lambda face: seed.predict(face[np.newaxis, ..., np.newaxis], verbose=0),
        FER: lambda face: peer._classify_emotions(fer_preprocess(face[np.newaxis])[..., 0]),
    }
    return runs, classifiers


def real_video_table(runs: dict, videos_dir: Path, repeats: int) -> pd.DataFrame:
    """Ours (tracked) and the fer package on each real video: frames per second (median of interleaved
    passes) and the share of frames in which a face was found."""
    chosen = {name: run for name, run in runs.items() if name in (TRACKED, FIRST_NETWORK, FER)}
    rows = {}
    for path in sorted(videos_dir.glob("*.mp4")):
        frames = list(sources.VideoSource(path))
        times = {name: [] for name in chosen}
        for name, run in chosen.items():
            boxes = run(frames)
            rows[(path.name, name)] = {"frames": len(frames),
                                       "frames_with_a_face_pct": round(100 * float(np.mean([len(b) > 0 for b in boxes])), 1)}
        for _ in range(repeats):
            for name, run in chosen.items():
                times[name].append(median_seconds(lambda: run(frames), 1)[0])
        for name in chosen:
            rows[(path.name, name)]["fps"] = round(len(frames) / statistics.median(times[name]), 1)
        for name in chosen:
            rows[(path.name, name)]["fps_vs_fer"] = round(rows[(path.name, name)]["fps"] / rows[(path.name, FER)]["fps"], 2)
    table = pd.DataFrame(rows).T
    table.index = [f"{video_name}: {name}" for video_name, name in table.index]
    table.index.name = "video: pipeline"
    return table


def main() -> None:
    """Time each contender on the same frames and write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    recogniser = inference.Recogniser()
    runs, latency = contenders(recogniser, inference.Recogniser(networks=1))
    face = data.load_dataset(limit_per_class=1).splits["test"].images[0]
    rows = {name: {} for name in runs}
    for faces in (1, 2):
        frames, truth = video_frames(faces, args.frames)
        for name, run in runs.items():  # warm-up (compile, allocate), and the faces each pipeline finds
            rows[name][f"found_{faces}_face_pct"] = round(100 * found_share(run(frames), truth), 1)
        times = {name: [] for name in runs}
        for _ in range(args.repeats):  # interleaved, so load on this shared machine hits all alike
            for name, run in runs.items():
                times[name].append(median_seconds(lambda: run(frames), 1)[0])
        for name in runs:
            rows[name][f"fps_{faces}_face"] = round(len(frames) / statistics.median(times[name]), 1)
    milliseconds = {}
    for model, classify in latency.items():
        classify(face)
        milliseconds[model] = round(1000 * median_seconds(lambda: classify(face), 50)[0], 2)
    for name in rows:
        rows[name]["ms_per_face_classification"] = milliseconds[max((m for m in latency if name.startswith(m)), key=len)]
    table = pd.DataFrame(rows).T[["fps_1_face", "fps_2_face", "found_1_face_pct", "found_2_face_pct",
                                  "ms_per_face_classification"]]
    table.index.name = "pipeline"
    fer_name = list(runs)[-1]
    table["fps_1_face_vs_fer"] = (table["fps_1_face"] / table.loc[fer_name, "fps_1_face"]).round(2)
    print(table.to_string())
    write_section("inference", f"""## Inference speed (`benchmarks/bench_inference.py`)

{args.frames} frames of 640x480 (real FER2013 test faces, upscaled, moving; decoding excluded), each
pipeline end to end: detect, classify, draw (the `fer` package: `detect_emotions`, no drawing).
Median of {args.repeats} interleaved passes on {profiling.hardware()}; the original loop uses the
seed CNN's architecture. `found`: share of the placed faces a pipeline's boxes overlap at IoU >= {FOUND_IOU}.
Ours classifies with the shipped model ({recogniser.networks} network(s)) through its quantised TFLite copy
(`Recogniser.runtime`: {recogniser.runtime}); the "first network only" row runs only the first of them, through a
quantised copy converted on loading (`Recogniser(networks=1)`, `--networks 1`). With tracking,
the whole frame is scanned every {detection.REDETECT_EVERY} frames and known faces are followed by template
matching in between. Where the match is weak (a face turns or changes), the cascade searches near the
face instead: the worst-case row forces that on every tracked frame. The full-scan row shows the cost
without tracking.
Per-face latency: median of 50 calls on one 48x48 face.
Targets: at least 30 frames/s with one face, at least 2x the `fer` package.

{markdown_table(table)}
""")

    videos_dir = config.videos_dir()
    if not videos_dir:
        print("FER_VIDEOS_DIR is not set: the real-video rows are left as they were")
        return
    real = real_video_table(runs, videos_dir, args.repeats)
    print(real.to_string())
    write_section("inference-real-videos", f"""## Inference on real videos (`benchmarks/bench_inference.py`)

The real face videos in `$FER_VIDEOS_DIR` (see its README), every frame, end to end as above (ours with
tracking and drawing; the `fer` package's `detect_emotions`), median of {args.repeats} interleaved passes, in the
same run as the table above. A face is expected in every frame of single_face.mp4 and woman2.mp4 and in
none of no_face.mp4.

{markdown_table(real)}
""")


if __name__ == "__main__":
    main()
