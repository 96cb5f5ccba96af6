"""Reproducible runs: one seed for Python, NumPy, TensorFlow and Keras."""

from __future__ import annotations

_determinism_on = False


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed every random generator a run uses (``keras.utils.set_random_seed``).

    With ``deterministic`` TensorFlow's op determinism is switched on as well, so that two runs
    with the same seed and settings on the CPU produce the same curves.
    """
    global _determinism_on
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    if deterministic and not _determinism_on:
        tf.config.experimental.enable_op_determinism()
        _determinism_on = True
