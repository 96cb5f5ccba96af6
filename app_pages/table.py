"""Your table: any CSV as people export it, trained and explained like Iris."""

import numpy as np
import streamlit as st

from core.plots import confusion_figure, decision_regions_figure
from core.store import RunNotFound
from core.tabular.baselines import BASELINES
from core.tabular.data import prepare_table
from core.tabular.figures import baseline_figure, importance_figure
from core.tabular.model import predict_proba
from core.tabular.reading import TableError, read_table
from core.tabular.regions import column_plane, pca_plane
from core.tabular.task import SPACE, run_table
from ui.controls import param_controls
from ui.model_panel import model_panel, require_model
from ui.session import cached, ensure_tf, owner_id, store
from ui.sweep_panel import sweep_panel
from ui.table_row import predict_form
from ui.table_setup import column_choices, table_source
from ui.text import literal
from ui.training_panel import training_panel

KIND = "tabular"

st.set_page_config(page_title="Your table · NN playground")
st.title("📋 Your table: any CSV, trained and explained like Iris")
st.markdown("Bring the table from your course or your job: choose the column to predict, train the same kind of "
            "network as on the Iris page, and see whether it beats two simpler models on the same rows.")
with st.expander("The maths: from a table to a trained network"):
    st.markdown(
        "**Numbers** are standardised with the training rows' mean and standard deviation only, so nothing of the "
        "test rows leaks into training:")
    st.latex(r"z = \frac{x - \mu_{\text{train}}}{\sigma_{\text{train}}}")
    st.markdown(
        "**Text columns** with a few values are one-hot encoded: one input per value seen in training, 1 for the "
        "row's value and 0 for the others. **Yes/no** columns become 1/0. **Identifiers** (a different value on "
        "every row) are dropped: they say nothing about a new row. Empty cells are filled with the training median "
        "(numbers) or the most frequent value (text). The rows are split, **stratified** by class and with the "
        "seed, into training, validation (the validation curve) and test (the final figures).")
    st.markdown("The network is the Iris page's: hidden layers $\\mathbf{h} = \\varphi(W\\mathbf{x} + \\mathbf{b})$ "
                "and a softmax over the classes, trained on the cross-entropy plus the weight penalties:")
    st.latex(r"L = -\frac{1}{B}\sum_{i} \log \hat p_{y_i}(\mathbf{x}_i) + \lambda_1 \sum |w| + \lambda_2 \sum w^2")
    st.markdown("**Permutation importance** of a column $j$: how much the test accuracy drops when that column's "
                "values are shuffled across the test rows (mean of 5 shuffles):")
    st.latex(r"I_j = \mathrm{acc}(X) - \overline{\mathrm{acc}(X \text{ with column } j \text{ shuffled})}")



def _check(table, values: dict) -> tuple[str | None, list[str]]:
    """What stops a training on this table with these settings (None: nothing), and what preparing it noticed."""
    try:
        return None, prepare_table(table, values).notices
    except TableError as err:
        return str(err), []


st.sidebar.header("Hyper-parameters")
params = param_controls(SPACE, KIND, skip=("label", "drop"))
source = table_source()
if source is not None:
    table, path = source
    label, drops = column_choices(table)
    params = {**params, "csv": path, "label": label, "drop": ",".join(drops)}
    check_key = (path, label, tuple(drops), params["test_fraction"], params["validation_fraction"], params["seed"])
    problem, notices = cached(KIND, "check", check_key, lambda: _check(table, params))
    if problem:
        st.error(literal(problem, limit=400))
    elif [n for n in notices if n not in table.notices]:
        st.caption(literal("; ".join(n for n in notices if n not in table.notices), limit=600))
else:
    st.info("Upload a CSV file, or try one of the examples, to choose what to predict.")


training_panel(KIND, params)
sweep_panel(KIND, params)

current = require_model(KIND, "Train a network on your table (or load a saved one below) to see its test accuracy "
                              "beside the baselines, what it relies on, and to predict a new row.")
metrics = current.metrics or {}
if not current.run_id or "baseline_logistic_accuracy" not in metrics:
    st.info("This model came without its table (an uploaded file): load a saved run of this page to see its results.")
    model_panel(KIND)
    st.stop()

ensure_tf()

try:
    record = store().get(current.run_id, owner_id())
    data = cached(KIND, "data", current.key, lambda: prepare_table(
        read_table(run_table(store(), current.run_id, owner_id()), record.get("table", {}).get("name", "table.csv")),
        current.params))
except (RunNotFound, OSError, ValueError) as err:  # a sweep's trial keeps no table; a run deleted meanwhile
    st.info(f"The table of run {current.run_id} is not kept with it ({literal(err, limit=200)}): its figures need "
            "the table. Train on your table here to see them.")
    model_panel(KIND)
    st.stop()
classes = list(data.encoder.classes)

st.header("What it learned")
st.caption(f"Model: {current.label} ({current.status}) · {literal(data.encoder.label)}: {len(classes)} classes")
network = metrics["test_accuracy"]
baselines = {name: metrics[f"baseline_{name}_accuracy"] for name in BASELINES}
cols = st.columns(4)
cols[0].metric("Test accuracy", f"{network:.1%}", help=f"the network, on {len(data.y_test)} held-out rows")
cols[1].metric("Logistic regression", f"{baselines['logistic']:.1%}", help="same split, same inputs")
cols[2].metric("Random forest", f"{baselines['forest']:.1%}", help="same split, same inputs")
cols[3].metric("Training accuracy", f"{metrics['train_accuracy']:.1%}", help=f"{len(data.y_train)} training rows")
best_name = max(baselines, key=baselines.get)
one_row = 1 / max(len(data.y_test), 1)  # a test row's share: closer than this is a tie
if network > baselines[best_name] + one_row / 2:
    st.success("The network beats both baselines on these test rows: its hidden layers earn their keep here.")
elif network >= baselines[best_name] - one_row - 1e-9:
    st.success(f"The network is as good as the better baseline ({BASELINES[best_name]}), within one test row.")
else:
    st.warning(f"The {BASELINES[best_name]} does better ({baselines[best_name]:.1%}): on this table a simpler model "
               "is enough, or the network needs other settings.")
st.plotly_chart(baseline_figure(network, baselines), key="tabular.baselines")

left, right = st.columns(2)
with left:
    st.plotly_chart(confusion_figure(np.asarray(metrics["confusion"]), classes), key="tabular.confusion")
with right:
    st.plotly_chart(importance_figure(metrics.get("importance", {})), key="tabular.importance")
    st.caption("Each column's values shuffled across the test rows: the accuracy it costs. Near 0: the network "
               "does without it, or another column tells the same (two correlated columns stand in for each other).")

st.subheader("Decision regions")
numbers = data.encoder.numbers
PLANES = ("The rows' two main directions (all columns)", "Two number columns of your choice")
plane = st.radio("Decision regions on", PLANES if len(numbers) >= 2 else PLANES[:1], horizontal=True,
                 key="tabular.plane")
regions = None
if len(classes) > 10:
    st.info("Decision regions are drawn for up to 10 classes.")
elif plane == PLANES[0]:
    regions = cached(KIND, "regions-pca", current.key,
                     lambda: pca_plane(current.model, data.x_train, data.x_test))
else:
    fa, fb = st.columns(2)
    cx = fa.selectbox("x column", numbers, index=0, key="tabular.fx")
    cy = fb.selectbox("y column", numbers, index=1, key="tabular.fy")
    if cx == cy:
        st.warning("Choose two different columns.")
    else:
        regions = cached(KIND, f"regions-{cx}-{cy}", current.key, lambda: column_plane(
            current.model, data.encoder, data.x_train, data.x_test, (cx, cy)))
if regions is not None:
    predicted = predict_proba(current.model, data.x_test).argmax(1)
    st.plotly_chart(decision_regions_figure(regions, data.y_test, predicted, classes), key="tabular.regions")
    st.caption("Dots: the test rows, coloured by their true class; red rings: the ones the network gets wrong. "
               "Background: the class it predicts there, paler where it is less sure.")

predict_form(current.model, data.encoder)
model_panel(KIND)
