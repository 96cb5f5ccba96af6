"""Sweep trials' turns in the executor's queue: a sweep draws its trials from the same CPUs, in the same fair order,
as everyone's trainings, and they count as its owner's.

A trial running in a Ray Tune worker asks the executor's mailbox for a turn before it trains (the turn's id is
``"<sweep id>/<trial index>"``, never a page job's) and waits. On every beat the dispatcher hands the new requests
to :meth:`Turns.take`, which queues them in the scheduler as jobs of the sweep's owner (no slot); a request the
scheduler refuses for now (:class:`~core.scheduler.OwnerLimit`, :class:`~core.scheduler.Busy`) stays pending here
and is submitted again on a later beat. When the scheduler lets a turn start, the dispatcher grants it (the trial
trains, in its own worker: nothing is launched) instead of launching a job. A release (the trial ended, or the
driver-side sweep learnt that it did, or the sweep stopped) frees the turn: cancelled while queued, finished (its
CPUs free again) once granted. Thread-safe.
"""

from __future__ import annotations

import threading

from core.scheduler import Busy, OwnerLimit, Scheduler


def turn_group(turn_id: str) -> str:
    """The sweep a turn belongs to."""
    return turn_id.rpartition("/")[0]


class Turns:
    """The turns of the open sweeps (groups): pending (not yet accepted by the scheduler), queued, granted."""

    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler
        self._lock = threading.Lock()
        self._groups: set[str] = set()  # the open sweeps
        self._pending: dict[str, tuple[str, str, float]] = {}  # turn -> (owner, kind, cpus), in request order
        self._queued: set[str] = set()
        self._granted: set[str] = set()
        self._released: set[str] = set()  # turns that ended: a late request for one of them is ignored

    def active(self) -> bool:
        with self._lock:
            return bool(self._groups or self._pending or self._queued or self._granted)

    def owns(self, turn_id: str) -> bool:
        """Whether the scheduler's job ``turn_id`` is a sweep trial's turn (not a page job)."""
        with self._lock:
            return turn_id in self._queued or turn_id in self._granted

    def group_of(self, turn_id: str) -> str | None:
        return turn_group(turn_id) if self.owns(turn_id) else None

    def open(self, group: str) -> None:
        with self._lock:
            self._groups.add(group)

    def take(self, requests: list, releases: list) -> None:
        """The mailbox's new requests and releases (in that order), then submit what is pending."""
        with self._lock:
            for turn_id, owner, kind, cpus in requests:
                known = turn_id in self._pending or turn_id in self._queued or turn_id in self._granted
                if not known and turn_id not in self._released and turn_group(turn_id) in self._groups:
                    self._pending[turn_id] = (owner, kind, float(cpus))
            for turn_id, completed in releases:
                self._release(turn_id, completed)
            self._submit()

    def granted(self, turn_id: str) -> bool:
        """The scheduler started the turn (``ready()`` returned it): its CPUs are the trial's until released.
        False: it was released meanwhile (and is finished already): grant nothing."""
        with self._lock:
            if turn_id not in self._queued:
                return False
            self._queued.discard(turn_id)
            self._granted.add(turn_id)
            return True

    def release(self, turn_id: str, completed: bool = False) -> None:
        with self._lock:
            self._release(turn_id, completed)

    def close(self, group: str) -> list[str]:
        """The sweep ended: release every turn of it (queued ones are cancelled); returns the turns released."""
        with self._lock:
            self._groups.discard(group)
            mine = [t for t in (*self._pending, *self._queued, *self._granted) if turn_group(t) == group]
            for turn_id in mine:
                self._release(turn_id, False)
            self._released = {t for t in self._released if turn_group(t) != group}
            return mine

    # -- with the lock held

    def _release(self, turn_id: str, completed: bool) -> None:
        self._released.add(turn_id)
        self._pending.pop(turn_id, None)
        if turn_id in self._queued:
            self._queued.discard(turn_id)
            if not self.scheduler.cancel(turn_id):  # ready() started it a moment ago: it ends unused
                self.scheduler.finished(turn_id, completed=False)
        elif turn_id in self._granted:
            self._granted.discard(turn_id)
            self.scheduler.finished(turn_id, completed=completed)

    def _submit(self) -> None:
        """Queue the pending turns the scheduler accepts now; the others wait for a later beat."""
        cap = self.scheduler.limits.cpus
        for turn_id, (owner, kind, cpus) in list(self._pending.items()):
            try:
                self.scheduler.submit(turn_id, owner, kind, cpus=min(max(cpus, 1.0), cap), slot=None)
            except (OwnerLimit, Busy):
                continue  # the owner's (or everyone's) queue is full: this turn waits its go here
            del self._pending[turn_id]
            self._queued.add(turn_id)
