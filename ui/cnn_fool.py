"""Fool the CNN, on the CNN page beside the saliency view: the fast gradient sign method under an ε slider, a
targeted attack ("make it read as…"), and the test accuracy against ε (the maths: :mod:`core.mnist.attack`).

The slider and what it changes are one ``st.fragment``: moving the slider reruns only it, not the targeted attack,
the curve and the maths below it (each its own fragment or static): a key press to the new reading in chromium took
150 and 138 ms so, against 170 and 184 ms as one fragment of everything (AVX2 machine, alone). Its three pictures are
one ``st.image`` of a list: a rerun sends each element as a message, and four columns of three images were eleven of
them, now five (median key press to the new caption 107-154 ms in eleven runs of the browser test, 121 and 141 ms
for this code, against 151 and 159 ms before, the same machine, alone: the machine's speed varies by as much). The
gradient of the drawing is computed once per drawing and model, so a slider move costs one FGSM step in NumPy and a
forward pass or two.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.mnist.attack import accuracy_vs_epsilon, fgsm_from_gradient, loss_gradient, targeted_attack
from core.mnist.cnn import predict_digits
from core.plots import png_data_uri, upscale
from ui.session import cached, get_current, load_run_model, saved_runs

KIND = "cnn"
PREVIEW = 4  # 28 px shown as 112 px
SHOWN = 168  # px: the slider's three pictures (PREVIEW's 112 px PNGs, drawn larger), side by side in the bordered box
CURVE_DIGITS = 500

MATHS = r"""
With $L(x, y)$ the cross-entropy of the network's reading of image $x$ as digit $y$ (for a drawing, $y$ is its
own reading: there is no other label), the **fast gradient sign method** takes one step up the loss, as large as
allowed in every pixel at once:

$$x' = \operatorname{clip}_{[0,1]}\big(x + \varepsilon\,\operatorname{sign}(\nabla_x L(x, y))\big).$$

No pixel moves by more than $\varepsilon$, yet to first order the loss grows by
$\varepsilon\,\lVert\nabla_x L\rVert_1$: a sum over all 784 pixels, so many tiny changes add up to a large one.

The **targeted attack** walks *down* the loss of a chosen digit $t$ in small steps until the network reads $t$:

$$x_{k+1} = \operatorname{clip}_{[0,1]}\big(x_k - \alpha\,\operatorname{sign}(\nabla_x L(x_k, t))\big),
\quad \alpha = 0.01.$$

The ink it moved is measured by the mean $\frac{1}{784}\sum_i |x'_i - x_i|$. Gradients are taken on the logits,
not the softmax output, whose probability rounds to 1 for a confident reading and leaves no gradient.
"""


def _reading(probs) -> str:
    digit = int(np.argmax(probs))
    return f"{digit} ({float(probs[digit]):.0%})"


def _image_key(current, image) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(image, dtype="float32").tobytes()).hexdigest()[:16]
    return f"{current.key}-{digest}"


def opposite_run(current):
    """A saved CNN run (not the current one) with the other inversion-augmentation setting, or None."""
    mine = bool(current.params.get("augment_invert"))
    for run in saved_runs(KIND):
        if run.run_id != current.run_id and bool(run.record["params"].get("augment_invert")) != mine:
            return run
    return None


def _gradient(model, image):
    probs = predict_digits(model, image)[0]
    grad, _ = loss_gradient(model, image, [int(probs.argmax())])
    return grad[0], probs


def _noise_picture(delta, scale: float) -> np.ndarray:
    """x' - x as grey 0.5 for no change, white for +scale, black for -scale."""
    return np.clip(0.5 + delta / (2 * max(scale, 1e-6)), 0.0, 1.0)


def fool_the_cnn(image, test_x, test_y) -> None:
    """The toggle and, while it is on, the fragment (the drawing's 28x28 image; MNIST test images for the curve)."""
    if not st.toggle("Fool the CNN: adversarial examples", key="cnn.fool", persist_state="session",
                     help="Recomputed for every stroke while shown."):
        return
    with st.container(border=True):
        _fool(image)
        _targeted(image)
        _curve(test_x, test_y)
        with st.expander("The maths of fooling a network"):
            st.markdown(MATHS)


@st.fragment
def _fool(image) -> None:
    """The ε slider and what it changes: a move reruns this fragment alone, not the views below it."""
    current = get_current(KIND)
    model = current.model
    key = _image_key(current, image)
    grad, probs = cached(KIND, "fool.gradient", key, lambda: _gradient(model, image))
    st.markdown("**Fool the CNN.** Move every pixel by at most ε in the direction that most raises the "
                "network's loss for its own reading (the fast gradient sign method).")
    eps = st.slider("ε: how far each pixel may move", 0.0, 0.3, 0.05, 0.01, key="cnn.fool_eps")
    adv = fgsm_from_gradient(image, grad, eps)
    adv_probs = predict_digits(model, adv)[0]
    # One element for the three pictures (see the module doc); inline PNGs, redrawn on every move of the slider (see
    # core.plots.png_data_uri).
    st.image([png_data_uri(upscale(picture, PREVIEW)) for picture in (image, _noise_picture(adv - image, eps), adv)],
             width=SHOWN, caption=[f"your digit: reads {_reading(probs)}",
                                   f"the noise x′ − x, ×{1 / (2 * max(eps, 0.005)):.0f} (grey: none)",
                                   f"perturbed, ε = {eps:.2f}: reads {_reading(adv_probs)}"])
    other = cached(KIND, "fool.opposite", key, lambda: opposite_run(current))  # per drawing, not per move
    if other is not None:
        other_model = cached(KIND, f"compare-model-{other.run_id}", other.run_id,
                             lambda: load_run_model(KIND, other.run_id))
        aug = "with" if other.record["params"].get("augment_invert") else "without"
        other_probs = predict_digits(other_model, np.stack([image, adv]))
        st.markdown(f"**{other.run_id}** ({aug} the inversion augmentation) reads your digit as "
                    f"{_reading(other_probs[0])} and the perturbed one as {_reading(other_probs[1])}.")
    else:
        st.caption("Train a second model with the inversion augmentation toggled to see here whether "
                   "the same perturbed image fools it too.")
    before, after = int(probs.argmax()), int(adv_probs.argmax())
    st.caption(f"At ε = {eps:.2f} it reads {after} instead of {before}: fooled." if after != before else
               f"At ε = {eps:.2f} it still reads {before}; raise ε.")


@st.fragment
def _targeted(image) -> None:
    current = get_current(KIND)
    model, key = current.model, _image_key(current, image)
    left, mid, right = st.columns([2, 1, 1])
    target = left.selectbox("Make it read as…", list(range(10)), index=None, placeholder="choose a digit",
                            key="cnn.fool_target")
    if target is None:
        return
    with st.spinner(f"Steering it towards a {target}…"):
        result = cached(KIND, "fool.targeted", (key, target), lambda: targeted_attack(model, image, target))
    mid.image(upscale(result.image, PREVIEW), clamp=True,
              caption=f"after {result.steps} steps: reads {_reading(result.probabilities)}")
    right.image(upscale(_noise_picture(result.image - image, max(result.linf, 0.01)), PREVIEW), clamp=True,
                caption="what changed (grey: nothing)")
    outcome = "reads it as" if result.reached else "did not reach"
    left.markdown(f"It {outcome} **{target}** after {result.steps} steps of α = 0.01. Ink changed: mean "
                  f"|Δx| = {result.l1_mean:.3f} per pixel (at most {result.linf:.2f} in any pixel).")


@st.fragment
def _curve(test_x, test_y) -> None:
    current = get_current(KIND)
    model = current.model

    def compute():
        with st.spinner(f"Attacking {CURVE_DIGITS} test digits at each ε…"):
            x = np.asarray(test_x[:CURVE_DIGITS], dtype="float32") / 255.0
            return accuracy_vs_epsilon(model, x, test_y[:CURVE_DIGITS])

    known = st.session_state.get("derived", {}).get(KIND, {}).get("fool.curve", (None,))[0] == current.key
    if not known and not st.button(f"Test accuracy against ε ({CURVE_DIGITS} test digits)", key="cnn.fool_curve"):
        return
    rows = cached(KIND, "fool.curve", current.key, compute)
    st.line_chart({"ε": [r["epsilon"] for r in rows], "test accuracy": [r["accuracy"] for r in rows]},
                  x="ε", y="test accuracy", height=220)
    st.caption(f"Accuracy on {CURVE_DIGITS} MNIST test digits, each attacked with FGSM at that ε: "
               + ", ".join(f"ε {r['epsilon']:.2f}: {r['accuracy']:.0%}" for r in rows) + ".")
