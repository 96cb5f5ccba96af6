"""The MNIST CNN and Runs pages under Streamlit's AppTest, served by app.py's navigation (home and Iris: test_pages.py).

Every test has its own empty runs directory (``NN_PLAYGROUND_RUNS``, set in conftest.py), and MNIST comes from
``MNIST_PATH`` when the genuine file is there.
"""

from core.store import RunStore


def test_cnn_page_without_a_model_teaches_convolution(app_page):
    at = app_page("mnist_cnn", timeout=120).run()
    assert not at.exception
    assert any("Data:" in i.value for i in at.info)
    assert at.sidebar.toggle(key="cnn.augment_invert").value is False


def test_runs_page_without_runs_says_so(app_page):
    at = app_page("runs", timeout=30).run()
    assert not at.exception
    assert any("No runs yet" in i.value for i in at.info)


def test_runs_page_lists_runs_with_their_headline_and_reports_a_damaged_one(app_page, runs_dir):
    store = RunStore(runs_dir)
    store.save({"kind": "iris", "status": "done", "started": "2026-01-01T00:00:00", "params": {"epochs": 3},
                "metrics": {"test_accuracy": 0.9}, "history": {"loss": [1.0, 0.5, 0.2]}})
    store.save({"kind": "cvae", "status": "done", "started": "2026-01-01T00:01:00", "params": {"epochs": 1},
                "metrics": {"test_elbo": -170.25, "test_accuracy": 0.5}, "history": {"loss": [180.0]}})
    (store.root / "iris-broken").mkdir()
    (store.root / "iris-broken" / "run.json").write_text("{")
    at = app_page("runs", timeout=30).run()
    assert not at.exception
    assert any("iris-broken" in w.value and "damaged" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert sorted(table["result"]) == ["test accuracy 0.9000", "test elbo -170.2500"]  # each kind's headline_metric
