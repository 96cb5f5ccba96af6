"""The playground's network: the chosen features of a point in, the probability that it is blue out.

    h_0 = features(x1, x2),   h_l = phi(W_l h_(l-1) + b_l)   (hidden layers),   p = sigmoid(w^T h_L + b)

trained on the binary cross-entropy plus the weight penalties on every kernel (not the biases),

    L = -[y log p + (1 - y) log(1 - p)] + l1 * sum |w| + l2 * sum w^2,

by one of the Iris page's optimizers (:func:`core.iris.model.make_optimizer`). A point is called blue where p ≥ 0.5:
the decision boundary is the curve p = 0.5.
"""

from __future__ import annotations

import numpy as np

from core.iris.model import make_optimizer

# Lazy import: Keras (5.9 s to import, with TensorFlow) inside build_model, so that the task's parameters import at
# once.

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")


def build_model(n_inputs: int, hidden_layers: int = 2, units: int = 8, activation: str = "relu",
                learning_rate: float = 0.01, optimizer: str = "adam", l1: float = 0.0, l2: float = 0.0):
    """``n_inputs`` features -> ``hidden_layers`` x Dense(``units``, ``activation``) -> Dense(1, sigmoid), compiled."""
    import keras

    penalty = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    model = keras.Sequential(name="plane_classifier")
    model.add(keras.Input(shape=(n_inputs,), name="features"))
    for i in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation=activation, kernel_regularizer=penalty, name=f"hidden_{i + 1}"))
    model.add(keras.layers.Dense(1, activation="sigmoid", kernel_regularizer=penalty, name="output"))
    model.compile(optimizer=make_optimizer(optimizer, learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def predict_blue(model, inputs) -> np.ndarray:
    """p(blue), shape (n,), for an (n, features) array (a direct call: quicker than ``predict`` for a few rows)."""
    x = np.asarray(inputs, dtype="float32")
    return np.asarray(model(x, training=False)).reshape(-1)


def log_loss(p, y) -> float:
    """Mean binary cross-entropy of probabilities ``p`` for labels ``y`` (without the penalties)."""
    p = np.clip(np.asarray(p, dtype="float64"), 1e-7, 1 - 1e-7)
    y = np.asarray(y)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()) if len(y) else float("nan")
