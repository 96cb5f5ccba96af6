"""The operator's limits (:class:`Limits`, from environment variables) and the two refusals of a submit."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.scheduler.text import busy_text

MAX_QUEUE, MAX_QUEUED_PER_OWNER, WORKER_CPUS = (
    "NN_PLAYGROUND_MAX_QUEUE", "NN_PLAYGROUND_MAX_QUEUED_PER_OWNER", "NN_PLAYGROUND_WORKER_CPUS")


@dataclass(frozen=True)
class Limits:
    """What the operator allows. ``cpus``: the CPUs trainings may use together (the cluster's, or this machine's);
    ``max_queue``: jobs waiting, all owners together; ``max_queued_per_owner``: jobs waiting of one owner."""

    cpus: float
    max_queue: int = 24
    max_queued_per_owner: int = 3

    def __post_init__(self):
        if not (self.cpus > 0 and math.isfinite(self.cpus)):
            raise ValueError(f"Limits.cpus must be a positive number, not {self.cpus!r}")
        if self.max_queue < 1 or self.max_queued_per_owner < 1:
            raise ValueError("Limits.max_queue and Limits.max_queued_per_owner must be at least 1")

    @classmethod
    def from_env(cls, cpus: float | None = None, environ: Mapping[str, str] | None = None, *,
                 shared_with_server: bool = True) -> Limits:
        """The limits from ``cpus`` (default: this machine's) and the operator's environment variables.

        ``NN_PLAYGROUND_WORKER_CPUS`` caps the CPUs for trainings; unset, one CPU is left to the web server when
        there are two or more and the CPUs are the server's own machine's (``shared_with_server``: a 2-core machine
        trains one job at a time and still answers clicks; a cluster's CPUs are all the trainings').
        ``NN_PLAYGROUND_MAX_QUEUE`` (default 24) and ``NN_PLAYGROUND_MAX_QUEUED_PER_OWNER`` (default 3) bound the
        waiting jobs. An empty variable is unset; a bad value raises a ValueError naming the variable.
        """
        env = os.environ if environ is None else environ
        cpus = float(cpus or os.cpu_count() or 1)
        worker_cpus = _env_number(env, WORKER_CPUS, float, cpus - 1 if cpus >= 2 and shared_with_server else cpus)
        return cls(cpus=min(cpus, worker_cpus), max_queue=_env_number(env, MAX_QUEUE, int, cls.max_queue),
                   max_queued_per_owner=_env_number(env, MAX_QUEUED_PER_OWNER, int, cls.max_queued_per_owner))


def _env_number(env: Mapping[str, str], name: str, kind: type, default):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not (value > 0 and math.isfinite(value)):
        what = "a whole number, at least 1" if kind is int else "a positive number of CPUs"
        raise ValueError(f"{name}={raw!r}: expected {what}") from None
    return value


class Busy(Exception):
    """The queue is full and nothing was queued; ``str(err)`` is the answer for the visitor. ``waiting``: the jobs
    waiting; ``seconds``: until the first of them starts and a place frees up (None: unknown)."""

    def __init__(self, waiting: int, seconds: float | None):
        self.waiting, self.seconds = waiting, seconds
        super().__init__(busy_text(waiting, seconds))


class OwnerLimit(Exception):
    """The owner already has their maximum of jobs waiting; nothing was queued. ``str(err)`` says so."""

    def __init__(self, queued: int):
        self.queued = queued
        super().__init__(f"You already have {queued} training{'s' * (queued != 1)} waiting: "
                         "wait for one to start or stop one.")
