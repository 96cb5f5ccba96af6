"""``python -m core``: train, predict and manage runs from a shell; bad input is one ``error:`` line, exit code 2.

Commands that load TensorFlow cost about 5 s each on this machine, so they are few; the error paths that
stop before TensorFlow is imported are cheap and tested broadly.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.iris.data import SPECIES
from core.registry import get_task, kinds

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cli(project_env):
    def run(*args, runs, timeout=180):
        return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, env=project_env(runs),
                              capture_output=True, text=True, timeout=timeout)

    return run


def user_lines(stderr: str) -> list[str]:
    """The lines of stderr (TensorFlow's start-up lines no longer among them: core.tf_startup)."""
    return [line for line in stderr.splitlines() if line.strip()]


def assert_one_error_line(out, expected: str):
    lines = user_lines(out.stderr)
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr[-2000:]
    assert expected in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A saved Iris run to predict with and manage (trained here: ``train`` itself starts Ray; tests/test_cli_executor.py)."""
    from core.store import RunStore
    from core.training import run_training

    runs = tmp_path_factory.mktemp("cli-runs")
    result = run_training(get_task("iris"), {"epochs": 3}, store=RunStore(runs))
    assert result.status == "done", result.error
    return runs, {"run_id": result.run_id, "metrics": result.metrics}, None


def test_predict_json_gives_probabilities_that_sum_to_one(cli, trained):
    runs, result, _ = trained
    out = cli("predict", "iris", result["run_id"], 5.1, 3.3, 1.7, 0.5, 6.9, 3.1, 5.4, 2.1, "--json", runs=runs)
    assert out.returncode == 0, out.stderr[-2000:]
    predictions = json.loads(out.stdout)
    assert [p["flower"] for p in predictions] == [[5.1, 3.3, 1.7, 0.5], [6.9, 3.1, 5.4, 2.1]]
    for p in predictions:
        assert set(p["probabilities"]) == set(SPECIES) and p["species"] in SPECIES
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert p["probability"] == max(p["probabilities"].values())
        assert p["species"] == max(p["probabilities"], key=p["probabilities"].get)


@pytest.mark.parametrize("args, expected", [
    (("--epochs", "0"), "error: Epochs: 0 is below the minimum 1"),
    (("--epochs", "201"), "Epochs: 201 is above the maximum 200"),
    (("--epochs", "2.5"), "Epochs: '2.5' is not a valid int"),
    (("--learning-rate", "abc"), "error: Learning rate: 'abc' is not a valid float"),
    (("--learning-rate", "nan"), "Learning rate: must be a finite number"),
    (("--learning-rate", "inf"), "Learning rate: must be a finite number"),
    (("--activation", "swish"), "Activation: 'swish' is not one of relu, tanh, sigmoid, elu, linear"),
    (("--test-fraction", "0.9"), "Test fraction: 0.9 is above the maximum 0.5"),
])
def test_bad_training_settings_are_one_error_line(cli, tmp_path, args, expected):
    out = cli("train", "iris", *args, runs=tmp_path / "runs")
    assert_one_error_line(out, expected)
    assert out.stdout == "" and not (tmp_path / "runs").exists()


def test_every_bad_training_setting_is_reported_at_once(cli, tmp_path):
    out = cli("train", "iris", "--units", "0", "--epochs", "abc", runs=tmp_path)
    assert_one_error_line(out, "Units: 0 is below the minimum 1")
    assert "Epochs" in out.stderr


def test_predict_with_three_numbers_is_one_error_line(cli, trained):
    runs, result, _ = trained
    out = cli("predict", "iris", result["run_id"], 1, 2, 3, runs=runs)
    assert_one_error_line(out, "iris takes 4 numbers per flower")
    assert out.stdout == ""


@pytest.mark.parametrize("kind, numbers, text", [("iris", (1, 2, 3), "iris takes 4 numbers per flower"),
                                                  ("plane", (1, "x"), "plane takes numbers x1 x2")])
def test_bad_numbers_are_told_before_any_model_is_looked_for(cli, tmp_path, kind, numbers, text):
    """The inputs are checked first: the error names them, not the missing run (and comes without loading one)."""
    out = cli("predict", kind, "no-such-run", *numbers, runs=tmp_path)
    assert_one_error_line(out, text)


@pytest.mark.parametrize("model", ["iris-no-such-run", "nope"])
def test_predict_with_a_missing_model_is_one_error_line(cli, tmp_path, model):
    out = cli("predict", "iris", model, 5.1, 3.3, 1.7, 0.5, runs=tmp_path)
    assert_one_error_line(out, f"no run named '{model}'")


def test_predict_with_a_model_of_the_wrong_shape_is_one_error_line(cli, tmp_path):
    import keras

    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "five.keras")
    out = cli("predict", "iris", tmp_path / "five.keras", 5.1, 3.3, 1.7, 0.5, runs=tmp_path)
    assert_one_error_line(out, "this model takes inputs of shape (5,)")


def test_runs_list_show_export_delete(cli, trained, tmp_path):
    import shutil

    import keras

    source, result, _ = trained
    runs = tmp_path / "runs"
    shutil.copytree(source, runs)  # a copy: deleting must not disturb the other tests of this module
    run_id = result["run_id"]

    listing = cli("runs", "list", "--json", runs=runs)
    assert listing.returncode == 0
    [entry] = json.loads(listing.stdout)
    assert entry["id"] == run_id and entry["damaged"] is False and entry["status"] == "done"

    text = cli("runs", "list", runs=runs)
    assert text.returncode == 0 and run_id in text.stdout and "test_accuracy=" in text.stdout
    assert cli("runs", "list", "--kind", "cnn", runs=runs).stdout.startswith("no runs in")

    shown = cli("runs", "show", run_id, runs=runs)
    assert shown.returncode == 0
    record = json.loads(shown.stdout)
    assert record["params"]["epochs"] == 3 and record["metrics"] == pytest.approx(result["metrics"])

    out = cli("runs", "export", run_id, "--format", "keras", "--out", tmp_path / "exp" / "iris.keras", runs=runs)
    assert out.returncode == 0 and "wrote keras export" in out.stdout, out.stderr[-2000:]
    assert keras.models.load_model(tmp_path / "exp" / "iris.keras").output_shape == (None, 3)

    deleted = cli("runs", "delete", run_id, runs=runs)
    assert deleted.returncode == 0 and f"deleted {run_id}" in deleted.stdout
    assert not (runs / run_id).exists()
    assert cli("runs", "list", "--json", runs=runs).stdout.strip() == "[]"


@pytest.mark.parametrize("args", [("show", "nope"), ("delete", "nope"), ("export", "nope", "--format", "tflite",
                                                                         "--out", "x.tflite")])
def test_runs_commands_on_a_missing_run_are_one_error_line(cli, tmp_path, args):
    out = cli("runs", *args, runs=tmp_path)
    assert_one_error_line(out, "no run named 'nope'")


def test_runs_list_reports_a_damaged_run(cli, tmp_path):
    (tmp_path / "iris-bad").mkdir()
    (tmp_path / "iris-bad" / "run.json").write_text("{")
    out = cli("runs", "list", runs=tmp_path)
    assert out.returncode == 0 and "iris-bad" in out.stdout and "DAMAGED" in out.stdout
    assert json.loads(cli("runs", "list", "--json", runs=tmp_path).stdout)[0]["damaged"] is True


def test_keras_export_of_a_missing_run_is_one_error_line(cli, tmp_path):
    out = cli("runs", "export", "nope", "--out", tmp_path / "x.keras", runs=tmp_path)
    assert_one_error_line(out, "no run named 'nope'")


def test_showing_a_damaged_run_is_one_error_line(cli, tmp_path):
    (tmp_path / "iris-bad").mkdir()
    (tmp_path / "iris-bad" / "run.json").write_text("{")
    out = cli("runs", "show", "iris-bad", runs=tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert len(user_lines(out.stderr)) == 1 and user_lines(out.stderr)[0].startswith("error: ")


@pytest.mark.parametrize("command", [["--help"], *(["train", kind, "--help"] for kind in kinds())])
def test_help_lists_every_flag(command, capsys):
    """``--help`` prints, and lists each hyper-parameter (a "%" in a help text once made argparse raise)."""
    from core.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(command)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    if command[0] == "train":
        assert all(p.flag in out for p in get_task(command[1]).space)


# Each was a traceback somewhere (runs list, the Runs page, a model panel, an export) before run.json had a schema.
MALFORMED = [('"started": 5', "'started'"), ('"metrics": "oops"', "'metrics'"), ('"status": null', "'status'"),
             ('"duration": "slow"', "'duration'"), ('"history": null', "'history'"),
             ('"has_model": true', "model file model.keras is missing")]


@pytest.mark.parametrize("field, reason", MALFORMED)
def test_a_malformed_run_json_is_listed_as_damaged_and_export_is_one_error(cli, tmp_path, field, reason):
    from core.store import RunStore

    store = RunStore(tmp_path)
    good = store.save({"kind": "iris", "status": "done", "started": "2026-01-01T00:00:00"})
    bad = tmp_path / "iris-bad"
    bad.mkdir()
    (bad / "run.json").write_text('{"kind": "iris", "id": "../../x", ' + field + "}")
    [damaged] = [r for r in store.list() if r.damaged]
    assert damaged.run_id == "iris-bad" and reason in damaged.error

    out = cli("runs", "list", runs=tmp_path, timeout=60)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert good in out.stdout and "iris-bad" in out.stdout and "DAMAGED" in out.stdout
    export = cli("runs", "export", "iris-bad", "--format", "tensorboard", "--out", tmp_path / "tb", runs=tmp_path,
                 timeout=60)
    assert_one_error_line(export, "iris-bad")
    assert not (tmp_path.parent / "x").exists()  # nothing written where the record's "id" pointed
