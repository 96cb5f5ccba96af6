"""Trainings on a Ray cluster of this test's own (token authentication), as a course that set one up would run them.

A page's training (AppTest, the server's executor at ``RAY_ADDRESS``) runs on the cluster and its run appears in the
server's store; a node lost while it trains ends that job with a message, the server goes on answering, and the next
training works on the node that joins after it. Each server runs in a subprocess: this test process may already be
connected to a local Ray.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.executor import WORKER_DIED
from core.executor.checkpoints import KEPT
from core.store import RunStore

pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[1]

PAGE_TRAINING = """
import time
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("streamlit_app.py", default_timeout=120)
at.run()
at.switch_page("app_pages/iris.py")
at.query_params["iris.epochs"] = "3"
at.run()
at.button(key="iris.train").click().run()
deadline = time.time() + 240
text = lambda: (at.get("progress")[0].proto.text if at.get("progress") else "")
while not text().startswith(("Done", "Failed", "Stopped")) and time.time() < deadline:
    time.sleep(0.5)
    at.run()
print(text())
"""

def _event(server: subprocess.Popen) -> dict:
    """The server script's next event: its JSON lines, past what Ray forwards to a driver's stdout (a raylet's
    "node ... missed too many heartbeats" notice, a worker's log)."""
    while True:
        line = server.stdout.readline()
        assert line, f"the server process ended (status {server.poll()})"
        if line.startswith("{"):
            return json.loads(line)


def _kill_nodes(ray_cluster) -> None:
    """End every node of the test's cluster at once (SIGKILL) once the test is done with it: the fixture's stop lets
    each one end cleanly, seconds each, and nothing here asserts a clean stop."""
    for proc in ray_cluster.procs:
        ray_cluster.kill(proc)


SERVER = """
import json, sys, time
from core.executor import Executor
from core.store import RunStore
store = RunStore(sys.argv[1])
executor = Executor()
def say(**fields):
    print(json.dumps(fields), flush=True)
job = executor.submit("iris", {"epochs": 200}, store=store, owner="ann")
while job.progress.snapshot()["epoch"] < 2:
    time.sleep(0.2)
say(event="training", worker=job.progress.snapshot()["worker"])
sys.stdin.readline()  # the test has stopped the node that runs it
job.wait(120)
snap = job.progress.snapshot()
say(event="ended", status=snap["status"], error=snap["error"], run_id=snap["run_id"])
sys.stdin.readline()  # a new node has joined
after = executor.submit("iris", {"epochs": 2}, store=store, owner="ann")
after.wait(180)
say(event="after", status=after.progress.snapshot()["status"], error=after.progress.snapshot()["error"])
"""

LOST = """
import json, sys, time
import core.executor.dispatch
from core.executor import Executor
from core.store import RunStore
core.executor.dispatch.LOST_AFTER = 5.0  # Ray taken for gone after 5 s of failing beats, not 15: the same path, sooner
store = RunStore(sys.argv[1])
executor = Executor()
first = executor.submit("iris", {"epochs": 200}, store=store, owner="ann")
second = executor.submit("iris", {"epochs": 2}, store=store, owner="bob")  # one CPU: it waits
while first.progress.snapshot()["epoch"] < 2:
    time.sleep(0.2)
print(json.dumps({"event": "training", "second": second.state}), flush=True)
sys.stdin.readline()  # the test has stopped the whole cluster
first.wait(120)
print(json.dumps({"event": "ended", "status": first.progress.snapshot()["status"], "error": first.progress.snapshot()["error"],
                  "second": second.state, "second_running": second.running, "runs": len(store.list())}), flush=True)
"""


def test_a_pages_training_runs_on_the_cluster_and_its_run_is_stored_here(ray_cluster, runs_dir, project_env):
    address = ray_cluster.head(num_cpus=2)
    env = {**project_env(runs_dir), **{k: v for k, v in ray_cluster.env.items() if k.startswith("RAY_")},
           "RAY_ADDRESS": address}
    out = subprocess.run([sys.executable, "-c", PAGE_TRAINING], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1].startswith("Done after 3 of 3 epochs"), out.stdout + out.stderr[-2000:]
    [run] = RunStore(runs_dir).list("iris")
    assert run.record["status"] == "done" and run.record["has_model"] and run.record["epochs_completed"] == 3
    _kill_nodes(ray_cluster)


def test_a_node_lost_mid_training_ends_its_job_with_a_message_and_the_next_training_works(
        ray_cluster, runs_dir, project_env):
    ray_cluster.head(num_cpus=0)  # the head only schedules: every training runs on a joined node
    env = {**project_env(runs_dir), **{k: v for k, v in ray_cluster.env.items() if k.startswith("RAY_")},
           "RAY_ADDRESS": ray_cluster.address, "NN_PLAYGROUND_WORKER_CPUS": "2"}
    # The server starts and queues its training while the node joins (the training waits for the node's CPUs).
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(runs_dir)], cwd=ROOT, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        node = ray_cluster.node(num_cpus=2)
        assert _event(server)["event"] == "training"
        started = time.time()
        ray_cluster.kill(node)  # the machine that trains leaves the cluster
        server.stdin.write("\n")
        server.stdin.flush()
        ended = _event(server)
        # Both nodes run on this one machine, so the server's driver may have attached to the killed node's raylet
        # (a server on a machine of its own never does): then the mailbox went with it and the whole connection ends.
        assert ended["status"] == "failed" and ended["error"].startswith(
            (WORKER_DIED, "The trainings' cluster stopped answering")), ended
        assert time.time() - started < 120
        if ended["run_id"]:  # its last completed epoch, where the checkpoint reached the server
            assert RunStore(runs_dir).get(ended["run_id"])["status"] == "failed"
        ray_cluster.node(num_cpus=2)
        server.stdin.write("\n")
        server.stdin.flush()
        after = _event(server)
        assert after["status"] == "done", after
    finally:
        server.kill()
        server.wait(10)
        _kill_nodes(ray_cluster)


def test_a_cluster_gone_ends_the_running_training_with_a_message_and_keeps_the_queued_one(
        ray_cluster, runs_dir, project_env):
    ray_cluster.head(num_cpus=2)
    env = {**project_env(runs_dir), **{k: v for k, v in ray_cluster.env.items() if k.startswith("RAY_")},
           "RAY_ADDRESS": ray_cluster.address, "NN_PLAYGROUND_WORKER_CPUS": "1"}
    server = subprocess.Popen([sys.executable, "-c", LOST, str(runs_dir)], cwd=ROOT, env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        first = _event(server)
        assert first == {"event": "training", "second": "queued"}, first
        started = time.time()
        ray_cluster.stop()  # every node, the head too: the cluster is unreachable
        server.stdin.write("\n")
        server.stdin.flush()
        ended = _event(server)
        assert ended.get("status") == "failed", ended
        assert ended["error"].startswith((WORKER_DIED, "The trainings' cluster stopped answering")), ended
        assert ended["second"] == "queued" and ended["second_running"], ended  # still waiting, not lost
        # its last epoch's checkpoint is kept as a run only when the mailbox still answered as the worker died
        kept = KEPT in ended["error"]
        assert ended["runs"] == int(kept) and time.time() - started < 120, ended
    finally:
        server.kill()
        server.wait(10)
