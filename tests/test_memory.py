"""Issue 11 (memory): many Iris trainings in one long-lived process do not keep their traced graphs.

TensorFlow registers a ``CustomGradient-<uid>`` function in its process-wide gradient registry for the optimizer's
all-reduce every time a training step is traced, and its closure held the step's whole graph: ~6.5 MB kept for good
per Iris training. ``run_training`` now builds the training state before ``fit`` (one trace) and frees what it
traced (``core.training.free_traced_graphs``), and only that: a training running in another thread keeps its own.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tensorflow.python.framework import ops

import core.training as training
from core.iris.task import IrisTask
from core.jobs import TrainingJob
from core.progress import DONE

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"epochs": 2, "repeat": 2}
TRAININGS = 15
BAR_MB_PER_TRAINING = 1.0  # the bar: < 50 MB over 50 trainings


def _custom_gradients_since(mark: int) -> list[str]:
    prefix = "CustomGradient-"
    return [name for name in list(ops._gradient_registry._registry)
            if name.startswith(prefix) and name[len(prefix):].isdigit() and int(name[len(prefix):]) >= mark]


@pytest.mark.slow
def test_fifteen_trainings_in_a_fresh_process_stay_under_the_bar():
    code = f"import json, core.training as t; print(json.dumps(t.memory_growth({TRAININGS})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n{TRAININGS} Iris trainings: +{figures['growth_mb']} MB ({figures['per_training_mb']} MB each), "
          f"curve {figures['curve_mb']}")
    assert figures["growth_mb"] < BAR_MB_PER_TRAINING * TRAININGS, figures


def test_a_finished_training_frees_its_graphs_and_keeps_its_results():
    mark = ops.uid()
    kept = training.run_training(IrisTask(), SMALL, free_graphs=False)  # the old behaviour: the graph stays
    assert len(_custom_gradients_since(mark)) >= 1
    mark = ops.uid()
    freed = training.run_training(IrisTask(), SMALL)
    assert freed.status == DONE and kept.status == DONE
    assert _custom_gradients_since(mark) == []
    assert freed.model.train_function is None and freed.model.test_function is None
    # Same seed, same curves: building the optimizer and metric state early changes no number.
    assert freed.model.history.history == kept.model.history.history
    assert freed.metrics == kept.metrics
    # The finished model still predicts and can train on (Keras traces its step again).
    assert freed.model.predict(freed.prepared.arrays["x_test"][:3], verbose=0).shape == (3, 3)
    freed.model.fit(freed.prepared.train.take(1), verbose=0, shuffle=False)


def test_a_training_frees_only_its_own_graphs_while_another_trains(monkeypatch):
    released = []  # (model, registrations removed), in the order the trainings finished
    original = training.free_traced_graphs

    def spy(model, mark):
        n = original(model, mark)
        released.append((model, n))
        return n

    monkeypatch.setattr(training, "free_traced_graphs", spy)
    mark = ops.uid()
    long = TrainingJob("iris", {"epochs": 30, "units": 11}, save=False).start()
    deadline = time.time() + 300
    while long.progress.snapshot()["epoch"] < 1 and long.running and time.time() < deadline:
        time.sleep(0.05)  # the long job's step is traced (and its gradient function registered)
    assert long.running, long.progress.snapshot()["error"]
    short = TrainingJob("iris", SMALL, save=False).start()
    assert short.wait(300) and short.progress.snapshot()["status"] == DONE
    assert long.running, "the long job must still run when the short one frees its graphs"
    assert released == [(short.model, 1)]  # its own registration only, not the running job's
    assert len(_custom_gradients_since(mark)) >= 1  # the running job's, untouched
    long.stop()
    assert long.wait(300)
    assert released[1][0] is long.model and released[1][1] == 1
    assert _custom_gradients_since(mark) == []
