"""Command line: `python -m fer_helpers predict PATH` (image, folder or video) and `python -m fer_helpers webcam`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from fer_helpers.inference import (
    IMAGE_SUFFIXES,
    HaarDetector,
    Recogniser,
    SourceError,
    VideoSource,
    analyse_images,
    image_files,
)
from fer_helpers.lite import RUNTIMES
from fer_helpers.video import REDETECT_EVERY, SMOOTHING, FaceTracker, analyse_frames, analyse_video

DEFAULT_OUTPUT = Path("artifacts") / "predictions"
WINDOW = "fer: press q to quit"
DEFAULTS_FROM_CLASSES = [  # option, the class whose field gives its default, field, help
    ("--scale-factor", HaarDetector, "scale_factor", "Haar cascade scale step"),
    ("--min-neighbors", HaarDetector, "min_neighbors", "Haar cascade min neighbours"),
    ("--min-size", HaarDetector, "min_size", "smallest face side in pixels"),
    ("--alpha", FaceTracker, "alpha", "video: weight of the newest frame for ema"),
    ("--window", FaceTracker, "window", "video: frames averaged for mean smoothing"),
]


def parser() -> argparse.ArgumentParser:
    """Arguments of both commands; --help documents each."""
    main = argparse.ArgumentParser(prog="python -m fer_helpers", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="label the faces in an image, a folder of images or a video")
    predict.add_argument("path", type=Path, help="an image file, a folder of images, or a video file")
    predict.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                         help="folder for the results, each named after its input: <name>.annotated.png per image, "
                              "<name>.mp4 for a video, and the face table as .csv and .json "
                              f"(predictions.csv for a folder; default {DEFAULT_OUTPUT})")
    webcam = commands.add_parser("webcam", help="live window labelling the faces a webcam sees (q quits)")
    webcam.add_argument("--camera", type=int, default=0, help="webcam index (default 0)")
    for command in (predict, webcam):
        command.add_argument("--model", type=Path, default=None,
                             help="a .keras file or model.json (weights beside it); default: $FER_MODEL or the shipped model")
        command.add_argument("--runtime", choices=RUNTIMES, default="auto",
                             help="classify with the model.tflite beside the model (tflite, about 3.5x faster on a CPU), "
                                  "with Keras (keras), or tflite when it is there and agrees with the model (auto, default)")
        for flag, owner, field, text in DEFAULTS_FROM_CLASSES:
            default = getattr(owner, field)
            command.add_argument(flag, type=type(default), default=default, help=f"{text} (default %(default)s)")
        command.add_argument("--smoothing", choices=SMOOTHING, default=FaceTracker.smoothing,
                             help="video: probability smoothing (default %(default)s)")
        command.add_argument("--every-n-frames", type=int, default=1, help="video: analyse every n-th frame (default 1)")
        command.add_argument("--max-frames", type=int, default=None, help="video: stop after this many frames")
        command.add_argument("--redetect-every", type=int, default=REDETECT_EVERY,
                             help=f"video: scan the whole frame every n analysed frames; in between, follow known faces "
                                  f"by template matching near their last box (default {REDETECT_EVERY}; 1 scans every frame)")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    return main


def predict(args: argparse.Namespace, recogniser: Recogniser) -> dict:
    """Run one image, folder or video; write outputs into the output folder; return a summary."""
    path: Path = args.path
    if not path.exists():
        raise SourceError(f"No image, folder or video at {path}")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        paths = image_files(path) if path.is_dir() else [path]
        table, skipped = analyse_images(recogniser, paths, args.output)
        if not path.is_dir() and skipped:
            raise SourceError(skipped[0])
        stem = args.output / ("predictions" if path.is_dir() else path.stem)
        table.to_csv(stem.with_suffix(".csv"), index=False)
        table.to_json(stem.with_suffix(".json"), orient="records", indent=1)
        return {"images": len(paths) - len(skipped), "faces": int(table["label"].notna().sum()) if len(table) else 0,
                "skipped": skipped, "table": str(stem.with_suffix(".csv")), "annotated_images": str(args.output)}
    tracker = FaceTracker(args.smoothing, args.alpha, args.window)
    report = analyse_video(recogniser, path, args.output / path.stem, tracker=tracker,
                           every_n_frames=args.every_n_frames, max_frames=args.max_frames,
                           redetect_every=args.redetect_every, progress=not args.quiet)
    return {"frames": report.frames, "analysed_frames": report.analysed_frames,
            "frames_per_second": round(report.frames / report.seconds, 1),
            "files": {name: str(file) for name, file in report.files.items()}}


def webcam(args: argparse.Namespace, recogniser: Recogniser) -> dict:
    """Show the webcam with labelled faces in a window until q is pressed."""
    source = VideoSource(args.camera)
    tracker = FaceTracker(args.smoothing, args.alpha, args.window)
    frames = 0
    try:
        for result in analyse_frames(recogniser, source, source.fps, tracker, args.every_n_frames, args.max_frames,
                                     args.redetect_every):
            try:
                cv2.imshow(WINDOW, result.annotated)
            except cv2.error as error:
                raise SourceError(f"Cannot open a window for the webcam (no display here?): {error.err}") from None
            frames += 1
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
    finally:
        source.close()
        cv2.destroyAllWindows()
    return {"frames": frames}


def main(argv: list[str] | None = None) -> int:
    """Parse, run, print a JSON summary; bad input exits with status 2 and a one-line reason."""
    args = parser().parse_args(argv)
    try:
        detector = HaarDetector(args.scale_factor, args.min_neighbors, args.min_size)
        recogniser = Recogniser(args.model, detector, args.runtime)
        summary = predict(args, recogniser) if args.command == "predict" else webcam(args, recogniser)
        summary["runtime"] = recogniser.runtime
    except (SourceError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
