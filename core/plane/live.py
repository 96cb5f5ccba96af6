"""The boundary, published while the network learns: a Keras callback that puts p(blue) over the plane into the job's
progress every :data:`EVERY_SECONDS` of training (between epochs too) and at every epoch's end, so a page redraws it
several times a second however long an epoch is. Reading the network's output changes no weight and draws no random
number: the training is the same with or without it.
"""

from __future__ import annotations

import time

import numpy as np

from core.plane.model import predict_blue

# Lazy import: Keras (5.9 s to import, with TensorFlow) inside boundary_callback, which only a training calls.

EVERY_SECONDS = 0.1  # a picture at most this often (the worker sends the progress as often)


def boundary_grid(model, grid_inputs, resolution: int) -> np.ndarray:
    """p(blue) over the grid as bytes 0-255, shape (resolution, resolution), row 0 at x2 = -6."""
    return np.round(predict_blue(model, grid_inputs) * 255).astype("uint8").reshape(resolution, resolution)


def boundary_callback(grid_inputs, resolution: int, progress, every: float = EVERY_SECONDS):
    """A Keras callback publishing ``{"epoch", "step", "boundary"}`` with ``progress.add_extra``."""
    import keras

    class Boundary(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch, self.last = 0, 0.0

        def _publish(self, step) -> None:
            self.last = time.monotonic()
            progress.add_extra({"epoch": self.epoch + 1, "step": step,
                                "boundary": boundary_grid(self.model, grid_inputs, resolution)})

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() - self.last >= every:
                self._publish(batch + 1)

        def on_epoch_end(self, epoch, logs=None):
            self._publish(None)

    return Boundary()
