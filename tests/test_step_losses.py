"""Several training steps per call of Keras's train function keep every batch's loss (core.step_losses).

The same seeded Iris training (120 flowers in batches of 32, 32, 32 and 24) with one step per call and with eight:
one point per batch both ways, the same losses, and with eight each epoch's batch losses average (weighted by batch
size) to the epoch's loss that Keras reports. (With one step per call the last, smaller batch's loss is recovered
from Keras's running mean as if every batch were full, so only the full batches are compared with it.)"""

import copy
import threading

import keras
import numpy as np

from core.callbacks import ProgressCallback
from core.progress import DONE, Progress
from core.registry import get_task
from core.step_losses import StepLosses
from core.training import run_training

PARAMS = {"epochs": 3, "repeat": 1, "seed": 7, "batch_size": 32}
SIZES = [32, 32, 32, 24]


def _train(k: int) -> dict:
    task = copy.copy(get_task("iris"))
    task.steps_per_execution = k
    progress = Progress(PARAMS["epochs"])
    result = run_training(task, PARAMS, progress=progress)
    assert result.status == DONE, result.error
    return progress.snapshot()


def test_eight_steps_per_call_give_every_batch_its_own_loss():
    one, eight = _train(1), _train(8)
    assert one["steps_per_epoch"] == eight["steps_per_epoch"] == len(SIZES)  # the epoch's last call runs 4 of 8
    assert len(one["batch_loss"]) == len(eight["batch_loss"]) == PARAMS["epochs"] * len(SIZES)  # one point per batch
    assert [x for x, _ in eight["batch_loss"]] == [x for x, _ in one["batch_loss"]]
    per_epoch = np.array([loss for _, loss in eight["batch_loss"]]).reshape(PARAMS["epochs"], len(SIZES))
    full = np.array([loss for _, loss in one["batch_loss"]]).reshape(PARAMS["epochs"], len(SIZES))[:, :3]
    np.testing.assert_allclose(per_epoch[:, :3], full, rtol=1e-4)
    np.testing.assert_allclose(per_epoch @ SIZES / sum(SIZES), eight["history"]["loss"], rtol=1e-5)


def test_a_fit_without_the_callback_before_does_not_leak_into_the_curve():
    """A warm-up fit (as the CNN bench does) runs steps nobody reads: the next fit's curve has its own batches only."""
    x, y = np.random.default_rng(0).normal(size=(16, 2)), np.zeros((16, 1))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    step_losses = StepLosses.for_model(model, 4)
    assert StepLosses.for_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), 1) is None
    model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)  # one step, not read
    progress = Progress(epochs=1)
    callback = ProgressCallback(progress, threading.Event(), 2, step_losses=step_losses)
    model.fit(x[:16], y[:16], batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[callback])  # 2 of 4
    losses = [loss for _, loss in progress.snapshot()["batch_loss"]]
    assert len(losses) == 2 and all(np.isfinite(losses))
