"""Honest status: the share done and the remaining time measured from the step rate, the phase (training,
validating, evaluating, saving), and a warning when the loss grows by orders of magnitude before it is NaN."""

import threading

import keras
import numpy as np
import pytest

from core import progress as progress_module
from core.callbacks import ProgressCallback
from core.progress import Progress, format_seconds, fraction_done
from core.registry import get_task
from core.store import RunStore
from core.training import run_training


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_fraction_and_eta_follow_the_measured_step_rate(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "time", clock)
    p = Progress(epochs=4)
    p.update(phase="training", steps_per_epoch=10)
    assert p.snapshot()["eta"] is None  # nothing measured yet
    p.add_batch(0.1, 1.0, 1)  # the clock starts at the first batch
    clock.now += 0.5
    p.add_batch(0.2, 1.0, 2)
    assert p.snapshot()["eta"] is None  # half a second is too short to promise anything
    clock.now += 1.5
    p.add_batch(0.5, 1.0, 5)
    snap = p.snapshot()
    assert snap["fraction"] == pytest.approx(5 / 40) == fraction_done(snap)
    assert snap["eta"] == pytest.approx(2.0 * (1 - 5 / 40) / (5 / 40))  # 2 s for 1/8: 14 s left
    p.add_epoch(1, {"loss": 1.0})
    p.update(phase="validating")
    assert p.snapshot()["fraction"] == pytest.approx(1 / 4)  # between epochs: exactly one epoch done
    assert p.snapshot()["eta"] is not None
    for epoch in (2, 3):
        p.add_epoch(epoch, {"loss": 1.0})
    p.update(phase="training")
    p.add_batch(0.5, 1.0, 10)  # the last epoch's last batch: nothing left to train, only its validation
    p.update(phase="validating")
    assert p.snapshot()["fraction"] == pytest.approx(1.0) and p.snapshot()["eta"] is None
    p.finish("done")
    assert p.snapshot()["eta"] is None


class PhaseSpy(keras.callbacks.Callback):
    def __init__(self, progress):
        super().__init__()
        self.progress, self.seen = progress, []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(self.progress.snapshot()["phase"])

    def on_test_batch_end(self, batch, logs=None):
        self.seen.append(self.progress.snapshot()["phase"])


def test_the_phase_says_training_then_validating_each_epoch():
    p = Progress()
    spy = PhaseSpy(p)
    run_training(get_task("iris"), {"epochs": 2, "repeat": 1}, progress=p, callbacks=(spy,))
    phases = [ph for i, ph in enumerate(spy.seen) if i == 0 or spy.seen[i - 1] != ph]
    assert phases == ["training", "validating", "training", "validating"]
    assert p.snapshot()["phase"] == "done"


class StopAt(keras.callbacks.Callback):
    """Presses Stop after batch ``batch`` of epoch ``epoch`` (both from 0) and counts the validation batches run."""

    def __init__(self, event, epoch: int, batch: int):
        super().__init__()
        self.event, self.at, self.epoch, self.validated = event, (epoch, batch), 0, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.validated.append(0)

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.event.set()

    def on_test_batch_end(self, batch, logs=None):
        self.validated[-1] += 1


def test_a_stop_mid_epoch_ends_after_the_next_batch_without_validating_or_counting_that_epoch():
    x, y = np.random.default_rng(0).normal(size=(64, 2)), np.zeros((64, 1))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    p, event = Progress(epochs=5), threading.Event()
    spy = StopAt(event, epoch=1, batch=0)  # of 8 batches; 8 more to validate
    tracker = ProgressCallback(p, event, steps=8)
    model.fit(x, y, batch_size=8, epochs=5, validation_data=(x, y), callbacks=[tracker, spy], verbose=0, shuffle=False)
    snap = p.snapshot()
    assert snap["epoch"] == 1 and len(snap["history"]["val_loss"]) == 1
    assert len(snap["batch_loss"]) == 8 + 2  # read at batch 2's end (set just after the tracker saw batch 1)
    assert spy.validated == [8, 1], spy.validated  # one batch of the stopped epoch: Keras checks after each


def test_a_loss_that_explodes_gets_a_warning_that_is_kept_with_the_run(tmp_path):
    store = RunStore(tmp_path)
    p = Progress()
    result = run_training(get_task("iris"), {"learning_rate": 1.0, "activation": "linear", "epochs": 3},
                          progress=p, store=store)
    warning = p.snapshot()["warning"]
    assert warning and "diverging" in warning and "smaller learning rate" in warning
    assert store.get(result.run_id)["warning"] == warning


def test_a_healthy_run_gets_no_warning():
    p = Progress()
    run_training(get_task("iris"), {"epochs": 3}, progress=p)
    assert p.snapshot()["warning"] is None


@pytest.mark.parametrize("seconds, text", [(None, "—"), (float("nan"), "—"), (0.84, "0.8 s"), (42.4, "42 s"),
                                           (797.547, "13 min 18 s"), (120, "2 min"), (3600, "1 h"),
                                           (7500, "2 h 5 min")])
def test_durations_read_as_people_say_them(seconds, text):
    assert format_seconds(seconds) == text
