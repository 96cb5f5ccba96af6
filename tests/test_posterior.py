"""The VAE's uncertainty (core.cvae.posterior): ellipses from the encoder's log-variance, the closed-form KL, the
reconstruction + KL split against the model's own ELBO, decoded samples, and the figure's traces."""

import os
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.cvae import data as cdata
from core.cvae import elbo, posterior
from core.cvae import model as cvae

MNIST = Path(os.environ.get("MNIST_PATH") or "/work/shared/data/mnist.npz")


@pytest.fixture(scope="module")
def digits():
    """Eight test digits (genuine MNIST when there, else random blobs: the identities below hold for any image)."""
    if MNIST.is_file():
        with np.load(MNIST) as d:
            return d["x_test"][:8], d["x_train"][:600]
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (8, 28, 28), dtype=np.uint8), rng.integers(0, 256, (600, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def model(digits):
    """A CVAE trained for a moment (600 images, 1 epoch, Adam 1e-3): posteriors move away from the prior."""
    keras.utils.set_random_seed(0)
    m = cvae.build_cvae(learning_rate=1e-3)
    train, _ = cdata.make_cvae_datasets(digits[1], digits[0])
    m.fit(train, epochs=1, verbose=0)
    return m


def test_posterior_is_the_encoders_output(model, digits):
    x = digits[0]
    mean, logvar = posterior.posterior(model, x)
    out = model.encoder(cdata.binarize(x)).numpy()
    np.testing.assert_allclose(mean, out[:, :2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvar, out[:, 2:], rtol=1e-5, atol=1e-6)


def test_ellipse_semi_axes_are_k_sigma_from_the_encoder(model, digits):
    mean, logvar = posterior.posterior(model, digits[0][:1])
    sigma = np.exp(0.5 * logvar[0].astype("float64"))
    for k in (1, 2, 3):
        xs, ys = posterior.ellipse(mean[0], logvar[0], k=k, n_points=401)
        assert xs.shape == ys.shape == (401,)
        assert (xs[0], ys[0]) == pytest.approx((xs[-1], ys[-1]))  # closed
        np.testing.assert_allclose((xs.max() - xs.min()) / 2, k * sigma[0], rtol=1e-6)
        np.testing.assert_allclose((ys.max() - ys.min()) / 2, k * sigma[1], rtol=1e-4)
        np.testing.assert_allclose([(xs.max() + xs.min()) / 2, (ys.max() + ys.min()) / 2], mean[0], atol=1e-6)
        # Every point lies on ((x - mu_a) / k sigma_a)^2 + ((y - mu_b) / k sigma_b)^2 = 1: axis-aligned.
        np.testing.assert_allclose(((xs - mean[0, 0]) / (k * sigma[0])) ** 2 + ((ys - mean[0, 1]) / (k * sigma[1])) ** 2,
                                   1.0, rtol=1e-5)
    # Other dimensions of a larger latent space.
    xs, ys = posterior.ellipse([0.0, 1.0, -2.0], np.log([4.0, 1.0, 0.25]), k=2, dims=(2, 0))
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == pytest.approx((-3.0, -1.0, -4.0, 4.0), abs=1e-3)
    assert posterior.inside_mass(1) == pytest.approx(0.3935, abs=1e-4)
    assert posterior.inside_mass(2) == pytest.approx(0.8647, abs=1e-4)


def test_kl_equals_the_numpy_closed_form_and_the_sampled_estimate(model, digits):
    x = digits[0]
    mean, logvar = (a.astype("float64") for a in posterior.posterior(model, x))
    expected = 0.5 * np.sum(mean ** 2 + np.exp(logvar) - 1.0 - logvar, axis=1)
    np.testing.assert_allclose(posterior.kl_divergence(mean, logvar), expected, rtol=1e-12)
    assert posterior.kl_divergence([0.0, 0.0], [0.0, 0.0]) == pytest.approx([0.0])  # q = prior
    assert posterior.kl_divergence([3.0, 4.0], [0.0, 0.0]) == pytest.approx([12.5])  # |mu|^2 / 2
    split = posterior.loss_split(model, x[0], n_samples=4000)
    # The same encoder on a batch of one vs a batch of many: float32 round-off (oneDNN's kernels differ by batch).
    assert split["kl"] == pytest.approx(expected[0], rel=1e-5)
    assert expected.min() > 0.1  # trained: the posteriors left the prior
    # The model's single-sample KL (log q - log p over the draws) averages to the closed form.
    assert split["kl_sampled"] == pytest.approx(split["kl"], abs=0.1 + 0.05 * split["kl"])


def test_reconstruction_plus_kl_is_the_models_negative_elbo(model, digits):
    x = digits[0][3]
    eps = np.random.default_rng(5).standard_normal((256, 2)).astype("float32")
    split = posterior.loss_split(model, x, eps=eps)
    terms = elbo.image_elbo_terms(model, np.repeat(cdata.binarize(x), len(eps), axis=0), eps=eps)
    # Reconstruction: exactly the model's -log p(x|z) over the same draws (binarised image, Bernoulli decoder).
    assert split["reconstruction"] == pytest.approx(-terms["logpx_z"].mean(), rel=1e-6)
    assert split["kl_sampled"] == pytest.approx((terms["logqz_x"] - terms["logpz"]).mean(), rel=1e-5, abs=1e-5)
    model_elbo = (terms["logpx_z"] + terms["logpz"] - terms["logqz_x"]).mean()  # the model's ELBO, these draws
    assert split["elbo"] == pytest.approx(-(split["reconstruction"] + split["kl"]))
    assert model_elbo == pytest.approx(-(split["reconstruction"] + split["kl_sampled"]), rel=1e-5)
    # And against the page's per-example ELBO (independent draws): the same value up to Monte Carlo noise.
    tf.random.set_seed(0)
    sampled = elbo.per_example_elbo(model, x[None], n_samples=200)[0]
    per_draw = terms["logpx_z"] + terms["logpz"] - terms["logqz_x"]
    standard_error = per_draw.std() * np.sqrt(1 / 200 + 1 / len(eps))
    assert abs(sampled - split["elbo"]) < 4 * standard_error + 0.5
    assert split["beta"] == 1.0 and split["loss"] == pytest.approx(-split["elbo"])
    # With beta, the training loss weighs the KL term.
    model.beta = 3.0
    try:
        weighted = posterior.loss_split(model, x, eps=eps)
    finally:
        model.beta = 1.0
    assert weighted["loss"] == pytest.approx(split["reconstruction"] + 3.0 * split["kl"])


def test_samples_come_from_the_posterior_and_decode_to_images(model, digits):
    mean, logvar = posterior.posterior(model, digits[0][:1])
    z, images = posterior.sample_decodes(model, mean[0], logvar[0], n=8, seed=3)
    assert z.shape == (8, 2) and images.shape == (8, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    z2, images2 = posterior.sample_decodes(model, mean[0], logvar[0], n=8, seed=3)
    np.testing.assert_array_equal(z, z2)  # a seed fixes the draws
    np.testing.assert_allclose(images, images2, atol=1e-6)
    eps = np.random.default_rng(3).standard_normal((8, 2))
    np.testing.assert_allclose(z, mean[0] + eps * np.exp(0.5 * logvar[0]), rtol=1e-5, atol=1e-6)
    many = posterior.draw_latents(model, mean[0], logvar[0], n=4000, seed=1)
    np.testing.assert_allclose(many.std(axis=0), np.exp(0.5 * logvar[0]), rtol=0.06)


def test_posterior_figure_draws_the_mean_both_ellipses_and_the_samples(model, digits):
    x = digits[0]
    mean, logvar = posterior.posterior(model, x)
    z, _ = posterior.sample_decodes(model, mean[0], logvar[0], n=8)
    fig = posterior.posterior_figure(mean, np.arange(8), mean[0], logvar[0], samples=z, extent=(-1.6, 1.6))
    traces = {t.name: t for t in fig.data}
    assert {"1σ", "2σ", "samples", "mean"} <= set(traces)
    one, two = np.asarray(traces["1σ"].x), np.asarray(traces["2σ"].x)
    assert (two.max() - two.min()) == pytest.approx(2 * (one.max() - one.min()))
    assert len(traces["samples"].x) == 8
    assert (traces["mean"].x[0], traces["mean"].y[0]) == pytest.approx(tuple(mean[0]))
    zoomed = posterior.posterior_figure(mean, np.arange(8), mean[0], logvar[0], samples=z, zoom=True)
    lo, hi = zoomed.layout.xaxis.range
    assert lo <= min(one.min(), z[:, 0].min()) and hi >= max(one.max(), z[:, 0].max())
