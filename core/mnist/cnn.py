"""The portfolio's convolutional network for MNIST digits.

Four blocks of ``Conv2D(5x5, same, ReLU)`` with 16, 32, 64 and 128 filters, each followed by 2x2
max-pooling (28 -> 14 -> 7 -> 3 -> 1 pixels), then ``Dense(128, ReLU)``, ``Dropout(0.4)`` and a
10-way softmax. A convolution slides a small kernel ``K`` over the image,

    (I * K)[i, j] = sum_{u, v} I[i + u, j + v] K[u, v],

so each filter detects one local pattern (an edge, a stroke end) wherever it appears; pooling keeps the
strongest response in each 2x2 window, making the features smaller and tolerant to small shifts.
"""

from __future__ import annotations

from functools import lru_cache, partial

import numpy as np

from core.mnist.data import EVAL_BATCH

# Lazy imports: TensorFlow and Keras (5.6 s to import) inside the functions that build and run a network, and SciPy's
# correlate2d (0.7 s) inside convolve, so that the CNN kind's parameters (the registry, the pages) import at once.

DEFAULT_FILTERS = (16, 32, 64, 128)
DEFAULT_LEARNING_RATE = 1e-3  # Adam's, as in the portfolio; the CNN kind's default (core.mnist.task)
IMAGE_SHAPE = (28, 28, 1)
N_CLASSES = 10


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX512-BF16 or AMX), where mixed precision pays off."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str = "auto") -> str:
    """``auto``: mixed bfloat16 on CPUs with native bf16 and no GPU, float32 otherwise."""
    if precision != "auto":
        return precision
    import tensorflow as tf

    return "mixed_bfloat16" if cpu_has_bf16() and not tf.config.list_logical_devices("GPU") else "float32"


def build_cnn(
    filters=DEFAULT_FILTERS,
    kernel_size: int = 5,
    dense_units: int = 128,
    dropout: float = 0.4,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    precision: str = "auto",
):
    """The portfolio's CNN, compiled with Adam and sparse categorical cross-entropy.

    ``precision="mixed_bfloat16"`` computes the convolutions (nearly all the work) in bfloat16 with float32
    weights; the dense head and the softmax stay in float32. The dtype policy is set per
    layer, never globally, so models trained at the same time in other sessions are unaffected.
    """
    import keras

    dtype = resolve_precision(precision)
    layers = [keras.Input(shape=IMAGE_SHAPE, name="image")]
    pool_size = 28
    for i, n in enumerate(filters):
        layers.append(keras.layers.Conv2D(n, kernel_size, padding="same", activation="relu", dtype=dtype,
                                          name=f"conv{i + 1}"))
        if pool_size >= 2:  # at most log2(28) pools fit
            layers.append(keras.layers.MaxPooling2D(2, dtype=dtype, name=f"pool{i + 1}"))
            pool_size //= 2
    head = "float32"  # the small dense head costs little; keeping it in float32 keeps its gradients exact
    layers += [
        keras.layers.Flatten(dtype=head, name="flatten"),
        keras.layers.Dense(dense_units, activation="relu", dtype=head, name="dense"),
        keras.layers.Dropout(dropout, dtype=head, name="dropout"),
        keras.layers.Dense(N_CLASSES, activation="softmax", dtype=head, name="digit"),
    ]
    model = keras.Sequential(layers, name="mnist_cnn")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def as_batch(images) -> np.ndarray:
    """(28, 28) or (n, 28, 28[, 1]) images in [0, 1] -> float32 (n, 28, 28, 1)."""
    x = np.asarray(images, dtype="float32")
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[..., None]
    return x


def compiled(model, name: str, fn, x: np.ndarray):
    """``fn(model, x)`` as one compiled graph with a fixed signature (any batch of ``x``'s image shape), traced once
    per model (and image shape) and kept on it: a canvas image then runs the network in ~2 ms instead of ~30 ms of
    eager layer calls."""
    import tensorflow as tf

    graphs = model.__dict__.setdefault("_nn_graphs", {})  # beside Keras' attribute tracking; a cycle gc frees
    key = (name, tuple(x.shape[1:]))
    if key not in graphs:
        spec = tf.TensorSpec((None, *key[1]), tf.float32)
        # A partial, not a lambda: TensorFlow counts traces per code object, and one shared lambda traced once for
        # each of many models would be logged as "frequent retracing".
        graphs[key] = tf.function(partial(fn, model), input_signature=[spec])
    return graphs[key](x)


def _probabilities(model, x):
    return model(x, training=False)


def predict_digits(model, images, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Probabilities (n, 10). Calls the model's compiled graph directly: one canvas image takes a few ms, not
    ``predict``'s 50+."""
    x = as_batch(images)
    out = [np.asarray(compiled(model, "probabilities", _probabilities, x[i:i + batch_size]), dtype="float32")
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, N_CLASSES), "float32")


def conv_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def first_layer_kernels(model) -> np.ndarray:
    """The first convolution's learned kernels as (n_filters, k, k) arrays."""
    kernel = np.asarray(conv_layers(model)[0].kernel, dtype="float32")  # (k, k, 1, n)
    return np.transpose(kernel[:, :, 0, :], (2, 0, 1))


def _conv_outputs(model, x):
    import keras

    outputs = []
    for layer in model.layers:
        x = layer(x, training=False) if not isinstance(layer, keras.layers.InputLayer) else x
        if isinstance(layer, keras.layers.Conv2D):
            outputs.append(x)
    return tuple(outputs)


def feature_maps(model, image) -> list[tuple[str, np.ndarray]]:
    """Each conv layer's activations for one image: [(layer name, (channels, h, w))]."""
    outputs = compiled(model, "feature_maps", _conv_outputs, as_batch(image))
    return [(layer.name, np.transpose(np.asarray(out, dtype="float32")[0], (2, 0, 1)))
            for layer, out in zip(conv_layers(model), outputs)]


def _top_class_gradient(model, x):
    """``d p_top / d x`` for each image (``p_top`` its largest probability) and the top class."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        probs = tf.cast(model(x, training=False), tf.float32)
        top = tf.reduce_max(probs, axis=1)
    return tape.gradient(top, x), tf.argmax(probs, axis=1)


def saliency(model, image) -> tuple[np.ndarray, int]:
    """|d p_c / d input| for the predicted class c: which pixels would most change its probability."""
    grad, top = compiled(model, "saliency", _top_class_gradient, as_batch(image))
    grad = np.abs(np.asarray(grad, dtype="float32")[0, :, :, 0])
    return grad / (grad.max() or 1.0), int(top[0])


def convolve(image, kernel) -> np.ndarray:
    """A plain 2-D convolution (cross-correlation, as in deep learning) with 'same' zero padding."""
    from scipy.signal import correlate2d

    return correlate2d(np.asarray(image, dtype="float32"), np.asarray(kernel, dtype="float32"), mode="same")


EDGE_KERNELS = {
    "vertical edges": np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype="float32"),
    "horizontal edges": np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype="float32"),
}
