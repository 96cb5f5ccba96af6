"""Where the server keeps a visitor's uploaded table until a training reads it: a hidden folder of the runs
directory, one sub-folder per owner (named by a hash of the owner's id), never listed as a run. The run made from
it keeps its own copy (``table.csv``), which follows the run's owner and sharing like the rest of the run. An owner's
uploads older than :data:`KEEP_SECONDS` are removed when they upload another (a queued training reads its table when
it starts, within minutes)."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

from core.files import write_atomic
from core.tabular.reading import MAX_BYTES, TableError

UPLOADS = ".tables"
KEEP_SECONDS = 24 * 3600


def safe_name(name: str) -> str:
    """A file name made of letters, digits, dots, dashes and underscores, ending in .csv."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "table").stem).strip("._") or "table"
    return f"{stem[:60]}.csv"


def keep_upload(runs_root: Path | str, owner: str, data: bytes, name: str) -> Path:
    """Store an uploaded table for ``owner`` (the same bytes: the same file) and return its path."""
    if len(data) > MAX_BYTES:
        raise TableError(f"{name} is {len(data) / 2**20:.1f} MB; a table may be at most {MAX_BYTES // 2**20} MB")
    mine = Path(runs_root) / UPLOADS / hashlib.sha256(owner.encode()).hexdigest()[:16]
    folder = mine / hashlib.sha256(data).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(name)
    if not path.is_file():
        write_atomic(path, data)
    folder.touch()  # in use again: kept for another KEEP_SECONDS
    cutoff = time.time() - KEEP_SECONDS
    for old in mine.iterdir():
        if old != folder and old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    return path
