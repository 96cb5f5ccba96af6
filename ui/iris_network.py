"""The Iris page's "inside the network" section: every neuron as a small map, the weights as lines, and training by
hand, one batch per click, on a model of its own (not the background job's), as TensorFlow Playground does.

The stepping part is a fragment: "One step" reruns only it (train one batch, recompute the maps, redraw).
"""

from __future__ import annotations

import time

import streamlit as st

from core.iris.data import FEATURES, SPECIES, load_split
from core.iris.network_figure import network_svg, step_loss_svg
from core.iris.neurons import make_stepper, neuron_maps, stepper_key, weight_diagram
from ui.session import ensure_tf
from ui.stepping import session_stepper, step_buttons, step_heading

KIND = "iris"
STEPPER = "iris.net.stepper"

EQUATIONS = (
    ("Plain SGD (10 × the learning rate, see its help)", r"w \leftarrow w - 10\,\eta\, g"),
    ("SGD with momentum 0.9", r"v \leftarrow 0.9\, v - \eta\, g,\qquad w \leftarrow w + v"),
    ("RMSprop", r"s \leftarrow 0.9\, s + 0.1\, g^2,\qquad w \leftarrow w - \eta\, \frac{g}{\sqrt{s} + \epsilon}"),
    ("Adam (the portfolio's)", r"m \leftarrow 0.9\, m + 0.1\, g,\quad v \leftarrow 0.999\, v + 0.001\, g^2,\quad "
                               r"w \leftarrow w - \eta\, \frac{m / (1 - 0.9^t)}{\sqrt{v / (1 - 0.999^t)} + \epsilon}"),
    ("L1 and L2 penalties on the kernels (not the biases), added to the loss",
     r"L = -\log \hat p_y + \lambda_1 \sum |w| + \lambda_2 \sum w^2,\qquad "
     r"\frac{\partial L}{\partial w} = g_{\mathrm{data}} + \lambda_1\, \mathrm{sign}(w) + 2 \lambda_2\, w"),
)


def _equations() -> None:
    with st.expander("The update rules and the weight penalties"):
        st.markdown(r"$g = \partial L / \partial w$ is the gradient of the batch's loss, $\eta$ the learning rate, "
                    r"$t$ the step, $\epsilon = 10^{-7}$; every weight follows its own copy of the rule.")
        for title, formula in EQUATIONS:
            st.markdown(f"**{title}**")
            st.latex(formula)
        st.markdown("L1 pulls every weight towards 0 by the same amount (small ones end at exactly 0); L2 by an amount "
                    "proportional to the weight (weight decay), so the weights stay small but rarely vanish.")


def _stepper(params: dict):
    """This session's stepping model for these settings (a new one, from the seed's start, when they change)."""
    def make():
        split = load_split(params["test_fraction"])
        return make_stepper(params, split.x_train, split.y_train)
    return session_stepper(STEPPER, stepper_key(params), make)


def _step_panel(params: dict) -> None:
    """Buttons, network diagram and loss-per-step curve; a click reruns only this."""
    started = time.perf_counter()
    stepper = _stepper(params)
    fa, fb = step_buttons(stepper, KIND, [1, 1, 1.4, 1.6, 1.6])
    fx = fa.selectbox("Map x", range(4), index=2, format_func=lambda i: FEATURES[i], key="iris.net.fx",
                      persist_state="session")
    fy = fb.selectbox("Map y", range(4), index=3, format_func=lambda i: FEATURES[i], key="iris.net.fy",
                      persist_state="session")
    if fx == fy:
        st.warning("Choose two different features for the maps.")
        return
    maps = neuron_maps(stepper.model, stepper.x, (fx, fy), probe=stepper.probe)
    means = stepper.x.mean(axis=0)
    inputs = [f.replace(" (cm)", "") + ("" if i in (fx, fy) else f" = {means[i]:.2f} (mean)") for i, f in enumerate(FEATURES)]
    picture = network_svg(maps, weight_diagram(stepper.model), inputs, SPECIES)
    step_heading(stepper)
    st.image(picture, width="stretch")
    st.caption(f"Each square: one neuron's value over {FEATURES[fx]} (across) and {FEATURES[fy]} (up), the other two "
               "measurements at their training mean; blue positive, orange negative, white 0, each square on its own "
               "scale. Lines: the weights, wider for a larger size, blue positive, orange negative. "
               f"Computed in {1000 * (time.perf_counter() - started):.0f} ms.")
    st.image(step_loss_svg(stepper.losses), width="stretch")


def network_section(params: dict) -> None:
    """The section, drawn with the page's (sidebar) hyper-parameters; TensorFlow loads only once it is opened."""
    st.header("Inside the network, one step at a time")
    st.markdown("Open the network up as TensorFlow Playground draws it: every neuron is a small picture of its "
                "activation over two measurements, every weight a line. Then train it by hand, one batch of "
                f"{params['batch_size']} flowers per click, with the optimizer and penalties set in the sidebar, and "
                "watch the pictures change. This model is its own, apart from the **Train** button's.")
    _equations()
    if not st.toggle("Open up the network", key="iris.net.open", persist_state="session"):
        return
    ensure_tf()
    st.fragment(_step_panel)(params)
