"""Background training jobs with the Iris task: accuracy bar, live progress, stop, NaN, errors, isolation, seeds."""

import math
import time

import numpy as np
import pytest

from core.iris.data import EXAMPLES, SPECIES
from core.iris.model import predict_proba
from core.iris.task import IrisTask
from core.jobs import DONE, FAILED, STOPPED, TrainingJob
from core.params import ParamError
from core.store import RunStore
from core.training import run_training


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_portfolio_settings_reach_the_bar_and_classify_the_examples(store):
    job = TrainingJob("iris", {}, store=store).start()
    seen_batches = []
    while job.running:
        seen_batches.append(len(job.progress.snapshot()["batch_loss"]))
        time.sleep(0.05)
    snap = job.progress.snapshot()
    assert snap["status"] == DONE, snap["error"]
    assert snap["metrics"]["test_accuracy"] >= 0.93
    assert snap["epoch"] == snap["epochs"] == 10
    assert set(snap["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 10 for v in snap["history"].values())
    assert len(snap["batch_loss"]) == 10 * 75 and snap["elapsed"] > 0
    assert len(set(seen_batches)) > 3  # the progress grew while the job ran
    probs = predict_proba(job.model, list(EXAMPLES.values()))
    assert [SPECIES[i] for i in probs.argmax(1)] == list(EXAMPLES)
    assert store.get(snap["run_id"])["metrics"]["test_accuracy"] == snap["metrics"]["test_accuracy"]


def test_stop_keeps_the_model_and_marks_the_run_stopped(store):
    job = TrainingJob("iris", {"epochs": 200}, store=store).start()
    while job.progress.snapshot()["epoch"] < 2:
        time.sleep(0.02)
    job.stop()
    assert job.wait(30)
    snap = job.progress.snapshot()
    assert snap["status"] == STOPPED and 2 <= snap["epoch"] < 200
    assert job.model is not None and predict_proba(job.model, [[5.1, 3.3, 1.7, 0.5]]).shape == (1, 3)
    record = store.get(snap["run_id"])
    assert record["status"] == STOPPED and record["has_model"]


def _nan_after(step):
    import tensorflow as tf

    return tf.where(step >= 40, tf.constant(float("nan")), tf.constant(0.0))


class NanIris(IrisTask):
    """Iris whose training features turn into NaN from the 41st batch of an epoch."""

    def prepare(self, params):
        prepared = super().prepare(params)
        prepared.train = prepared.train.enumerate().map(lambda i, xy: (xy[0] + _nan_after(i), xy[1]))
        return prepared


def test_nan_loss_ends_the_job_with_a_clear_error_and_finite_weights(store):
    result = run_training(NanIris(), {"epochs": 5}, store=store)
    assert result.status == FAILED
    assert "nan" in result.error.lower() and "diverged" in result.error and "learning rate" in result.error
    assert all(np.isfinite(w).all() for w in result.model.get_weights())
    record = store.get(result.run_id)  # the curves so far are kept
    assert record["status"] == FAILED and len(record["batch_loss"]) == 75 and record["history"] == {}


def test_divergent_learning_rate_is_reported_not_hung():
    result = run_training(IrisTask(), {"learning_rate": 1.0, "epochs": 3, "activation": "linear", "units": 64})
    assert result.status in (DONE, FAILED)
    if result.status == FAILED:
        assert "diverged" in result.error


def test_an_exception_in_the_task_fails_the_job_cleanly(store):
    class Broken(IrisTask):
        def prepare(self, params):
            raise RuntimeError("the data source exploded")

    job = TrainingJob("iris", {}, store=store)
    job.task = Broken()
    job.start()
    assert job.wait(30)
    snap = job.progress.snapshot()
    assert snap["status"] == FAILED and "the data source exploded" in snap["error"]
    assert "Traceback" in snap["details"] and store.list() == []


def test_invalid_params_are_refused_before_a_thread_starts():
    with pytest.raises(ParamError, match="Learning rate"):
        TrainingJob("iris", {"learning_rate": -1})
    with pytest.raises(ParamError, match="unknown"):
        TrainingJob("iris", {"epoch": 3})


def test_two_sessions_train_at_once_without_seeing_each_other(store):
    a = TrainingJob("iris", {"epochs": 4, "units": 8}, store=store).start()
    b = TrainingJob("iris", {"epochs": 6, "units": 12}, store=store).start()
    assert a.wait(60) and b.wait(60)
    sa, sb = a.progress.snapshot(), b.progress.snapshot()
    assert (sa["epoch"], sb["epoch"]) == (4, 6)
    assert sa["run_id"] != sb["run_id"] and a.model is not b.model
    assert a.model.layers[0].units == 8 and b.model.layers[0].units == 12


def test_same_seed_same_curves():
    first = run_training(IrisTask(), {"epochs": 3, "seed": 7})
    second = run_training(IrisTask(), {"epochs": 3, "seed": 7})
    other = run_training(IrisTask(), {"epochs": 3, "seed": 8})
    assert first.metrics == second.metrics
    w1, w2 = first.model.get_weights(), second.model.get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(w1, w2))
    assert not all(np.array_equal(x, y) for x, y in zip(w1, other.model.get_weights()))


def test_same_seed_same_per_epoch_losses(store):
    runs = []
    for _ in range(2):  # one after the other: seeding is process-wide
        runs.append(TrainingJob("iris", {"epochs": 4, "seed": 3}, store=store).start())
        runs[-1].wait(60)
    losses = [job.progress.snapshot()["history"]["loss"] for job in runs]
    assert losses[0] == losses[1] and all(math.isfinite(v) for v in losses[0])
