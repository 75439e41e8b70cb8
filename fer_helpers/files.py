"""Writing files whole: every output goes to a temporary file beside its destination, then is renamed into
place, so an interrupted run never leaves a half-written file where a good one was. No heavy imports, so
the pipeline and the data loader use it without loading TensorFlow."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def partial_file(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` (creating folders) to write; when the block ends without error it is renamed
    over `path` with the permissions a plain new file gets (mkstemp's own are owner-only), otherwise removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix="".join(path.suffixes))
    os.close(handle)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) on a temporary file beside `path`, then put it in place whole (see partial_file)."""
    with partial_file(path) as tmp:
        write(tmp)


def sha256(path: Path) -> str:
    """The SHA-256 digest of a file's bytes, as hex."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
