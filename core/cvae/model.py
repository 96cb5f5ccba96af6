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

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from core.cvae.data import DEFAULT_LATENT_DIM, DEFAULT_LEARNING_RATE, IMAGE_SHAPE

tfd = tfp.distributions

ENCODER_FILTERS = (64, 128)
DECODER_FILTERS = (128, 64)
KERNEL_SIZE = 3
DECODER_SEED_SHAPE = (7, 7, 32)  # Dense output reshaped, then upsampled twice by 2: 7 -> 14 -> 28
LOG_2PI = float(np.log(2.0 * np.pi))


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
