"""The server's jobs by owner and slot: what each visitor has queued, running or just finished."""

from __future__ import annotations

import threading
import time
from typing import Any


class JobBoard:
    """Every job of a server process, by owner: jobs belong to the server, not to a page view.

    An owner is whoever started the job: a browser's id (it survives a reload, so a reloaded page finds its
    running job again), a signed-in user, or ``local`` for the command line. A slot names what the job is
    for (a model kind, ``sweep``); each (owner, slot) holds the latest job. Finished jobs keep their model
    in memory until the owner starts another in that slot; past ``max_finished`` the oldest finished ones
    are dropped (their runs are in the store), so a server with many visitors does not grow without bound.
    Thread-safe.
    """

    def __init__(self, max_finished: int = 64):
        self.max_finished = max_finished
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, str], Any] = {}
        self._finished_at: dict[tuple[str, str], float] = {}

    def put(self, owner: str, slot: str, job) -> Any:
        with self._lock:
            self._jobs[(owner, slot)] = job
            self._finished_at.pop((owner, slot), None)
            self._prune()
        return job

    def get(self, owner: str, slot: str):
        with self._lock:
            return self._jobs.get((owner, slot))

    def owned(self, owner: str) -> dict[str, Any]:
        """slot -> job of one owner."""
        with self._lock:
            return {slot: job for (who, slot), job in self._jobs.items() if who == owner}

    def running(self) -> list:
        """Every job still running, whoever owns it (for capacity limits)."""
        with self._lock:
            return [job for job in self._jobs.values() if job.running]

    def _prune(self) -> None:
        now = time.time()
        for key, job in self._jobs.items():
            if not job.running:
                self._finished_at.setdefault(key, now)
        finished = sorted(self._finished_at, key=self._finished_at.get)
        for key in finished[: max(0, len(finished) - self.max_finished)]:
            self._jobs.pop(key, None)
            self._finished_at.pop(key, None)
