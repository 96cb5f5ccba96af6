"""`python -m core ...` end to end, as a user types it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, runs, timeout=240):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NN_PLAYGROUND_RUNS": str(runs)}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    runs = tmp_path_factory.mktemp("cli-runs")
    out = run("train", "iris", "--epochs", "3", "--json", runs=runs)
    assert out.returncode == 0, out.stderr[-2000:]
    return runs, json.loads(out.stdout.strip().splitlines()[-1])


def test_train_prints_metrics_and_saves_a_run(trained):
    _runs, result = trained
    assert result["status"] == "done" and 0 <= result["metrics"]["test_accuracy"] <= 1
    assert (Path(result["path"]) / "model.keras").is_file()


def test_train_shows_a_progress_bar(tmp_path):
    out = run("train", "iris", "--epochs", "1", runs=tmp_path)
    assert out.returncode == 0
    assert "75/75" in out.stdout and "test_accuracy:" in out.stdout and "saved run" in out.stdout


def test_predict_gives_probabilities(trained):
    runs, result = trained
    out = run("predict", "iris", result["run_id"], "5.1", "3.3", "1.7", "0.5", "--json", runs=runs)
    assert out.returncode == 0, out.stderr[-2000:]
    [prediction] = json.loads(out.stdout)
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    text = run("predict", "iris", result["path"], "5.1", "3.3", "1.7", "0.5", runs=runs)
    assert text.returncode == 0 and "->" in text.stdout


@pytest.mark.parametrize("args, message", [
    (("train", "iris", "--epochs", "0"), "Epochs: 0 is below the minimum 1"),
    (("train", "iris", "--learning-rate", "abc"), "not a valid float"),
    (("predict", "iris", "no-such-run", "1", "2", "3", "4"), "no run named"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    out = run(*args, runs=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_predict_with_three_numbers_is_refused(trained):
    runs, result = trained
    out = run("predict", "iris", result["run_id"], "1", "2", "3", runs=runs)
    assert out.returncode == 2 and "4 numbers per flower" in out.stderr and "Traceback" not in out.stderr


def test_runs_list_show_export_delete(trained, tmp_path):
    runs, result = trained
    listing = json.loads(run("runs", "list", "--json", runs=runs).stdout)
    assert result["run_id"] in [r["id"] for r in listing]
    shown = json.loads(run("runs", "show", result["run_id"], runs=runs).stdout)
    assert shown["params"]["epochs"] == 3
    out = run("runs", "export", result["run_id"], "--format", "tensorboard", "--out", str(tmp_path / "tb"), runs=runs)
    assert out.returncode == 0 and list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    copy = runs.parent / "copy-runs"
    import shutil

    shutil.copytree(runs, copy)
    assert run("runs", "delete", result["run_id"], runs=copy).returncode == 0
    assert not (copy / result["run_id"]).exists()
    assert run("runs", "delete", "nope", runs=copy).returncode == 2
