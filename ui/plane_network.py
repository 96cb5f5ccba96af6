"""The Playground page's network, opened up as TensorFlow Playground draws it: every neuron a small picture of its
output over the plane, the weights as lines, and training by hand (One step / Ten steps / Reset) on a model of its
own, apart from the Train button's job. The stepping part is a fragment: a click reruns only it.
"""

from __future__ import annotations

import time

import streamlit as st

from core.iris.network_figure import network_svg, step_loss_svg
from core.iris.neurons import weight_diagram
from core.plane.data import FEATURES
from core.plane.figures import boundary_svg
from core.plane.neurons import make_stepper, neuron_maps, stepper_key
from ui.session import ensure_tf
from ui.stepping import session_stepper, step_buttons, step_heading

STEPPER = "plane.net.stepper"


def _stepper(params: dict):
    """This session's stepping model for these settings (a new one, from the seed's start, when they change)."""
    return session_stepper(STEPPER, stepper_key(params), lambda: make_stepper(params))


def _step_panel(params: dict) -> None:
    started = time.perf_counter()
    try:
        stepper = _stepper(params)
    except ValueError as err:
        st.warning(f"Nothing to step through yet: {err}.")
        return
    step_buttons(stepper, "plane", [1, 1, 1.4, 2])
    maps = neuron_maps(stepper.model, stepper.names, probe=stepper.probe)
    labels = [FEATURES[name][0] for name in stepper.names]
    step_heading(stepper)
    left, right = st.columns([3, 1.3])
    left.image(network_svg(maps, weight_diagram(stepper.model), labels, ["p(blue)"]), width="stretch")
    split = stepper.split
    right.image(boundary_svg(stepper.output_grid(), [(split.xy_train, split.y_train, "white")], size=300, title="output, training points"),
                width="stretch")
    st.caption("Each square: one neuron's output over the plane (x₁ across, x₂ up, both from −6 to 6); blue positive, "
               "orange negative, white 0, each square on its own scale (the output: p(blue) − ½, white on the "
               "boundary). Lines: the weights, wider for a larger size, blue positive, orange negative. "
               f"Computed in {1000 * (time.perf_counter() - started):.0f} ms.")
    st.image(step_loss_svg(stepper.losses), width="stretch")


def network_section(params: dict) -> None:
    """The section, drawn with the page's settings; TensorFlow loads only once it is opened."""
    st.header("Inside the network, one step at a time")
    st.markdown("Every neuron is a small picture of its output over the whole plane, every weight a line. Train it by "
                f"hand, one batch of {params['batch_size']} points per click, and watch the pictures change. This model "
                "is its own, apart from the **Train** button's.")
    if not st.toggle("Open up the network", key="plane.net.open", persist_state="session"):
        return
    ensure_tf()
    st.fragment(_step_panel)(params)
