"""Shared fixtures: the real FER2013 folder from $FER_DATA_DIR, and notebooks prepared for nbval."""

import hashlib
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from fer_helpers.config import DATA_DIR_ENV, VIDEOS_DIR_ENV

TESTS_DIR = Path(__file__).parent
NBVAL_DIR = TESTS_DIR / "nbval"  # git-ignored: parameterised copies of the notebooks
CI_PARAMS = yaml.safe_load((TESTS_DIR / "ci_params.yml").read_text())
TINY_NETWORK = {"widths": (8, 16, 32, 64), "blocks": 1}  # fer_resnet cut down, for tests of training rather than accuracy


def pytest_configure(config: pytest.Config) -> None:
    """Write small-parameter copies of every notebook into a fresh tests/nbval/ for nbval to execute (fresh, so
    notebook 03 trains each time rather than reusing the run an earlier session finished there)."""
    from fer_helpers.pipeline import pin_paths, prepare

    shutil.rmtree(NBVAL_DIR, ignore_errors=True)
    pin_paths()
    os.environ.setdefault("FER_ARTIFACTS_DIR", str(TESTS_DIR.parent / "artifacts" / "test-runs"))
    prepare(CI_PARAMS, NBVAL_DIR)


def shared_folder(variable: str, needed: str, what: str) -> Path:
    """The folder named by an environment variable, which must hold `needed`; a clear failure otherwise."""
    value = os.environ.get(variable)
    if not value or not (Path(value) / needed).exists():
        pytest.fail(f"Set ${variable} to {what}")
    return Path(value)


@pytest.fixture(scope="session")
def fer_dir() -> Path:
    """The real FER2013 folder (train/ and test/), from $FER_DATA_DIR."""
    return shared_folder(DATA_DIR_ENV, "train", "a FER2013 folder with train/ and test/ (e.g. ../shared/data/fer2013)")


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    """The real face videos (single_face.mp4, no_face.mp4, woman2.mp4), from $FER_VIDEOS_DIR."""
    return shared_folder(VIDEOS_DIR_ENV, "single_face.mp4", "the folder of real face videos (e.g. ../shared/videos)")


def checksums(*paths: Path) -> dict[str, str]:
    """SHA-256 of every file under the given files and folders."""
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*")) if p.is_dir() else []) if f.is_file()]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def run_cli(args: list[str], *inputs: Path) -> int:
    """Run the command line in-process and check that no input file changed (every CLI run in the suite goes
    through here); returns the exit status, argparse's usage errors included."""
    from fer_helpers import __main__ as cli

    before = checksums(*inputs)
    try:
        status = cli.main(args)
    except SystemExit as exit_:
        status = exit_.code
    after = checksums(*inputs)
    assert {k: v for k, v in after.items() if k in before} == before, "an input file was changed or removed"
    return status


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test session caches decoded data in its own temporary folder."""
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def real_faces(fer_dir: Path, split: str, label: str, count: int) -> list[Path]:
    """The first `count` real image files of one class."""
    return sorted((fer_dir / split / label).iterdir())[:count]


def read_gray(path: Path) -> np.ndarray:
    """A real face as a grayscale array."""
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
