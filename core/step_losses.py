"""Every batch's loss when Keras runs several training steps per call of its compiled train function.

With ``steps_per_execution = K`` Keras runs K steps inside one ``tf.function`` call (one Python round trip, not K:
faster for small models) and reports only the loss's running mean after the K-th. The per-batch curve needs each
step's own loss, so each step also writes it into a small buffer inside the graph::

    buffer[i mod K] = loss_i        (i: the optimizer's step counter, before the step's update)

and after each call :meth:`StepLosses.read` returns the losses of the steps it ran, in order. The loss written is
the one Keras adds to its running mean (the compiled loss plus the layers' own losses), so the curve is the same
as with one step per call. Only training steps write: validation goes through ``test_step``.
"""

from __future__ import annotations

import tensorflow as tf


class StepLosses:
    """Installs the buffer on a compiled ``model`` and sets its ``steps_per_execution`` to ``k``."""

    def __init__(self, model, k: int):
        self.k, self.model = int(k), model
        self.buffer = tf.Variable(tf.zeros(self.k), trainable=False, name="step_losses")  # outside any graph
        model.steps_per_execution = self.k
        model.train_function = None  # made again with K steps per call at the next fit
        self.mark()  # steps whose losses were read
        original = model.compute_loss

        def compute_loss(x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = original(x, y, y_pred, sample_weight, training=training)
            if training:
                slot = tf.math.floormod(tf.cast(model.optimizer.iterations, tf.int32), self.k)
                self.buffer.scatter_nd_update([[slot]], [tf.cast(loss, tf.float32)])
            return loss

        model.compute_loss = compute_loss

    @classmethod
    def for_model(cls, model, k: int) -> StepLosses | None:
        """Installed on ``model`` when it is to run ``k`` > 1 steps per call; None for one step per call (the running
        mean tells each batch's loss then) or under a multi-device strategy (the buffer is one device's)."""
        return cls(model, k) if k > 1 and not tf.distribute.has_strategy() else None

    def mark(self) -> None:
        """Losses count from here: steps run before (a warm-up fit without the progress callback) are not read."""
        self._read = int(self.model.optimizer.iterations.numpy())

    def read(self) -> list[float]:
        """The losses of the training steps run since the last read (at most K), oldest first. Counted on the
        optimizer's step counter: Keras's batch index overshoots when an epoch's last call runs fewer than K steps."""
        done = int(self.model.optimizer.iterations.numpy())
        first, self._read = max(self._read, done - self.k), done
        values = self.buffer.numpy()
        return [float(values[i % self.k]) for i in range(first, done)]
