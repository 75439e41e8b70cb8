"""Constants named once: locations, environment variables, labels, image size and runtimes, and where the model
to load is. No heavy imports."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "FER_DATA_DIR"
CACHE_DIR_ENV = "FER_CACHE_DIR"
ARTIFACTS_DIR_ENV = "FER_ARTIFACTS_DIR"
VIDEOS_DIR_ENV = "FER_VIDEOS_DIR"  # real face videos for tests, benchmarks and notebook 04 (e.g. ../shared/videos)
MODEL_ENV = "FER_MODEL"
PATH_ENVS = (DATA_DIR_ENV, CACHE_DIR_ENV, ARTIFACTS_DIR_ENV, VIDEOS_DIR_ENV, MODEL_ENV)  # environment variables holding paths
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "fer2013"
MODEL_FILE = "model.keras"
SHIPPED_MODEL = PROJECT_ROOT / "artifacts" / "models" / "fer_resnet" / MODEL_FILE

IMAGE_SIZE = (48, 48)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".avif", ".jp2", ".pbm",
                  ".pgm", ".ppm", ".pnm", ".gif",  # GIF: its first frame
                  ".heic", ".heif"}  # an iPhone's photos: OpenCV cannot decode them, so they are skipped with a hint
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ogv", ".ts"}
RUNTIMES = ("auto", "tflite", "keras")  # a model classifies with its TFLite copy when it agrees (auto), or as chosen
SEED = 1337

# One canonical label set; FER2013's seven come first, so indices 0-6 agree across sets.
CANONICAL_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "contempt")
CLASS_ALIASES = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "happiness": "happy",
    "neutrality": "neutral",
    "sadness": "sad",
    "surprised": "surprise",
}


def artifacts_dir() -> Path:
    """Where models, plots and run outputs go ($FER_ARTIFACTS_DIR or artifacts/)."""
    return Path(os.environ.get(ARTIFACTS_DIR_ENV, PROJECT_ROOT / "artifacts"))


def cache_dir() -> Path:
    """Where decoded data sets are cached ($FER_CACHE_DIR or data/cache/)."""
    return Path(os.environ.get(CACHE_DIR_ENV, PROJECT_ROOT / "data" / "cache"))


def videos_dir() -> Path | None:
    """The folder of real face videos ($FER_VIDEOS_DIR), or None when it is not set."""
    value = os.environ.get(VIDEOS_DIR_ENV)
    return Path(value) if value else None


def default_model_path() -> Path:
    """$FER_MODEL if set (and not empty), else the shipped model."""
    return Path(os.environ.get(MODEL_ENV) or SHIPPED_MODEL)


def find_model(path: str | Path | None = None) -> Path:
    """The model file to load (`path`, else default_model_path()); a missing one is a FileNotFoundError saying where
    its path came from and how to get a model."""
    chosen = Path(path) if path else default_model_path()
    if not chosen.is_file():
        folder = " (a folder: give the .keras file in it)" if chosen.is_dir() else ""
        raise FileNotFoundError(f"No model at {chosen}{folder}{model_origin(path)}: train one with "
                                "notebooks/03_training.ipynb or pass a model path")
    return chosen


def model_origin(path: str | Path | None) -> str:
    """' (from $FER_MODEL)' for error messages when the model to load comes from that variable, else ''."""
    return f" (from ${MODEL_ENV})" if not path and os.environ.get(MODEL_ENV) else ""
