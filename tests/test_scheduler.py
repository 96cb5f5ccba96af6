"""Admission and fair share (core.scheduler), with fake jobs and a fake clock: no TensorFlow, no Ray, no workers."""

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.scheduler import (
    WINDOW,
    Busy,
    Limits,
    OwnerLimit,
    Scheduler,
    Waiting,
    busy_text,
    ordinal,
    waiting_text,
)

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def roomy(cpus=1, **kw):
    """Limits with caps high enough not to get in the way of the test."""
    return Limits(cpus=cpus, **{"max_queue": 100, "max_queued_per_owner": 100, **kw})


def run_one_at_a_time(sched):
    """Finish each started job at once; the order in which jobs started."""
    order = []
    while started := sched.ready():
        order += started
        for job_id in started:
            sched.finished(job_id)
    return order


def test_owners_are_served_round_robin():
    sched = Scheduler(roomy(cpus=1))
    for i in range(1, 6):
        sched.submit(f"a{i}", "ann", "cnn")
    sched.submit("b1", "bob", "cnn")
    sched.submit("c1", "cat", "cnn")
    assert run_one_at_a_time(sched) == ["a1", "b1", "c1", "a2", "a3", "a4", "a5"]


def test_a_newcomer_has_a_first_turn_before_anyone_has_a_second():
    sched = Scheduler(roomy(cpus=1))
    for job_id, owner in [("a1", "ann"), ("a2", "ann"), ("a3", "ann"), ("b1", "bob"), ("c1", "cat")]:
        sched.submit(job_id, owner, "cnn")
    assert sched.ready() == ["a1"]
    sched.finished("a1")
    assert sched.ready() == ["b1"]
    sched.submit("d1", "dan", "cnn")  # ann has had a turn; cat and dan none: they go first, in the round's order
    assert [sched.position(j).place for j in ("c1", "d1", "a2", "a3")] == [1, 2, 3, 4]
    sched.finished("b1")
    assert run_one_at_a_time(sched) == ["c1", "d1", "a2", "a3"]


def test_everyone_gets_one_before_anyone_gets_two():
    """ann's first job started before anyone else clicked; her second (submitted first) waits for bob's and cat's."""
    sched = Scheduler(roomy(cpus=2))
    sched.submit("a1", "ann", "cnn")
    assert sched.ready() == ["a1"]
    for job_id, owner in [("a2", "ann"), ("b1", "bob"), ("c1", "cat")]:
        sched.submit(job_id, owner, "cnn")
    assert [sched.position(j).place for j in ("b1", "c1", "a2")] == [1, 2, 3]
    assert sched.ready() == ["b1"]  # one CPU free: bob, who runs nothing, before ann's second
    sched.finished("a1")
    assert sched.ready() == ["c1"]  # cat has had no turn yet, ann one
    sched.finished("b1")
    assert sched.ready() == ["a2"]
    sched.finished("a2")
    sched.finished("c1")
    sched.submit("a3", "ann", "cnn")  # ann had nothing left: she starts afresh, her past turns forgotten
    sched.submit("d1", "dan", "cnn")
    assert [sched.position(j).place for j in ("a3", "d1")] == [1, 2]


def test_one_running_job_per_owner_and_slot():
    sched = Scheduler(roomy(cpus=4))
    sched.submit("cnn1", "ann", "cnn", slot="cnn")
    sched.submit("cnn2", "ann", "cnn", slot="cnn")
    sched.submit("iris1", "ann", "iris", slot="iris")
    sched.submit("cnn-bob", "bob", "cnn", slot="cnn")
    assert sched.ready() == ["cnn1", "cnn-bob", "iris1"]  # a free CPU, but ann's second CNN waits for her first
    assert sched.ready() == []
    assert sched.position("cnn2") == Waiting(1, 1, None)
    sched.finished("cnn1")
    assert sched.ready() == ["cnn2"]


def test_jobs_without_a_slot_of_one_owner_run_side_by_side():
    sched = Scheduler(roomy(cpus=3))
    for i in range(4):
        sched.submit(f"trial{i}", "ann", "iris")  # a sweep's trials
    assert sched.ready() == ["trial0", "trial1", "trial2"]
    assert [row["state"] for row in sched.jobs()] == ["running"] * 3 + ["queued"]


def test_an_owner_may_have_only_so_many_jobs_waiting():
    sched = Scheduler(Limits(cpus=1, max_queued_per_owner=2))
    sched.submit("a1", "ann", "cnn")
    sched.submit("a2", "ann", "cnn")
    with pytest.raises(OwnerLimit, match=r"^You already have 2 trainings waiting: wait for one to start or stop one\.$"):
        sched.submit("a3", "ann", "cnn")
    sched.submit("b1", "bob", "cnn")  # others are not affected
    assert [row["id"] for row in sched.jobs()] == ["a1", "b1", "a2"]
    assert sched.ready() == ["a1"]  # once one of hers runs, ann may queue another
    sched.submit("a3", "ann", "cnn")
    assert sched.position("a3") == Waiting(3, 3, None)


def test_a_full_queue_answers_busy_and_starts_nothing():
    clock = Clock(0.0)
    sched = Scheduler(Limits(cpus=1, max_queue=3), clock=clock, default_seconds={"cnn": 200})
    sched.submit("a1", "ann", "cnn")
    assert sched.ready() == ["a1"]
    for job_id, owner in [("b1", "bob"), ("c1", "cat"), ("d1", "dan")]:
        sched.submit(job_id, owner, "cnn")
    clock.now = 10.0
    with pytest.raises(Busy) as refused:
        sched.submit("e1", "eve", "cnn")
    # the first place frees when a1 ends (200 s after its start): 190 s from now, rounded up to 4 minutes
    assert str(refused.value) == "The server is busy: 3 trainings are waiting. Try again in about 4 minutes."
    assert (refused.value.waiting, refused.value.seconds) == (3, 190)
    assert [row["id"] for row in sched.jobs()] == ["a1", "b1", "c1", "d1"]
    assert sched.position("e1") is None
    sched.finished("a1", completed=False)  # stopped early: the default still holds
    assert sched.ready() == ["b1"]
    sched.submit("e1", "eve", "cnn")  # a place is free again; nothing was remembered of the refused click
    assert sched.position("e1") == Waiting(3, 3, 600)  # after b1, c1, d1: 200 s each


def test_busy_without_any_known_duration():
    sched = Scheduler(Limits(cpus=1, max_queue=1))
    sched.submit("a1", "ann", "cnn")
    sched.ready()
    sched.submit("b1", "bob", "cnn")
    with pytest.raises(Busy, match=r"^The server is busy: 1 training is waiting\. Try again in a few minutes\.$"):
        sched.submit("c1", "cat", "cnn")


def test_cancel_removes_a_queued_job_and_the_others_move_up():
    sched = Scheduler(roomy(cpus=1), clock=Clock(), default_seconds={"cnn": 60})
    for job_id, owner in [("a1", "ann"), ("b1", "bob"), ("c1", "cat"), ("d1", "dan")]:
        sched.submit(job_id, owner, "cnn")
    assert sched.ready() == ["a1"]
    assert sched.position("d1") == Waiting(3, 3, 180)
    assert sched.cancel("c1") is True
    assert sched.position("c1") is None
    assert sched.position("d1") == Waiting(2, 2, 120)
    assert sched.cancel("c1") is False  # gone already
    assert sched.cancel("a1") is False  # running: the executor stops it instead
    assert sched.cancel("nobody") is False
    sched.finished("a1")
    assert run_one_at_a_time(sched) == ["b1", "d1"]


def test_eta_from_this_servers_measured_durations():
    clock = Clock(0.0)
    sched = Scheduler(roomy(cpus=1), clock=clock, default_seconds={"cnn": 999})
    assert sched.expected_seconds("cnn") == 999  # nothing measured yet: the default
    assert sched.expected_seconds("iris") is None
    for seconds in (10, 30):
        sched.submit(f"m{seconds}", "ann", "cnn")
        sched.ready()
        clock.now += seconds
        sched.finished(f"m{seconds}")
    assert sched.expected_seconds("cnn") == 20  # measurements replace the default
    sched.submit("j3", "ann", "cnn")
    sched.submit("j4", "bob", "cnn")
    sched.submit("j5", "cat", "cnn")
    assert sched.ready() == ["j3"]
    clock.now += 5
    assert sched.position("j4") == Waiting(1, 2, 15)
    assert sched.position("j5") == Waiting(2, 2, 35)
    assert waiting_text(sched.position("j5")) == "Queued: 2nd of 2, starts in about 35 s"
    clock.now += 60  # j3 is overdue: expected to end any moment, not in the past
    assert sched.position("j4") == Waiting(1, 2, 0)
    assert waiting_text(sched.position("j4")) == "Queued: 1st of 2, starts soon"
    sched.finished("j3", completed=False)  # stopped: its time says nothing about the kind
    assert sched.expected_seconds("cnn") == 20


def test_expected_duration_is_the_mean_of_a_bounded_window():
    clock = Clock(0.0)
    sched = Scheduler(roomy(cpus=1), clock=clock)
    for i, seconds in enumerate([1000] + [10] * WINDOW):
        sched.submit(f"j{i}", "ann", "iris")
        sched.ready()
        clock.now += seconds
        sched.finished(f"j{i}")
    assert sched.expected_seconds("iris") == pytest.approx(10)


def test_eta_is_unknown_behind_a_job_of_unknown_duration():
    sched = Scheduler(roomy(cpus=1), clock=Clock(), default_seconds={"cnn": 60})
    sched.submit("v1", "ann", "cvae")  # no duration known for this kind
    sched.submit("c1", "bob", "cnn")
    assert sched.position("v1") == Waiting(1, 2, 0)  # it can start right now
    assert sched.ready() == ["v1"]
    assert sched.position("c1") == Waiting(1, 1, None)
    assert waiting_text(sched.position("c1")) == "Queued: 1st of 1"

    sched = Scheduler(roomy(cpus=1), clock=Clock())
    sched.submit("v1", "ann", "cvae", estimate=30)  # the caller's estimate serves where the kind has none
    sched.submit("v2", "bob", "cvae")
    assert sched.ready() == ["v1"]
    assert sched.position("v2") == Waiting(1, 1, 30)


def test_jobs_needing_two_cpus_and_one():
    clock = Clock(0.0)
    sched = Scheduler(roomy(cpus=2), clock=clock, default_seconds={"small": 10, "big": 50})
    with pytest.raises(ValueError, match="needs 3 CPUs; this server gives trainings 2"):
        sched.submit("huge", "ann", "big", cpus=3)
    sched.submit("s1", "ann", "small")
    sched.submit("s2", "bob", "small")
    assert sched.ready() == ["s1", "s2"]  # two 1-CPU jobs side by side
    sched.finished("s1", completed=False)
    sched.submit("big", "cat", "big", cpus=2)
    sched.submit("s3", "dan", "small")
    # one CPU is free, but the 2-CPU job is first in line: the small one behind it does not jump ahead
    assert sched.ready() == []
    assert sched.position("big") == Waiting(1, 2, 10)  # when s2 ends
    assert sched.position("s3") == Waiting(2, 2, 60)  # after the big one
    clock.now = 10
    sched.finished("s2")
    assert sched.ready() == ["big"]
    clock.now = 60
    sched.finished("big")
    assert sched.ready() == ["s3"]


def test_a_job_runs_alone_when_the_cpus_shrink_below_its_need():
    sched = Scheduler(roomy(cpus=4))
    sched.submit("big", "ann", "cnn", cpus=4)
    sched.submit("small", "bob", "cnn")
    sched.limits = Limits(cpus=2)  # the executor found a smaller cluster
    assert sched.ready() == ["big"]  # not stuck at the head of the line for ever
    assert sched.ready() == []
    sched.finished("big")
    assert sched.ready() == ["small"]


def test_job_ids_are_unique_and_cpus_positive():
    sched = Scheduler(roomy(cpus=2))
    sched.submit("j", "ann", "cnn")
    with pytest.raises(ValueError, match="already queued or running"):
        sched.submit("j", "bob", "cnn")
    with pytest.raises(ValueError, match="needs 0 CPUs"):
        sched.submit("k", "bob", "cnn", cpus=0)


def test_jobs_lists_running_then_queued_with_times():
    clock = Clock(100.0)
    sched = Scheduler(roomy(cpus=1), clock=clock, default_seconds={"cnn": 40})
    sched.submit("a1", "ann", "cnn", slot="cnn")
    clock.now = 103.0
    sched.ready()
    sched.submit("b1", "bob", "cnn", slot="cnn")
    clock.now = 110.0
    running, queued = sched.jobs()
    assert running == {"id": "a1", "owner": "ann", "kind": "cnn", "cpus": 1.0, "slot": "cnn", "state": "running",
                            "place": None, "eta": None, "waited": 3.0, "elapsed": 7.0}
    assert (queued["id"], queued["state"], queued["place"], queued["waited"], queued["elapsed"]) == \
        ("b1", "queued", 1, 7.0, None)
    assert queued["eta"] == pytest.approx(33.0)


def test_many_threads_submitting_at_once():
    sched = Scheduler(roomy(cpus=3, max_queue=1000))
    owners, per_owner = 12, 25
    barrier = threading.Barrier(owners + 1)
    started, errors = [], []

    def submit_all(owner):
        barrier.wait()
        try:
            for i in range(per_owner):
                sched.submit(f"{owner}-{i}", owner, "cnn", slot=None if i % 2 else "cnn")
        except Exception as err:
            errors.append(err)

    def start_while_submitting():
        barrier.wait()
        for _ in range(100):
            started.extend(sched.ready())
            sched.position("o0-24")
            sched.jobs()

    threads = [threading.Thread(target=submit_all, args=(f"o{n}",)) for n in range(owners)]
    threads.append(threading.Thread(target=start_while_submitting))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and not any(thread.is_alive() for thread in threads)
    running = [row for row in sched.jobs() if row["state"] == "running"]
    assert sum(row["cpus"] for row in running) <= 3
    for job_id in [row["id"] for row in running]:
        sched.finished(job_id)
    while batch := sched.ready():
        assert len(batch) <= 3
        started += batch
        for job_id in batch:
            sched.finished(job_id)
    assert sorted(started) == sorted(f"o{n}-{i}" for n in range(owners) for i in range(per_owner))
    assert sched.jobs() == []


def test_limits_from_the_environment():
    assert Limits.from_env(cpus=2, environ={}) == Limits(cpus=1, max_queue=24, max_queued_per_owner=3)  # a core left
    assert Limits.from_env(cpus=8, environ={}).cpus == 7
    assert Limits.from_env(cpus=1, environ={}).cpus == 1
    env = {"NN_PLAYGROUND_MAX_QUEUE": "50", "NN_PLAYGROUND_MAX_QUEUED_PER_OWNER": " 5 ",
           "NN_PLAYGROUND_WORKER_CPUS": "2.5"}
    assert Limits.from_env(cpus=8, environ=env) == Limits(cpus=2.5, max_queue=50, max_queued_per_owner=5)
    assert Limits.from_env(cpus=2, environ={"NN_PLAYGROUND_WORKER_CPUS": "16"}).cpus == 2  # a cap, not a grant
    assert Limits.from_env(cpus=4, environ={"NN_PLAYGROUND_MAX_QUEUE": ""}).max_queue == 24  # empty: unset


@pytest.mark.parametrize(("name", "raw"), [
    ("NN_PLAYGROUND_MAX_QUEUE", "lots"), ("NN_PLAYGROUND_MAX_QUEUE", "0"), ("NN_PLAYGROUND_MAX_QUEUED_PER_OWNER", "2.5"),
    ("NN_PLAYGROUND_MAX_QUEUED_PER_OWNER", "-1"), ("NN_PLAYGROUND_WORKER_CPUS", "0"), ("NN_PLAYGROUND_WORKER_CPUS", "nan"),
])
def test_bad_limits_name_the_variable(name, raw):
    with pytest.raises(ValueError, match=rf"^{name}='{raw}': expected "):
        Limits.from_env(cpus=4, environ={name: raw})


def test_what_a_visitor_reads():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th", "112th"]
    assert waiting_text(Waiting(3, 7, 40.2)) == "Queued: 3rd of 7, starts in about 40 s"
    assert waiting_text(Waiting(1, 7, 4.4)) == "Queued: 1st of 7, starts in about 4 s"
    assert waiting_text(Waiting(2, 7, 125)) == "Queued: 2nd of 7, starts in about 2 min 5 s"
    assert waiting_text(Waiting(1, 1, 0.3)) == "Queued: 1st of 1, starts soon"
    assert waiting_text(Waiting(22, 30, None)) == "Queued: 22nd of 30"
    assert busy_text(7, 60) == "The server is busy: 7 trainings are waiting. Try again in about 1 minute."
    assert busy_text(7, 61) == "The server is busy: 7 trainings are waiting. Try again in about 2 minutes."
    assert busy_text(7, 0) == "The server is busy: 7 trainings are waiting. Try again in about 1 minute."


def test_the_scheduler_imports_nothing_heavy():
    code = ("import sys, core.scheduler\n"
            "print(','.join(m for m in ('tensorflow', 'keras', 'ray', 'streamlit') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
