"""Admission and fair share for training jobs: which queued job starts next, who waits, and for about how long.

Pure Python (no TensorFlow, Ray or Streamlit) and thread-safe. An executor drives it and starts the workers:

    sched = Scheduler(Limits.from_env(cpus=os.cpu_count()))
    sched.submit("j7", owner="ann", kind="cnn", cpus=1, slot="cnn")   # may raise Busy or OwnerLimit
    for job_id in sched.ready(): ...                                  # start these; call after submit and finished
    sched.finished("j7")                                              # when a worker ends: frees its CPUs
    waiting_text(sched.position("j9"))                                # "Queued: 3rd of 7, starts in about 40 s"

The policy:

* **Capacity.** Jobs run while their CPUs fit in ``Limits.cpus``. Only one job of an owner runs per *slot* (the
  page kind): a second click waits for the first training to end; another slot of the same owner may run meanwhile.
* **Round-robin fair share.** Owners take turns, like a queue at a counter where each person is served one item
  per visit: the owner who has had the fewest turns goes first (everyone gets one before anyone gets two; turns
  are forgotten once an owner has nothing queued or running), and among equals the one at the front of the round
  (their oldest job); an owner who just had a job started goes to the back of the round. So one visitor's ten clicks, or a sweep's trials, cannot starve the rest. An owner
  with nothing waiting who submits joins the back. A sweep submits its trials as jobs of its owner (slot
  ``None``), one or a few at a time: they take the owner's turns and count against the owner's cap.
* **Head of line.** If the next job in fair order needs more CPUs than are free, nothing else starts until it
  fits: a 2-CPU job never starves behind a stream of 1-CPU jobs (the price: a CPU may idle meanwhile).
* **Admission.** An owner may have ``max_queued_per_owner`` jobs waiting (:class:`OwnerLimit`), all owners
  together ``max_queue`` (:class:`Busy`); a refused submit queues nothing.

Waiting times come from a simulation of the future in fair order: running jobs end at their start plus their
kind's expected duration (the mean of this server's last :data:`WINDOW` completed runs of that kind), queued
jobs start as CPUs and slots free up.

Modules: :mod:`~core.scheduler.fair` (the :class:`Scheduler`), :mod:`~core.scheduler.limits` (:class:`Limits`,
:class:`Busy`, :class:`OwnerLimit`), :mod:`~core.scheduler.text` (what a visitor reads). Import from here.
"""

from core.scheduler.fair import WINDOW, Scheduler
from core.scheduler.limits import MAX_QUEUE, MAX_QUEUED_PER_OWNER, WORKER_CPUS, Busy, Limits, OwnerLimit
from core.scheduler.text import Waiting, busy_text, ordinal, waiting_text

__all__ = ["MAX_QUEUE", "MAX_QUEUED_PER_OWNER", "WINDOW", "WORKER_CPUS", "Busy", "Limits", "OwnerLimit", "Scheduler",
           "Waiting", "busy_text", "ordinal", "waiting_text"]
