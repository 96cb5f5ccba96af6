"""Binarised MNIST for the CVAE: pixel / 255 > 0.5 -> {0, 1}, and the tf.data pipelines that feed ``fit``."""

from __future__ import annotations

import numpy as np

# Lazy import: TensorFlow (5.6 s to import) inside make_cvae_datasets, so that binarize and the CVAE's defaults
# (the registry, the pages) import without it.

IMAGE_SHAPE = (28, 28, 1)
BINARY_THRESHOLD = 0.5  # pixel / 255 above this is 1, else 0
# The portfolio's settings: the defaults of build_cvae (core.cvae.model) and of the CVAE kind (core.cvae.task),
# here because this module is light (no TensorFlow) and both read it.
DEFAULT_LATENT_DIM = 2
DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_BATCH_SIZE = 64
EVAL_BATCH_SIZE = 1000  # test-set and NumPy-helper batches (no gradients, so larger is faster)


def _binary_uint8(x) -> np.ndarray:
    """Images -> uint8 {0, 1} of shape (n, 28, 28, 1). Accepts uint8 0..255, floats 0..255 or 0..1."""
    x = np.asarray(x)
    if x.dtype == np.uint8 or x.max(initial=0) > 1:
        x = x / 255.0
    x = (x > BINARY_THRESHOLD).astype("uint8")
    if x.shape[-2:] == IMAGE_SHAPE[:2]:  # no channel axis
        x = x[..., None]
    if x.ndim == 3:  # a single image
        x = x[None]
    return x


def binarize(x) -> np.ndarray:
    """Images -> float32 (n, 28, 28, 1) of 0s and 1s: pixel / 255 > 0.5.

    Takes uint8 0..255 or floats in [0, 1], with or without the channel axis; a single image (28, 28) or
    (28, 28, 1) gets a batch axis of 1.
    """
    return _binary_uint8(x).astype("float32")


def make_cvae_datasets(x_train, x_test, batch_size: int = DEFAULT_BATCH_SIZE, train_size: int | None = None,
                       seed: int = 42):
    """(train, test) ``tf.data`` pipelines of binarised images, no labels.

    Binarised once in NumPy and kept as uint8 0/1 (a quarter of float32's memory: 47 MB for 60,000 images),
    cached, shuffled each epoch (train only), batched, cast to float32 per batch, prefetched.
    """
    import tensorflow as tf

    def _to_float(x):
        return tf.cast(x, tf.float32)

    x_train = _binary_uint8(x_train[:train_size] if train_size else x_train)
    train = (tf.data.Dataset.from_tensor_slices(x_train).cache()
             .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
             .batch(batch_size).map(_to_float).prefetch(tf.data.AUTOTUNE))
    test = (tf.data.Dataset.from_tensor_slices(_binary_uint8(x_test)).cache()
            .batch(EVAL_BATCH_SIZE).map(_to_float).prefetch(tf.data.AUTOTUNE))
    return train, test
