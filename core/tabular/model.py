"""The network of a table: the Iris page's multi-layer perceptron, sized to the table's inputs and classes.

``n`` inputs (one per number or yes/no column, one per value of a category column) -> ``hidden_layers`` x
``h = phi(W x + b)`` -> softmax over the ``k`` classes, trained on the cross-entropy of the true class plus the
weight penalties:

    L = -(1/B) sum_i log p_{y_i}(x_i) + l1 sum |w| + l2 sum w^2

(the penalties over every kernel, not the biases). The optimizers are the Iris page's (:mod:`core.iris.model`).
"""

from __future__ import annotations

import numpy as np

from core.iris.model import make_optimizer

# Lazy import: Keras (5.9 s to import, with TensorFlow) inside build_mlp, so that the registry imports this kind at
# once.


def build_mlp(n_inputs: int, n_classes: int, hidden_layers: int = 2, units: int = 16, activation: str = "relu",
              learning_rate: float = 3e-3, optimizer: str = "adam", l1: float = 0.0, l2: float = 0.0):
    """A compiled Keras model: ``n_inputs`` -> hidden Dense layers -> Dense(``n_classes``, softmax)."""
    import keras

    penalty = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    model = keras.Sequential(name="table_classifier")
    model.add(keras.Input(shape=(n_inputs,), name="inputs"))
    for i in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation=activation, kernel_regularizer=penalty, name=f"hidden_{i + 1}"))
    model.add(keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=penalty, name="classes"))
    model.compile(optimizer=make_optimizer(optimizer, learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def predict_proba(model, x) -> np.ndarray:
    """Class probabilities, shape (n, k), for the network inputs ``x`` (n, inputs), in batches of 4096 rows."""
    x = np.asarray(x, dtype="float32")
    if len(x) <= 4096:
        return np.asarray(model(x, training=False))
    return np.concatenate([np.asarray(model(x[i:i + 4096], training=False)) for i in range(0, len(x), 4096)])


def cross_entropy(probs, y) -> float:
    """Mean of -log p_y."""
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)).mean())
