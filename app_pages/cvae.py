"""CVAE: train the portfolio's convolutional VAE, see its 2-D latent space, move through it, classify from it."""

import numpy as np
import streamlit as st

from core.cvae.latent_task import SPACE as LATENT_SPACE
from core.cvae.task import N_RECONSTRUCTIONS, PRESETS, SPACE
from core.figures import CVAE_TEST_ELBO
from ui.controls import apply_params, param_controls
from ui.digits import canvas_digit, mnist_or_stop, uploaded_digits
from ui.latent_pad import latent_pad
from ui.model_panel import model_panel, require_model
from ui.session import cached, ensure_tf, get_current, get_job, visible_runs
from ui.sweep_panel import sweep_panel
from ui.text import literal
from ui.training_panel import training_panel

KIND = "cvae"
PREVIEW = 5
DEFAULTS = SPACE.defaults()  # the portfolio's settings
SEEN_FOR_DIGITS = 20_000  # images x epochs below which the decoded grid is mostly grey blur

st.set_page_config(page_title="CVAE · NN playground")
st.title("🌀 A convolutional VAE with a 2-D latent space")
st.markdown("A network that squeezes each digit into two numbers and draws digits back from any two numbers. "
            "**Start here:** apply the **Quick** preset in the sidebar and press **Train**; then drag the dot "
            "through the latent space below.")
with st.expander("The maths and the portfolio's network"):
    st.markdown(
        "The encoder maps a binarised digit $x$ to a Gaussian $q(z|x) = \\mathcal N(\\mu(x), \\sigma^2(x))$ over a "
        "2-D code $z$; the decoder maps $z$ back to 784 pixel probabilities $p(x|z)$. Training maximises the "
        "evidence lower bound, estimated with a single sample $z = \\mu + \\sigma\\,\\varepsilon$, "
        "$\\varepsilon \\sim \\mathcal N(0, I)$ (the reparameterisation trick, so gradients flow through the "
        "sampling):"
    )
    st.latex(r"\log p(x) \ge \mathrm{ELBO} = \mathbb E_{q(z|x)}\big[\log p(x|z) + \log p(z) - \log q(z|x)\big]")
    st.markdown(
        "with $\\log p(x|z)$ the negative sigmoid cross-entropy summed over pixels and $p(z) = \\mathcal N(0, I)$. "
        "The portfolio (encoder Conv 64/128 stride 2 → Dense 4; decoder Dense 7·7·32 → ConvTranspose 128/64 → 1; "
        f"Adam {DEFAULTS['learning_rate']:g}, batch {DEFAULTS['batch_size']}) reaches a test ELBO of "
        f"−{-CVAE_TEST_ELBO:.1f} here after {DEFAULTS['epochs']} epochs. **β** weighs the KL part "
        "$\\log p(z) - \\log q(z|x)$ (β = 1 is the ELBO)."
    )

st.sidebar.header("Hyper-parameters")
st.sidebar.selectbox("Preset", list(PRESETS), key="cvae.preset")
st.sidebar.button("Apply preset", key="cvae.apply_preset",
                  on_click=lambda: apply_params(KIND, PRESETS[st.session_state["cvae.preset"]]))
params = param_controls(SPACE, KIND)

ensure_tf()
from core.cvae import data as cvae_data
from core.cvae import elbo as cvae_elbo
from core.cvae import latent
from core.plots import image_grid, latent_scatter, probability_figure, upscale
from ui.posterior_view import posterior_section

data = mnist_or_stop(KIND, params)
st.info(f"**Data:** {data.description} (binarised: pixel/255 > 0.5)", icon="🗂️")


def _reconstructions(snap: dict) -> None:
    extras = snap.get("extras") or []
    if not extras:
        return
    originals = cvae_data.binarize(data.x_test[:N_RECONSTRUCTIONS])[..., 0]
    rows = [originals] + [np.asarray(e["reconstructions"], dtype="float32") for e in extras[-4:]]
    epochs = ", ".join(str(e["epoch"]) for e in extras[-4:])
    st.image(upscale(image_grid(np.concatenate(rows), ncols=N_RECONSTRUCTIONS, fill=0.5), 2), clamp=True,
             caption=f"top row: {N_RECONSTRUCTIONS} test digits; below: their reconstructions after epochs {epochs}")


training_panel(KIND, params, extra=_reconstructions)
sweep_panel(KIND, params)
current = require_model(KIND, "Train a model (apply the **Quick** preset first: the progress line then says how "
                               "long it needs) or load a saved one below.")

model = current.model
latent_dim = int(current.params.get("latent_dim", 2))
x_test, y_test = data.x_test, data.y_test
means, logvars = cached(KIND, "encodings", current.key, lambda: latent.encode_means(model, x_test))
ELBO_SAMPLES = 4  # draws of z per image: a steadier per-image ELBO than the training's single sample
test_elbo = cached(KIND, "test_elbo", current.key,
                   lambda: cvae_elbo.per_example_elbo(model, x_test[:2000], n_samples=ELBO_SAMPLES))

st.header("The latent space")
st.caption(f"Model: {current.label} ({current.status}); mean test ELBO over 2,000 digits: {test_elbo.mean():.1f}")
if latent_dim > 2:
    d1, d2 = st.columns(2)
    dim_x = d1.selectbox("Horizontal latent dimension", range(latent_dim), index=0, key="cvae.dimx")
    dim_y = d2.selectbox("Vertical latent dimension", range(latent_dim), index=1, key="cvae.dimy")
    st.info(f"The latent space has {latent_dim} dimensions: the 2-D views show dimensions {dim_x} and {dim_y}, "
            "the others held at 0.")
else:
    dim_x, dim_y = 0, min(1, latent_dim - 1)
dims = (dim_x, dim_y)

n = st.slider("Grid size n (n × n decoded digits over the normal quantiles 0.05 … 0.95)", 5, 30, 15, key="cvae.n",
              persist_state="session")
grid = cached(KIND, f"grid-{n}-{dims}", current.key, lambda: latent.latent_grid(model, n=n, dims=dims))
lo, hi = latent.quantile_range()
left, right = st.columns(2)
left.image(grid, caption=f"decoded digits on a {n}×{n} grid, z from {lo:.2f} to {hi:.2f} in both axes", clamp=True)
seen = int(current.params.get("train_size", DEFAULTS["train_size"])) * int(current.params.get("epochs", DEFAULTS["epochs"]))
if seen < SEEN_FOR_DIGITS:
    left.caption(f"This model has seen only {seen:,} images in all: a decoder this young draws about the average "
                 "pixel (grey blurs) rather than digits. The Quick preset shows it 30,000.")
with right:
    fig = latent_scatter(means[:3000], y_test[:3000], dims, extent=(lo, hi))
    fig.update_layout(title="test encodings (means), by digit")
    st.plotly_chart(fig, key="cvae.scatter")
    st.caption("The dotted square is the grid's extent on the left.")


@st.fragment
def move_through() -> None:
    """Only this part reruns while the dot is dragged; the pad decodes the dot itself, in the browser."""
    st.header("Move through the latent space")
    st.markdown("Click or drag on the pad: the dot's position is decoded at once, in your browser, by the model's "
                "decoder (its weights come with the pad). Dots are test digits.")
    sub = slice(0, 1500)
    x, y = latent_pad(f"cvae.pad.{current.key}.{dims}", grid, means[sub][:, [dim_x, dim_y]], y_test[sub], lo, hi,
                      decoder=lambda: latent.decoder_net(model, dims), drawing_key=f"cvae.pad.{current.key}.{dims}.{n}")
    near = np.argsort(((means[:, [dim_x, dim_y]] - [x, y]) ** 2).sum(1))[:20]
    counts = np.bincount(y_test[near], minlength=10)
    st.markdown(f"At z = ({x:.2f}, {y:.2f}) the nearest 20 test encodings are mostly **{counts.argmax()}** "
                f"({counts.max()} of 20).")


move_through()

st.header("Interpolate between two digits")
a, b, c = st.columns(3)
i0 = a.number_input("First test digit (index)", 0, len(x_test) - 1, 0, key="cvae.i0")
i1 = b.number_input("Second test digit (index)", 0, len(x_test) - 1, 1, key="cvae.i1")
steps = c.slider("Steps", 3, 16, 10, key="cvae.steps")
strip = latent.interpolate(model, means[i0], means[i1], steps=steps)
ends = cvae_data.binarize(x_test[[i0, i1]])[..., 0]
strip = np.concatenate([ends[:1], strip, ends[1:]])  # the two test digits themselves at the ends
st.image(upscale(image_grid(strip, ncols=steps + 2, fill=1.0), 3),
         caption=f"first and last: test digits {i0} (a {y_test[i0]}) and {i1} (a {y_test[i1]}); between them: the "
                 f"decoded points on the straight line between their encodings' means", clamp=True)

st.header("A classifier on the latent codes")
st.markdown("The portfolio's dense network (128 → 128 → 10) reads only each digit's encoder mean and "
            "log-variance. Beside it, a k-nearest-neighbour baseline on the same features.")
if current.run_id is None:
    st.info("The latent classifier reads a saved CVAE run; this model was uploaded. Train or load a saved run.")
else:
    latent_params = param_controls(LATENT_SPACE, "latent", container=st.expander("Classifier settings"),
                                   skip=("cvae_run",))
    latent_params["cvae_run"] = current.run_id
    training_panel("latent", latent_params, what="the classifier")
    classifier = get_current("latent")
    if classifier is not None and classifier.params.get("cvae_run") == current.run_id:
        m1, m2 = st.columns(2)
        m1.metric("Classifier test accuracy", f"{classifier.metrics.get('test_accuracy', float('nan')):.1%}")
        m2.metric("k-NN baseline", f"{classifier.metrics.get('knn_accuracy', float('nan')):.1%}")


@st.fragment
def your_digit() -> None:
    st.header("Your digit in the latent space")
    left, right = st.columns([1, 2])
    with left:
        digits = [canvas_digit("cvae"), *uploaded_digits("cvae")]
    with right:
        for digit in digits:
            if digit.error:
                st.info(f"{literal(digit.name)}: {literal(digit.error, 400)}")
                continue
            x = (digit.image * 255).astype("uint8")[None]
            mean, _ = latent.encode_means(model, x)
            elbo = float(cvae_elbo.per_example_elbo(model, x, n_samples=ELBO_SAMPLES)[0])
            recon = latent.reconstruct(model, cvae_data.binarize(x))[0]
            cols = st.columns(3)
            cols[0].image(upscale(digit.image, 4), caption=f"{digit.name} (28×28)", clamp=True)
            cols[1].image(upscale(recon, 4), caption="reconstruction", clamp=True)
            position = latent_scatter(means[:1500], y_test[:1500], dims, extent=(lo, hi), height=320,
                                      marks={digit.name: (float(mean[0, dim_x]), float(mean[0, dim_y]))})
            st.plotly_chart(position, key=f"cvae.where.{digit.name}")
            pct = float((test_elbo < elbo).mean())
            cols[2].markdown(f"z = ({mean[0, dim_x]:.2f}, {mean[0, dim_y]:.2f})  \nELBO {elbo:.1f}: higher than "
                             f"{pct:.0%} of test digits")
            if pct < 0.01:
                st.warning("Far outside what the model knows: its ELBO is lower than 99% of the test digits' — "
                           "this does not look like an MNIST digit to it.")
            classifier = get_current("latent")
            if classifier is not None and classifier.params.get("cvae_run") == current.run_id:
                feats = latent.latent_features(model, x)
                probs = np.asarray(classifier.model(feats, training=False))[0]
                figure = probability_figure(probs, range(10))
                figure.update_layout(title="the latent classifier's reading (from z's mean and log-variance)")
                st.plotly_chart(figure, key=f"cvae.cls.{digit.name}")
    posterior_section(current, [d for d in digits if not d.error], x_test, y_test, means, dims, (lo, hi))


your_digit()
model_panel(KIND)
if get_job("latent") is not None or visible_runs("latent"):
    model_panel("latent", what="latent classifiers")
