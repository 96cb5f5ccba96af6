"""The portfolio's convolutional variational auto-encoder (CVAE) on binarised MNIST.

Encoder q(z|x): Conv2D(64, 3x3, stride 2, ReLU) -> Conv2D(128, 3x3, stride 2, ReLU) -> Flatten -> Dense(2 * latent)
giving the mean and log-variance of a diagonal Gaussian. Decoder p(x|z): Dense(7*7*32, ReLU) -> Reshape ->
Conv2DTranspose(128, stride 2) -> Conv2DTranspose(64, stride 2) -> Conv2DTranspose(1) giving pixel logits.

Training maximises the evidence lower bound on log p(x), estimated with a single sample of z:

    log p(x) >= ELBO = E_{q(z|x)} [ log p(x|z) + log p(z) - log q(z|x) ]
    z = mu + sigma * eps,  eps ~ N(0, I)          (the reparameterisation trick)
    log p(x|z) = - sum_pixels sigmoid_cross_entropy(logits, x)
    log p(z)   = log N(z; 0, I),   log q(z|x) = log N(z; mu, sigma^2)

The loss is -ELBO averaged over the batch; ``beta`` weighs the KL part (log p(z) - log q(z|x)); beta = 1 is the
ELBO. Images are binarised: pixel / 255 > 0.5.
"""

from __future__ import annotations

import statistics
import time
from functools import lru_cache

import keras
import numpy as np
import tensorflow as tf

IMAGE_SHAPE = (28, 28, 1)
DEFAULT_LATENT_DIM = 2
DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_BATCH_SIZE = 64
LOG_2PI = float(np.log(2.0 * np.pi))
GRID_QUANTILES = (0.05, 0.95)


def binarize(x) -> np.ndarray:
    """uint8 (n, 28, 28[, 1]) or floats in [0, 1] -> float32 (n, 28, 28, 1) of 0s and 1s (pixel/255 > 0.5)."""
    x = np.asarray(x)
    x = x / 255.0 if x.dtype == np.uint8 or x.max(initial=0) > 1 else x
    x = (x > 0.5).astype("float32")
    return x[..., None] if x.shape[-1] != 1 else x


def make_cvae_datasets(x_train, x_test, batch_size: int = DEFAULT_BATCH_SIZE, train_size: int | None = None,
                       seed: int = 42):
    """Binarised images (no labels): binarised once in NumPy, cached, shuffled, batched, prefetched."""
    x_train = binarize(x_train[:train_size] if train_size else x_train)
    train = (tf.data.Dataset.from_tensor_slices(x_train).cache().shuffle(len(x_train), seed=seed)
             .batch(batch_size).prefetch(tf.data.AUTOTUNE))
    test = tf.data.Dataset.from_tensor_slices(binarize(x_test)).cache().batch(1000).prefetch(tf.data.AUTOTUNE)
    return train, test


def log_normal_pdf(sample, mean, logvar, axis: int = 1):
    """log N(sample; mean, exp(logvar)) summed over ``axis``: -1/2 [(x - mu)^2 exp(-logvar) + logvar + log 2pi]."""
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + LOG_2PI), axis=axis)


def build_encoder(latent_dim: int = DEFAULT_LATENT_DIM) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=IMAGE_SHAPE),
        keras.layers.Conv2D(64, 3, strides=2, activation="relu"),
        keras.layers.Conv2D(128, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2 * latent_dim),  # mean and log-variance
    ], name="encoder")


def build_decoder(latent_dim: int = DEFAULT_LATENT_DIM) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        keras.layers.Dense(7 * 7 * 32, activation="relu"),
        keras.layers.Reshape((7, 7, 32)),
        keras.layers.Conv2DTranspose(128, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same"),  # logits
    ], name="decoder")


@keras.saving.register_keras_serializable(package="core")
class CVAE(keras.Model):
    """Encoder, decoder, and a ``train_step``/``test_step`` that optimise and report the ELBO."""

    def __init__(self, latent_dim: int = DEFAULT_LATENT_DIM, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.beta = float(beta)
        self.encoder = build_encoder(self.latent_dim)
        self.decoder = build_decoder(self.latent_dim)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")

    @property
    def metrics(self):
        return [self.loss_tracker, self.elbo_tracker]

    def encode(self, x, training: bool = False):
        mean, logvar = tf.split(self.encoder(x, training=training), num_or_size_splits=2, axis=1)
        return mean, logvar

    def reparameterize(self, mean, logvar, eps=None):
        eps = tf.random.normal(shape=tf.shape(mean)) if eps is None else eps
        return eps * tf.exp(logvar * 0.5) + mean

    def decode(self, z, apply_sigmoid: bool = False, training: bool = False):
        logits = self.decoder(z, training=training)
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def call(self, x, training: bool = False):
        mean, _ = self.encode(x, training=training)
        return self.decode(mean, apply_sigmoid=True, training=training)

    def elbo_terms(self, x, eps=None, training: bool = False):
        """Per-example log p(x|z), log p(z), log q(z|x) for one sample z (``eps`` fixes it)."""
        mean, logvar = self.encode(x, training=training)
        z = self.reparameterize(mean, logvar, eps)
        logits = self.decode(z, training=training)
        cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=x)
        logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
        logpz = log_normal_pdf(z, 0.0, 0.0)
        logqz_x = log_normal_pdf(z, mean, logvar)
        return logpx_z, logpz, logqz_x

    def _loss_and_elbo(self, x, training: bool):
        logpx_z, logpz, logqz_x = self.elbo_terms(x, training=training)
        elbo = tf.reduce_mean(logpx_z + logpz - logqz_x)
        loss = -tf.reduce_mean(logpx_z + self.beta * (logpz - logqz_x))
        return loss, elbo

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss, elbo = self._loss_and_elbo(x, training=True)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.elbo_tracker.update_state(elbo)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        loss, elbo = self._loss_and_elbo(x, training=False)
        self.loss_tracker.update_state(loss)
        self.elbo_tracker.update_state(elbo)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "beta": self.beta}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_cvae(latent_dim: int = DEFAULT_LATENT_DIM, beta: float = 1.0,
               learning_rate: float = DEFAULT_LEARNING_RATE) -> CVAE:
    """A compiled, built CVAE (Adam)."""
    model = CVAE(latent_dim, beta)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model(tf.zeros((1, *IMAGE_SHAPE)))
    return model


def elbo_terms(model: CVAE, x, eps=None) -> dict:
    """The three log-densities per example, as NumPy (deterministic when ``eps`` is given)."""
    logpx_z, logpz, logqz_x = model.elbo_terms(tf.convert_to_tensor(binarize(x)), eps=eps)
    return {"logpx_z": np.asarray(logpx_z), "logpz": np.asarray(logpz), "logqz_x": np.asarray(logqz_x)}


def compute_loss(model: CVAE, x, beta: float = 1.0) -> float:
    """-mean(log p(x|z) + beta (log p(z) - log q(z|x))), one sample."""
    t = elbo_terms(model, x)
    return float(-np.mean(t["logpx_z"] + beta * (t["logpz"] - t["logqz_x"])))


def per_example_elbo(model: CVAE, x, n_samples: int = 1, batch_size: int = 1000) -> np.ndarray:
    """ELBO of each image (averaged over ``n_samples`` draws of z): how well the model explains it."""
    xb = binarize(x)
    out = np.zeros(len(xb), dtype="float64")
    for _ in range(n_samples):
        for i in range(0, len(xb), batch_size):
            t = model.elbo_terms(tf.convert_to_tensor(xb[i:i + batch_size]))
            out[i:i + batch_size] += np.asarray(t[0] + t[1] - t[2])
    return out / n_samples


def encode_means(model: CVAE, x, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Encoder means and log-variances of images (uint8 or binary), as NumPy."""
    xb = binarize(x)
    means, logvars = [], []
    for i in range(0, len(xb), batch_size):
        m, lv = model.encode(tf.convert_to_tensor(xb[i:i + batch_size]))
        means.append(np.asarray(m))
        logvars.append(np.asarray(lv))
    return np.concatenate(means), np.concatenate(logvars)


def latent_features(model: CVAE, x) -> np.ndarray:
    """The latent classifier's input: encoder mean and log-variance side by side."""
    mean, logvar = encode_means(model, x)
    return np.concatenate([mean, logvar], axis=1).astype("float32")


@lru_cache(maxsize=8)
def _decoder_fn(decoder):
    return tf.function(lambda z: tf.sigmoid(decoder(z, training=False)), reduce_retracing=True)


def decode_point(model: CVAE, z) -> np.ndarray:
    """The decoded image (probabilities, 28x28) of one latent point: a direct decoder call, ~1 ms."""
    z = tf.convert_to_tensor(np.asarray(z, dtype="float32").reshape(1, model.latent_dim))
    return np.asarray(_decoder_fn(model.decoder)(z))[0, :, :, 0]


def decode_points(model: CVAE, z) -> np.ndarray:
    z = tf.convert_to_tensor(np.asarray(z, dtype="float32").reshape(-1, model.latent_dim))
    return np.asarray(_decoder_fn(model.decoder)(z))[..., 0]


def quantile_range(q=GRID_QUANTILES) -> tuple[float, float]:
    """The standard normal's quantiles (TensorFlow Probability): the latent grid's extent."""
    import tensorflow_probability as tfp

    normal = tfp.distributions.Normal(0.0, 1.0)
    return float(normal.quantile(q[0])), float(normal.quantile(q[1]))


def latent_grid(model: CVAE, n: int = 20, dims=(0, 1), base=None) -> np.ndarray:
    """An n x n mosaic (n*28, n*28) of decoded digits over the normal quantiles 0.05..0.95 of two latent dims.

    Rows go from high to low values of the second dimension, so the picture has the usual y axis upwards.
    """
    import tensorflow_probability as tfp

    values = np.asarray(tfp.distributions.Normal(0.0, 1.0).quantile(np.linspace(*GRID_QUANTILES, n)), "float32")
    z = np.tile(np.zeros(model.latent_dim, "float32") if base is None else np.asarray(base, "float32"), (n * n, 1))
    gy, gx = np.meshgrid(values[::-1], values, indexing="ij")
    z[:, dims[0]], z[:, dims[1]] = gx.ravel(), gy.ravel()
    images = decode_points(model, z).reshape(n, n, 28, 28)
    return images.transpose(0, 2, 1, 3).reshape(n * 28, n * 28)


def interpolate(model: CVAE, z0, z1, steps: int = 10) -> np.ndarray:
    """Decoded images along the straight line from z0 to z1: (steps, 28, 28)."""
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
    return decode_points(model, (1 - t) * np.asarray(z0, "float32") + t * np.asarray(z1, "float32"))


def reconstruct(model: CVAE, x) -> np.ndarray:
    """Decoded means of encoded images (probabilities), (n, 28, 28)."""
    mean, _ = model.encode(tf.convert_to_tensor(binarize(x)))
    return decode_points(model, np.asarray(mean))


def build_latent_classifier(input_dim: int = 2 * DEFAULT_LATENT_DIM, hidden=(128, 128), learning_rate: float = 1e-3,
                            dropout: float = 0.0) -> keras.Model:
    """The portfolio's dense classifier on latent features: Dense 128 ReLU, Dense 128 ReLU, softmax 10."""
    layers = [keras.Input(shape=(input_dim,))]
    for units in hidden:
        layers.append(keras.layers.Dense(units, activation="relu"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers, name="latent_classifier")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def knn_baseline(train_features, y_train, test_features, y_test, k: int = 15) -> float:
    """Test accuracy of a k-nearest-neighbour classifier (scikit-learn) on the same latent features."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=k).fit(train_features, y_train)
    return float(knn.score(test_features, y_test))


def bench_cvae(x_train, n_images: int = 3200, batch_size: int = DEFAULT_BATCH_SIZE, repeats: int = 2) -> dict:
    """Training images/s of the project's ``fit`` against the portfolio's plain ``tf.function`` step, same run."""
    steps = max(1, n_images // batch_size)
    x = binarize(x_train[: steps * batch_size])

    # The portfolio (TensorFlow's CVAE tutorial): GradientTape step in a tf.function over shuffle + batch.
    portfolio = build_cvae()
    optimizer = keras.optimizers.Adam(DEFAULT_LEARNING_RATE)
    baseline_ds = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x)).batch(batch_size)

    @tf.function
    def portfolio_step(batch):
        with tf.GradientTape() as tape:
            loss, _ = portfolio._loss_and_elbo(batch, training=True)
        optimizer.apply_gradients(zip(tape.gradient(loss, portfolio.trainable_variables),
                                      portfolio.trainable_variables))

    def run_portfolio():
        start = time.perf_counter()
        for batch in baseline_ds:
            portfolio_step(batch)
        return time.perf_counter() - start

    project = build_cvae()
    project_ds, _ = make_cvae_datasets(x, x[:batch_size], batch_size=batch_size)
    project.fit(project_ds.take(1), verbose=0)
    for batch in baseline_ds.take(1):
        portfolio_step(batch)

    def run_project():
        start = time.perf_counter()
        project.fit(project_ds, verbose=0)
        return time.perf_counter() - start

    base, proj = [], []
    for _ in range(repeats):
        base.append(len(x) / run_portfolio())
        proj.append(len(x) / run_project())
    z = np.zeros(project.latent_dim, "float32")
    decode_point(project, z)
    lat = []
    for _ in range(200):
        start = time.perf_counter()
        decode_point(project, z)
        lat.append((time.perf_counter() - start) * 1000)
    predict_ms = []
    for _ in range(5):
        start = time.perf_counter()
        project.decoder.predict(z[None], verbose=0)
        predict_ms.append((time.perf_counter() - start) * 1000)
    return {"images": len(x), "portfolio_images_per_s": max(base), "project_images_per_s": max(proj),
            "ratio": max(proj) / max(base), "decode_point_ms_median": statistics.median(lat),
            "decoder_predict_ms_median": statistics.median(predict_ms)}
