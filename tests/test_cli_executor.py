"""The command line on the executor: ``train`` runs as a job in a Ray worker (a local Ray started for it, or a
cluster by ``--address``), ``jobs`` shows a server's queue to its operator, ``bench class`` compares the executor
with in-process threads for a class of owners.

A training through the CLI saves its run in the runs directory given and prints the same JSON as before; an
unreachable address is one error line; ``jobs`` reads the list an Executor writes (a running job with its worker, a
queued one with its place) and says when nothing is queued, also once the last job ended.
"""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli.bench_class import bench_class
from core.executor import JOBS_FILE, Executor
from core.progress import STOPPED
from core.scheduler import Limits
from core.store import RunStore
from tests.conftest import wait_for
from tests.test_cli import ROOT, assert_one_error_line, user_lines
from tests.test_cli_commands import BENCH_CHECKS

pytestmark = pytest.mark.ray
TIMEOUT = 240


@pytest.fixture(scope="module")
def cli(project_env):
    def run(*args, runs, timeout=TIMEOUT):
        return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, env=project_env(runs),
                              capture_output=True, text=True, timeout=timeout)

    return run


def _interrupted(project_env, runs, after: str) -> subprocess.CompletedProcess:
    """``python -m core train iris --epochs 200`` interrupted (Ctrl-C) once its progress shows ``after``."""
    proc = subprocess.Popen([sys.executable, "-m", "core", "--runs-dir", str(runs), "train", "iris", "--epochs", "200"],
                            cwd=ROOT, env=project_env(runs), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            # as from a terminal: a shell that starts a job in the background (CI) ignores Ctrl-C in it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if after in line:
            proc.send_signal(signal.SIGINT)
            break
    out = proc.communicate(timeout=TIMEOUT)[0]
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines) + out, "")


@pytest.mark.parametrize("after, kept", [("epoch 2/200", True), ("training in process", False)])
def test_ctrl_c_stops_the_training_keeping_what_was_trained(project_env, tmp_path, after, kept):
    """Ctrl-C once epochs are done: stopped after the current batch, the model kept as a stopped run; Ctrl-C as the
    worker starts (data loading, the graph's first trace): stopped at once, nothing to keep. Exit status 130."""
    runs = tmp_path / "runs"
    out = _interrupted(project_env, runs, after)
    assert out.returncode == 130 and "status: stopped" in out.stdout, out.stdout[-2000:]
    stored = RunStore(runs).list("iris")
    if kept:
        assert "saved run" in out.stdout and [r.record["status"] for r in stored] == [STOPPED]
        assert 2 <= stored[0].record["epochs_completed"] < 200
    elif stored:  # the first batch beat the Ctrl-C: then the model so far is kept, as above
        assert "saved run" in out.stdout and stored[0].record["status"] == STOPPED
    else:
        assert "nothing was saved" in out.stdout, out.stdout[-2000:]


def _wait_for(predicate, timeout=TIMEOUT, what="the condition", every=None):
    wait_for(predicate, timeout, what, every)


def test_train_through_the_executor_saves_the_run_here_and_prints_the_same_json(cli, tmp_path):
    runs = tmp_path / "runs"
    out = cli("--runs-dir", runs, "train", "iris", "--epochs", 3, "--json", runs=tmp_path / "elsewhere")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Training Iris classifier with {'epochs': 3}" in out.stderr
    result = json.loads(out.stdout)  # the whole of stdout
    assert set(result) == {"status", "run_id", "metrics", "error", "path"}
    assert result["status"] == "done" and result["error"] is None
    assert 0 <= result["metrics"]["test_accuracy"] <= 1 and result["metrics"]["test_loss"] > 0
    record = RunStore(runs).get(result["run_id"])
    assert record["status"] == "done" and record["owner"] == "local" and len(record["history"]["loss"]) == 3
    assert Path(result["path"]) == runs / result["run_id"] and (runs / result["run_id"] / "run.json").is_file()
    assert (runs / result["run_id"] / "model.keras").is_file() and not (tmp_path / "elsewhere").exists()
    assert not (runs / JOBS_FILE).exists()  # the command line's executor is not the server's queue


def test_train_shows_a_line_per_epoch_and_no_save_stores_nothing(cli, tmp_path):
    out = cli("train", "iris", "--epochs", 2, "--no-save", runs=tmp_path / "runs")
    assert out.returncode == 0, out.stderr[-3000:]
    lines = user_lines(out.stderr)
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]
    assert "loss" in next(line for line in lines if line.startswith("epoch 2/2"))
    assert out.stdout.startswith("status: done") and "test_accuracy" in out.stdout and "saved run" not in out.stdout
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_unreachable_address_is_one_error_line(cli, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    started = time.time()
    out = cli("train", "iris", "--address", f"127.0.0.1:{port}", runs=tmp_path / "runs", timeout=60)
    assert time.time() - started < 20
    assert_one_error_line(out, f"cannot reach a Ray cluster at 127.0.0.1:{port}")
    assert out.stdout == "" and not (tmp_path / "runs").exists()


def test_jobs_without_a_server_says_nothing_is_queued(cli, tmp_path):
    out = cli("jobs", runs=tmp_path / "runs", timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"no trainings queued or running (the server of {tmp_path / 'runs'})"
    as_json = json.loads(cli("jobs", "--json", runs=tmp_path / "runs", timeout=60).stdout)
    assert as_json["jobs"] == [] and as_json["written"] is None


def _jobs_file(runs_dir) -> list[dict]:
    path = runs_dir / JOBS_FILE
    return json.loads(path.read_text())["jobs"] if path.exists() else []


def test_jobs_lists_what_an_executor_runs_and_queues(cli, local_ray, runs_dir):
    executor = Executor(limits=Limits(cpus=1))  # writes its queue to $NN_PLAYGROUND_RUNS/.jobs.json
    store = RunStore(runs_dir)
    first = executor.submit("iris", {"epochs": 200}, store=store, owner="ann")
    second = executor.submit("iris", {"epochs": 200}, store=store, owner="bob")
    try:
        _wait_for(lambda: first.progress.snapshot()["phase"] == "training" and first.worker, what="the first training")
        _wait_for(lambda: any(row.get("worker") for row in _jobs_file(runs_dir)), timeout=30,
                  what="the jobs file showing the first training's worker")
        out = cli("jobs", "--json", runs=runs_dir, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        info = json.loads(out.stdout)
        assert not info["stale"] and info["server_running"] is True
        running, queued = info["jobs"]
        assert (running["state"], running["owner"], running["kind"]) == ("running", "ann", "iris")
        assert running["worker"]["pid"] == first.worker["pid"] and running["elapsed"] > 0
        assert (queued["state"], queued["owner"], queued["place"]) == ("queued", "bob", 1) and queued["waited"] > 0
        text = cli("jobs", runs=runs_dir, timeout=60).stdout
        assert text.startswith(f"2 trainings on the server of {runs_dir}: 1 running, 1 queued"), text
        assert f"(pid {first.worker['pid']})" in text and "1st" in text
    finally:
        second.stop()
        first.stop()
    assert first.wait(30) and second.wait(5)
    assert first.progress.snapshot()["status"] == STOPPED
    _wait_for(lambda: _jobs_file(runs_dir) == [], timeout=10,
              what="the jobs file's empty list once the last job ended")
    assert cli("jobs", runs=runs_dir, timeout=60).stdout.startswith("no trainings queued or running")


def test_bench_class_gives_every_figure_for_both_ways(local_ray, tmp_path):
    figures = bench_class(2, overrides={"train_size": 200, "epochs": 1}, runs_dir=str(tmp_path))
    BENCH_CHECKS["class"](figures)
    assert figures["owners"] == 2 and figures["ratio_last_run"] > 0
    for side in ("executor", "threads"):
        numbers = {k: v for k, v in figures[side].items() if k != "runs"}
        assert set(numbers) >= {"first_run_s", "last_run_s", "first_point_median_s", "first_point_max_s"}
        assert all(isinstance(v, int | float) and v > 0 and math.isfinite(v) for v in numbers.values()), figures
        stored = RunStore(tmp_path / side).list()
        assert sorted(r.run_id for r in stored) == sorted(figures[side]["runs"]) and len(stored) == 2
        assert {r.record["owner"] for r in stored} == {"student-1", "student-2"}
        assert all(r.record["status"] == "done" for r in stored)
