"""The executor (core.executor) on a local Ray: every training a queued job in a worker process.

Three owners' trainings with one slot finish in round-robin order with every run saved; a queued job's place and a
cancel; Stop keeps the model, or ends a job at once before its first batch; a worker killed with SIGKILL ends its job with a message and keeps its last epoch,
and the next training works; the trained run comes back to this store (no shared disk needed).
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from core.executor import WORKER_DIED, Executor
from core.executor.checkpoints import KEPT
from core.executor.worker import JOB_FOLDER
from core.progress import DONE, FAILED, LOOP_PHASES, STOPPED, STOPPED_EARLY
from core.scheduler import Limits
from core.store import RunStore
from tests.conftest import wait_for

pytestmark = pytest.mark.ray
SMALL = {"epochs": 3, "repeat": 2}  # about a second of training
TIMEOUT = 240


@pytest.fixture(scope="module")
def executor(local_ray):
    """One slot: jobs run one at a time, in the scheduler's order."""
    return Executor(limits=Limits(cpus=1), jobs_file=False)


def _wait(jobs, timeout=TIMEOUT):
    deadline = time.time() + timeout
    for job in jobs:
        assert job.wait(max(1, deadline - time.time())), f"job {job.kind} of {job.owner} did not end"


def _wait_for(predicate, timeout=TIMEOUT, what="the condition", every=None):
    wait_for(predicate, timeout, what, every)


def test_three_owners_share_one_slot_in_round_robin_order_and_every_run_is_saved(executor, runs_dir):
    store = RunStore(runs_dir)
    jobs = [executor.submit("iris", {**SMALL, "seed": i}, store=store, owner=owner, slot=f"{owner}-{i}")
            for owner in ("ann", "bob", "cat") for i in range(2)]  # ann's two first, then bob's, then cat's
    assert jobs[-1].queued and jobs[-1].waiting().of >= 5  # cat's second waits behind the rest
    _wait(jobs)
    snaps = [job.progress.snapshot() for job in jobs]
    assert [s["status"] for s in snaps] == [DONE] * 6, [s["error"] for s in snaps]
    order = [job.owner for job, _ in sorted(zip(jobs, snaps, strict=True), key=lambda p: p[1]["started"])]
    assert order == ["ann", "bob", "cat", "ann", "bob", "cat"]
    runs = {r.run_id: r.record for r in store.list()}
    assert sorted(runs) == sorted(s["run_id"] for s in snaps)
    for job, snap in zip(jobs, snaps, strict=True):
        record = runs[snap["run_id"]]
        assert record["owner"] == job.owner and record["status"] == DONE and record["has_model"]
        assert record["params"]["seed"] == job.params["seed"] and len(record["history"]["loss"]) == 3
        assert snap["batch_loss"] and len(snap["history"]["loss"]) == 3  # the curves reached this process
        assert snap["worker"]["pid"] != os.getpid()  # trained in a worker process, not here
    assert jobs[0].model.predict(np.array([[5.1, 3.3, 1.7, 0.5]]), verbose=0).shape == (1, 3)  # loaded from the stored run


@pytest.mark.quiet  # asserts README's latency bar: alone on the machine under -n 2
def test_a_queued_job_shows_its_place_and_stop_cancels_it_at_once(executor, runs_dir):
    store = RunStore(runs_dir)
    first = executor.submit("iris", {"epochs": 200}, store=store, owner="ann")
    waiting = executor.submit("iris", SMALL, store=store, owner="bob")
    _wait_for(lambda: first.progress.snapshot()["epoch"] >= 1, what="the first training's first epoch")
    place = waiting.waiting()
    assert (place.place, place.of) == (1, 1) and waiting.waiting_text().startswith("Queued: 1st of 1")
    waiting.stop()
    assert not waiting.running and waiting.progress.snapshot()["phase"] == "cancelled"
    asked = time.time()
    first.stop()
    # Training stops within a second: the worker reads Stop ten times a second, the trainer ends after the current
    # batch, and once Stop was read the worker sends its progress ten times a second, so the last batch loss reaches
    # this process within a second of the click, and so does the loop's end (the dispatcher beats quicker after a
    # Stop). Evaluating and saving the model follow.
    seen = first.progress.counts()[0]
    last_batch, loop_ended = asked, None
    while first.running and time.time() - asked < 30:
        if first.progress.counts()[0] != seen:
            seen, last_batch = first.progress.counts()[0], time.time()
        if loop_ended is None and first.progress.snapshot()["phase"] not in LOOP_PHASES:
            loop_ended = time.time()
        time.sleep(0.02)
    loop_ended = loop_ended or time.time()  # or the job's end, when evaluating and saving went by between two looks
    snap = first.progress.snapshot()
    assert snap["status"] == STOPPED and 0 < snap["epoch"] < 200
    assert len(snap["history"]["val_loss"]) == snap["epoch"]  # the unfinished epoch is neither validated nor counted
    assert last_batch - asked < 1.0, f"batches went on for {last_batch - asked:.2f} s after Stop"
    assert loop_ended - asked < 1.0, f"the loop ended {loop_ended - asked:.2f} s after Stop"
    print(f"\nStop -> last batch loss here {last_batch - asked:.2f} s, the loop's end here {loop_ended - asked:.2f} s")
    assert store.get(snap["run_id"])["status"] == STOPPED and [r.run_id for r in store.list()] == [snap["run_id"]]


def test_a_stop_before_the_first_batch_ends_the_job_at_once_and_the_next_training_works(executor, runs_dir):
    """Loading the data and tracing the training graph take seconds that a stop cannot cut short, and nothing is
    trained yet to keep: Stop ends the job and its worker process at once; a fresh worker is warmed in its place."""
    store = RunStore(runs_dir)
    job = executor.submit("cnn", {"epochs": 1, "train_size": 2000, "precision": "float32"}, store=store, owner="ann")
    _wait_for(lambda: job.progress.snapshot().get("worker"), what="the worker to start the job")
    pid = job.progress.snapshot()["worker"]["pid"]
    assert not job.progress.counts()[0], "the first batch ended before Stop: nothing left to test"
    asked = time.time()
    job.stop()
    assert not job.running and time.time() - asked < 1.0
    snap = job.progress.snapshot()
    assert snap["status"] == STOPPED and snap["phase"] == STOPPED_EARLY and snap["run_id"] is None
    _wait_for(lambda: not _alive(pid), timeout=20, what="the worker process to end")
    after = executor.submit("iris", SMALL, store=store, owner="ann")
    _wait([after])
    assert after.progress.snapshot()["status"] == DONE
    assert [r.run_id for r in store.list()] == [after.run_id]  # the stopped job saved nothing


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_killed_worker_ends_its_job_with_a_message_and_the_next_training_works(executor, runs_dir):
    store = RunStore(runs_dir)
    job = executor.submit("iris", {"epochs": 200}, store=store, owner="ann")
    # epoch 3 reported: epoch 2's checkpoint was sent before it (one caller's calls reach the mailbox in order;
    # epoch 2 itself may be reported a moment before its checkpoint is sent)
    _wait_for(lambda: job.progress.snapshot()["epoch"] >= 3, what="three epochs")
    os.kill(job.progress.snapshot()["worker"]["pid"], signal.SIGKILL)
    _wait([job], timeout=60)
    snap = job.progress.snapshot()
    assert snap["status"] == FAILED and snap["error"].startswith(WORKER_DIED), snap["error"]
    assert KEPT in snap["error"]
    kept = store.get(snap["run_id"])
    assert kept["status"] == FAILED and kept["has_model"] and kept["epochs_completed"] >= 2 and kept["owner"] == "ann"
    killed = job.progress.snapshot()["worker"]["pid"]
    after = executor.submit("iris", SMALL, store=store, owner="ann")
    _wait([after])
    assert after.progress.snapshot()["status"] == DONE
    assert not list(Path(tempfile.gettempdir()).glob(f"{JOB_FOLDER}{killed}-*"))  # the next job removed its folder


def test_the_local_ray_runs_without_the_services_one_machine_does_not_use(executor):
    """The embedded Ray has its GCS and raylet, and neither the autoscaler's monitor nor the log monitor (160 MB of
    resident memory together: core/sweep/connect.py); a Ray release that would start them again fails here."""
    commands = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True)]
    assert any("gcs_server" in c for c in commands) and any("raylet" in c for c in commands), commands
    assert not [c for c in commands if "monitor.py" in c], commands  # monitor.py and log_monitor.py
