"""A sweep trial's turn in the executor's queue, asked for in the trial's worker before it trains.

When the sweep was given an executor (:class:`core.sweep.runner.Sweep`), its trials take no Ray CPU of their own:
each asks the executor's mailbox actor (by name) for a turn, as a job of the sweep's owner, and waits until the
executor's fair queue grants it, so a sweep shares the server's CPUs with everyone's trainings, in turn. The trial
gives the turn back when it ends; the sweep's Stop ends a waiting trial at once. See :mod:`core.executor.turns`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Lazy import: Ray (0.3 s to import) inside the methods, so that importing this module never loads it (its one
# importer today, core.sweep.trial, runs in a Ray worker where Ray is loaded).

POLL_SECONDS = 0.5  # how often a waiting trial asks whether its turn came (and reads the sweep's stop flag)


class Turn:
    """``gate``: ``{"mailbox": actor name, "turn": id, "owner": ...}`` from the trial's config; ``cpus``: the CPUs
    the trial trains with (its TensorFlow threads)."""

    def __init__(self, gate: dict, kind: str, cpus: float):
        self.gate, self.kind, self.cpus = gate, kind, cpus
        self.completed = False  # the training ran to its end (its duration then counts for the kind's mean)
        self._mailbox = None

    def wait(self, stopped: Callable[[], bool]) -> bool:
        """Ask for the turn and wait for it: True once granted, False when ``stopped()`` says the sweep stopped."""
        import ray

        self._mailbox = ray.get_actor(self.gate["mailbox"])
        ray.get(self._mailbox.request.remote(self.gate["turn"], self.gate["owner"], self.kind, self.cpus),
                timeout=60)
        while not ray.get(self._mailbox.granted.remote(self.gate["turn"]), timeout=60):
            if stopped():
                return False
            time.sleep(POLL_SECONDS)
        return True

    def release(self) -> None:
        """Give the turn back (or withdraw the request); the executor frees its CPUs."""
        if self._mailbox is None:
            return
        import ray

        try:
            ray.get(self._mailbox.release.remote(self.gate["turn"], self.completed), timeout=30)
        except Exception:  # the server is gone, or busy: the driver-side sweep releases the turn too
            pass
