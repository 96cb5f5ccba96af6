"""Iris data: the 150 flowers from scikit-learn, split 80/20 as the portfolio does, and a tf.data pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Lazy imports: scikit-learn (1.1 s to import) and TensorFlow (5.6 s) inside the functions that load and batch the
# flowers, so that the Iris task's parameters (core.registry, the CLI parser, the pages) import at once.

FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
SPECIES = ("setosa", "versicolor", "virginica")
N_FLOWERS = 150  # scikit-learn's load_iris
SPLIT_SEED = 42  # the portfolio's train_test_split(random_state=42)

# The portfolio's three new flowers, one of each species.
EXAMPLES = {
    "setosa": (5.1, 3.3, 1.7, 0.5),
    "versicolor": (5.9, 3.0, 4.2, 1.5),
    "virginica": (6.9, 3.1, 5.4, 2.1),
}


@dataclass
class IrisSplit:
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray

    @property
    def info(self) -> dict:
        return {"source": "scikit-learn load_iris", "n_train": len(self.x_train), "n_test": len(self.x_test)}


def load_split(test_fraction: float = 0.2, split_seed: int = SPLIT_SEED) -> IrisSplit:
    """Features (float32, cm) and species indices, split with ``train_test_split``."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    iris = load_iris()
    x, y = iris.data.astype("float32"), iris.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_fraction, random_state=split_seed)
    return IrisSplit(x_train, x_test, y_train, y_test)


def train_dataset(x, y, *, repeat: int = 20, batch_size: int = 32, seed: int = 42):
    """The portfolio's pipeline: the training set repeated ``repeat`` times, shuffled, batched.

    One epoch therefore shows every training flower ``repeat`` times (120 x 20 = 2,400 examples,
    75 batches of 32).
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat(repeat)
    return ds.shuffle(len(x) * repeat, seed=seed, reshuffle_each_iteration=True).batch(batch_size).prefetch(2)


def eval_dataset(x, y, batch_size: int = 256):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
