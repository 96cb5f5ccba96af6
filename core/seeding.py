"""Reproducible runs: one seed for Python, NumPy, TensorFlow and Keras."""

from __future__ import annotations

import os

# Lazy imports: TensorFlow and Keras (5.6 s to import) inside set_seed, called just before a training starts.

_determinism_on = False


def set_seed(seed: int, deterministic: bool | None = None) -> None:
    """Seed every random generator a run uses (``keras.utils.set_random_seed``).

    On the CPU this alone makes two runs with the same seed and settings give identical curves (tested in
    ``tests/test_jobs.py``). ``deterministic`` (default: the ``NN_PLAYGROUND_DETERMINISTIC`` environment
    variable) also switches on TensorFlow's op determinism, which GPUs need for bit-identical runs; it is off
    by default because on this 2-core CPU it halves the CNN's training throughput (about 10,100 -> 5,000
    images/s with bfloat16) and, once on, it stays on for the whole process.
    """
    global _determinism_on
    import keras
    import tensorflow as tf

    if deterministic is None:
        deterministic = os.environ.get("NN_PLAYGROUND_DETERMINISTIC", "") not in ("", "0", "false")
    keras.utils.set_random_seed(int(seed))
    if deterministic and not _determinism_on:
        tf.config.experimental.enable_op_determinism()
        _determinism_on = True
