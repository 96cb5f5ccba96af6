"""The network of a table: the Iris page's multi-layer perceptron, sized to the table's inputs and classes.

``n`` inputs (one per number or yes/no column, one per value of a category column) -> ``hidden_layers`` x
``h = phi(W x + b)`` -> softmax over the ``k`` classes, trained on the cross-entropy of the true class plus the
weight penalties:

    L = -(1/B) sum_i log p_{y_i}(x_i) + l1 sum |w| + l2 sum w^2

(the penalties over every kernel, not the biases). The optimizers are the Iris page's (:mod:`core.iris.model`).
"""

from __future__ import annotations

import numpy as np

from core.iris.model import dense_classifier


def build_mlp(n_inputs: int, n_classes: int, hidden_layers: int = 2, units: int = 16, activation: str = "relu",
              learning_rate: float = 3e-3, optimizer: str = "adam", l1: float = 0.0, l2: float = 0.0):
    """A compiled Keras model: ``n_inputs`` -> hidden Dense layers -> Dense(``n_classes``, softmax)
    (:func:`core.iris.model.dense_classifier`, the Iris network's shape)."""
    return dense_classifier(n_inputs, n_classes, hidden_layers, units, activation, learning_rate, optimizer, l1, l2,
                            name="table_classifier", input_name="inputs", output_name="classes")


def predict_proba(model, x) -> np.ndarray:
    """Class probabilities, shape (n, k), for the network inputs ``x`` (n, inputs), in batches of 4096 rows."""
    x = np.asarray(x, dtype="float32")
    if len(x) <= 4096:
        return np.asarray(model(x, training=False))
    return np.concatenate([np.asarray(model(x[i:i + 4096], training=False)) for i in range(0, len(x), 4096)])
