"""Pages run with Streamlit's own AppTest: they render, train, predict, and report bad input clearly."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "pages"
NPZ = ROOT.parent / "shared" / "data" / "mnist.npz"


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("NN_PLAYGROUND_RUNS", str(tmp_path / "runs"))
    if NPZ.is_file():
        monkeypatch.setenv("MNIST_PATH", str(NPZ))


def _run_until(at, done, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        time.sleep(0.5)
    raise AssertionError("timed out waiting for the page")


def test_home_page_teaches_the_basics():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception
    headers = " ".join(h.value for h in at.header)
    for topic in ("neuron", "Activation functions", "Forward pass", "Backpropagation", "Adam"):
        assert topic in headers
    formulas = [latex.value for latex in at.latex]
    assert any("max(0, x)" in f for f in formulas)  # ReLU is shown first
    at.segmented_control(key="home.activation").set_value("sigmoid").run()
    assert any("frac{1}{1 + e^{-x}}" in latex.value for latex in at.latex)


def test_iris_page_shows_every_hyper_parameter_with_defaults():
    at = AppTest.from_file(str(PAGES / "1_🌸_Iris.py"), default_timeout=30).run()
    assert not at.exception
    assert at.sidebar.slider(key="iris.epochs").value == 10
    assert at.sidebar.slider(key="iris.units").value == 10
    assert at.sidebar.selectbox(key="iris.activation").value == "relu"
    assert at.sidebar.number_input(key="iris.learning_rate").value == pytest.approx(1e-3)
    assert at.sidebar.slider(key="iris.test_fraction").value == pytest.approx(0.2)
    assert "Train a model" in " ".join(i.value for i in at.info)


def test_iris_train_then_classify_a_flower():
    at = AppTest.from_file(str(PAGES / "1_🌸_Iris.py"), default_timeout=60).run()
    at.button(key="iris.train").click().run()
    _run_until(at, lambda a: any(m.label == "Test accuracy" for m in a.metric))
    accuracy = next(m for m in at.metric if m.label == "Test accuracy").value
    assert float(accuracy.rstrip("%")) >= 93.0
    assert any("Predicted species: **setosa**" in md.value for md in at.markdown)
    at.button(key="iris.example.virginica").click().run()
    assert any("Predicted species: **virginica**" in md.value for md in at.markdown)
    at.button(key="iris.example.versicolor").click().run()
    assert any("Predicted species: **versicolor**" in md.value for md in at.markdown)


def test_cnn_page_without_a_model_teaches_convolution():
    at = AppTest.from_file(str(PAGES / "2_🔢_MNIST_CNN.py"), default_timeout=120).run()
    assert not at.exception
    assert any("Data:" in i.value for i in at.info)
    assert at.sidebar.toggle(key="cnn.augment_invert").value is False


def test_runs_page_without_runs_says_so():
    at = AppTest.from_file(str(PAGES / "4_📊_Runs.py"), default_timeout=30).run()
    assert not at.exception
    assert any("No runs yet" in i.value for i in at.info)


def test_runs_page_lists_runs_and_reports_a_damaged_one(tmp_path):
    from core.store import RunStore

    store = RunStore(tmp_path / "runs")
    store.save({"kind": "iris", "status": "done", "started": "2026-01-01T00:00:00", "params": {"epochs": 3},
                "metrics": {"test_accuracy": 0.9}, "history": {"loss": [1.0, 0.5, 0.2]}})
    (store.root / "iris-broken").mkdir()
    (store.root / "iris-broken" / "run.json").write_text("{")
    at = AppTest.from_file(str(PAGES / "4_📊_Runs.py"), default_timeout=30).run()
    assert not at.exception
    assert any("iris-broken" in w.value and "damaged" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == 1
