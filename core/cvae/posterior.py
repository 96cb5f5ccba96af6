"""The VAE's uncertainty about one digit: its posterior q(z|x) on the latent map, samples from it, and its loss split.

The encoder does not map a digit to a point but to a diagonal Gaussian::

    q(z|x) = N(mu(x), diag sigma^2(x)),   sigma = exp(logvar / 2)

In two latent dimensions its density is constant on axis-aligned ellipses around mu with semi-axes
k sigma_1 and k sigma_2; the k-sigma ellipse holds 1 - exp(-k^2 / 2) of the mass (39% for k = 1, 86% for k = 2).

The negative ELBO of an image splits into a reconstruction term and a KL term::

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || p(z))
    KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_i (mu_i^2 + sigma_i^2 - 1 - log sigma_i^2)   (closed form)
    -log p(x|z) = sum_pixels sigmoid_cross_entropy(decoder logits of z, x)   (Bernoulli pixels, binarised x)

Training minimises reconstruction + beta KL (the model estimates the KL with the same single sample of z as
the reconstruction; its expectation is the closed form above).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from core.cvae.data import binarize
from core.cvae.elbo import image_elbo_terms
from core.cvae.latent import decode_points, encode_means
from core.cvae.model import CVAE
from core.plots import latent_scatter

SIGMAS = (1, 2)  # the ellipses drawn on the map
N_SAMPLES = 8  # decoded draws from q(z|x) shown
N_LOSS_SAMPLES = 64  # draws of z that estimate the reconstruction term E_q[-log p(x|z)]


def posterior(cvae: CVAE, images) -> tuple[np.ndarray, np.ndarray]:
    """(mean, logvar) of q(z|x) = N(mean, diag exp(logvar)) for each image: NumPy (n, latent_dim) each."""
    return encode_means(cvae, images)


def inside_mass(k: float, dims: int = 2) -> float:
    """The probability that z ~ q(z|x) falls inside the k-sigma ellipse (2-D): 1 - exp(-k^2 / 2)."""
    if dims != 2:
        raise ValueError("only the 2-D ellipse's mass has this closed form")
    return float(1.0 - np.exp(-0.5 * k * k))


def ellipse(mean, logvar, k: float = 1.0, n_points: int = 100, dims=(0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """The k-sigma ellipse of q(z|x) in two latent dimensions: a closed curve of ``n_points`` points (xs, ys).

    Axis-aligned (the posterior is diagonal), centred on the mean, with semi-axes k exp(logvar_d / 2)::

        z(t) = (mu_a + k sigma_a cos t,  mu_b + k sigma_b sin t),   t in [0, 2 pi]
    """
    mean, logvar = np.ravel(np.asarray(mean, "float64")), np.ravel(np.asarray(logvar, "float64"))
    t = np.linspace(0.0, 2.0 * np.pi, n_points)
    a, b = dims
    return (mean[a] + k * np.exp(0.5 * logvar[a]) * np.cos(t),
            mean[b] + k * np.exp(0.5 * logvar[b]) * np.sin(t))


def draw_latents(cvae: CVAE, mean, logvar, n: int = N_SAMPLES, seed: int = 0) -> np.ndarray:
    """n draws z = mean + eps exp(logvar / 2), eps ~ N(0, I) from ``seed`` (the model's reparameterisation)."""
    mean = np.asarray(mean, "float32").reshape(1, -1)
    logvar = np.asarray(logvar, "float32").reshape(1, -1)
    eps = np.random.default_rng(seed).standard_normal((n, mean.shape[1])).astype("float32")
    return cvae.reparameterize(tf.constant(mean), tf.constant(logvar), tf.constant(eps)).numpy()


def sample_decodes(cvae: CVAE, mean, logvar, n: int = N_SAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n latent draws from q(z|x) (n, latent_dim) and their decoded images (probabilities, (n, 28, 28))."""
    z = draw_latents(cvae, mean, logvar, n, seed)
    return z, decode_points(cvae, z)


def kl_divergence(mean, logvar) -> np.ndarray:
    """KL(N(mean, diag exp(logvar)) || N(0, I)) per row, in closed form (nats):

        1/2 sum_i (mu_i^2 + sigma_i^2 - 1 - log sigma_i^2)
    """
    mean, logvar = np.atleast_2d(np.asarray(mean, "float64")), np.atleast_2d(np.asarray(logvar, "float64"))
    return 0.5 * np.sum(mean ** 2 + np.exp(logvar) - 1.0 - logvar, axis=1)


def loss_split(cvae: CVAE, image, n_samples: int = N_LOSS_SAMPLES, seed: int = 0, eps=None) -> dict[str, float]:
    """One image's negative ELBO split into its reconstruction and KL terms (nats).

    * ``reconstruction``: E_q[-log p(x|z)] of the binarised image, the mean over ``n_samples`` draws of z
      (from ``seed``, or the given ``eps`` (n, latent_dim)), computed by the model's own ``elbo_terms``;
    * ``kl``: KL(q(z|x) || N(0, I)) in closed form; ``kl_sampled``: the model's sampled estimate
      E[log q(z|x) - log p(z)] over the same draws (what one training step sees, averaged);
    * ``elbo`` = -(reconstruction + kl); ``loss`` = reconstruction + beta kl, what training minimises.
    """
    x = binarize(image)[:1]
    if eps is None:
        eps = np.random.default_rng(seed).standard_normal((n_samples, cvae.latent_dim))
    eps = np.asarray(eps, "float32").reshape(-1, cvae.latent_dim)
    terms = image_elbo_terms(cvae, np.repeat(x, len(eps), axis=0), eps=eps)
    mean, logvar = posterior(cvae, x)
    reconstruction = float(-terms["logpx_z"].astype("float64").mean())
    kl = float(kl_divergence(mean, logvar)[0])
    return {"reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl),
            "kl_sampled": float((terms["logqz_x"].astype("float64") - terms["logpz"]).mean()),
            "beta": float(cvae.beta), "loss": reconstruction + float(cvae.beta) * kl, "n_samples": len(eps)}


def posterior_figure(background, labels, mean, logvar, dims=(0, 1), samples=None, extent=None, zoom: bool = False,
                     height: int = 420, name: str = "your digit"):
    """The latent map (test encodings by digit) with the posterior's mean, its 1 and 2 sigma ellipses and samples.

    Traces: ``mean``, ``1σ``, ``2σ`` (closed curves), ``samples`` (when given). ``zoom`` frames the 2 sigma
    ellipse and the samples instead of the whole map.
    """
    fig = latent_scatter(background, labels, dims, extent=extent, height=height)
    a, b = dims
    for k in SIGMAS:
        xs, ys = ellipse(mean, logvar, k, dims=dims)
        fig.add_scatter(x=xs, y=ys, mode="lines", name=f"{k}σ", fill="toself", fillcolor="rgba(0,0,0,0.08)",
                        line=dict(color="black", width=2.5 if k == 1 else 1.5, dash="solid" if k == 1 else "dash"),
                        hoverinfo="skip")
    mu = np.ravel(mean)
    if samples is not None:
        samples = np.asarray(samples)
        fig.add_scatter(x=samples[:, a], y=samples[:, b], mode="markers", name="samples",
                        marker=dict(symbol="x", size=9, color="#E03131"))
    fig.add_scatter(x=[mu[a]], y=[mu[b]], mode="markers", name="mean", hovertext=[name],
                    marker=dict(symbol="star", size=16, color="black", line=dict(color="white", width=1)))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)  # equal units on both axes: the ellipses keep their shape
    if zoom:
        xs, ys = ellipse(mean, logvar, max(SIGMAS) * 1.4, dims=dims)
        if samples is not None:
            xs, ys = np.concatenate([xs, samples[:, a]]), np.concatenate([ys, samples[:, b]])
        fig.update_xaxes(range=[float(xs.min()), float(xs.max())])
        fig.update_yaxes(range=[float(ys.min()), float(ys.max())])
    return fig
