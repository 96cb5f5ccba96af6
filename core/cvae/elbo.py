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


def per_example_elbo(model: CVAE, x, n_samples: int = 1, batch_size: int = EVAL_BATCH_SIZE) -> np.ndarray:
    """The ELBO of each image, averaged over ``n_samples`` draws of z: how well the model explains it.

    Compare a user's image with the test digits' values: far below them, it does not look like a digit.
    """
    xb = binarize(x)
    out = np.zeros(len(xb), dtype="float64")
    for i in range(0, len(xb), batch_size):
        for _ in range(n_samples):
            terms = image_elbo_terms(model, xb[i:i + batch_size])
            out[i:i + batch_size] += terms["logpx_z"] + terms["logpz"] - terms["logqz_x"]
    return out / n_samples
