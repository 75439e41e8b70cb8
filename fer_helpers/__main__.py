"""Command line: `python -m fer_helpers predict PATH` (image, folder or video), `python -m fer_helpers webcam`
and `python -m fer_helpers evaluate [MODEL] DATA_DIR` (accuracy on a labelled folder of faces)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

VERBOSE = "--verbose" in sys.argv[1:]
PACKAGE_DIR = Path(__file__).resolve().parent


@contextlib.contextmanager
def quiet_stderr(quiet: bool):
    """Send the process's stderr (file descriptor 2, where TensorFlow's C++ and OpenCV log) to /dev/null
    while loading them: their start-up lines (CUDA probes, oneDNN notes) are noise to a user, and
    TensorFlow 2.19+ ignores TF_CPP_MIN_LOG_LEVEL for them (tensorflow/tensorflow#100442). Python warnings
    raised meanwhile are held, and our own (a stale TFLite copy, a model without metadata) shown afterwards."""
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    for warning in caught:
        if warning.category is UserWarning and Path(warning.filename).resolve().is_relative_to(PACKAGE_DIR):  # ours
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if VERBOSE else "3"
os.environ.setdefault("OPENCV_LOG_LEVEL", "INFO" if VERBOSE else "OFF")
if not VERBOSE:  # FFmpeg's own lines through OpenCV ("moov atom not found"): our error names the file instead
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
with quiet_stderr(not VERBOSE):
    import cv2

    from fer_helpers import lite
    from fer_helpers.config import artifacts_dir
    from fer_helpers.detection import DETECTORS, HaarDetector, make_detector
    from fer_helpers.evaluation import evaluate_folder
    from fer_helpers.inference import (
        FACE_TABLE,
        IMAGE_SUFFIXES,
        Recogniser,
        SourceError,
        VideoSource,
        analyse_images,
        image_files,
        output_stems,
        refuse_overwriting_inputs,
    )
    from fer_helpers.files import atomic_write
    from fer_helpers.video import REDETECT_EVERY, SMOOTHING, FaceTracker, analyse_frames, analyse_video

WINDOW = "fer: press q to quit"
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")  # any one lets Qt open (or fake) a window


def bounded(kind: type, low: float, high: float | None = None, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a number of `kind` at least `low` (above it if `above`) and at most `high`."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if value < low or (above and value == low) or (high is not None and value > high):
            bounds = f"{'above' if above else 'at least'} {low}" + (f" and at most {high}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {bounds}")
        return value
    return parse


POSITIVE = bounded(int, 1)
DEFAULTS_FROM_CLASSES = [  # option, the class whose field gives its default, field, help, type
    ("--scale-factor", HaarDetector, "scale_factor", "Haar cascade scale step, above 1", bounded(float, 1, above=True)),
    ("--min-neighbors", HaarDetector, "min_neighbors", "Haar cascade min neighbours", bounded(int, 0)),
    ("--min-size", HaarDetector, "min_size", "smallest face side in pixels", POSITIVE),
    ("--alpha", FaceTracker, "alpha", "video: weight of the newest frame for ema, in (0, 1]", bounded(float, 0, 1, above=True)),
    ("--window", FaceTracker, "window", "video: frames averaged for mean smoothing", POSITIVE),
]


def parser() -> argparse.ArgumentParser:
    """Arguments of both commands; --help documents each."""
    main = argparse.ArgumentParser(prog="python -m fer_helpers", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="label the faces in an image, a folder of images or a video")
    predict.add_argument("path", type=Path, help="an image file, a folder of images, or a video file")
    predict.add_argument("--output", type=Path, default=None,
                         help="folder for the results, each named after its whole input name: <name>.annotated.png per "
                              "image, <name>.annotated.mp4 and <name>.timeline.png for a video, and the face table as "
                              "<name>.faces.csv and .json (<folder>.faces.csv for a folder); inputs are never written over "
                              "(default $FER_ARTIFACTS_DIR/predictions, else artifacts/predictions)")
    predict.add_argument("--recursive", action="store_true", help="folder: search its subfolders for images too")
    webcam = commands.add_parser("webcam", help="live window labelling the faces a webcam sees (q quits)")
    webcam.add_argument("--camera", type=bounded(int, 0), default=0, help="webcam index, 0 or more (default 0)")
    evaluate = commands.add_parser("evaluate", help="accuracy, macro-F1, per-class table and confusion matrix of a "
                                                    "model on a labelled folder of faces (one folder per class)")
    evaluate.add_argument("model", type=Path, nargs="?", default=None,
                          help="a .keras file or model.json; default: $FER_MODEL or the shipped model")
    evaluate.add_argument("data_dir", type=Path, help="class folders (happy/, sad/, ...; names such as happiness are "
                                                      "mapped); a folder with train/ and test/ is scored on test/")
    evaluate.add_argument("--output", type=Path, default=None,
                          help="folder for metrics.json, per_class.csv, skipped.csv and confusion_matrix.png "
                               "(default $FER_ARTIFACTS_DIR/evaluations/<folder name>, else artifacts/evaluations/...)")
    evaluate.add_argument("--detect-faces", action="store_true",
                          help="classify the largest face Haar finds in each image (for photos that are not face crops)")
    for command in (predict, webcam):
        command.add_argument("--model", type=Path, default=None,
                             help="a .keras file or model.json (weights beside it); default: $FER_MODEL or the shipped model")
    for command in (predict, webcam, evaluate):
        command.add_argument("--runtime", choices=lite.RUNTIMES, default="auto",
                             help="classify with the quantised model.tflite beside the model (tflite, several times faster on a CPU), "
                                  "with Keras (keras), or tflite when it is there and agrees with the model (auto, default)")
        command.add_argument("--networks", type=int, default=None,
                             help="run only the first N networks of an ensemble model (the shipped one stores its best first): "
                                  "faster on a slow CPU, less accurate; default all")
        command.add_argument("--detector", choices=sorted(DETECTORS), default="haar",
                             help="face detector: haar (OpenCV's cascade, fast) or mtcnn (a DNN that finds turned and "
                                  "tilted faces, several times slower; docs/benchmarks.md) (default %(default)s)")
        for flag, owner, field, text, kind in DEFAULTS_FROM_CLASSES:
            command.add_argument(flag, type=kind, default=getattr(owner, field), help=f"{text} (default %(default)s)")
        command.add_argument("--verbose", action="store_true", help="show TensorFlow's and OpenCV's own log lines")
    for command in (predict, webcam):
        command.add_argument("--smoothing", choices=SMOOTHING, default=FaceTracker.smoothing,
                             help="video: probability smoothing (default %(default)s)")
        command.add_argument("--every-n-frames", type=POSITIVE, default=1, help="video: analyse every n-th frame (default 1)")
        command.add_argument("--max-frames", type=POSITIVE, default=None, help="video: stop after this many frames")
        command.add_argument("--redetect-every", type=POSITIVE, default=REDETECT_EVERY,
                             help=f"video: scan the whole frame every n analysed frames; in between, follow known faces "
                                  f"by template matching near their last box (default {REDETECT_EVERY}; 1 scans every frame)")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    return main


def output_folder(args: argparse.Namespace, default: str) -> Path:
    """--output, else <artifacts>/<default>; an existing file there is an error, not a traceback."""
    folder = args.output or artifacts_dir() / default
    if folder.exists() and not folder.is_dir():
        raise SourceError(f"--output {folder} is a file: give a folder for the results")
    return folder


def predict(args: argparse.Namespace, recogniser: Recogniser) -> dict:
    """Run one image, folder or video; write outputs into the output folder; return a summary."""
    path: Path = args.path
    output = output_folder(args, "predictions")
    if not path.exists():
        raise SourceError(f"No image, folder or video at {path}")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        paths, left_out = image_files(path, args.recursive) if path.is_dir() else ([path], [])
        if left_out:
            warnings.warn(f"Left out {len(left_out)} file(s) that are not images by their suffix: "
                          + ", ".join(str(file) for file in left_out))
        table, skipped, annotated = analyse_images(recogniser, paths, output, path if path.is_dir() else None)
        if not path.is_dir() and skipped:
            raise SourceError(skipped[0])
        name = path.resolve().name if path.is_dir() else output_stems([path])[path]
        tables = {"csv": output / f"{name}{FACE_TABLE}.csv", "json": output / f"{name}{FACE_TABLE}.json"}
        refuse_overwriting_inputs(list(tables.values()), paths)
        atomic_write(tables["csv"], lambda tmp: table.to_csv(tmp, index=False))
        atomic_write(tables["json"], lambda tmp: table.to_json(tmp, orient="records", indent=1))
        return {"images": len(paths) - len(skipped), "faces": int(table["label"].notna().sum()) if len(table) else 0,
                "skipped": skipped, "left_out": [str(file) for file in left_out], "files": {**{kind: str(file) for kind, file in tables.items()},
                                              "annotated": [str(file) for file in annotated]}}
    tracker = FaceTracker(args.smoothing, args.alpha, args.window)
    report = analyse_video(recogniser, path, output / output_stems([path])[path], tracker=tracker,
                           every_n_frames=args.every_n_frames, max_frames=args.max_frames,
                           redetect_every=args.redetect_every, progress=not args.quiet)
    return {"frames": report.frames, "analysed_frames": report.analysed_frames,
            "frames_per_second": round(report.frames / report.seconds, 1), "warnings": report.warnings,
            "files": {name: str(file) for name, file in report.files.items()}}


def require_display() -> None:
    """Refuse the webcam window where there is no display to open it on: OpenCV's Qt window would abort the whole
    process (SIGABRT, a core dump and Qt's plugin messages), not raise an error we could catch."""
    if sys.platform.startswith("linux") and not any(map(os.environ.get, DISPLAY_VARIABLES)):
        raise SourceError("No display for the webcam window here (DISPLAY is not set). On a server, use notebook 04's "
                          "browser camera (live_source=\"browser\"), or record a video and run `predict` on it.")


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


def evaluate(args: argparse.Namespace, recogniser: Recogniser) -> dict:
    """Score the model on a labelled folder; write the tables and the confusion matrix; return a summary."""
    output = output_folder(args, "evaluations") if args.output else artifacts_dir() / "evaluations" / args.data_dir.resolve().name
    evaluated = evaluate_folder(recogniser, args.data_dir, output, detect_faces=args.detect_faces)
    result = evaluated.result
    return {"images": result["images"], "accuracy": result["accuracy"], "macro_f1": result["macro_f1"],
            "split": result["split"], "skipped_classes": evaluated.skipped_classes,
            "skipped_files": [f"{s.path}: {s.reason}" for s in evaluated.skipped_files if not s.folder],
            "skipped_folders": [f"{s.path}: {s.reason}" for s in evaluated.skipped_files if s.folder],
            "empty_class_folders": evaluated.empty_class_folders,
            "files": {name: str(path) for name, path in evaluated.files.items()}}


COMMANDS = {"predict": predict, "webcam": webcam, "evaluate": evaluate}


def main(argv: list[str] | None = None) -> int:
    """Parse, run, print a JSON summary; bad input exits with status 2 and a one-line reason."""
    args = parser().parse_args(argv)
    if not args.verbose:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        if args.command == "webcam":
            require_display()  # before loading the model: a few seconds not spent for nothing
        detector = HaarDetector(args.scale_factor, args.min_neighbors, args.min_size) if args.detector == "haar" \
            else make_detector(args.detector, min_size=args.min_size)
        with quiet_stderr(not args.verbose):  # TFLite announces its XNNPACK delegate on stderr
            recogniser = Recogniser(args.model, detector, args.runtime, args.networks)
        summary = COMMANDS[args.command](args, recogniser)
        summary |= {"runtime": recogniser.runtime, "networks": recogniser.networks}
    except (OSError, ValueError) as error:  # SourceError, missing files, bad models, bad values: all the user's input
        print(f"error: {error}", file=sys.stderr)
        return 2
    except cv2.error as error:
        print(f"error: OpenCV could not process the input: {error.err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
