"""``python -m core bench class [--images K]``: a class of K owners each starting the CNN page's Quick preset at once.

The same K trainings run twice in one command, one way after the other:

* **executor**: from K owners through :class:`core.executor.Executor` on a local Ray (this machine), with the
  server's own limits (:meth:`core.scheduler.Limits.from_env`): the fair queue starts them as CPUs free up, each in a
  worker process;
* **threads**: K :class:`core.jobs.TrainingJob` threads in this one process, all at once (how the server trained
  before the executor).

Both sides start warm, as on a running server: Ray's worker imported TensorFlow, and so did this process. For each
side: seconds from the submits to the first and to the last saved run, and the first-curve-point latency (from a
job's submit to its first per-batch loss visible in the job's progress) median and max; and the ratio
executor/threads of the time to the last run.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from core.executor import Executor
from core.executor.worker import warm
from core.jobs import TrainingJob, import_tensorflow
from core.mnist.task import PRESETS
from core.progress import DONE, FINISHED
from core.registry import get_task
from core.store import RunStore
from core.sweep import connect

# Lazy import: Ray (0.3 s to import) inside the bench, so that `python -m core --help` does not load it.

KIND = "cnn"
PRESET = "Quick: 20,000 images × 3 epochs"  # the CNN page's preset that a class starts with
OWNERS = 6  # the default K
POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 6 * 3600  # a side that has not ended by then is a failure, not a figure


def _watch(jobs: list, submitted: list[float], start: float) -> dict:
    """Poll the jobs until all end: each job's first-point latency and the first and last saved run's time."""
    first_point: list[float | None] = [None] * len(jobs)
    ended: list[float | None] = [None] * len(jobs)
    while any(t is None for t in ended):
        now = time.perf_counter()
        if now - start > TIMEOUT_SECONDS:
            raise RuntimeError(f"the trainings did not end within {TIMEOUT_SECONDS} s")
        for i, job in enumerate(jobs):
            if first_point[i] is None and job.progress.counts()[0] > 0:
                first_point[i] = now - submitted[i]
            if ended[i] is None and job.progress.status in FINISHED:
                ended[i] = now - start
        time.sleep(POLL_SECONDS)
    snaps = [job.progress.snapshot() for job in jobs]
    failed = [f"{job.owner}: {snap['status']} {snap['error'] or ''}".strip()
              for job, snap in zip(jobs, snaps, strict=True) if snap["status"] != DONE or not snap["run_id"]]
    if failed:
        raise RuntimeError("not every training was saved: " + "; ".join(failed))
    points = [p for p in first_point if p is not None]
    return {"first_run_s": min(ended), "last_run_s": max(ended),
            "first_point_median_s": statistics.median(points) if points else None,
            "first_point_max_s": max(points) if points else None,
            "runs": [snap["run_id"] for snap in snaps]}


def _warm_workers(executor) -> None:
    """Import TensorFlow in the workers the executor will use for the trainings (as ``Executor.warm`` does, but
    waited for): as many at once as can train at once."""
    import ray

    cpus = executor.cpus_for(KIND)
    parallel = max(1, int(executor.scheduler.limits.cpus // cpus))
    ray.get([executor.cluster.task(cpus, warm).remote() for _ in range(parallel)])


def _executor_side(params: dict, owners: list[str], store) -> dict:
    executor = Executor(address="local", jobs_file=False)  # the server's limits, from the environment
    _warm_workers(executor)
    start = time.perf_counter()
    jobs, submitted = [], []
    for owner in owners:
        submitted.append(time.perf_counter())
        jobs.append(executor.submit(KIND, params, store=store, owner=owner, slot=KIND))
    figures = _watch(jobs, submitted, start)
    figures["parallel"] = max(1, int(executor.scheduler.limits.cpus // executor.cpus_for(KIND)))
    return figures


def _threads_side(params: dict, owners: list[str], store) -> dict:
    import_tensorflow()
    start = time.perf_counter()
    jobs, submitted = [], []
    for owner in owners:
        submitted.append(time.perf_counter())
        jobs.append(TrainingJob(KIND, params, store=store, owner=owner).start())
    return _watch(jobs, submitted, start)


def _line(name: str, figures: dict) -> str:
    return (f"  {name:9s} first run {figures['first_run_s']:7.1f} s   last run {figures['last_run_s']:7.1f} s   "
            f"first curve point median {figures['first_point_median_s']:6.1f} s, max "
            f"{figures['first_point_max_s']:6.1f} s")


def bench_class(n_images: int | None = None, *, overrides: dict | None = None, runs_dir: str | None = None) -> dict:
    """A class of K owners (``--images``, default 6) starting a Quick CNN training at once: executor vs threads.

    Runs, seconds to the first and last saved run, first-curve-point latency (median, max) for each side, and the
    ratio executor/threads of the time to the last run. ``overrides``: settings instead of the preset's (a quick
    check, e.g. ``{"train_size": 200}``). ``runs_dir``: keep the runs there (``executor/``, ``threads/``) rather than
    in a temporary folder. Ray: the local one this process uses, else one started here and stopped.
    """
    import ray

    if n_images is not None and n_images < 1:
        raise ValueError(f"bench class takes --images 1 or more (the number of owners), not {n_images}")
    owners = [f"student-{i + 1}" for i in range(n_images or OWNERS)]
    params = {**PRESETS[PRESET], **(overrides or {})}
    get_task(KIND).space.validate(params)  # ParamError (a ValueError) before anything starts
    started_ray = not ray.is_initialized()
    connect.ensure_ray("local")
    try:
        print(f"a class of {len(owners)}: each starts the CNN with {params} (executor: {connect.cluster_cpus()} CPUs "
              f"of a local Ray; threads: {os.cpu_count()} CPUs)", flush=True)
        sides = {}
        for name, side in (("executor", _executor_side), ("threads", _threads_side)):
            with tempfile.TemporaryDirectory(prefix=f"bench-class-{name}-") as tmp:
                sides[name] = side(params, owners, RunStore(os.path.join(runs_dir, name) if runs_dir else tmp))
            print(_line(name, sides[name]), flush=True)
    finally:
        if started_ray:
            connect.shutdown()
    ratio = sides["executor"]["last_run_s"] / sides["threads"]["last_run_s"]
    print(f"  time to the last saved run, executor/threads: {ratio:.2f}x")
    return {"owners": len(owners), "params": params, **sides, "ratio_last_run": ratio}
