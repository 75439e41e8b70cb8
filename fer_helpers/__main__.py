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

    from fer_helpers.config import IMAGE_SUFFIXES, RUNTIMES, VIDEO_SUFFIXES, find_model
    from fer_helpers.data import labelled_folder
    from fer_helpers.detection import (
        DETECTORS,
        REDETECT_EVERY,
        HaarDetector,
        make_detector,
    )
    from fer_helpers.sources import SourceError, VideoSource
    from fer_helpers.tracking import SMOOTHING, FaceTracker

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
                          help="folder for metrics.json, per_class.csv, predictions.csv (one row per image), "
                               "skipped.csv and confusion_matrix.png (default $FER_ARTIFACTS_DIR/evaluations/<folder "
                               "name>, else artifacts/evaluations/...)")
    evaluate.add_argument("--detect-faces", action="store_true",
                          help="classify the largest face Haar finds in each image (for photos that are not face crops)")
    for command in (predict, webcam):
        command.add_argument("--model", type=Path, default=None,
                             help="a .keras file or model.json (weights beside it); default: $FER_MODEL or the shipped model")
    for command in (predict, webcam, evaluate):
        command.add_argument("--runtime", choices=RUNTIMES, default="auto",
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


def require_display() -> None:
    """Refuse the webcam window where there is no display to open it on: OpenCV's Qt window would abort the whole
    process (SIGABRT, a core dump and Qt's plugin messages), not raise an error we could catch."""
    if sys.platform.startswith("linux") and not any(map(os.environ.get, DISPLAY_VARIABLES)):
        raise SourceError("No display for the webcam window here (DISPLAY is not set). On a server, use notebook 04's "
                          "browser camera (live_source=\"browser\"), or record a video and run `predict` on it.")


def open_inputs(args: argparse.Namespace) -> VideoSource | None:
    """Check the inputs before the model loads (seconds not spent for nothing): the model file, predict's path (an
    image is read), evaluate's folder, the webcam's display; a video or camera is opened here and returned (None for
    images and folders)."""
    find_model(args.model)
    if args.command == "evaluate":
        labelled_folder(args.data_dir)
        return None
    if args.command == "webcam":
        require_display()
        return VideoSource(args.camera)
    if not args.path.exists():
        raise SourceError(f"No image, folder or video at {args.path}")
    if args.path.is_dir():
        return None
    suffix = args.path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        # imported here, not at the top: it brings pandas, which --help and argument errors need not wait for
        from fer_helpers.inference import read_image

        read_image(args.path)  # an unreadable image is refused here, once, not after the model has loaded
        return None
    try:
        return VideoSource(args.path)
    except SourceError:
        if suffix in VIDEO_SUFFIXES:
            raise
        raise SourceError(f"Cannot read {args.path}: neither an image by its suffix ({', '.join(sorted(IMAGE_SUFFIXES))}) "
                          "nor a video OpenCV can decode") from None


def main(argv: list[str] | None = None) -> int:
    """Parse, run, print a JSON summary; bad input exits with status 2 and a one-line reason."""
    args = parser().parse_args(argv)
    if not args.verbose:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    source = None
    try:
        source = open_inputs(args)
        with quiet_stderr(not args.verbose):  # TensorFlow's start-up lines; LiteRT announces its XNNPACK delegate
            # the model loads here, once the arguments are known to be good (TensorFlow too, unless its TFLite copy
            # was recorded with it and runs alone)
            from fer_helpers import commands
            from fer_helpers.inference import Recogniser

            detector = HaarDetector(args.scale_factor, args.min_neighbors, args.min_size) if args.detector == "haar" \
                else make_detector(args.detector, min_size=args.min_size)
            recogniser = Recogniser(args.model, detector, args.runtime, args.networks)
        summary = commands.COMMANDS[args.command](args, recogniser, source)
        summary |= {"runtime": recogniser.runtime, "networks": recogniser.networks}
    except (OSError, ValueError) as error:  # SourceError, missing files, bad models, bad values: all the user's input
        print(f"error: {error}", file=sys.stderr)
        return 2
    except cv2.error as error:
        print(f"error: OpenCV could not process the input: {error.err}", file=sys.stderr)
        return 2
    finally:
        if source is not None:  # also when the model could not be loaded
            source.close()
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
