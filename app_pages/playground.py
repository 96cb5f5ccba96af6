"""Playground: a network learning to colour a plane, live, on TensorFlow Playground's data sets or points drawn by hand."""

import streamlit as st

from core.plane.data import LIMIT
from core.plane.task import SPACE
from ui.controls import param_controls, widget_key
from ui.model_panel import model_panel
from ui.plane_draw import draw_section, live_boundary
from ui.plane_network import network_section
from ui.session import get_current
from ui.sweep_panel import sweep_panel
from ui.training_panel import training_panel

KIND = "plane"
LIVE_REFRESH = 0.25  # seconds between redraws of the live boundary (new pictures reach the server every 0.25 s)

st.set_page_config(page_title="Playground · NN playground")
st.title("🎛️ Playground: a network learns a plane")
st.markdown("Points of two colours on a plane; a small network learns which colour belongs where. Pick a data set "
            "(or draw your own below), press **Train**, and watch the boundary bend while it learns.")
with st.expander("The maths: features, network, loss and penalties"):
    st.markdown(f"Each point $(x_1, x_2)$ of the square $[-{LIMIT:g}, {LIMIT:g}]^2$ enters the network as the "
                "**features** switched on in the sidebar, a subset of")
    st.latex(r"x_1,\quad x_2,\quad x_1^2,\quad x_2^2,\quad x_1 x_2,\quad \sin x_1,\quad \sin x_2 .")
    st.markdown("Hidden layers compute $\\mathbf{h} = \\varphi(W\\mathbf{h}_{\\text{prev}} + \\mathbf{b})$; the output "
                "is the probability that the point is blue, $p = \\sigma(\\mathbf{w}^\\top \\mathbf{h} + b)$ with "
                "$\\sigma(z) = 1/(1 + e^{-z})$. The boundary is the curve $p = \\tfrac12$. Training lowers the binary "
                "cross-entropy plus the weight penalties on every kernel (not the biases):")
    st.latex(r"L = -\big[y \log p + (1 - y) \log (1 - p)\big] + \lambda_1 \sum |w| + \lambda_2 \sum w^2 .")
    st.markdown("L1 pulls every weight towards 0 by the same amount (small ones end at exactly 0: whole inputs drop "
                "out); L2 in proportion to the weight, so they stay small. With only $x_1, x_2$ the first layer draws "
                "straight lines; more layers bend them. A circle is one line away with $x_1^2$ and $x_2^2$; XOR with "
                "$x_1 x_2$.")

st.sidebar.header("Settings")
params = param_controls(SPACE, KIND)


def _resize(name: str, delta: int) -> None:
    key, p = widget_key(KIND, name), SPACE[name]
    st.session_state[key] = int(min(max(st.session_state.get(key, p.default) + delta, p.min), p.max))


cols = st.columns([1.2, 0.5, 0.5, 1.2, 0.5, 0.5, 2])
for i, (name, what) in enumerate((("hidden_layers", "hidden layers"), ("units", "neurons per layer"))):
    cols[3 * i].markdown(f"**{params[name]}** {what}")
    cols[3 * i + 1].button("−", key=f"plane.less.{name}", on_click=_resize, args=(name, -1), width="stretch",
                           disabled=params[name] <= SPACE[name].min, help=f"One {what.split()[0].rstrip('s')} less")
    cols[3 * i + 2].button("+", key=f"plane.more.{name}", on_click=_resize, args=(name, 1), width="stretch",
                           disabled=params[name] >= SPACE[name].max, help=f"One {what.split()[0].rstrip('s')} more")

# One fragment redraws the curves and the boundary: two fragments on timers kept interrupting each other's runs.
training_panel(KIND, params, extra=live_boundary, refresh=LIVE_REFRESH)

current = get_current(KIND)
if current is not None:
    metrics = current.metrics or {}
    st.header("What it learned")
    st.caption(f"Model: {current.label} ({current.status})")
    m1, m2, m3 = st.columns(3)
    for col, name, label in ((m1, "test_accuracy", "Test accuracy"), (m2, "train_accuracy", "Training accuracy")):
        if isinstance(metrics.get(name), float):
            col.metric(label, f"{metrics[name]:.1%}")
    if isinstance(metrics.get("test_loss"), float):
        m3.metric("Test loss", f"{metrics['test_loss']:.3f}", help="Binary cross-entropy on the test points.")

draw_section(params)
network_section(params)
sweep_panel(KIND, params)
model_panel(KIND)
