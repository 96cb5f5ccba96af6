"""core.jobs + core.training + core.store with the Iris task: the bar, live progress, stop, NaN, errors, sessions, seeds.

The Iris task is fast (the portfolio's setting trains in about 2 s), so these tests train for real.
"""

import threading
import time

import numpy as np
import pytest

from core.iris.data import EXAMPLES, SPECIES
from core.iris.model import predict_proba
from core.iris.task import IrisTask
from core.jobs import TrainingJob
from core.params import ParamError
from core.progress import DONE, FAILED, RUNNING, STOPPED, Progress
from core.store import RunStore

BATCHES_PER_EPOCH = 75  # 120 training flowers x 20 repeats / batch 32


@pytest.fixture
def store(runs_dir):
    return RunStore(runs_dir)


@pytest.fixture
def thread_errors(monkeypatch):
    """Exceptions that escaped any thread during the test (there must be none)."""
    errors = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    return errors


def _finite(weights) -> bool:
    return all(np.isfinite(w).all() for w in weights)


def _train_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("train-")]


def test_portfolio_defaults_reach_the_bar_with_live_progress(store, thread_errors):
    job = TrainingJob("iris", {}, store=store)
    assert job.params == IrisTask.space.defaults()
    job.start()
    live = []  # snapshots taken while the job was still running
    while job.running:
        snap = job.progress.snapshot()
        if snap["status"] == RUNNING:
            live.append(snap)
        time.sleep(0.03)
    assert job.wait(1) and not job.running
    final = job.progress.snapshot()
    assert final["status"] == DONE and final["error"] is None, final["error"]

    accuracy = final["metrics"]["test_accuracy"]
    print(f"\nIris, portfolio defaults: test accuracy {accuracy:.4f}, train accuracy "
          f"{final['metrics']['train_accuracy']:.4f}, {final['elapsed']:.1f} s")
    assert accuracy >= 0.93  # the bar

    probs = predict_proba(job.model, list(EXAMPLES.values()))
    assert [SPECIES[i] for i in probs.argmax(1)] == list(EXAMPLES)  # setosa, versicolor, virginica

    # The progress grew while the job ran: per-batch points first, whole epochs later.
    training = [s for s in live if s["phase"] == "training"]
    counts = [len(s["batch_loss"]) for s in training]
    assert len({c for c in counts if c}) >= 3, f"no batch points appeared while training: {counts}"
    assert counts == sorted(counts)
    assert len({s["epoch"] for s in training}) >= 2
    for s in training:  # every snapshot is consistent, although taken while the trainer writes
        assert s["epochs"] == 10 and s["steps_per_epoch"] == BATCHES_PER_EPOCH and s["elapsed"] >= 0
        assert s["epoch"] * BATCHES_PER_EPOCH <= len(s["batch_loss"]) <= (s["epoch"] + 1) * BATCHES_PER_EPOCH
        assert all(len(v) == s["epoch"] for v in s["history"].values())
    elapsed = [s["elapsed"] for s in live]
    assert elapsed == sorted(elapsed) and elapsed[-1] > elapsed[0]

    # The final record: every batch, every epoch, the four curves.
    assert final["epoch"] == final["epochs"] == 10 and final["elapsed"] > 0
    assert set(final["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 10 for v in final["history"].values())
    positions, losses = np.array(final["batch_loss"]).T
    assert len(positions) == 10 * BATCHES_PER_EPOCH and positions[-1] == pytest.approx(10.0)
    assert (np.diff(positions) > 0).all() and np.isfinite(losses).all() and (losses > 0).all()
    assert final["history"]["loss"][-1] < final["history"]["loss"][0]

    record = store.get(final["run_id"])
    assert record["status"] == DONE and record["has_model"] and record["epochs_completed"] == 10
    assert record["metrics"]["test_accuracy"] == accuracy and record["history"] == final["history"]
    assert thread_errors == []


def test_stop_keeps_a_usable_model_saved_as_a_stopped_run(store):
    job = TrainingJob("iris", {"epochs": 200}, store=store).start()
    deadline = time.time() + 60
    while job.progress.snapshot()["epoch"] < 1 and time.time() < deadline:
        time.sleep(0.02)
    job.stop()
    assert job.wait(15), "the job did not stop within 15 s"
    snap = job.progress.snapshot()
    assert snap["status"] == STOPPED and snap["error"] is None
    assert 1 <= snap["epoch"] < 200
    probs = predict_proba(job.model, list(EXAMPLES.values()))
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert 0 <= snap["metrics"]["test_accuracy"] <= 1

    record = store.get(snap["run_id"])
    assert record["status"] == STOPPED and record["has_model"]
    assert record["epochs_completed"] == snap["epoch"] and len(record["history"]["loss"]) == snap["epoch"]
    reloaded = store.load_model(snap["run_id"])
    np.testing.assert_allclose(predict_proba(reloaded, list(EXAMPLES.values())), probs, rtol=1e-5, atol=1e-6)


class PoisonedIris(IrisTask):
    """Iris whose training features turn into NaN once the first epoch is over.

    No valid setting makes the Iris loss diverge reliably (Adam's step is bounded by the learning rate and
    Keras clips the cross-entropy: lr=1.0 with 4 linear layers of 64 still trains), so the NaN comes from the
    data. ``good_weights`` are the weights at the end of the last good epoch, which the trainer must restore.
    """

    def prepare(self, params, store=None):
        import tensorflow as tf

        prepared = super().prepare(params, store)
        self.poison = poison = tf.Variable(False)
        self.good_weights = None
        prepared.train = prepared.train.map(
            lambda x, y: (tf.where(poison, tf.fill(tf.shape(x), float("nan")), x), y))
        return prepared

    def epoch_extra(self, model, prepared, epoch):
        if epoch == 0:
            self.good_weights = model.get_weights()
            self.poison.assign(True)
        return None


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_nan_loss_fails_the_job_clearly_and_restores_the_last_good_weights(store, thread_errors, activation):
    job = TrainingJob("iris", {"epochs": 20, "activation": activation}, store=store)
    job.task = task = PoisonedIris()
    job.start()
    assert job.wait(60), "the job hung after the loss became NaN"
    snap = job.progress.snapshot()
    assert snap["status"] == FAILED
    error = snap["error"]
    assert "diverged" in error and "epoch 2" in error and "learning rate" in error, error
    if activation == "tanh":  # tanh passes the NaN on to the loss, which the trainer sees at once
        assert error.startswith("The loss became nan at epoch 2"), error
    else:  # a ReLU may map NaN to 0 (oneDNN): the loss can stay finite while the weights are poisoned
        assert "loss" in error or "weights" in error, error
    assert snap["epoch"] == 1 and all(len(v) == 1 for v in snap["history"].values())
    assert _finite(job.model.get_weights())
    for restored, good in zip(job.model.get_weights(), task.good_weights):
        np.testing.assert_array_equal(restored, good)
    record = store.get(snap["run_id"])
    assert record["status"] == FAILED and record["error"] == error
    assert _finite(store.load_model(snap["run_id"]).get_weights())
    assert thread_errors == []


class Broken(IrisTask):
    def __init__(self, where: str):
        self.where = where

    def _maybe_fail(self, where):
        if where == self.where:
            raise RuntimeError(f"boom in {where}")

    def prepare(self, params, store=None):
        self._maybe_fail("prepare")
        return super().prepare(params, store)

    def build(self, params, prepared=None):
        self._maybe_fail("build")
        return super().build(params, prepared)

    def epoch_extra(self, model, prepared, epoch):
        self._maybe_fail("epoch_extra")

    def evaluate(self, model, prepared):
        self._maybe_fail("evaluate")
        return super().evaluate(model, prepared)


@pytest.mark.parametrize("where", ["prepare", "build", "epoch_extra"])
def test_an_exception_in_the_task_fails_the_job_with_its_message(store, thread_errors, where):
    job = TrainingJob("iris", {"epochs": 2}, store=store)
    job.task = Broken(where)
    job.start()
    assert job.wait(60)
    assert not job.running and not _train_threads()
    snap = job.progress.snapshot()
    assert snap["status"] == FAILED and snap["finished"] is not None
    assert snap["error"] == f"Training failed: RuntimeError: boom in {where}"
    assert "Traceback" in snap["details"] and "RuntimeError" in snap["details"]
    assert store.list() == []
    assert thread_errors == []


class CrashingIris(PoisonedIris):
    """Iris whose input pipeline raises in the middle of the second epoch (a fault, not a NaN)."""

    def prepare(self, params, store=None):
        import tensorflow as tf

        prepared = IrisTask.prepare(self, params, store)
        self.poison = poison = tf.Variable(False)
        self.good_weights = None

        def check(x, y):
            tf.debugging.Assert(tf.logical_not(poison), ["the data source failed"])
            return x, y

        prepared.train = prepared.train.map(check)
        return prepared


def test_an_exception_mid_run_keeps_the_last_good_epoch_and_saves_a_failed_run(store, thread_errors):
    job = TrainingJob("iris", {"epochs": 5}, store=store)
    job.task = task = CrashingIris()
    job.start()
    assert job.wait(60)
    snap = job.progress.snapshot()
    assert snap["status"] == FAILED and snap["epoch"] == 1
    assert snap["error"].startswith("Training failed: InvalidArgumentError") and "last good epoch" in snap["error"]
    assert "Traceback" in snap["details"]
    for got, want in zip(job.model.get_weights(), task.good_weights):
        np.testing.assert_array_equal(got, want)
    record = store.get(snap["run_id"])
    assert record["status"] == "failed" and record["epochs_completed"] == 1 and "last good epoch" in record["error"]
    for got, want in zip(store.load_model(snap["run_id"]).get_weights(), task.good_weights):
        np.testing.assert_array_equal(got, want)
    assert thread_errors == []


def test_an_exception_in_the_evaluation_keeps_the_trained_run(store):
    job = TrainingJob("iris", {"epochs": 1}, store=store)
    job.task = Broken("evaluate")
    job.start()
    assert job.wait(60)
    snap = job.progress.snapshot()
    assert snap["status"] == DONE and snap["epoch"] == 1
    assert "Evaluation failed: RuntimeError: boom in evaluate" in snap["error"]
    assert store.get(snap["run_id"])["metrics"] == {} and job.model is not None


def test_invalid_params_raise_before_any_thread_starts():
    before = set(threading.enumerate())
    with pytest.raises(ParamError) as err:
        TrainingJob("iris", {"epochs": 0, "learning_rate": float("nan"), "epoch": 3})
    for part in ("unknown hyper-parameter 'epoch'", "Epochs: 0 is below the minimum 1", "Learning rate: must be"):
        assert part in str(err.value)
    with pytest.raises(ParamError, match="Activation"):
        TrainingJob("iris", {"activation": "swish"})
    with pytest.raises(KeyError, match="unknown model kind"):
        TrainingJob("dogs", {})
    assert set(threading.enumerate()) == before


def test_two_sessions_train_at_once_each_with_its_own_model_and_progress(store):
    a = TrainingJob("iris", {"epochs": 3, "units": 8}, store=store).start()
    b = TrainingJob("iris", {"epochs": 5, "units": 12, "seed": 1}, store=store).start()
    assert a.running and b.running  # both in flight together
    assert a.wait(90) and b.wait(90)
    sa, sb = a.progress.snapshot(), b.progress.snapshot()
    assert sa["status"] == sb["status"] == DONE
    assert (sa["epoch"], sb["epoch"]) == (3, 5)
    assert len(sa["batch_loss"]) == 3 * BATCHES_PER_EPOCH and len(sb["batch_loss"]) == 5 * BATCHES_PER_EPOCH
    assert all(len(v) == 3 for v in sa["history"].values()) and all(len(v) == 5 for v in sb["history"].values())
    assert a.model is not b.model and a.progress is not b.progress
    assert a.model.get_layer("hidden_1").units == 8 and b.model.get_layer("hidden_1").units == 12
    assert sa["run_id"] != sb["run_id"]
    assert store.get(sa["run_id"])["params"]["units"] == 8 and store.get(sb["run_id"])["params"]["units"] == 12
    assert sorted(r.run_id for r in store.list("iris")) == sorted([sa["run_id"], sb["run_id"]])


def _losses(params):
    job = TrainingJob("iris", params, save=False).start()
    assert job.wait(60)
    snap = job.progress.snapshot()
    assert snap["status"] == DONE and snap["run_id"] is None
    return snap


def test_same_seed_same_per_epoch_losses():
    first, second = _losses({"epochs": 2, "seed": 5}), _losses({"epochs": 2, "seed": 5})
    assert first["history"]["loss"] == second["history"]["loss"]
    assert first["history"]["val_loss"] == second["history"]["val_loss"]
    assert first["batch_loss"] == second["batch_loss"]
    other = _losses({"epochs": 2, "seed": 6})
    assert other["history"]["loss"] != first["history"]["loss"]


def _position(snap) -> int:
    """Batches done according to the fields the pages draw the progress bar and status line from."""
    return snap["epoch"] * snap["steps_per_epoch"] + snap["step"]


def test_progress_position_matches_the_batches_seen_between_epochs():
    progress = Progress(epochs=12)
    progress.update(phase="training", steps_per_epoch=3)
    for step in (1, 2, 3):
        progress.add_batch(step / 3, 0.5, step)
        snap = progress.snapshot()
        assert _position(snap) == len(snap["batch_loss"]) == step  # within an epoch it holds
    progress.add_epoch(1, {"loss": 0.5})  # the epoch is over; the next batch has not come yet
    snap = progress.snapshot()
    assert _position(snap) == len(snap["batch_loss"]) == 3
