"""Where data derived from data sets is kept between processes, so that a fresh process does not redo it.

The folder is ``$NN_PLAYGROUND_CACHE``, else ``$XDG_CACHE_HOME/nn-playground``, else ``~/.cache/nn-playground``.
An entry is a NumPy array named by the caller's key, which must change whenever the inputs or the code that made
the array change (a hash of both). Entries are written atomically; an unreadable entry is recomputed, and a folder
that cannot be written to only costs the time of recomputing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.files import write_atomic


def cache_dir() -> Path:
    if os.environ.get("NN_PLAYGROUND_CACHE"):
        return Path(os.environ["NN_PLAYGROUND_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nn-playground"


def source_hash(*files: Path | str) -> str:
    """A short hash of the bytes of these source files: part of a key, so that changed code misses the cache."""
    digest = hashlib.sha1()
    for f in files:
        digest.update(Path(f).read_bytes())
    return digest.hexdigest()[:16]


def cached_array(key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    """The array stored under ``key`` (a file name: letters, digits, ``-``, ``_``), else ``make()``, stored."""
    path = cache_dir() / f"{key}.npy"
    with contextlib.suppress(OSError, ValueError):
        return np.load(path, allow_pickle=False)
    array = np.asarray(make())
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        write_atomic(path, buffer.getvalue())
    return array
