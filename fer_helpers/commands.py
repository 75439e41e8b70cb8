"""What the command line's commands do, once its arguments are parsed: `predict`, `webcam` and `evaluate`,
each given the arguments, a Recogniser and the video or camera `__main__` opened (None for images and folders),
each returning a summary for JSON. Imports pandas and the inference code, so `__main__` loads this module only after
parsing and opening the inputs (--help, argument errors and unreadable inputs come back at once)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import cv2

from fer_helpers.config import artifacts_dir
from fer_helpers.files import atomic_write
from fer_helpers.inference import (
    FACE_TABLE,
    Recogniser,
    analyse_images,
    image_files,
    output_stems,
    refuse_overwriting_inputs,
)
from fer_helpers.sources import SourceError, VideoSource
from fer_helpers.tracking import FaceTracker
from fer_helpers.video import analyse_frames, analyse_video

WINDOW = "fer: press q to quit"


def output_folder(args: argparse.Namespace, default: str) -> Path:
    """--output, else <artifacts>/<default>; an existing file there is an error, not a traceback."""
    folder = args.output or artifacts_dir() / default
    if folder.exists() and not folder.is_dir():
        raise SourceError(f"--output {folder} is a file: give a folder for the results")
    return folder


def predict(args: argparse.Namespace, recogniser: Recogniser, video: VideoSource | None) -> dict:
    """Run one image, folder or (opened) video; write outputs into the output folder; return a summary."""
    path: Path = args.path
    output = output_folder(args, "predictions")
    if video is None:
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
    report = analyse_video(recogniser, video, output / output_stems([path])[path], tracker=tracker,
                           every_n_frames=args.every_n_frames, max_frames=args.max_frames,
                           redetect_every=args.redetect_every, progress=not args.quiet)
    return {"frames": report.frames, "analysed_frames": report.analysed_frames,
            "frames_per_second": round(report.frames / report.seconds, 1), "warnings": report.warnings,
            "files": {name: str(file) for name, file in report.files.items()}}


def webcam(args: argparse.Namespace, recogniser: Recogniser, source: VideoSource) -> dict:
    """Show the opened webcam with labelled faces in a window until q is pressed."""
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


def evaluate(args: argparse.Namespace, recogniser: Recogniser, _: None) -> dict:
    """Score the model on a labelled folder; write the tables and the confusion matrix; return a summary."""
    # imported here, not at the top: seaborn and SciPy take 2.4 s to import, and only this command needs them
    from fer_helpers.evaluation import evaluate_folder

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
