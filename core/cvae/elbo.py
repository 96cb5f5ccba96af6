"""The ELBO of single images, as NumPy: how well a trained CVAE explains each one (and its three terms).

    ELBO(x) = log p(x|z) + log p(z) - log q(z|x),   z ~ q(z|x)   (one sample per draw)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from core.cvae.data import EVAL_BATCH_SIZE, binarize
from core.cvae.model import CVAE


def image_elbo_terms(model: CVAE, x, eps=None) -> dict[str, np.ndarray]:
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
