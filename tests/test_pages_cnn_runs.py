"""AppTest of the MNIST CNN and Runs pages (the home and Iris pages are in test_pages.py)."""

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
