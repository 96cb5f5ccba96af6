"""Sweeps on Ray Tune (core.sweep): a local Ray with this machine's CPUs, small Iris trainings, a separate Ray head.

Every stored trial equals a single ``run_training`` with its settings and seed; bands and confidence intervals
equal a NumPy computation on the stored curves; ASHA stops a hopeless trial early; a failing trial leaves the
others' runs intact; stopping keeps the finished trials; bad input is one ``error:`` line, status 2, nothing run.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.progress import DONE, FAILED, RUNNING, STOPPED
from core.store import RunStore
from core.sweep import Sweep, SweepError, SweepSpec, parse_vary
from core.sweep import stats as sweep_stats
from core.sweep.spec import MAX_TRIALS

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"epochs": 3, "repeat": 2}  # an Iris training of about a second
SWEEP_TIMEOUT = 300

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _run(spec: SweepSpec, store: RunStore, on_snapshot=None) -> dict:
    sweep = Sweep(spec, store).start()
    deadline = time.time() + SWEEP_TIMEOUT
    while sweep.running and time.time() < deadline:
        if on_snapshot is not None:
            on_snapshot(sweep)
        time.sleep(0.01)
    assert sweep.wait(5), "the sweep did not finish"
    return sweep.snapshot()


@pytest.fixture(scope="module")
def lr_sweep(local_ray, tmp_path_factory):
    """3 learning rates x 2 seeds of a small Iris training, with the snapshots seen while it ran."""
    store = RunStore(tmp_path_factory.mktemp("lr-sweep"))
    spec = SweepSpec("iris", base=SMALL, vary={"learning_rate": [1e-3, 1e-2, 3e-2]}, seeds=2, concurrency=2)
    live = []
    snap = _run(spec, store, lambda sweep: live.append(sweep.snapshot()))
    return spec, store, snap, [s for s in live if s["status"] == RUNNING]


def test_each_trial_is_a_stored_run_equal_to_a_single_training(lr_sweep):
    from core.progress import Progress
    from core.registry import get_task
    from core.training import run_training

    _, store, snap, _ = lr_sweep
    assert snap["status"] == DONE, snap["error"]
    assert snap["counts"]["done"] == 6, [(t["status"], t["error"]) for t in snap["trials"]]
    runs = sweep_stats.sweep_runs(store, snap["id"])
    assert len(runs) == 6 == len(store.list()), snap["events"]
    assert sorted((r["sweep_config"]["learning_rate"], r["seed"]) for r in runs) == sorted(
        (lr, seed) for lr in (1e-3, 1e-2, 3e-2) for seed in (42, 43))
    task = get_task("iris")
    for rec in runs:
        assert rec["status"] == DONE and rec["error"] is None and rec["has_model"]
        assert rec["kind"] == "iris" and rec["trial_id"] and rec["epochs_completed"] == 3
        assert {"title", "params", "metrics", "history", "batch_loss", "started", "duration", "data"} <= set(rec)
        assert rec["params"] == {**task.space.validate(SMALL), **rec["sweep_config"], "seed": rec["seed"]}
        progress = Progress()  # the same settings and seed, trained here: identical curves, epoch by epoch
        single = run_training(task, rec["params"], progress=progress, save=False)
        assert single.status == DONE and progress.snapshot()["history"] == rec["history"], rec["sweep_config"]
        assert single.metrics["test_accuracy"] == rec["metrics"]["test_accuracy"]
    entry = snap["trials"][0]
    assert entry["run_id"] in {r["id"] for r in runs} and len(entry["history"]["loss"]) == 3
    model = store.load_model(runs[0]["id"], task.custom_objects())
    assert model.predict(np.zeros((1, 4)), verbose=0).shape == (1, 3)


def test_the_snapshot_shows_curves_while_trials_run(lr_sweep):
    _, _, _, live = lr_sweep
    seen = [len(t["history"].get("loss", [])) for s in live for t in s["trials"] if t["status"] == RUNNING]
    assert {1, 2} & set(seen), f"no snapshot showed a running trial's first epochs: {sorted(set(seen))}"


def test_bands_and_confidence_intervals_equal_numpy_on_the_stored_curves(lr_sweep):
    from scipy import stats

    _, store, snap, _ = lr_sweep
    runs = sweep_stats.sweep_runs(store, snap["id"])
    bands = {b["label"]: b for b in sweep_stats.epoch_bands(runs, "val_loss")}
    summary = {r["label"]: r for r in sweep_stats.final_summary(runs)}
    assert len(bands) == len(summary) == 3
    for lr in (1e-3, 1e-2, 3e-2):
        label = f"learning_rate={lr:g}"
        curves = np.array([r["history"]["val_loss"] for r in runs if r["sweep_config"]["learning_rate"] == lr])
        assert curves.shape == (2, 3)
        np.testing.assert_allclose(bands[label]["mean"], curves.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(bands[label]["std"], curves.std(axis=0, ddof=1), rtol=1e-12)
        assert bands[label]["n"] == [2, 2, 2] and bands[label]["epochs"] == [1, 2, 3]
        final = np.array([r["metrics"]["test_accuracy"] for r in runs if r["sweep_config"]["learning_rate"] == lr])
        row = summary[label]
        half = stats.t.ppf(0.975, 1) * final.std(ddof=1) / math.sqrt(2)
        assert row["n"] == 2 and row["mean"] == pytest.approx(final.mean(), abs=1e-12)
        assert row["std"] == pytest.approx(final.std(ddof=1), abs=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((final.mean() - half, final.mean() + half), abs=1e-12)
    live = {b["label"]: b for b in sweep_stats.epoch_bands(sweep_stats.snapshot_records(snap), "val_loss")}
    assert live == bands  # the live view (from the snapshot) and the stored runs agree
    means = [r["mean"] for r in sweep_stats.final_summary(runs)]
    assert means == sorted(means, reverse=True)  # best (highest accuracy) first
    importance = sweep_stats.parameter_importance(runs)
    assert [e["name"] for e in importance["ranking"]] == ["learning_rate"]
    assert sweep_stats.list_sweeps(store)[0]["runs"] == 6


def test_sweep_figures_have_a_band_per_configuration_and_parallel_coordinates(lr_sweep):
    from core.sweep.plots import bands_figure, parallel_coordinates_figure

    _, store, snap, _ = lr_sweep
    runs = sweep_stats.sweep_runs(store, snap["id"])
    fig = bands_figure(sweep_stats.epoch_bands(runs, "loss"), "loss")
    assert len([t for t in fig.data if t.fill == "toself"]) == 3 and len(fig.data) == 6
    par = parallel_coordinates_figure(runs)
    dims = par.data[0].dimensions
    assert [d.label for d in dims] == ["learning_rate (log10)", "test accuracy"]
    assert list(dims[0].values) == pytest.approx([math.log10(r["sweep_config"]["learning_rate"]) for r in runs])


def test_early_stopping_ends_a_hopeless_trial_before_its_last_epoch(local_ray, tmp_path):
    store = RunStore(tmp_path)
    spec = SweepSpec("iris", base={"epochs": 4, "repeat": 2}, vary={"learning_rate": [1e-2, 3e-2, 1e-5]},
                     early_stop=True, concurrency=1)
    snap = _run(spec, store)
    assert snap["status"] == DONE, snap["error"]
    hopeless = snap["trials"][2]
    assert hopeless["status"] == STOPPED and hopeless["early_stopped"] and hopeless["run_id"]
    rec = store.get(hopeless["run_id"])
    assert rec["status"] == STOPPED and rec["early_stopped"] and 1 <= rec["epochs_completed"] < 4
    assert len(rec["history"]["loss"]) == rec["epochs_completed"] and rec["has_model"]
    first = store.get(snap["trials"][0]["run_id"])  # the first trial is never below a cutoff: it sets them
    assert first["status"] == DONE and first["epochs_completed"] == 4


def test_a_failing_trial_leaves_the_other_runs_intact(local_ray, tmp_path):
    """Latent classifiers on a small CVAE run and on a run that is no CVAE (say, it was replaced meanwhile)."""
    from core.registry import get_task
    from core.training import run_training

    store = RunStore(tmp_path)
    cvae = run_training(get_task("cvae"), {"train_size": 100, "epochs": 1}, store=store)
    iris = run_training(get_task("iris"), SMALL, store=store)
    assert cvae.run_id and iris.run_id, cvae.error
    snap = _run(SweepSpec("latent", base={"epochs": 2, "hidden_units": 16},
                          vary={"cvae_run": [cvae.run_id, iris.run_id]}), store)
    assert snap["status"] == DONE, snap["error"]
    good, bad = snap["trials"]
    assert bad["status"] == FAILED and "is a iris run, not a CVAE" in bad["error"]
    assert store.get(bad["run_id"])["status"] == FAILED and not store.get(bad["run_id"])["has_model"]
    assert good["status"] == DONE and good["run_id"]
    rec = store.get(good["run_id"])
    assert rec["status"] == DONE and rec["has_model"] and rec["epochs_completed"] == 2
    assert 0 <= rec["metrics"]["test_accuracy"] <= 1


def test_stopping_a_sweep_keeps_the_finished_trials(local_ray, tmp_path):
    """Two short trials finish; Stop during a long one keeps it as stopped (evaluated, with its model); the last
    trial never runs."""
    store = RunStore(tmp_path)
    spec = SweepSpec("iris", base={"repeat": 2}, vary={"epochs": [2, 200]}, seeds=2, concurrency=1)
    stopped = []

    def stop_during_the_long_one(sweep):
        snap = sweep.snapshot()
        if not stopped and snap["trials"][2]["epoch"] >= 1:
            sweep.stop()
            stopped.append(snap)

    snap = _run(spec, store, stop_during_the_long_one)
    assert stopped and snap["status"] == STOPPED
    assert [t["status"] for t in snap["trials"]] == [DONE, DONE, STOPPED, STOPPED]
    assert snap["trials"][3]["run_id"] is None  # never started: nothing stored
    stored = {r["id"]: r for r in sweep_stats.sweep_runs(store, snap["id"])}
    assert len(stored) == 3 and all(stored[t["run_id"]]["epochs_completed"] == 2 for t in snap["trials"][:2])
    long = stored[snap["trials"][2]["run_id"]]
    assert long["status"] == STOPPED and not long["early_stopped"] and 1 <= long["epochs_completed"] < 200
    assert long["has_model"] and 0 <= long["metrics"]["test_accuracy"] <= 1  # stopped like a page's Stop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args, message", [
    (["--vary", "learning_rate=1e-3,5"], "Learning rate: 5.0 is above the maximum 1"),
    (["--vary", "no_such=1,2"], "unknown hyper-parameter 'no_such'"),
    (["--vary", "learning_rate="], "no values to try"),
    ([], "nothing to sweep"),
    (["--vary", "seed=1,2"], "the seed cannot be varied"),
    (["--vary", "units=1,2,3,4,5,6,7,8,9,10,11", "--vary", "hidden_layers=1,2,3,4", "--seeds", "5"],
     f"this sweep has 220 trials (44 configurations x 5 seeds), more than the limit of {MAX_TRIALS}"),
    (["--vary", "activation=relu..tanh"], "only numbers take a range"),
    (["--vary", "units=3,4", "--address", "127.0.0.1:{port}"], "cannot reach a Ray cluster at 127.0.0.1:"),
])
def test_bad_input_is_one_error_line_and_starts_nothing(args, message, runs_dir, capsys):
    from core.cli import main

    code = main(["sweep", "iris", *(a.replace("{port}", str(_free_port())) for a in args)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_parse_vary_and_trials_without_ray():
    from core.iris.task import SPACE

    vary = parse_vary(SPACE, "learning_rate=1e-4..1e-2; units=5,10\nactivation=relu,tanh,relu")
    assert vary == {"learning_rate": (1e-4, 1e-2), "units": [5, 10], "activation": ["relu", "tanh", "relu"]}
    spec = SweepSpec("iris", vary=vary, samples=3, seeds=2)
    trials = spec.trials()
    assert spec.count() == len(trials) == 2 * 2 * 3 * 2  # units x activation x samples x seeds
    assert [t.seed for t in trials[:4]] == [42, 43, 42, 43]
    rates = {t.config["learning_rate"] for t in trials}
    assert all(1e-4 <= r <= 1e-2 for r in rates) and len(rates) > 1
    assert trials == SweepSpec("iris", vary=vary, samples=3, seeds=2).trials()  # reproducible draws
    ints = SweepSpec("iris", vary={"units": (1, 64)}, samples=20).configs()
    assert all(isinstance(c["units"], int) and 1 <= c["units"] <= 64 for c in ints)
    with pytest.raises(SweepError, match="empty"):
        SweepSpec("iris", vary={"units": (10, 5)})


def test_a_sweep_runs_on_a_separate_ray_cluster(ray_cluster, runs_dir, project_env):
    ray_head = ray_cluster.head(num_cpus=2)
    cmd = [sys.executable, "-m", "core", "sweep", "iris", "--vary", "learning_rate=1e-3,1e-2", "--epochs", "2",
           "--repeat", "2", "--address", ray_head, "--json"]
    env = {**project_env(runs_dir), **{k: v for k, v in ray_cluster.env.items() if k.startswith("RAY_")}}
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["status"] == DONE and result["counts"]["done"] == 2
    runs = sweep_stats.sweep_runs(RunStore(runs_dir), result["sweep"])
    assert len(runs) == 2 and all(r["status"] == DONE and r["has_model"] for r in runs)
    assert "the Ray cluster at " + ray_head in out.stderr
    for proc in ray_cluster.procs:  # at once (the fixture's clean stop takes seconds; nothing asserts it here)
        ray_cluster.kill(proc)


def test_a_local_ray_outlives_the_sweep_that_started_it(tmp_path, project_env):
    """Ray's local services die with the *thread* that started them (PR_SET_PDEATHSIG): started from a sweep's own
    thread, they were killed when that sweep ended, and Ray then ended the whole process (the web server) a minute
    later. Two sweeps (of one trial each) in one fresh process, with a pause between, must both finish."""
    code = (
        "import time, ray\n"
        "from core.store import RunStore\n"
        "from core.sweep import Sweep, SweepSpec\n"
        f"store = RunStore({str(tmp_path / 'runs')!r})\n"
        "for i in range(2):\n"
        "    s = Sweep(SweepSpec('iris', base={'epochs': 1, 'repeat': 1}, vary={'learning_rate': [1e-2]}),"
        " store).start()\n"
        "    assert s.wait(180), 'the sweep did not end'\n"
        "    print('done', s.snapshot()['counts']['done'], flush=True)\n"
        "    time.sleep(3)\n"
        "    print('cpus', ray.cluster_resources(), flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         env=project_env(tmp_path / "runs"), capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("done 1") == 2, out.stdout + out.stderr[-2000:]
