"""Face detectors side by side on the same frames: OpenCV's Haar cascade (the original design's) and MTCNN
(the `mtcnn` package, weights inside it), each on every frame with no tracking. Real videos from
$FER_VIDEOS_DIR (one person per frame in single_face.mp4 and woman2.mp4, nobody in no_face.mp4) and
640x480 composites of real FER2013 test faces with known boxes.

    FER_DATA_DIR=../shared/data/fer2013 FER_VIDEOS_DIR=../shared/videos python benchmarks/bench_detectors.py
"""

import argparse
import statistics
import time

import numpy as np
import pandas as pd
from bench_inference import video_frames
from report import markdown_table, write_section

from fer_helpers import config, detection, inference, profiling, sources, tracking

MATCH_IOU = 0.3  # a box counts as finding a placed face at this overlap (detectors frame faces differently)
ONE_PERSON = ("single_face.mp4", "woman2.mp4")


def timed_boxes(detector: detection.Detector, grays: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """Each frame's boxes and the median milliseconds per frame."""
    boxes, times = [], []
    for gray in grays:
        started = time.perf_counter()
        boxes.append(detector.detect(gray))
        times.append(time.perf_counter() - started)
    return boxes, 1000 * statistics.median(times)


def composite_row(boxes: list[np.ndarray], truth: pd.DataFrame) -> dict:
    """Recall of the placed faces and boxes on no face, per frame."""
    found = false = 0
    for index, frame_boxes in enumerate(boxes):
        true = truth[truth["frame"] == index][["x", "y", "w", "h"]].to_numpy()
        overlaps = [max((tracking.iou(box, t) for t in true), default=0.0) for box in frame_boxes]
        false += sum(o < MATCH_IOU for o in overlaps)
        found += sum(any(tracking.iou(box, t) >= MATCH_IOU for box in frame_boxes) for t in true)
    return {"composites: faces found %": round(100 * found / len(truth), 1),
            "composites: false boxes per 100 frames": round(100 * false / len(boxes), 1)}


def video_row(name: str, boxes: list[np.ndarray]) -> dict:
    """Frames with a face found and extra boxes, for one real video (one person, or nobody)."""
    counts = np.array([len(b) for b in boxes])
    if name in ONE_PERSON:
        return {f"{name}: frames with the face %": round(100 * float(np.mean(counts >= 1)), 1),
                f"{name}: extra boxes per 100 frames": round(100 * float(np.maximum(counts - 1, 0).mean()), 1)}
    return {f"{name}: false boxes per 100 frames": round(100 * float(counts.mean()), 1)}


def main() -> None:
    """Run every detector on every frame set and write the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100, help="composite frames (default 100)")
    args = parser.parse_args()
    frames, truth = video_frames(2, args.frames)
    composites = [inference.to_gray(frame) for frame in frames]
    videos_dir = config.videos_dir()
    real = {name: [inference.to_gray(f) for f in sources.VideoSource(videos_dir / name)]
            for name in (*ONE_PERSON, "no_face.mp4")}
    rows = {}
    for name in detection.DETECTORS:
        detector = detection.make_detector(name)
        detector.detect(composites[0])  # warm-up
        boxes, milliseconds = timed_boxes(detector, composites)
        row = {"ms per 640x480 frame": round(milliseconds, 2)} | composite_row(boxes, truth)
        for video_name, grays in real.items():
            row |= video_row(video_name, timed_boxes(detector, grays)[0])
        rows[name] = row
        print(name, row, flush=True)
    table = pd.DataFrame(rows).T
    table.index.name = "detector"
    write_section("detectors", f"""## Face detectors (`benchmarks/bench_detectors.py`)

Each detector on every frame, no tracking, on {profiling.hardware()}. Composites: {args.frames} frames of
640x480 with two real FER2013 test faces each (upscaled, moving; a face is found when a box overlaps it at IoU >=
{MATCH_IOU}; a box overlapping no face is false). Real videos from `$FER_VIDEOS_DIR`: one person in every frame of
{" and ".join(ONE_PERSON)}, nobody in no_face.mp4. Milliseconds: median per composite frame.

{markdown_table(table.T.rename_axis("measure"))}
""")


if __name__ == "__main__":
    main()
