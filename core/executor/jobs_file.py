"""The queue as the operator sees it: the server's executor writes it to ``RUNS_DIR/.jobs.json`` (``python -m core
jobs`` reads it), when it changes and otherwise at most every few seconds, so a busy server does not write it at
every beat of its dispatcher."""

from __future__ import annotations

import os
import time

from core.store import default_runs_dir, write_json_atomic

JOBS_FILE = ".jobs.json"
REFRESH_SECONDS = 5.0  # an unchanged queue is written again this often (its waiting and running times move on)


class JobsFile:
    """Writes the executor's job rows to the runs directory's :data:`JOBS_FILE`."""

    def __init__(self):
        self._shape, self._written = None, 0.0

    def write(self, jobs: list[dict]) -> None:
        shape = [(row["id"], row["state"], row.get("place"), bool(row.get("worker"))) for row in jobs]  # a change
        if shape == self._shape and time.monotonic() - self._written < REFRESH_SECONDS:
            return
        try:
            root = default_runs_dir()
            if jobs:  # a fresh server's runs directory appears with its first training, not with its first save
                root.mkdir(parents=True, exist_ok=True)
            if root.is_dir():
                write_json_atomic(root / JOBS_FILE, {"written": time.time(), "pid": os.getpid(), "jobs": jobs})
                self._shape, self._written = shape, time.monotonic()
        except OSError:  # a read-only or full runs folder: the operator's view goes stale, trainings go on
            pass
