"""The portfolio's convolutional variational auto-encoder (CVAE) on binarised MNIST, with a 2-D latent space.

After TensorFlow's CVAE tutorial, written as a ``keras.Model`` with its own ``train_step`` like keras-io's
``examples/generative/vae.py``.

Model
    encoder q(z|x):  x (28, 28, 1) -> Conv2D(64, 3, stride 2, ReLU) -> Conv2D(128, 3, stride 2, ReLU)
                     -> Flatten -> Dense(2 * latent_dim) = (mu, log sigma^2) of a diagonal Gaussian
    decoder p(x|z):  z -> Dense(7*7*32, ReLU) -> Reshape(7, 7, 32)
                     -> Conv2DTranspose(128, 3, stride 2, ReLU) -> Conv2DTranspose(64, 3, stride 2, ReLU)
                     -> Conv2DTranspose(1, 3, stride 1) = pixel logits (all three "same" padding)
    prior p(z):      N(0, I)

Objective: the evidence lower bound on log p(x), estimated with a single sample of z per image::

    log p(x) >= ELBO = E_{q(z|x)} [ log p(x|z) + log p(z) - log q(z|x) ]

    z = mu + eps * exp(logvar / 2),   eps ~ N(0, I)           (the reparameterisation trick)
    log p(x|z) = - sum_pixels sigmoid_cross_entropy(logits, x)  (Bernoulli pixels)
    log p(z)   = log N(z; 0, I)
    log q(z|x) = log N(z; mu, exp(logvar))
    log N(z; mu, exp(logvar)) = sum_i -1/2 [ (z_i - mu_i)^2 exp(-logvar_i) + logvar_i + log 2 pi ]

    loss = - mean_batch [ log p(x|z) + beta (log p(z) - log q(z|x)) ]

``beta`` weighs the (single-sample) KL part; beta = 1 (the default) makes the loss exactly -ELBO. The Gaussian
log-densities come from TensorFlow Probability (``MultivariateNormalDiag``); :func:`log_normal_pdf` is the
portfolio's closed form of the same thing. Images are binarised: pixel / 255 > 0.5 -> {0, 1}.
Adam, learning rate 1e-4, batch 64.
"""

from __future__ import annotations

import statistics
import time
from functools import lru_cache

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

IMAGE_SHAPE = (28, 28, 1)
DEFAULT_LATENT_DIM = 2
DEFAULT_LEARNING_RATE = 1e-4
DEFAULT_BATCH_SIZE = 64
BINARY_THRESHOLD = 0.5  # pixel / 255 above this is 1, else 0
ENCODER_FILTERS = (64, 128)
DECODER_FILTERS = (128, 64)
KERNEL_SIZE = 3
DECODER_SEED_SHAPE = (7, 7, 32)  # Dense output reshaped, then upsampled twice by 2: 7 -> 14 -> 28
EVAL_BATCH_SIZE = 1000  # test-set and NumPy-helper batches (no gradients, so larger is faster)
GRID_QUANTILES = (0.05, 0.95)  # the latent grid spans these quantiles of N(0, 1)
LOG_2PI = float(np.log(2.0 * np.pi))


# --------------------------------------------------------------------------------------------------- data


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


def _to_float(x):
    return tf.cast(x, tf.float32)


def make_cvae_datasets(x_train, x_test, batch_size: int = DEFAULT_BATCH_SIZE, train_size: int | None = None,
                       seed: int = 42) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """(train, test) ``tf.data`` pipelines of binarised images, no labels.

    Binarised once in NumPy and kept as uint8 0/1 (a quarter of float32's memory: 47 MB for 60,000 images),
    cached, shuffled each epoch (train only), batched, cast to float32 per batch, prefetched.
    """
    x_train = _binary_uint8(x_train[:train_size] if train_size else x_train)
    train = (tf.data.Dataset.from_tensor_slices(x_train).cache()
             .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
             .batch(batch_size).map(_to_float).prefetch(tf.data.AUTOTUNE))
    test = (tf.data.Dataset.from_tensor_slices(_binary_uint8(x_test)).cache()
            .batch(EVAL_BATCH_SIZE).map(_to_float).prefetch(tf.data.AUTOTUNE))
    return train, test


# ----------------------------------------------------------------------------------------------- networks


def build_encoder(latent_dim: int = DEFAULT_LATENT_DIM) -> keras.Model:
    """q(z|x): image -> concatenated (mean, log-variance), shape (n, 2 * latent_dim)."""
    return keras.Sequential([
        keras.Input(shape=IMAGE_SHAPE),
        keras.layers.Conv2D(ENCODER_FILTERS[0], KERNEL_SIZE, strides=2, activation="relu"),
        keras.layers.Conv2D(ENCODER_FILTERS[1], KERNEL_SIZE, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2 * latent_dim),  # no activation: mean and log-variance
    ], name="encoder")


def build_decoder(latent_dim: int = DEFAULT_LATENT_DIM) -> keras.Model:
    """p(x|z): latent point -> pixel logits, shape (n, 28, 28, 1)."""
    return keras.Sequential([
        keras.Input(shape=(latent_dim,)),
        keras.layers.Dense(int(np.prod(DECODER_SEED_SHAPE)), activation="relu"),
        keras.layers.Reshape(DECODER_SEED_SHAPE),
        keras.layers.Conv2DTranspose(DECODER_FILTERS[0], KERNEL_SIZE, strides=2, padding="same",
                                     activation="relu"),
        keras.layers.Conv2DTranspose(DECODER_FILTERS[1], KERNEL_SIZE, strides=2, padding="same",
                                     activation="relu"),
        keras.layers.Conv2DTranspose(1, KERNEL_SIZE, strides=1, padding="same"),  # logits, no activation
    ], name="decoder")


# ---------------------------------------------------------------------------------------------- the model


def log_normal_pdf(sample, mean, logvar, raxis: int = 1):
    """The portfolio's diagonal-Gaussian log-density, summed over ``raxis``.

    log N(x; mu, exp(logvar)) = sum_i -1/2 [ (x_i - mu_i)^2 exp(-logvar_i) + logvar_i + log 2 pi ]
    """
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + LOG_2PI), axis=raxis)


@keras.saving.register_keras_serializable(package="core")
class CVAE(keras.Model):
    """Encoder, decoder and a ``train_step``/``test_step`` that maximise and report the ELBO.

    ``fit`` logs ``loss`` (-ELBO when beta = 1) and ``elbo``, plus ``val_loss`` and ``val_elbo`` with
    ``validation_data``. Both are means over images (not over batches), so a short last batch counts for what
    it holds.
    """

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
        return [self.loss_tracker, self.elbo_tracker]  # listed here, so Keras resets them every epoch

    def encode(self, x, training: bool = False):
        """(mean, logvar) of q(z|x), each (n, latent_dim)."""
        mean, logvar = tf.split(self.encoder(x, training=training), num_or_size_splits=2, axis=1)
        return mean, logvar

    def reparameterize(self, mean, logvar, eps=None):
        """z = mean + eps * exp(logvar / 2), eps ~ N(0, I) unless given."""
        if eps is None:
            eps = tf.random.normal(shape=tf.shape(mean))
        return mean + eps * tf.exp(logvar * 0.5)

    def decode(self, z, apply_sigmoid: bool = False, training: bool = False):
        """Pixel logits of p(x|z), or probabilities with ``apply_sigmoid``."""
        logits = self.decoder(z, training=training)
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def call(self, x, training: bool = False):
        """Reconstruction probabilities of x, decoded from the posterior mean (deterministic)."""
        mean, _ = self.encode(x, training=training)
        return self.decode(mean, apply_sigmoid=True, training=training)

    def elbo_terms(self, x, eps=None, training: bool = False):
        """Per-image log p(x|z), log p(z), log q(z|x) for one sample z ~ q(z|x) (``eps`` fixes it)."""
        mean, logvar = self.encode(x, training=training)
        z = self.reparameterize(mean, logvar, eps)
        logits = self.decode(z, training=training)
        cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=x)
        logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
        logpz = tfd.MultivariateNormalDiag(loc=tf.zeros_like(z)).log_prob(z)
        logqz_x = tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(0.5 * logvar)).log_prob(z)
        return logpx_z, logpz, logqz_x

    def _loss_and_elbo(self, x, training: bool):
        """Per-image loss -[log p(x|z) + beta (log p(z) - log q(z|x))] and ELBO."""
        logpx_z, logpz, logqz_x = self.elbo_terms(x, training=training)
        return -(logpx_z + self.beta * (logpz - logqz_x)), logpx_z + logpz - logqz_x

    def train_step(self, data):
        x = tf.cast(data[0] if isinstance(data, tuple) else data, tf.float32)
        with tf.GradientTape() as tape:
            loss, elbo = self._loss_and_elbo(x, training=True)
            mean_loss = tf.reduce_mean(loss)
        grads = tape.gradient(mean_loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.elbo_tracker.update_state(elbo)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x = tf.cast(data[0] if isinstance(data, tuple) else data, tf.float32)
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
    """A CVAE compiled with Adam and built: weights and optimizer slots exist, so it saves and loads as is."""
    model = CVAE(latent_dim=latent_dim, beta=beta)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model(tf.zeros((1, *IMAGE_SHAPE)))
    model.optimizer.build(model.trainable_variables)
    return model


# ------------------------------------------------------------------------------------------ ELBO, in NumPy


def elbo_terms(model: CVAE, x, eps=None) -> dict[str, np.ndarray]:
    """Per-image log p(x|z), log p(z), log q(z|x) as NumPy; deterministic given ``eps`` (n, latent_dim)."""
    eps = None if eps is None else tf.convert_to_tensor(np.asarray(eps, "float32"))
    logpx_z, logpz, logqz_x = model.elbo_terms(tf.convert_to_tensor(binarize(x)), eps=eps)
    return {"logpx_z": logpx_z.numpy(), "logpz": logpz.numpy(), "logqz_x": logqz_x.numpy()}


def compute_loss(model: CVAE, x, beta: float = 1.0):
    """-mean(log p(x|z) + beta (log p(z) - log q(z|x))), one sample of z: a scalar tensor, differentiable.

    ``x`` must already be binary float32 (n, 28, 28, 1), as in the portfolio; beta = 1 gives -ELBO.
    """
    logpx_z, logpz, logqz_x = model.elbo_terms(tf.convert_to_tensor(x, tf.float32))
    return -tf.reduce_mean(logpx_z + beta * (logpz - logqz_x))


def per_example_elbo(model: CVAE, x, n_samples: int = 1, batch_size: int = EVAL_BATCH_SIZE) -> np.ndarray:
    """The ELBO of each image, averaged over ``n_samples`` draws of z: how well the model explains it.

    Compare a user's image with the test digits' values: far below them, it does not look like a digit.
    """
    xb = binarize(x)
    out = np.zeros(len(xb), dtype="float64")
    for i in range(0, len(xb), batch_size):
        batch = tf.convert_to_tensor(xb[i:i + batch_size])
        for _ in range(n_samples):
            logpx_z, logpz, logqz_x = model.elbo_terms(batch)
            out[i:i + batch_size] += (logpx_z + logpz - logqz_x).numpy()
    return out / n_samples


# ------------------------------------------------------------------------------------------- latent space


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


# ------------------------------------------------------------------------------------- latent classifier


def build_latent_classifier(input_dim: int = 2 * DEFAULT_LATENT_DIM, hidden=(128, 128),
                            learning_rate: float = 1e-3, dropout: float = 0.0) -> keras.Model:
    """The portfolio's classifier of latent features: Dense 128 ReLU -> Dense 128 ReLU -> Dense 10 softmax.

    Sparse categorical cross-entropy, Adam, accuracy; optional dropout after each hidden layer.
    """
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


# ------------------------------------------------------------------------------------------------- bench


def _portfolio_step(model: CVAE, optimizer):
    """The TensorFlow tutorial's training step: its loss (closed-form densities), a tape, a tf.function."""

    def compute_portfolio_loss(x):
        mean, logvar = model.encode(x)
        z = model.reparameterize(mean, logvar)
        x_logit = model.decode(z)
        cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
        logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
        logpz = log_normal_pdf(z, 0.0, 0.0)
        logqz_x = log_normal_pdf(z, mean, logvar)
        return -tf.reduce_mean(logpx_z + logpz - logqz_x)

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = compute_portfolio_loss(x)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    return train_step


def bench_cvae(x_train, n_images: int = 3200, batch_size: int = DEFAULT_BATCH_SIZE, repeats: int = 3) -> dict:
    """Training images/s of the project's ``fit`` against the portfolio's plain ``tf.function`` step.

    Both train a fresh CVAE on the same ``n_images`` images for one epoch per repeat, alternating so that
    background load hits both alike; the best repeat of each counts. Also the median latency of
    :func:`decode_point` over 200 calls, beside ``decoder.predict`` for comparison.
    """
    x = binarize(x_train[:n_images])

    portfolio = build_cvae()
    step = _portfolio_step(portfolio, keras.optimizers.Adam(DEFAULT_LEARNING_RATE))
    portfolio_ds = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x)).batch(batch_size)

    project = build_cvae()
    project_ds, _ = make_cvae_datasets(x, x[:batch_size], batch_size=batch_size)

    for batch in portfolio_ds.take(1):  # trace both before timing
        step(batch)
    project.fit(project_ds.take(1), verbose=0, shuffle=False)

    def portfolio_epoch() -> float:
        start = time.perf_counter()
        for batch in portfolio_ds:
            step(batch)
        return len(x) / (time.perf_counter() - start)

    def project_epoch() -> float:
        start = time.perf_counter()
        project.fit(project_ds, verbose=0, shuffle=False)
        return len(x) / (time.perf_counter() - start)

    rates = {"portfolio": [], "project": []}
    for _ in range(repeats):
        rates["portfolio"].append(portfolio_epoch())
        rates["project"].append(project_epoch())

    z = np.zeros(project.latent_dim, "float32")
    decode_point(project, z)
    latencies = []
    for _ in range(200):
        start = time.perf_counter()
        decode_point(project, z)
        latencies.append((time.perf_counter() - start) * 1000)
    predict_ms = []
    for _ in range(5):
        start = time.perf_counter()
        project.decoder.predict(z[None], verbose=0)
        predict_ms.append((time.perf_counter() - start) * 1000)
    portfolio_rate, project_rate = max(rates["portfolio"]), max(rates["project"])
    return {"images": len(x), "batch_size": batch_size, "portfolio_images_per_s": portfolio_rate,
            "project_images_per_s": project_rate, "ratio": project_rate / portfolio_rate,
            "decode_point_ms_median": statistics.median(latencies),
            "decoder_predict_ms_median": statistics.median(predict_ms)}
