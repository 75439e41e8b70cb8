"""Writing files whole: every output goes to a temporary file beside its destination, then is renamed into
place, so an interrupted run never leaves a half-written file where a good one was. No heavy imports, so
the pipeline and the data loader use it without loading TensorFlow."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) on a temporary file beside `path` (creating folders), then rename it over `path` with the
    permissions a plain new file gets (mkstemp's own are owner-only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix="".join(path.suffixes))
    os.close(handle)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
