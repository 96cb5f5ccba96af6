"""The one executor of every training: a fair queue in front of worker processes on Ray.

A page's Train click, a fine-tune, a latent classifier and the command line all submit a job here. The job waits in
:class:`core.scheduler.Scheduler` (admission, round-robin fair share between owners, CPU slots), then runs in a Ray
worker process (:func:`core.worker.run_job`): on a local Ray this process starts on demand, or on the cluster at
``RAY_ADDRESS`` / the address given. One code path for both: the job's inputs travel as bytes, its run comes back as
bytes and is stored here, so no shared disk is needed. The process that calls :meth:`Executor.submit` (the web
server) never trains.

A :class:`RemoteJob` looks like the old in-process job to a page: ``progress.snapshot()`` (live per-batch curves,
mirrored from the worker twice a second), ``running``, ``stop()``, ``model`` (loaded from the saved run on first
use), plus ``waiting()`` while it is queued. One dispatcher thread per executor starts what the scheduler lets
start, merges progress from the mailbox actor, and stores finished runs. A worker that dies ends its job with a
message (keeping its last completed epoch as a run); every other job goes on.

A sweep given the executor (:class:`core.sweep.Sweep`) draws its trials from the same queue: each trial asks the
mailbox for a turn as a job of the sweep's owner and trains once the dispatcher grants it
(:mod:`core.executor.turns`); :meth:`Executor.jobs` lists those turns with the rest.
"""

import threading

from core.executor.dispatch import POLL_SECONDS, WORKER_DIED, Executor
from core.executor.job import QUEUED, RUNNING, RemoteJob
from core.executor.jobs_file import JOBS_FILE
from core.executor.mailbox import Mailbox

__all__ = ["JOBS_FILE", "POLL_SECONDS", "QUEUED", "RUNNING", "WORKER_DIED", "Executor", "Mailbox", "RemoteJob",
           "forget_shared", "shared"]

_shared: list[Executor] = []
_shared_lock = threading.Lock()


def shared() -> Executor:
    """This process's executor (the web server's, shared by every session): the cluster at ``$RAY_ADDRESS`` or a
    local Ray, with the operator's limits (:meth:`core.scheduler.Limits.from_env`). Made on first use."""
    with _shared_lock:
        if not _shared:
            _shared.append(Executor())
        return _shared[0]


def forget_shared() -> None:
    """The next :func:`shared` makes a new executor (with the limits the environment says then); for tests."""
    with _shared_lock:
        _shared.clear()
