"""Several training steps per call of Keras's train function keep every batch's loss (core.step_losses).

The same seeded Iris training (120 flowers in batches of 32, 32, 32 and 24) with one step per call and with eight:
one point per batch both ways, the same losses, and with eight each epoch's batch losses average (weighted by batch
size) to the epoch's loss that Keras reports. (With one step per call the last, smaller batch's loss is recovered
from Keras's running mean as if every batch were full, so only the full batches are compared with it.)"""

import copy

import numpy as np

from core.progress import DONE, Progress
from core.registry import get_task
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
