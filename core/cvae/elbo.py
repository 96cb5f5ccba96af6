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

    Compare a user's image with the test digits' values: far below them, it does not look like a digit. The draws
    go through the model together (each image repeated ``n_samples`` times in one batch of at most ``batch_size``
    rows): one call for a drawn digit's 4 draws, not 4 (200 draws of one image: 0.47 s instead of 14.1 s).
    """
    xb = binarize(x)
    per_call = max(1, batch_size // n_samples)  # images per call, each repeated n_samples times
    out = np.zeros(len(xb), dtype="float64")
    for i in range(0, len(xb), per_call):
        chunk = xb[i:i + per_call]
        terms = image_elbo_terms(model, np.repeat(chunk, n_samples, axis=0))  # image-major: row j is image j // n
        draws = terms["logpx_z"] + terms["logpz"] - terms["logqz_x"]
        out[i:i + len(chunk)] = draws.astype("float64").reshape(len(chunk), n_samples).mean(axis=1)
    return out
