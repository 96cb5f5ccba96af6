"""The home and Iris pages under Streamlit's AppTest, served by streamlit_app.py's navigation: they render, train, predict and
report bad links clearly.

Every test has its own empty runs directory (``NN_PLAYGROUND_RUNS``, set in conftest.py).
"""

import base64
import json
import re
import time

import numpy as np
import pytest

from core.iris.data import EXAMPLES
from core.progress import Progress
from core.store import RunStore
from tests.conftest import BATCH_TRAINED
from ui.training_panel import status_line

# How long a page may take to get somewhere (a training of a few seconds): generous, because a CI machine can be
# many times slower for a minute (once: 1.4 Iris epochs in 60 s, where 10 take 2-3 s).
TIMEOUT = 180


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def _figures(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _values(data) -> list:
    """A plotly trace array from the chart's JSON (plain list or binary ``{"dtype", "bdata"}``)."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def _run_until(at, done, timeout=TIMEOUT):
    """Rerun the page (as the browser's timer would) until ``done(at)``."""
    deadline = time.time() + timeout
    while True:
        at.run()
        _no_exception(at)
        if done(at):
            return at
        if time.time() > deadline:
            raise AssertionError(f"the page did not get there within {timeout} s; progress: {_progress(at)!r}")
        time.sleep(0.25)


def _progress(at) -> str:
    bars = at.get("progress")
    return bars[0].proto.text if bars else ""


def _metric(at, label):
    return next((m.value for m in at.metric if m.label == label), None)


def _prediction(at) -> str | None:
    found = [re.search(r"Predicted species: \*\*(\w+)\*\*", md.value) for md in at.markdown]
    return next((m.group(1) for m in found if m), None)


# --- home page ----------------------------------------------------------------------------------------------------

def test_home_page_renders_its_sections(app_page):
    at = app_page().run()
    _no_exception(at)
    # One sentence and one action lead; the basics are one click away, each in its own expander.
    links = [link.proto.label for link in at.get("page_link")]
    assert links[0].startswith("**Start here:**") and "Iris" in links[0], links
    sections = " | ".join(e.label for e in at.expander).lower()
    for section in ("neuron", "activation functions", "forward pass", "backpropagation", "adam"):
        assert section in sections, sections
    formulas = " ".join(latex.value for latex in at.latex)
    assert r"\varphi(\mathbf{w}^\top \mathbf{x} + b)" in formulas  # the neuron
    assert r"\frac{\partial L}{\partial W_\ell}" in formulas  # backpropagation
    assert r"\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}" in formulas  # Adam
    assert r"\mathrm{ReLU}(x) = \max(0, x)" in formulas  # ReLU is the first activation shown
    assert _figures(at)[0]["layout"]["title"]["text"] == "ReLU and its derivative"


@pytest.mark.parametrize("name, formula, title", [
    ("sigmoid", r"\sigma(x) = \frac{1}{1 + e^{-x}}", "sigmoid and its derivative"),
    ("tanh", r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}", "tanh and its derivative"),
    ("softmax", r"\mathrm{softmax}(z)_k", "softmax turns scores into probabilities that sum to 1"),
])
def test_switching_the_activation_changes_the_formula_and_plot(name, formula, title, app_page):
    at = app_page().run()
    at.segmented_control(key="home.activation").set_value(name).run()
    _no_exception(at)
    formulas = [latex.value for latex in at.latex]
    assert any(formula in f for f in formulas), formulas
    assert not any(r"\max(0, x)" in f for f in formulas)
    assert _figures(at)[0]["layout"]["title"]["text"] == title
    logit_sliders = [s for s in at.slider if s.key.startswith("home.z")]
    assert len(logit_sliders) == (3 if name == "softmax" else 0)


def test_softmax_logits_move_the_probabilities(app_page):
    at = app_page().run()
    at.segmented_control(key="home.activation").set_value("softmax").run()
    at.slider(key="home.z2").set_value(5.0).run()
    _no_exception(at)
    probs = _values(_figures(at)[0]["data"][0]["y"])
    assert sum(probs) == pytest.approx(1.0) and int(np.argmax(probs)) == 2


def test_neuron_sliders_recompute_z(app_page):
    at = app_page().run()
    assert any("= 0.50$" in md.value for md in at.markdown)  # 1.5*1 + 2*(-0.5) + 0
    at.slider(key="home.b").set_value(-1.0).run()
    _no_exception(at)
    assert any("= -0.50$" in md.value and r"\mathrm{ReLU}(z) = 0.00" in md.value for md in at.markdown)


# --- Iris page ------------------------------------------------------------------------------------------------------

def test_iris_page_renders_every_hyper_parameter_with_the_portfolio_defaults(app_page):
    at = app_page("iris").run()
    _no_exception(at)
    sb = at.sidebar
    assert sb.slider(key="iris.hidden_layers").value == 2
    assert sb.slider(key="iris.units").value == 10
    assert sb.selectbox(key="iris.activation").value == "relu"
    assert sb.selectbox(key="iris.activation").options == ["relu", "tanh", "sigmoid", "elu", "linear"]
    assert sb.selectbox(key="iris.optimizer").value == "adam"
    assert sb.selectbox(key="iris.optimizer").options == ["sgd", "momentum", "rmsprop", "adam"]
    assert sb.number_input(key="iris.learning_rate").value == pytest.approx(1e-3)
    assert sb.slider(key="iris.l1").value == 0.0 and sb.slider(key="iris.l2").value == 0.0
    assert sb.slider(key="iris.batch_size").value == 32
    assert sb.slider(key="iris.epochs").value == 10
    assert sb.slider(key="iris.repeat").value == 20
    assert sb.slider(key="iris.test_fraction").value == pytest.approx(0.2)
    assert sb.number_input(key="iris.seed").value == 42
    assert sb.slider(key="iris.epochs").label == "Epochs"
    assert not sb.warning
    assert at.button(key="iris.train").disabled is False and at.button(key="iris.stop").disabled is True
    assert any("Train a model" in i.value for i in at.info)
    assert _metric(at, "Test accuracy") is None


@pytest.mark.ray
def test_train_shows_accuracy_and_a_prediction_then_an_example_changes_it(runs_dir, app_page):
    at = app_page("iris").run()
    at.button(key="iris.train").click().run()
    _no_exception(at)
    assert _progress(at), "no progress bar after pressing Train"

    _run_until(at, lambda a: _metric(a, "Test accuracy") is not None)
    accuracy = float(_metric(at, "Test accuracy").rstrip("%")) / 100
    print(f"\nIris page, portfolio defaults: test accuracy {accuracy:.1%}")
    assert accuracy >= 0.93
    assert _metric(at, "Test mistakes") == str(round(30 * (1 - accuracy)))
    assert _progress(at).startswith("Done after 10 of 10 epochs")
    assert any(c.value.startswith("Model: iris-") and c.value.endswith("(done)") for c in at.caption)

    curves = next(f for f in _figures(at) if any(t.get("name") == "batch loss" for t in f["data"]))
    names = {t["name"] for t in curves["data"]}
    assert {"batch loss", "train loss", "validation loss", "train accuracy", "validation accuracy"} <= names
    train_loss = next(t for t in curves["data"] if t["name"] == "train loss")
    assert _values(train_loss["x"]) == list(range(1, 11))
    batch_loss = next(t for t in curves["data"] if t["name"] == "batch loss")
    assert len(_values(batch_loss["x"])) == 10 * 75

    assert _prediction(at) == "setosa"  # the sliders start at the portfolio's setosa
    at.button(key="iris.example.versicolor").click().run()
    _no_exception(at)
    assert _prediction(at) == "versicolor"
    assert [at.slider(key=f"iris.flower{i}").value for i in range(4)] == pytest.approx(EXAMPLES["versicolor"])

    for i, value in enumerate(EXAMPLES["virginica"]):  # move the sliders by hand to the third flower
        at.slider(key=f"iris.flower{i}").set_value(value)
    at.run()
    _no_exception(at)
    assert _prediction(at) == "virginica"

    [run] = RunStore(runs_dir).list("iris")  # the training was saved in this test's runs directory
    assert run.record["status"] == "done" and run.record["metrics"]["test_accuracy"] == pytest.approx(accuracy)


@pytest.mark.ray
def test_a_test_accuracy_above_the_training_accuracy_is_explained(runs_dir, app_page, monkeypatch):
    from core.iris.task import TASK

    evaluate = TASK.evaluate

    def test_above_training(model, prepared):  # as with 30 easy test flowers: 100% against 96.7% in training
        return {**evaluate(model, prepared), "test_accuracy": 1.0, "train_accuracy": 0.967}

    monkeypatch.setattr(TASK, "evaluate", test_above_training)
    at = app_page("iris")
    at.query_params["iris.epochs"] = "1"
    at.run()
    at.button(key="iris.train").click().run()
    _run_until(at, lambda a: _metric(a, "Test accuracy") is not None)
    assert _metric(at, "Test accuracy") == "100.0%" and _metric(at, "Training accuracy") == "96.7%"
    assert any("No contradiction" in c.value and "30 test flowers are few" in c.value for c in at.caption)


@pytest.mark.ray
def test_stop_keeps_the_model_and_says_so(runs_dir, app_page):
    at = app_page("iris")
    at.query_params["iris.epochs"] = "200"
    at.run()
    assert at.sidebar.slider(key="iris.epochs").value == 200
    at.button(key="iris.train").click().run()
    _run_until(at, lambda a: BATCH_TRAINED.match(_progress(a)))  # a batch trained (before it: the test below)
    # 200 epochs outlast this rerun, so the race-free place to check: one job at a time per page and session
    assert at.button(key="iris.train").disabled is True and at.button(key="iris.stop").disabled is False
    at.button(key="iris.stop").click().run()
    _run_until(at, lambda a: _metric(a, "Test accuracy") is not None)
    assert any("Stopped by you" in w.value for w in at.warning), [w.value for w in at.warning]
    assert re.match(r"Stopped after \d+ of 200 epochs", _progress(at)), _progress(at)
    assert any(c.value.endswith("(stopped)") for c in at.caption)
    assert _prediction(at) in ("setosa", "versicolor", "virginica")
    [run] = RunStore(runs_dir).list("iris")
    assert run.record["status"] == "stopped" and run.record["epochs_completed"] < 200


@pytest.mark.ray
def test_a_stop_before_the_first_batch_ends_at_once_and_says_nothing_was_kept(runs_dir, app_page):
    at = app_page("mnist_cnn", timeout=120)  # loading the digits and tracing the graph: seconds before the first batch ends
    at.query_params["cnn.train_size"] = "2000"
    at.query_params["cnn.epochs"] = "1"
    at.run()
    at.button(key="cnn.train").click().run()
    _run_until(at, lambda a: _progress(a).startswith(("Loading data", "Building model", "Training")))
    at.button(key="cnn.stop").click().run()
    assert re.match(r"Stopped after 0 of 1 epochs", _progress(at)), _progress(at)
    assert any("Stopped before its first batch was trained" in i.value for i in at.info), [i.value for i in at.info]
    assert at.button(key="cnn.train").disabled is False
    assert RunStore(runs_dir).list("cnn") == []


@pytest.mark.parametrize("text, notice", [
    ("abc", "Epochs: 'abc' is not a valid int"),
    ("0", "Epochs: 0 is below the minimum 1"),
    ("nan", "Epochs: 'nan' is not a valid int"),
])
def test_an_invalid_link_value_gives_a_notice_and_the_default(text, notice, app_page):
    at = app_page("iris")
    at.query_params["iris.epochs"] = text
    at.run()
    _no_exception(at)
    warnings = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]  # at the top of the page, escapes removed
    assert not at.sidebar.warning
    assert len(warnings) == 1 and notice in warnings[0] and "using the default 10" in warnings[0], warnings
    assert at.sidebar.slider(key="iris.epochs").value == 10


def test_a_valid_link_value_sets_the_widget_without_a_notice(app_page):
    at = app_page("iris")
    at.query_params["iris.epochs"] = "30"
    at.query_params["iris.activation"] = "tanh"
    at.run()
    _no_exception(at)
    assert at.sidebar.slider(key="iris.epochs").value == 30
    assert at.sidebar.selectbox(key="iris.activation").value == "tanh"
    assert not at.sidebar.warning and not at.warning


def test_a_fractional_link_value_is_named_and_the_widget_shows_the_same_default(app_page):
    at = app_page("iris")
    at.query_params["iris.epochs"] = "25.5"
    at.run()
    _no_exception(at)
    [warning] = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]
    value = at.sidebar.slider(key="iris.epochs").value
    assert "'25.5' is not a valid int" in warning and warning.endswith(f"using {value}.")  # notice = widget


def test_the_progress_line_says_stopping_as_soon_as_stop_is_pressed():
    """Stop on a running job shows at once, before its worker has ended the batch (a page reruns on the click); then
    what the kept model goes through; the final line is the finished run's."""
    progress = Progress(epochs=200)
    progress.update(phase="training", steps_per_epoch=75, step=3, epoch=4)
    assert status_line(progress.snapshot()).startswith("Training: epoch 5 of 200, batch 3 of 75")
    progress.update(stop_asked=1.0)
    assert status_line(progress.snapshot()).startswith("Stopping after the current batch…")
    progress.update(phase="evaluating")
    assert status_line(progress.snapshot()).startswith("Stopping: evaluating the model trained so far…")
    progress.finish("stopped")
    assert status_line(progress.snapshot()).startswith("Stopped after 4 of 200 epochs")
