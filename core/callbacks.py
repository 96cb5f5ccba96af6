"""The Keras callback through which every training reports to its :class:`core.progress.Progress`.

It publishes per-batch losses and per-epoch metrics, the phase (training or validating), honours stop
requests (after the current batch, without validating the unfinished epoch), catches non-finite losses and
weights (keeping the last good epoch's weights), and warns once when the loss grows by orders of magnitude
before it becomes NaN.
"""

from __future__ import annotations

import math
import threading

import keras
import numpy as np

from core.progress import Progress

DIVERGENCE_FACTOR = 100.0  # smoothed loss this many times its lowest value: diverging
DIVERGENCE_FLOOR = 1.0  # ...and above this, so that a loss going from 1e-6 to 1e-4 near zero is not "diverging"
SMOOTHING = 0.9  # exponential moving average of the batch losses


class ProgressCallback(keras.callbacks.Callback):
    """Publishes batch and epoch progress, honours stop requests and catches non-finite losses.

    Keras reports a running mean of the loss over the epoch; the loss of batch i is recovered as
    ``i * mean_i - (i - 1) * mean_(i-1)``, so the per-batch curve shows the real batch losses. When Keras runs several
    steps per call, their losses come from the graph's own record instead (``step_losses``).
    """

    def __init__(self, progress: Progress, stop_event: threading.Event, steps: int | None, on_epoch=None,
                 step_losses=None):
        super().__init__()
        self.step_losses = step_losses  # a core.step_losses.StepLosses when Keras runs several steps per call
        self.progress = progress
        self.stop_event = stop_event
        self.steps = steps
        self.on_epoch = on_epoch
        self.nan_error: str | None = None
        self.stopped_mid_epoch = False  # Stop was read between two batches: the epoch ends unfinished
        self._good_weights = None
        self._epoch = 0
        self._prev_mean = 0.0
        self._batches = 0  # of this epoch, reported so far
        self._smooth: float | None = None
        self._lowest = math.inf
        self.warned = False

    def on_train_begin(self, logs=None):
        self._good_weights = self.model.get_weights()
        if self.step_losses is not None:
            self.step_losses.mark()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._prev_mean, self._batches = 0.0, 0
        self.progress.update(phase="training")

    def on_test_begin(self, logs=None):
        if self.stopped_mid_epoch:  # Keras validates even a stopped epoch: one batch, not the whole set
            self.model.stop_evaluating = True
            return
        self.progress.update(phase="validating")

    def on_train_batch_end(self, batch, logs=None):
        # Keras may run several steps per call (core.step_losses): then ``batch`` is not to be trusted
        mean = float((logs or {}).get("loss", float("nan")))
        first = self._batches + 1
        if self.step_losses is not None:
            losses = self.step_losses.read()
        else:
            losses = [(batch + 1) * mean - batch * self._prev_mean]
        self._batches, self._prev_mean = self._batches + len(losses), mean
        for i, loss in enumerate(losses):
            if not (math.isfinite(mean) and math.isfinite(loss)):
                self.nan_error = (
                    f"The loss became {loss if not math.isfinite(loss) else mean} at epoch {self._epoch + 1}, batch "
                    f"{first + i}: training diverged. Try a smaller learning rate. The weights of the last good epoch "
                    "were kept."
                )
                self.model.stop_training = True
                return
            self._watch_divergence(loss)
            steps = self.steps or (first + i)
            self.progress.add_batch(self._epoch + (first + i) / steps, loss, first + i)
        if self.stop_event.is_set():
            self.model.stop_training = True
            self.stopped_mid_epoch = self.steps is None or self._batches < self.steps

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_error or self.stopped_mid_epoch:  # a stopped epoch is not a completed one (its batches are)
            return
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if not all(math.isfinite(v) for v in logs.values()):
            self.nan_error = (
                f"A metric became non-finite at epoch {epoch + 1}: training diverged. "
                "Try a smaller learning rate. The weights of the last good epoch were kept."
            )
            self.model.stop_training = True
            return
        weights = self.model.get_weights()
        if not all(np.isfinite(w).all() for w in weights):
            # A NaN can hide from the loss (e.g. ReLU maps NaN to 0 on some CPUs) yet poison the weights.
            self.nan_error = (
                f"The weights became NaN or infinite during epoch {epoch + 1}: training diverged. "
                "Try a smaller learning rate, or check the data. The weights of the last good epoch were kept."
            )
            self.model.stop_training = True
            return
        self._good_weights = weights
        extra = self.on_epoch(self.model, epoch) if self.on_epoch else None
        self.progress.add_epoch(epoch + 1, logs, extra)
        if self.stop_event.is_set():
            self.model.stop_training = True

    def _watch_divergence(self, loss: float) -> None:
        """Warn once when the smoothed batch loss grows by orders of magnitude over its lowest value so far."""
        self._smooth = loss if self._smooth is None else SMOOTHING * self._smooth + (1 - SMOOTHING) * loss
        self._lowest = min(self._lowest, self._smooth)
        if (not self.warned and self._smooth > DIVERGENCE_FACTOR * max(self._lowest, 1e-12)
                and self._smooth > DIVERGENCE_FLOOR):
            self.warned = True
            self.progress.update(warning=(
                f"The loss is diverging: it grew from {self._lowest:.3g} to {self._smooth:.3g} (epoch "
                f"{self._epoch + 1}). Try a smaller learning rate; a log-scale loss axis shows it better."))

    def restore_good_weights(self):
        if self._good_weights is not None:
            self.model.set_weights(self._good_weights)
