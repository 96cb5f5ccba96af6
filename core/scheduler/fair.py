"""The :class:`Scheduler`: queued and running jobs, started in round-robin fair order (see :mod:`core.scheduler`)."""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.scheduler.limits import Busy, Limits, OwnerLimit
from core.scheduler.text import Waiting

WINDOW = 20  # an expected duration is the mean of a kind's last WINDOW completed runs
_EPS = 1e-9  # CPU sums are floats: 0.1 + 0.2 fits in 0.3


@dataclass
class _Job:
    id: str
    owner: str
    kind: str
    cpus: float
    slot: str | None
    estimate: float | None
    submitted: float
    started: float | None = None


def _start(queued: list[_Job], total: float, free: float, busy: set, load: Counter, line: dict[str, int],
           tick: int) -> tuple[list, float, int]:
    """Take from ``queued`` (in submission order) the jobs that start now, in fair order.

    A job needing more than ``total`` (the limits shrank after its submit) starts when all CPUs are free, alone,
    rather than never. ``busy``: the (owner, slot) pairs running; ``load``: owner -> the turns they have had since they
    last had nothing queued or running (fewer goes first: everyone gets one before anyone gets two); ``line``: owner -> their place in the round (lower goes first among equal loads), ``tick`` the last place
    given. Mutates ``queued``, ``busy``, ``load`` and ``line``; returns (started, free CPUs, tick)."""
    started = []
    while queued:
        heads: dict[str, _Job] = {}  # each owner's oldest job that their running jobs do not hold back
        for job in queued:
            if job.owner not in heads and (job.slot is None or (job.owner, job.slot) not in busy):
                heads[job.owner] = job
        if not heads:
            break
        job = heads[min(heads, key=lambda owner: (load[owner], line[owner]))]
        if min(job.cpus, total) > free + _EPS:
            break  # the head of the line waits for CPUs, and so does everyone behind it
        queued.remove(job)
        started.append(job)
        free -= job.cpus
        load[job.owner] += 1
        if job.slot is not None:
            busy.add((job.owner, job.slot))
        if any(other.owner == job.owner for other in queued):
            tick += 1
            line[job.owner] = tick  # to the back of the round
        else:
            del line[job.owner]  # nothing left waiting: a later submit joins the back
    return started, free, tick


class Scheduler:
    """Queued and running jobs of one server, with the policy of :mod:`core.scheduler`. Thread-safe.

    ``clock``: seconds, monotonic (a fake one in tests); ``default_seconds``: kind -> expected duration until
    this server has measured one. ``limits`` may be replaced at any time (the cluster's size became known): the
    next call uses the new one."""

    def __init__(self, limits: Limits, *, clock: Callable[[], float] = time.monotonic,
                 default_seconds: Mapping[str, float] | None = None):
        self.limits = limits
        self._clock = clock
        self._defaults = dict(default_seconds or {})
        self._lock = threading.Lock()
        self._queued: list[_Job] = []  # in submission order
        self._running: dict[str, _Job] = {}
        self._line: dict[str, int] = {}  # owner with jobs waiting -> place in the round
        self._tick = 0
        self._durations: dict[str, deque] = {}
        self._served: Counter = Counter()  # owner -> turns had while active (see _start)

    def submit(self, job_id: str, owner: str, kind: str, *, cpus: float = 1, slot: str | None = None,
               estimate: float | None = None) -> None:
        """Queue a job; :meth:`ready` says when it may start.

        ``slot``: at most one job of an owner runs per slot (the page kind; None: no such rule, e.g. a sweep's
        trial); a job whose owner runs one in its slot waits, it is not refused. ``estimate``: its expected
        seconds, when the caller knows better than the kind's mean. Raises :class:`OwnerLimit` or :class:`Busy`
        (nothing queued), or ValueError for a job needing more CPUs than there are, or an id already in use."""
        if not 0 < cpus <= self.limits.cpus + _EPS:
            raise ValueError(f"A {kind} training needs {cpus:g} CPUs; this server gives trainings "
                             f"{self.limits.cpus:g}.")
        with self._lock:
            now = self._clock()
            if job_id in self._running or any(job.id == job_id for job in self._queued):
                raise ValueError(f"job {job_id!r} is already queued or running")
            mine = sum(job.owner == owner for job in self._queued)
            if mine >= self.limits.max_queued_per_owner:
                raise OwnerLimit(mine)
            if len(self._queued) >= self.limits.max_queue:
                first = min(self._simulate(now).values())
                raise Busy(len(self._queued), None if math.isinf(first) else max(0.0, first - now))
            if not mine:
                self._tick += 1
                self._line[owner] = self._tick
            self._queued.append(_Job(job_id, owner, kind, float(cpus), slot, estimate, now))

    def cancel(self, job_id: str) -> bool:
        """Remove a queued job at once (True); a running or unknown job is left alone (False: stop it instead)."""
        with self._lock:
            job = next((job for job in self._queued if job.id == job_id), None)
            if job is None:
                return False
            self._queued.remove(job)
            if not any(other.owner == job.owner for other in self._queued):
                del self._line[job.owner]
            self._forget_if_idle(job.owner)
            return True

    def ready(self) -> list[str]:
        """The queued jobs that may start now, in fair order, now marked running: the executor starts them."""
        with self._lock:
            now = self._clock()
            started, _, self._tick = _start(self._queued, self.limits.cpus, self._free(), self._busy(), self._served,
                                            self._line, self._tick)
            for job in started:
                job.started = now
                self._running[job.id] = job
            return [job.id for job in started]

    def finished(self, job_id: str, *, completed: bool = True) -> None:
        """A running job ended: free its CPUs and slot, and record its duration for its kind's mean
        (``completed=False``, a stopped or failed job: not recorded). Other ids are ignored."""
        with self._lock:
            job = self._running.pop(job_id, None)
            if job is not None:
                self._forget_if_idle(job.owner)
            if job is not None and completed:
                window = self._durations.setdefault(job.kind, deque(maxlen=WINDOW))
                window.append(max(0.0, self._clock() - job.started))

    def position(self, job_id: str) -> Waiting | None:
        """Where a queued job stands, from the simulated future; None for a running or unknown job."""
        with self._lock:
            now = self._clock()
            starts = self._simulate(now)
            if job_id not in starts:
                return None
            order = list(starts)
            return Waiting(order.index(job_id) + 1, len(order), self._eta(starts[job_id], now))

    def expected_seconds(self, kind: str) -> float | None:
        """The mean of the kind's last measured durations, else its default, else None."""
        with self._lock:
            return self._expected(kind)

    def jobs(self) -> list[dict]:
        """Every running job (oldest first), then every queued one (by place): id, owner, kind, cpus, slot, state
        ("running"/"queued"), place (queued), eta, waited (seconds queued) and elapsed (seconds running)."""
        with self._lock:
            now = self._clock()
            starts = self._simulate(now)
            rows = [{"id": job.id, "owner": job.owner, "kind": job.kind, "cpus": job.cpus, "slot": job.slot,
                     "state": "running", "place": None, "eta": None, "waited": job.started - job.submitted,
                     "elapsed": now - job.started} for job in sorted(self._running.values(), key=lambda j: j.started)]
            queued = {job.id: job for job in self._queued}
            for place, (job_id, start) in enumerate(starts.items(), 1):
                job = queued[job_id]
                rows.append({"id": job.id, "owner": job.owner, "kind": job.kind, "cpus": job.cpus, "slot": job.slot,
                             "state": "queued", "place": place, "eta": self._eta(start, now),
                             "waited": now - job.submitted, "elapsed": None})
            return rows

    # -- internals, called with the lock held

    def _free(self) -> float:
        return self.limits.cpus - sum(job.cpus for job in self._running.values())

    def _forget_if_idle(self, owner: str) -> None:
        """An owner with nothing queued or running starts afresh: their past turns no longer count against them."""
        if not any(job.owner == owner for job in (*self._queued, *self._running.values())):
            self._served.pop(owner, None)

    def _busy(self) -> set:
        return {(job.owner, job.slot) for job in self._running.values() if job.slot is not None}

    def _expected(self, kind: str) -> float | None:
        window = self._durations.get(kind)
        return sum(window) / len(window) if window else self._defaults.get(kind)

    def _end(self, job: _Job, start: float, now: float) -> float:
        seconds = job.estimate if job.estimate is not None else self._expected(job.kind)
        return math.inf if seconds is None else max(now, start + seconds)  # an overdue job ends "now"

    @staticmethod
    def _eta(start: float, now: float) -> float | None:
        return None if math.isinf(start) else max(0.0, start - now)

    def _simulate(self, now: float) -> dict[str, float]:
        """Queued job id -> simulated start time (inf: unknown), in simulated start order."""
        queued, line, busy, free, tick = list(self._queued), dict(self._line), self._busy(), self._free(), self._tick
        load = Counter(self._served)
        ends = [(self._end(job, job.started, now), n, job) for n, job in enumerate(self._running.values())]
        heapq.heapify(ends)
        starts, t, n = {}, now, len(ends)
        while True:
            started, free, tick = _start(queued, self.limits.cpus, free, busy, load, line, tick)
            for job in started:
                starts[job.id] = t
                heapq.heappush(ends, (self._end(job, t, now), n, job))
                n += 1
            if not queued or not ends:
                break
            t = max(t, ends[0][0])
            while ends and ends[0][0] <= t:  # every job ending by then frees its CPUs before the next starts
                _, _, job = heapq.heappop(ends)
                free += job.cpus
                busy.discard((job.owner, job.slot))
        starts.update((job.id, math.inf) for job in queued)  # unreachable: nothing running leaves every job room
        return starts
