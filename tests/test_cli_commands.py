"""Every command that ``python -m core --help`` offers, walked from the parser itself: each one runs (status 0)
or fails with exactly one ``error:`` line and status 2. A new command without an entry here fails the test."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import build_parser
from tests.test_cli import ROOT, assert_one_error_line

pytestmark = pytest.mark.slow


def offered_commands(parser: argparse.ArgumentParser, prefix=()) -> list[tuple[str, ...]]:
    """Every leaf command: sub-commands, and each choice of a command's first positional argument."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [cmd for name, sub in action.choices.items() for cmd in offered_commands(sub, (*prefix, name))]
    positional = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    if positional and positional[0].choices:
        return [(*prefix, choice) for choice in positional[0].choices]
    return [prefix]


# What to run for each command: ("ok", args) must exit 0; ("error", args, text) must be one error line with text.
# {runs} is the runs directory given with --runs-dir, {cvae} the CVAE run trained by the train cvae entry.
PLAN = {
    ("train", "iris"): ("ok", ["--epochs", "1", "--repeat", "1"]),
    ("train", "cnn"): ("ok", ["--epochs", "1", "--train-size", "200", "--precision", "float32"]),
    ("train", "cvae"): ("ok", ["--epochs", "1", "--train-size", "200"]),
    ("train", "latent"): ("ok", ["--cvae-run", "{cvae}", "--epochs", "1"]),
    ("predict", "iris"): ("error", ["no-such-run", "5.1", "3.3", "1.7", "0.5"], "no run named 'no-such-run'"),
    ("predict", "cnn"): ("error", ["no-such-run", "digit.png"], "no run named 'no-such-run'"),
    ("bench", "iris"): ("ok", []),
    ("bench", "cnn"): ("ok", ["--images", "128"]),
    ("bench", "cvae"): ("ok", ["--images", "128"]),
    ("bench", "rerun"): ("ok", []),
    ("bench", "sweep"): ("ok", ["--images", "2400"]),
    ("bench", "memory"): ("ok", ["--images", "3"]),
    ("bench", "ood"): ("ok", ["--images", "300"]),  # a CNN on 300 images: that it runs, not its figures
    ("bench", "attack"): ("ok", ["--images", "300"]),
    ("train", "cnn_finetune"): ("error", [], "choose the CNN run to fine-tune"),
    ("sweep", "cnn_finetune"): ("error", ["--vary", "epochs=0"], "Epochs: 0"),
    ("runs", "list"): ("ok", []),
    ("runs", "show"): ("ok", ["{cvae}"]),
    ("runs", "export"): ("ok", ["{cvae}", "--format", "keras", "--out", "{runs}/../export.keras"]),
    ("runs", "delete"): ("error", ["no-such-run"], "no run named 'no-such-run'"),
    ("sweep", "iris"): ("error", ["--vary", "units=0,5"], "Units: 0 is below the minimum 1"),
    ("sweep", "cnn"): ("error", ["--vary", "units=5"], "units"),
    ("sweep", "cvae"): ("error", ["--vary", "beta=11"], "Beta: 11"),
    ("sweep", "latent"): ("error", ["--vary", "dropout=0.95"], "Dropout: 0.95"),
}
ORDER = ["train", "runs", "predict", "bench", "sweep"]  # train cvae before train latent and runs show/export


def test_the_plan_covers_exactly_what_the_parser_offers():
    assert sorted(offered_commands(build_parser())) == sorted(PLAN)


def test_every_offered_command_runs_or_fails_with_one_error_line(tmp_path, project_env):
    runs = tmp_path / "runs"
    elsewhere = tmp_path / "env-runs"  # $NN_PLAYGROUND_RUNS: --runs-dir must win over it, for every command
    fields = {"runs": str(runs), "cvae": ""}
    commands = sorted(PLAN, key=lambda c: (ORDER.index(c[0]), c != ("train", "cvae")))
    for command in commands:
        if command not in offered_commands(build_parser()):
            continue
        expect, args, *text = PLAN[command]
        argv = [sys.executable, "-m", "core", "--runs-dir", str(runs), *command,
                *(a.format(**fields) for a in args)]
        if command[0] == "train":
            argv.append("--json")
        out = subprocess.run(argv, cwd=ROOT, env=project_env(elsewhere), capture_output=True, text=True,
                             timeout=600)
        if expect == "error":
            assert_one_error_line(out, text[0])
            continue
        assert out.returncode == 0, (command, out.stderr[-3000:])
        assert "Traceback" not in out.stderr, (command, out.stderr[-3000:])
        if command[0] == "train":
            result = json.loads(out.stdout)
            assert result["status"] == "done" and Path(result["path"]).parent == runs, (command, result)
            if command == ("train", "cvae"):
                fields["cvae"] = result["run_id"]
            if command == ("train", "latent"):
                assert 0 <= result["metrics"]["test_accuracy"] <= 1
    assert not elsewhere.exists(), "a command wrote to $NN_PLAYGROUND_RUNS although --runs-dir was given"
