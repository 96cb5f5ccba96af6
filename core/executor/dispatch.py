"""The :class:`Executor`: the fair queue, the Ray workers and the dispatcher thread between them."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from dataclasses import replace

from core.executor.checkpoints import save_last_checkpoint
from core.executor.cluster import Cluster
from core.executor.job import RUNNING, RemoteJob
from core.executor.jobs_file import JobsFile
from core.executor.turns import Turns
from core.executor.worker import run_job, warm
from core.progress import CANCELLED, DONE, FAILED, FINISHED, STOPPED, STOPPED_EARLY
from core.registry import get_task
from core.scheduler import Limits, Scheduler
from core.store import RunStore
from core.sweep.connect import cluster_cpus
from core.sweep.spec import SweepError

POLL_SECONDS = 0.25  # the dispatcher's beat: starts, progress, endings
STOPPING_POLL_SECONDS, STOPPING_FOR = 0.05, 5.0  # a quicker beat for a while after a Stop (its end is awaited)
LOST_AFTER = 15.0  # seconds of failing beats after which Ray is taken for gone (its running jobs end)
WORKER_DIED = ("The worker process training this model stopped unexpectedly (killed, out of memory, or its machine "
               "left the cluster)")
log = logging.getLogger(__name__)
# Lazy import: Ray (0.3 s) inside the methods that use it: `python -m core --help` imports this module.


class Executor:
    """Queue and run training jobs on Ray (see the module's doc). Thread-safe; one per server process."""

    def __init__(self, address: str | None = None, limits: Limits | None = None, jobs_file: bool = True):
        self.scheduler = Scheduler(limits or Limits.from_env(cpus=os.cpu_count() or 1))
        self._jobs_file = JobsFile() if jobs_file else None  # the server's queue for `python -m core jobs`
        self._jobs: dict[str, RemoteJob] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.cluster = Cluster(address)  # Ray: the connection, the mailbox, the remote functions
        self._turns = Turns(self.scheduler)  # sweep trials' turns (core.executor.turns)
        self._hurry_until = 0.0
        self._thread = threading.Thread(target=self._loop, name="executor", daemon=True)
        self._thread.start()

    # --- what callers use ----------------------------------------------------------------------------------------
    def submit(self, kind: str, params: dict, *, store: RunStore, owner: str = "local", record: dict | None = None,
               slot: str | None = None, save: bool = True, strategy: str = "auto") -> RemoteJob:
        """Queue a training; raises ``ParamError`` (bad settings), ``ValueError`` (the task cannot start, e.g. no
        CVAE run), ``Busy`` or ``OwnerLimit`` (the queue is full) before anything is queued."""
        task = get_task(kind)
        params = task.space.validate(params)
        task.check_ready(params, store)
        job = RemoteJob(self, kind, params, store, owner, record or {}, save=save, strategy=strategy)
        with self._lock:
            self.scheduler.submit(job.id, owner, kind, cpus=self.cpus_for(kind), slot=slot or kind)
            self._jobs[job.id] = job
        self._wake.set()
        return job

    def stop(self, job: RemoteJob) -> None:
        """Queued: leaves the queue. Running: its worker ends the training after the current batch, keeping the model;
        before a first batch has ended (loading data, tracing the graph: seconds that cannot be cut short) there is
        nothing to keep, so its worker process is ended at once and a fresh one warmed in its place."""
        import ray

        first_batch = job.running and job.ref is not None and not job.progress.counts()[0]
        if self.scheduler.cancel(job.id) or first_batch:
            with contextlib.suppress(Exception):  # it may have just ended by itself
                if first_batch:
                    ray.cancel(job.ref, force=True)
                    self.cluster.task(self.cpus_for(job.kind), warm).remote()
            job._end(STOPPED, error=None, phase=STOPPED_EARLY if first_batch else CANCELLED)
            self._forget(job)
        elif job.running and self.cluster.mailbox is not None:
            self.cluster.mailbox.stop.remote(job.id)
            self._hurry_until = time.monotonic() + STOPPING_FOR
            self._wake.set()

    def cpus_for(self, kind: str) -> int:
        """A kind's CPUs (its declared need, capped by the largest machine and by the scheduler's total)."""
        need = int(get_task(kind).cpus)
        caps = [int(self.scheduler.limits.cpus)] + ([self.cluster.node_cpus] if self.cluster.node_cpus else [])
        return max(1, min([need, *caps]))

    def jobs(self) -> list[dict]:
        """Every queued and running job, for the operator (with its worker's host and pid once known)."""
        with self._lock:
            jobs = dict(self._jobs)
        return [{**row, "worker": getattr(jobs.get(row["id"]), "worker", None), "sweep": self._turns.group_of(row["id"])}
                for row in self.scheduler.jobs()]

    # --- a sweep's trials take turns here (core.executor.turns) -----------------------------------------------
    def open_turns(self, group: str) -> str:
        """Let the trials of sweep ``group`` ask for turns; connects to Ray (:class:`SweepError` when it cannot) and
        returns the name of the mailbox actor the trials ask."""
        self._connect()
        self._turns.open(group)
        self._wake.set()
        return self.cluster.mailbox_name

    def end_turn(self, turn_id: str, completed: bool = False) -> None:
        """The trial of ``turn_id`` ended (the driver-side sweep learnt it; its worker may be gone): free its turn."""
        self._turns.release(turn_id, completed)
        self._wake.set()

    def close_turns(self, group: str) -> None:
        """The sweep ended: nothing of it stays queued or running."""
        for turn_id in self._turns.close(group):
            if self.cluster.mailbox is not None:
                self.cluster.mailbox.forget.remote(turn_id)
        self._write_jobs_file()

    def warm(self) -> None:
        """Start Ray and one worker per CPU need in the background, so the first Train click does not wait."""
        def go():
            import ray
            try:
                self._connect()
                ray.get([self.cluster.task(cpus, warm).remote() for cpus in sorted({self.cpus_for(k) for k in ("iris", "cnn")})])
            except Exception as err:  # warming is a favour: a real job reports its own problem
                log.warning("warming the training workers failed: %s", err)

        threading.Thread(target=go, name="executor-warm", daemon=True).start()

    # --- the dispatcher ------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        self.cluster.connect(then=self._size_to_cluster)

    def _size_to_cluster(self) -> None:
        """On a cluster, the queue runs as many CPUs' worth of jobs as it has, capped by the operator's
        NN_PLAYGROUND_WORKER_CPUS (a local Ray shares this machine with the server: its limits stay)."""
        total = cluster_cpus()
        if total and not self.cluster.local:
            cpus = Limits.from_env(cpus=total, shared_with_server=False).cpus
            self.scheduler.limits = replace(self.scheduler.limits, cpus=cpus)

    def _loop(self) -> None:
        failing_since, next_beat = None, 0.0
        while True:  # a beat every POLL_SECONDS from the last one's start (not after its Ray calls), 50 ms apart at least
            self._wake.wait(max(next_beat - time.monotonic(), 0.05))
            now = time.monotonic()
            next_beat, _ = now + (STOPPING_POLL_SECONDS if now < self._hurry_until else POLL_SECONDS), self._wake.clear()
            try:
                self._beat()
                failing_since = None
            except Exception as err:  # the dispatcher must outlive any one problem
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.error("executor: %s", traceback.format_exc())
                elif time.monotonic() - failing_since > LOST_AFTER and self.cluster.connected:
                    self._lost(err)
                    failing_since = None

    def _lost(self, err: Exception) -> None:
        """Ray stopped answering (the cluster went away, the local Ray died): end the running jobs with a message,
        keep the queued ones queued, and connect afresh on the next beat. Runs saved before are not touched."""
        message = (f"The trainings' cluster stopped answering ({type(err).__name__}): this training was lost. Runs "
                   "saved before are kept; press Train again to retry.")
        log.warning("executor: Ray stopped answering (%s); its running jobs end, queued ones wait", err)
        for job in [j for j in list(self._jobs.values()) if j.state == RUNNING and j.running]:
            job._end(FAILED, error=message)
            self._forget(job, reachable=False)
        self.cluster.forget()

    def _beat(self) -> None:
        import ray

        with self._lock:
            busy = any(j.running for j in self._jobs.values())
        if not busy and not self._turns.active():
            return
        if self.cluster.connected and not ray.is_initialized():  # Ray was shut down under us (the process exits, a test ended it)
            self._lost(RuntimeError("Ray was shut down"))
            return
        try:
            self._connect()
        except SweepError as err:
            for job in [j for j in list(self._jobs.values()) if j.queued]:
                self.scheduler.cancel(job.id)
                job._end(FAILED, error=f"The trainings' cluster cannot be reached: {err}")
                self._forget(job)
            return
        if self._turns.active():
            self._turns.take(*ray.get(self.cluster.mailbox.take_turns.remote(), timeout=30))
        with self._lock:  # a submit queues and records its job together
            ready = self.scheduler.ready()
        for job_id in ready:
            if job_id in self._jobs:
                self._launch(self._jobs[job_id])
            elif self._turns.granted(job_id):  # a sweep trial's turn: the trial trains in its own worker once granted
                self.cluster.mailbox.grant.remote(job_id)
        self._merge_progress()
        self._collect()
        self._write_jobs_file()

    def _launch(self, job: RemoteJob) -> None:
        job.state = RUNNING
        job.progress.update(phase="starting", started=time.time())
        try:
            payload = {"id": job.id, "kind": job.kind, "params": job.params, "record": job.record,
                       "save": job.save, "strategy": job.strategy, **job.inputs()}
            job.ref = self.cluster.task(self.cpus_for(job.kind), run_job).remote(payload, self.cluster.mailbox)
        except Exception as err:
            self._finish_failed(job, f"The training could not be started: {type(err).__name__}: {err}")

    def _merge_progress(self) -> None:
        import ray

        deltas = ray.get(self.cluster.mailbox.take.remote(), timeout=30)
        received = time.time()
        for job_id, items in deltas.items():
            job = self._jobs.get(job_id)
            if job is None or not job.running:
                continue
            for delta in items:
                job.worker = delta.get("worker") or job.worker
                delta = {k: v for k, v in delta.items() if k not in ("status", "finished", "run_id", "phase")
                         or (k == "phase" and v not in FINISHED)}
                job.progress.merge(delta, received)

    def _collect(self) -> None:
        import ray

        running = {job.ref: job for job in self._jobs.values() if job.ref is not None}
        if not running:
            return
        done, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
        for ref in done:
            job = running[ref]
            if not job.running:  # stopped meanwhile (Executor.stop)
                continue
            try:
                out = ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                self._finish_failed(job, f"The training worker failed: {str(err.cause or err).splitlines()[0][:300]}")
            except ray.exceptions.RayError as err:
                self._finish_failed(job, f"{WORKER_DIED}: {type(err).__name__}.")
            else:
                self._finish(job, out)

    def _finish(self, job: RemoteJob, out: dict) -> None:
        error, run_id = out.get("error"), None
        if out.get("run"):
            try:
                run_id = job.store.unpack(out["run"], params=job.params)
            except Exception as err:
                error = (error + " " if error else "") + f"Saving the run failed: {type(err).__name__}: {err}"
        self._merge_progress()
        job._end(out["status"], error=error, details=out.get("details"), metrics=out.get("metrics") or {},
                 run_id=run_id)
        self._forget(job)

    def _finish_failed(self, job: RemoteJob, message: str) -> None:
        """End a job whose worker is gone, keeping its last completed epoch's checkpoint as a run where one exists."""
        run_id, message = save_last_checkpoint(self.cluster.mailbox, job, message)
        job._end(FAILED, error=message, run_id=run_id)
        self._forget(job)

    def _forget(self, job: RemoteJob, reachable: bool = True) -> None:
        if job.state == RUNNING:
            self.scheduler.finished(job.id, completed=job.progress.status == DONE)
        with self._lock:
            self._jobs.pop(job.id, None)
        if self.cluster.mailbox is not None and reachable:
            self.cluster.mailbox.forget.remote(job.id)
        self._write_jobs_file()

    def _write_jobs_file(self) -> None:
        if self._jobs_file is not None:
            self._jobs_file.write(self.jobs())
