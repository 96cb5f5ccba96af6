"""The CVAE's latent space as NumPy: encodings, decoded points, the decoded grid, interpolation, reconstructions."""

from __future__ import annotations

from functools import lru_cache

import keras
import numpy as np
import tensorflow as tf

from core.cvae.data import EVAL_BATCH_SIZE, IMAGE_SHAPE, binarize
from core.cvae.model import CVAE, tfd

GRID_QUANTILES = (0.05, 0.95)  # the latent grid spans these quantiles of N(0, 1)


def encode_means(model: CVAE, x, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Encoder means and log-variances of images (uint8 or binary), as NumPy (n, latent_dim) each."""
    xb = binarize(x)
    means, logvars = [], []
    for i in range(0, len(xb), batch_size):
        mean, logvar = model.encode(tf.convert_to_tensor(xb[i:i + batch_size]))
        means.append(mean.numpy())
        logvars.append(logvar.numpy())
    if not means:
        empty = np.zeros((0, model.latent_dim), "float32")
        return empty, empty.copy()
    return np.concatenate(means), np.concatenate(logvars)


def latent_features(model: CVAE, x) -> np.ndarray:
    """The latent classifier's input: encoder mean and log-variance side by side, (n, 2 * latent_dim)."""
    mean, logvar = encode_means(model, x)
    return np.concatenate([mean, logvar], axis=1).astype("float32")


@lru_cache(maxsize=8)
def _decoder_fn(decoder: keras.Model, latent_dim: int):
    """One compiled graph per decoder: z (any n, latent_dim) -> probabilities. No retracing, no predict()."""
    spec = tf.TensorSpec((None, latent_dim), tf.float32)
    return tf.function(lambda z: tf.sigmoid(decoder(z, training=False)), input_signature=[spec])


def decode_points(model: CVAE, z, batch_size: int = EVAL_BATCH_SIZE) -> np.ndarray:
    """Decoded images (probabilities) of latent points z (n, latent_dim): (n, 28, 28)."""
    z = np.asarray(z, dtype="float32").reshape(-1, model.latent_dim)
    fn = _decoder_fn(model.decoder, model.latent_dim)
    parts = [fn(tf.constant(z[i:i + batch_size])).numpy()[..., 0] for i in range(0, len(z), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, *IMAGE_SHAPE[:2]), "float32")


def decode_point(model: CVAE, z) -> np.ndarray:
    """The decoded image (probabilities, 28 x 28) of one latent point: a direct call of the compiled decoder.

    No ``model.predict`` (which sets up a whole data pipeline per call): about 1 ms instead of tens.
    """
    z = tf.constant(np.asarray(z, dtype="float32").reshape(1, model.latent_dim))
    return _decoder_fn(model.decoder, model.latent_dim)(z).numpy()[0, :, :, 0]


def decoder_net(model: CVAE, dims=(0, 1)) -> dict:
    """The decoder as plain float32 arrays, to decode points of the plane of ``dims`` elsewhere (the latent pad does
    it in the browser, with no server round trip).

    The other latent coordinates are 0 there, so only the two rows of the Dense kernel that ``dims`` pick matter:
    ``h = relu(x W[dx] + y W[dy] + b)``, reshaped to the seed (7, 7, 32). Then each ``Conv2DTranspose`` ("same"
    padding, kernel (kh, kw, out, in)) scatters every input pixel over a k x k patch of an s-times larger map:
    ``out[i s + ky - p, j s + kx - p, o] += sum_c in[i, j, c] W[ky, kx, o, c]`` with ``p = max(k - s, 0) // 2``,
    plus its bias and ReLU; the last layer's logits go through a sigmoid.
    """
    layers = list(model.decoder.layers)
    dense, reshape, *convs = [*layers, None, None][:2] + layers[2:]
    if not (isinstance(dense, keras.layers.Dense) and isinstance(reshape, keras.layers.Reshape) and convs
            and all(isinstance(c, keras.layers.Conv2DTranspose) and c.padding == "same" for c in convs)):
        raise ValueError("this decoder is not Dense -> Reshape -> Conv2DTranspose ('same') layers")

    def activation(layer) -> bool:  # True: ReLU, False: none
        name = getattr(layer.activation, "__name__", str(layer.activation))
        if name not in ("relu", "linear"):
            raise ValueError(f"a decoder layer's activation is {name}, not relu or linear")
        return name == "relu"

    kernel, bias = (np.asarray(w, dtype="float32") for w in dense.get_weights())
    # one dimension on both axes (a 1-D latent space): the vertical coordinate sets it, as in latent_grid
    wx = kernel[dims[0]] if dims[0] != dims[1] else np.zeros_like(bias)
    net = {"dense": {"wx": wx, "wy": kernel[dims[1]], "b": bias, "relu": activation(dense)},
           "seed": [int(v) for v in reshape.target_shape], "convs": []}
    for conv in convs:
        w, b = (np.asarray(v, dtype="float32") for v in conv.get_weights())
        net["convs"].append({"w": w, "b": b, "k": int(w.shape[0]), "stride": int(conv.strides[0]),
                             "cout": int(w.shape[2]), "cin": int(w.shape[3]), "relu": activation(conv)})
    return net


def quantile_range(q=GRID_QUANTILES) -> tuple[float, float]:
    """The standard normal's quantiles (TensorFlow Probability): the latent grid's extent, about +-1.645."""
    normal = tfd.Normal(0.0, 1.0)
    return float(normal.quantile(q[0])), float(normal.quantile(q[1]))


def latent_grid(model: CVAE, n: int = 20, dims=(0, 1), base=None) -> np.ndarray:
    """An n x n mosaic (n*28, n*28) of decoded digits over two latent dimensions.

    Both run through the standard normal's quantiles at probabilities linspace(0.05, 0.95, n), so each cell
    covers an equal share of the prior's mass. The other dimensions stay at ``base`` (default 0, the prior
    mean).
    Columns go from low to high ``dims[0]``; rows from high to low ``dims[1]`` (y axis upwards, as in a plot).
    """
    values = tfd.Normal(0.0, 1.0).quantile(np.linspace(*GRID_QUANTILES, n).astype("float32")).numpy()
    base = np.zeros(model.latent_dim, "float32") if base is None else np.asarray(base, "float32")
    z = np.tile(base.reshape(1, model.latent_dim), (n * n, 1))
    gy, gx = np.meshgrid(values[::-1], values, indexing="ij")
    z[:, dims[0]], z[:, dims[1]] = gx.ravel(), gy.ravel()
    images = decode_points(model, z).reshape(n, n, *IMAGE_SHAPE[:2])
    return images.transpose(0, 2, 1, 3).reshape(n * IMAGE_SHAPE[0], n * IMAGE_SHAPE[1])


def interpolate(model: CVAE, z0, z1, steps: int = 10) -> np.ndarray:
    """Decoded images along the straight line z0 -> z1 (both ends included): (steps, 28, 28)."""
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
    return decode_points(model, (1 - t) * np.asarray(z0, "float32") + t * np.asarray(z1, "float32"))


def reconstruct(model: CVAE, x) -> np.ndarray:
    """Reconstruction probabilities (n, 28, 28): images decoded from their posterior means."""
    mean, _ = encode_means(model, x)
    return decode_points(model, mean)
