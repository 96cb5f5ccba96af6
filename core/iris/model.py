"""The portfolio's feed-forward Iris classifier.

Each hidden layer computes ``h = phi(W x + b)``; the output layer turns three scores into class
probabilities with softmax, ``p_k = exp(z_k) / sum_j exp(z_j)``, trained with sparse categorical
cross-entropy ``L = -log p_y`` by Adam.
"""

from __future__ import annotations

import numpy as np

N_FEATURES, N_CLASSES = 4, 3
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "linear")


def build_model(hidden_layers: int = 2, units: int = 10, activation: str = "relu", learning_rate: float = 1e-3):
    """4 inputs -> ``hidden_layers`` x Dense(``units``, ``activation``) -> Dense(3, softmax), compiled."""
    import keras

    model = keras.Sequential(name="iris_classifier")
    model.add(keras.Input(shape=(N_FEATURES,), name="features"))
    for i in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation=activation, name=f"hidden_{i + 1}"))
    model.add(keras.layers.Dense(N_CLASSES, activation="softmax", name="species"))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def predict_proba(model, flowers) -> np.ndarray:
    """Class probabilities, shape (n, 3), for an (n, 4) array of flowers (cm).

    Calls the model directly (``model(x)``), which is much faster than ``predict`` for a few rows.
    """
    x = np.asarray(flowers, dtype="float32").reshape(-1, N_FEATURES)
    return np.asarray(model(x, training=False))
