"""The VAE's uncertainty about one digit (CVAE page): its posterior on the latent map, samples, the loss split, and
the same digit under a saved run with another β.

Called inside the page's ``your_digit`` fragment, so drawing, picking a test digit or resampling reruns only it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.cvae import posterior as post
from core.model_files import ModelLoadError
from core.plots import image_grid, upscale
from core.store import RunNotFound
from ui.session import cached, load_run_model, saved_runs
from ui.text import literal

KIND = "cvae"
BACKGROUND = 1500  # test encodings drawn behind the posterior


def _explain() -> None:
    st.markdown(
        "The encoder does not map a digit to one point: it returns a Gaussian over the code $z$, a mean "
        "$\\mu$ and a log-variance $\\log\\sigma^2$ per dimension. Its density is constant on axis-aligned "
        "ellipses around $\\mu$ with semi-axes $k\\sigma_1, k\\sigma_2$; the $k\\sigma$ ellipse holds "
        "$1 - e^{-k^2/2}$ of the mass: 39% for 1σ, 86% for 2σ. Decoding draws from it shows what the model "
        "is unsure about.")
    st.latex(r"q(z|x) = \mathcal N\big(\mu(x),\ \mathrm{diag}\,\sigma^2(x)\big), \qquad "
             r"\sigma = e^{\frac12 \log\sigma^2}")
    st.markdown("The negative ELBO splits into how badly $z$ explains the pixels and how far $q$ is from the prior:")
    st.latex(r"-\mathrm{ELBO}(x) = \underbrace{\mathbb E_{q(z|x)}\big[-\log p(x|z)\big]}_{\text{reconstruction}}"
             r" + \underbrace{\tfrac12 \textstyle\sum_i \big(\mu_i^2 + \sigma_i^2 - 1 - \log\sigma_i^2\big)}"
             r"_{\mathrm{KL}(q(z|x)\,\|\,\mathcal N(0, I))}")
    st.markdown("with $-\\log p(x|z)$ the sigmoid cross-entropy of the binarised image summed over its 784 pixels "
                "(Bernoulli pixels). Training minimises reconstruction $+\\ \\beta\\cdot$KL: a larger β pulls "
                "every posterior towards $\\mathcal N(0, I)$ (wider ellipses, a lower KL, blurrier digits).")


def _choose_digit(digits, x_test, y_test) -> tuple[str, np.ndarray]:
    """The digit to look at: the visitor's (drawn or uploaded, as 0..255) or a test digit."""
    left, right = st.columns(2)
    source = left.radio("Digit", ["your digit", "a test digit"], horizontal=True, key="cvae.post.source")
    if source == "your digit" and digits:
        chosen = digits[0]
        if len(digits) > 1:
            names = [d.name for d in digits]
            pick = right.selectbox("Which one", range(len(digits)), format_func=lambda i: names[i],
                                   key=f"cvae.post.pick.{len(digits)}")
            chosen = digits[pick]
        return chosen.name, (chosen.image * 255).astype("uint8")
    if source == "your digit":
        right.caption("Nothing drawn or uploaded yet: showing a test digit. Draw one on the canvas above.")
    index = int(right.number_input("Test digit (index)", 0, len(x_test) - 1, 0, key="cvae.post.index"))
    return f"test digit {index} (a {int(y_test[index])})", np.asarray(x_test[index])


def _split_text(split: dict) -> str:
    text = (f"−ELBO {-split['elbo']:.1f} = reconstruction {split['reconstruction']:.1f} + KL {split['kl']:.2f} nats "
            f"(KL in closed form; sampled over the same {split['n_samples']} draws: {split['kl_sampled']:.2f})")
    if split["beta"] != 1.0:
        text += f"; with β = {split['beta']:g} training minimises {split['loss']:.1f}"
    return text


def _dims_for(model, dims) -> tuple[int, int]:
    return tuple(dims) if max(dims) < model.latent_dim else (0, min(1, model.latent_dim - 1))


def _view(model, image, name, background, labels, dims, extent, zoom, seed, key, height=420, wide=True) -> dict:
    """One model's posterior of ``image``: the map, the decoded draws, the split. Returns the split."""
    dims = _dims_for(model, dims)
    mean, logvar = post.posterior(model, image[None])
    z, decoded = post.sample_decodes(model, mean[0], logvar[0], n=post.N_SAMPLES, seed=seed)
    split = post.loss_split(model, image, seed=seed)
    fig = post.posterior_figure(background, labels, mean[0], logvar[0], dims, samples=z, extent=extent, zoom=zoom,
                                height=height, name=name)
    fig.update_layout(title=f"q(z|x) of {name}")
    sigma = np.exp(0.5 * logvar[0])
    if wide:
        chart, side = st.columns([3, 2])
    else:
        chart = side = st.container()
    chart.plotly_chart(fig, key=key)
    with side:
        if wide:
            st.image(upscale(np.asarray(image, "float32") / 255.0, 3), caption=name, clamp=True)
        st.image(upscale(image_grid(decoded, ncols=post.N_SAMPLES // 2, fill=1.0), 3 if wide else 2), clamp=True,
                 caption=f"{post.N_SAMPLES} draws z ~ q(z|x) (red crosses), decoded")
        st.caption(f"μ = ({mean[0, dims[0]]:.2f}, {mean[0, dims[1]]:.2f}), "
                   f"σ = ({sigma[dims[0]]:.3f}, {sigma[dims[1]]:.3f})")
        m1, m2, m3 = st.columns(3)
        m1.metric("reconstruction", f"{split['reconstruction']:.1f}", help="E_q[−log p(x|z)], nats")
        m2.metric("KL", f"{split['kl']:.2f}", help="KL(q(z|x) ‖ N(0, I)), closed form, nats")
        m3.metric("−ELBO", f"{-split['elbo']:.1f}", help="reconstruction + KL, nats")
        st.caption(_split_text(split))
    return split


def _compare(current, image, name, x_test, y_test, dims, extent, zoom, seed, current_background) -> None:
    """The same digit under the current model and a saved run with another β, side by side."""
    others = [r for r in saved_runs(KIND) if r.run_id != current.run_id]
    betas = {r.run_id: float(r.record.get("params", {}).get("beta", 1.0)) for r in others}
    mine = float(current.params.get("beta", 1.0))
    st.subheader("How β changes it")
    if not others or all(b == 1.0 for b in [*betas.values(), mine]):
        st.info("Train a second run with another **β** (sidebar; e.g. 4 or 0.2) to compare its posterior of the "
                "same digit here.")
        return
    labels = {run_id: f"β = {b:g} · {run_id}" for run_id, b in betas.items()}
    default = next((i for i, b in enumerate(betas.values()) if b != mine), 0)
    run_id = st.selectbox("Compare with the saved run", list(labels), index=default, format_func=labels.get,
                          key="cvae.post.compare")
    try:
        other = cached(KIND, "posterior.compare", run_id, lambda: load_run_model(KIND, run_id))
    except (ModelLoadError, RunNotFound, OSError, ValueError) as err:
        st.warning(f"Could not load run {literal(run_id)}: {literal(err, 400)}")
        return
    other_background = cached(KIND, "posterior.compare.encodings", run_id,
                              lambda: post.posterior(other, x_test[:BACKGROUND])[0])
    columns = st.columns(2)
    views = ((columns[0], current.model, f"this model · β = {mine:g}", current_background, "current"),
             (columns[1], other, labels[run_id], other_background, run_id))
    splits = []
    for col, model, title, background, key in views:
        with col:
            st.markdown(f"**{literal(title)}**")
            splits.append(_view(model, image, name, background, y_test[:BACKGROUND], dims, extent, zoom, seed,
                                key=f"cvae.post.compare.{key}", height=340, wide=False))
    (a, b), (ta, tb) = splits, (mine, betas[run_id])
    st.caption(f"Same digit: KL {a['kl']:.2f} (β = {ta:g}) vs {b['kl']:.2f} (β = {tb:g}); reconstruction "
               f"{a['reconstruction']:.1f} vs {b['reconstruction']:.1f}. A larger β trades reconstruction for a "
               "posterior closer to the prior.")


def posterior_section(current, digits, x_test, y_test, means, dims, extent) -> None:
    """The section: pick a digit, see q(z|x) on the map with draws from it, the loss split, and the β comparison.

    ``digits``: the visitor's valid digits (``ui.digits.Digit`` with an image); ``means``: the current model's
    test encodings (the map's background); ``dims``: the two latent dimensions shown; ``extent``: the grid's range.
    """
    st.header("The VAE's uncertainty about a digit")
    _explain()
    name, image = _choose_digit(digits, x_test, y_test)
    a, b = st.columns(2)
    zoom = a.toggle("Zoom in on the posterior", key="cvae.post.zoom")
    seed_key = "cvae.post.seed"
    if b.button("Draw new samples", key="cvae.post.resample"):
        st.session_state[seed_key] = st.session_state.get(seed_key, 0) + 1
    seed = st.session_state.get(seed_key, 0)
    background = means[:BACKGROUND]
    _view(current.model, image, name, background, y_test[:BACKGROUND], dims, extent, zoom, seed, key="cvae.post.map")
    _compare(current, image, name, x_test, y_test, dims, extent, zoom, seed, background)
