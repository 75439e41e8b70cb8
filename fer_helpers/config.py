"""Constants named once: locations, environment variables, labels, image size and runtimes. No heavy imports."""

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

IMAGE_SIZE = (48, 48)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".avif", ".jp2", ".pbm",
                  ".pgm", ".ppm", ".pnm", ".gif",  # GIF: its first frame
                  ".heic", ".heif"}  # an iPhone's photos: OpenCV cannot decode them, so they are skipped with a hint
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
