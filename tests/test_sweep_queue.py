"""A sweep's trials take turns in the executor's fair queue (core.executor.turns, core.sweep.gate), on a local Ray.

With one CPU for trainings: a sweep of owner ann through the executor stores every trial as before, one trial at a
time, and the operator's list shows its turns as ann's; bob's page training submitted meanwhile starts after at
most one more of ann's trials (owners take turns), not after the whole sweep; stopping a sweep whose trials wait for
their turn ends them at once and leaves nothing in the queue.
"""

from __future__ import annotations

import time

import pytest

from core.executor import Executor
from core.progress import DONE, STOPPED
from core.scheduler import Limits
from core.store import RunStore
from core.sweep import Sweep, SweepSpec
from core.sweep import stats as sweep_stats
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.ray]
SMALL = {"epochs": 3, "repeat": 2}  # an Iris training of about a second
TIMEOUT = 300


@pytest.fixture(scope="module")
def executor(local_ray):
    """One CPU for trainings: one training or trial at a time, in the scheduler's order."""
    return Executor(limits=Limits(cpus=1), jobs_file=False)


def _spec(**kw) -> SweepSpec:
    return SweepSpec("iris", base=SMALL, vary={"learning_rate": [1e-3, 1e-2]}, seeds=2, concurrency=2, **kw)


def _wait_for(predicate, timeout=TIMEOUT, what="the condition", every=None):
    wait_for(predicate, timeout, what, every)


def _rows(executor, owner: str, state: str | None = None) -> list[dict]:
    return [r for r in executor.jobs() if r["owner"] == owner and (state is None or r["state"] == state)]


class _Watch:
    """The operator's list (``executor.jobs()``), read every few hundredths of a second: every row seen, when each
    job or turn was first seen running, and the most rows ever running together."""

    def __init__(self, executor):
        self.executor, self.rows, self.started, self.most_running = executor, [], {}, 0

    def __call__(self) -> None:
        rows = self.executor.jobs()
        self.rows.extend(rows)
        running = [r for r in rows if r["state"] == "running"]
        self.most_running = max(self.most_running, len(running))
        for r in running:
            self.started.setdefault(r["id"], time.time())


def test_a_sweep_through_the_executor_stores_every_trial_one_at_a_time(executor, runs_dir):
    store = RunStore(runs_dir)
    sweep = Sweep(_spec(), store, executor=executor, record={"owner": "ann"}).start()
    watch = _Watch(executor)
    _wait_for(lambda: not sweep.running, what="the sweep's end", every=watch)
    seen = watch.rows
    snap = sweep.snapshot()
    assert snap["status"] == DONE, snap["error"]
    assert snap["counts"]["done"] == 4, [(t["status"], t["error"]) for t in snap["trials"]]
    runs = sweep_stats.sweep_runs(store, snap["id"])
    assert len(runs) == 4 == len(store.list())
    assert sorted((r["sweep_config"]["learning_rate"], r["seed"]) for r in runs) == [
        (1e-3, 42), (1e-3, 43), (1e-2, 42), (1e-2, 43)]
    for rec in runs:
        assert rec["status"] == DONE and rec["has_model"] and rec["epochs_completed"] == 3 and rec["owner"] == "ann"
    # The operator's list showed the trials as ann's Iris jobs of this sweep, running and waiting.
    assert seen and {(r["owner"], r["kind"], r["sweep"], r["slot"]) for r in seen} == {("ann", "iris", sweep.id, None)}
    assert {r["state"] for r in seen} == {"running", "queued"}
    # One CPU: the trials had their turns one after the other, never two at once, each once.
    assert watch.most_running == 1 and sorted(watch.started) == sorted(sweep.turn_id(i) for i in range(4))
    assert executor.jobs() == []


def test_another_owners_training_starts_before_the_sweep_has_run_all_its_trials(executor, runs_dir):
    store = RunStore(runs_dir)
    sweep = Sweep(_spec(), store, executor=executor, record={"owner": "ann"}).start()
    watch = _Watch(executor)
    _wait_for(lambda: _rows(executor, "ann", "running"), what="ann's first trial", every=watch)
    bob = executor.submit("iris", SMALL, store=store, owner="bob")
    place = bob.waiting()
    assert place is None or place.place == 1, place  # ahead of ann's waiting trials: ann has had a turn
    _wait_for(lambda: not bob.running and not sweep.running, what="the ends of bob's training and the sweep",
              every=watch)
    snap, bob_snap = sweep.snapshot(), bob.progress.snapshot()
    assert snap["status"] == DONE and snap["counts"]["done"] == 4, snap["error"]
    assert bob_snap["status"] == DONE and store.get(bob_snap["run_id"])["owner"] == "bob"
    assert len(sweep_stats.sweep_runs(store, snap["id"])) == 4
    bob_started = watch.started[bob.id]
    trials = sorted(watch.started[sweep.turn_id(i)] for i in range(4))
    before = sum(t < bob_started for t in trials)
    assert before <= 2, (bob_started, trials)  # the trial running when bob came, and at most one more
    assert bob_started < trials[-1]  # not after the whole sweep
    assert watch.most_running == 1
    assert executor.jobs() == []


def test_stopping_a_sweep_whose_trials_wait_for_their_turn_ends_them_at_once(executor, runs_dir):
    store = RunStore(runs_dir)
    bob = executor.submit("iris", {"epochs": 200}, store=store, owner="bob")  # holds the one CPU
    _wait_for(lambda: bob.progress.snapshot()["phase"] == "training", what="bob's training")
    sweep = Sweep(_spec(), store, executor=executor, record={"owner": "ann"}).start()
    _wait_for(lambda: len(_rows(executor, "ann", "queued")) == 2, what="two of ann's trials waiting for a turn")
    assert not _rows(executor, "ann", "running")
    # the sweep's own view says which of its started trials wait for a turn, and where (bob's training holds the CPU)
    _wait_for(lambda: sweep.snapshot()["counts"]["queued"] == 2, what="the sweep's snapshot showing two queued trials")
    assert sorted(t["queued_place"] for t in sweep.snapshot()["trials"] if t["queued_place"]) == [1, 2]
    asked = time.time()
    sweep.stop()
    assert sweep.wait(60), "the stopped sweep did not end"
    ended = time.time() - asked
    snap = sweep.snapshot()
    assert snap["status"] == STOPPED and [t["status"] for t in snap["trials"]] == [STOPPED] * 4
    assert all(t["run_id"] is None for t in snap["trials"]) and sweep_stats.sweep_runs(store, snap["id"]) == []
    assert ended < 20, f"the waiting trials took {ended:.1f} s to end"
    assert [r["owner"] for r in executor.jobs()] == ["bob"]  # nothing of the sweep stays in the queue
    assert bob.running and bob.progress.snapshot()["phase"] in ("training", "validating")  # an epoch ends with validation
    bob.stop()
    assert bob.wait(60) and bob.progress.snapshot()["status"] == STOPPED
    _wait_for(lambda: executor.jobs() == [], timeout=10, what="an empty queue")
