"""Iris: train the portfolio's feed-forward classifier, look at what it learned, classify a new flower."""

import streamlit as st

from core.iris.data import EXAMPLES, FEATURES, N_FLOWERS, SPECIES
from core.iris.task import SPACE, TASK
from core.tasks import Prepared
from ui.controls import param_controls
from ui.iris_network import network_section
from ui.model_panel import model_panel, require_model
from ui.session import cached, ensure_tf, get_current
from ui.sweep_panel import sweep_panel
from ui.training_panel import training_panel

KIND = "iris"
# Slider ranges of the predict panel: a margin around the 150 flowers' measurements (cm).
FEATURE_RANGES = ((4.0, 8.5), (1.5, 5.0), (0.5, 7.5), (0.0, 3.0))

st.set_page_config(page_title="Iris · NN playground")
st.title("🌸 Iris: a feed-forward classifier")
st.markdown("A small network learns to tell three species of iris apart from four measurements of a flower. "
            "**Start here:** press **Train** (a few seconds), then classify a flower of your own below.")
with st.expander("The maths and the portfolio's setting"):
    d = SPACE.defaults()
    st.markdown(
        "Four measurements of a flower (sepal and petal length and width, in cm) go in; the probabilities of its "
        "three species come out. Hidden layers compute $\\mathbf{h} = \\varphi(W\\mathbf{x} + \\mathbf{b})$, the "
        "output layer $\\hat{\\mathbf{p}} = \\mathrm{softmax}(W\\mathbf{h} + \\mathbf{b})$, and an optimizer lowers "
        "the cross-entropy $L = -\\log \\hat p_y$ (plus any weight penalties). The portfolio's setting (the "
        f"defaults): {d['hidden_layers']} hidden ReLU layers of {d['units']}, Adam {d['learning_rate']:g}, batch "
        f"{d['batch_size']}, {d['epochs']} epochs over the training flowers repeated {d['repeat']} times; "
        f"{d['test_fraction']:.0%} of the {N_FLOWERS} flowers are held out as the test set, which is also the "
        "validation curve."
    )

st.sidebar.header("Hyper-parameters")
params = param_controls(SPACE, KIND)
training_panel(KIND, params)
sweep_panel(KIND, params)
network_section(params)

current = require_model(KIND, "Train a model (or load a saved one below) to see its test accuracy, its decision "
                               "regions and to classify a flower of your own.")

ensure_tf()
import numpy as np

from core.iris.analysis import feature_plane, pca_plane
from core.iris.data import load_split
from core.iris.model import predict_proba
from core.plots import confusion_figure, decision_regions_figure, probability_svg

split = cached(KIND, "split", current.params["test_fraction"], lambda: load_split(current.params["test_fraction"]))
# The task's own evaluation (the figures a run records), on the split this model was trained with.
evaluation = cached(KIND, "evaluation", current.key,
                    lambda: TASK.evaluate(current.model, Prepared(None, None, split.info, vars(split))))
confusion = np.asarray(evaluation["confusion"])
st.header("What it learned")
st.caption(f"Model: {current.label} ({current.status})")
c1, c2, c3 = st.columns(3)
c1.metric("Test accuracy", f"{evaluation['test_accuracy']:.1%}", help=f"{len(split.y_test)} held-out flowers")
c2.metric("Training accuracy", f"{evaluation['train_accuracy']:.1%}", help=f"{len(split.y_train)} training flowers")
c3.metric("Test mistakes", int(len(split.y_test) - confusion.trace()))
if evaluation["test_accuracy"] > evaluation["train_accuracy"]:
    st.caption(f"Higher on the test set than on the training set? No contradiction: the {len(split.y_test)} test "
               f"flowers are few (each is {1 / len(split.y_test):.1%}) and may hold none of the overlapping "
               "versicolor/virginica flowers that the training set has; both figures are the final model's.")

left, right = st.columns([2, 3])
with left:
    st.plotly_chart(confusion_figure(confusion, SPECIES), key="iris.confusion")
PLANES = ("All four measurements (their two main directions)", "Two measurements of your choice")
with right:
    plane = st.radio("Decision regions on", PLANES, horizontal=True, key="iris.plane", persist_state="session")
    predicted = predict_proba(current.model, split.x_test).argmax(1)
    if plane == PLANES[0]:
        regions = cached(KIND, "regions-pca", current.key,
                         lambda: pca_plane(current.model, split.x_train, x_points=split.x_test))
    else:
        fa, fb = st.columns(2)
        fx = fa.selectbox("x feature", range(4), index=2, format_func=lambda i: FEATURES[i], key="iris.fx",
                          persist_state="session")
        fy = fb.selectbox("y feature", range(4), index=3, format_func=lambda i: FEATURES[i], key="iris.fy",
                          persist_state="session")
        regions = None
        if fx == fy:
            st.warning("Choose two different features.")
        else:
            regions = cached(KIND, f"regions-{fx}-{fy}", current.key, lambda: feature_plane(
                current.model, split.x_train, (fx, fy), x_points=split.x_test, feature_names=FEATURES))
    if regions is not None:
        st.plotly_chart(decision_regions_figure(regions, split.y_test, predicted, SPECIES), key="iris.regions")
        st.caption("Dots: the test flowers, coloured by their true species; red rings: the ones the model gets "
                   "wrong. Background: the species the model predicts there, paler where it is less sure"
                   + ("." if plane == PLANES[0] else ", averaged over the two measurements not shown."))


def _set_flower(values) -> None:
    for i, v in enumerate(values):
        st.session_state[f"iris.flower{i}"] = float(v)


@st.fragment
def predict_panel() -> None:
    """Re-runs on its own when a slider moves, so a prediction costs one forward pass, not a page."""
    model = get_current(KIND).model
    st.header("Classify a flower")
    st.write("The portfolio's three example flowers:")
    cols = st.columns(3)
    for col, (name, values) in zip(cols, EXAMPLES.items()):
        col.button(f"{name}: {', '.join(map(str, values))}", key=f"iris.example.{name}", on_click=_set_flower,
                   args=(values,), width="stretch")
    inputs, chart = st.columns([2, 3])
    flower = []
    for i, (feature, (lo, hi)) in enumerate(zip(FEATURES, FEATURE_RANGES)):
        default = EXAMPLES["setosa"][i]
        flower.append(inputs.slider(feature, lo, hi, default, 0.1, key=f"iris.flower{i}", persist_state="session"))
    probs = predict_proba(model, [flower])[0]
    best = int(probs.argmax())
    with chart:
        st.markdown(f"Predicted species: **{SPECIES[best]}** with probability **{probs[best]:.1%}**")
        # an SVG, not a Plotly chart: redrawn at every slider step, where a chart cost ~100 ms more to draw
        st.image(probability_svg(probs, SPECIES), caption="probability of each species", width="stretch")


predict_panel()
model_panel(KIND)
