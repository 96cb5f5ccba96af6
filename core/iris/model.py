"""The portfolio's feed-forward Iris classifier.

Each hidden layer computes ``h = phi(W x + b)``; the output layer turns three scores into class
probabilities with softmax, ``p_k = exp(z_k) / sum_j exp(z_j)``, trained with sparse categorical
cross-entropy ``L = -log p_y`` (plus the weight penalties ``l1 * sum |w| + l2 * sum w^2`` over the hidden and
output kernels) by one of four optimizers (g: the gradient of the batch's loss, eta: the learning rate):

* ``sgd``:       w <- w - 10 eta g  (see :data:`SGD_SCALE`)
* ``momentum``:  v <- 0.9 v - eta g;  w <- w + v
* ``rmsprop``:   s <- 0.9 s + 0.1 g^2;  w <- w - eta g / (sqrt(s) + eps)
* ``adam``:      m <- 0.9 m + 0.1 g;  v <- 0.999 v + 0.001 g^2;  w <- w - eta m_hat / (sqrt(v_hat) + eps)
  (m_hat, v_hat: m and v divided by 1 - beta^t, the bias correction), the portfolio's choice.
"""

from __future__ import annotations

import numpy as np

# Lazy imports: Keras (5.9 s to import, with TensorFlow) inside the functions that build a model, so that the Iris
# task's parameters and predict_proba import without it.

N_FEATURES, N_CLASSES = 4, 3
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "linear")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
MOMENTUM = 0.9
# Plain SGD takes steps of SGD_SCALE x the learning rate. Adam and RMSprop move each weight by about eta per step,
# momentum 0.9 by up to eta / (1 - 0.9) = 10 eta |g| once its velocity has built up; plain SGD at eta would take
# steps ten times smaller than momentum's and, at the default 1e-3, barely learn Iris in 10 epochs (test accuracy
# 0.57-0.83 over three seeds, against 0.93-1.0 with 10 x 1e-3). So one learning rate means a comparable step for
# every optimizer.
SGD_SCALE = 10.0


def make_optimizer(name: str = "adam", learning_rate: float = 1e-3):
    """A Keras optimizer: ``sgd``, ``momentum`` (SGD with momentum 0.9), ``rmsprop`` or ``adam``."""
    import keras

    if name == "sgd":
        return keras.optimizers.SGD(SGD_SCALE * learning_rate)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=MOMENTUM)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def dense_classifier(n_inputs: int, n_classes: int, hidden_layers: int, units: int, activation: str,
                     learning_rate: float, optimizer: str, l1: float, l2: float, *, name: str, input_name: str,
                     output_name: str):
    """``n_inputs`` -> ``hidden_layers`` x Dense(``units``, ``activation``) -> Dense(``n_classes``, softmax), compiled
    with the sparse categorical cross-entropy (an Iris flower's or a table row's class).

    ``l1`` / ``l2``: penalties ``l1 * sum |w| + l2 * sum w^2`` on every kernel (not the biases), added to the loss.
    """
    import keras

    penalty = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(n_inputs,), name=input_name))
    for i in range(hidden_layers):
        model.add(keras.layers.Dense(units, activation=activation, kernel_regularizer=penalty, name=f"hidden_{i + 1}"))
    model.add(keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=penalty, name=output_name))
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_model(hidden_layers: int = 2, units: int = 10, activation: str = "relu", learning_rate: float = 1e-3,
                optimizer: str = "adam", l1: float = 0.0, l2: float = 0.0):
    """4 inputs -> ``hidden_layers`` x Dense(``units``, ``activation``) -> Dense(3, softmax), compiled
    (:func:`dense_classifier`)."""
    return dense_classifier(N_FEATURES, N_CLASSES, hidden_layers, units, activation, learning_rate, optimizer, l1, l2,
                            name="iris_classifier", input_name="features", output_name="species")


def predict_proba(model, flowers) -> np.ndarray:
    """Class probabilities, shape (n, 3), for an (n, 4) array of flowers (cm).

    Calls the model directly (``model(x)``), which is much faster than ``predict`` for a few rows.
    """
    x = np.asarray(flowers, dtype="float32").reshape(-1, N_FEATURES)
    return np.asarray(model(x, training=False))
