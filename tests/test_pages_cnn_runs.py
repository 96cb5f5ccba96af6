"""The MNIST CNN and Runs pages under Streamlit's AppTest, served by streamlit_app.py's navigation (home and Iris: test_pages.py).

Every test has its own empty runs directory (``NN_PLAYGROUND_RUNS``, set in conftest.py), and MNIST comes from
``MNIST_PATH`` when the genuine file is there.
"""

import pytest

from core.store import RunStore


def test_cnn_page_without_a_model_teaches_convolution(app_page):
    at = app_page("mnist_cnn", timeout=120)
    at.query_params["cnn.train_size"] = "20000"
    at.run()
    assert not at.exception
    assert any("Data:" in i.value and "Training uses 20,000 of the training images." in i.value for i in at.info)
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
    assert any("iris\\-broken" in w.value and "damaged" in w.value for w in at.warning)  # the name escaped
    table = at.dataframe[0].value
    assert sorted(table["result"]) == ["test accuracy 0.9000", "test elbo -170.2500"]  # each kind's headline_metric


def _select_first_run(app_page, runs_dir):
    """The Runs page with its first row selected, after a 1-epoch Iris run was saved in ``runs_dir``."""
    from core.jobs import TrainingJob

    assert TrainingJob("iris", {"epochs": 1}, store=RunStore(runs_dir)).start().wait(60)
    at = app_page("runs", timeout=60).run()
    at.session_state["runs.table.0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    return at.run()


def _button(at, prefix: str):
    return at.button(key=next(b.key for b in at.button if b.key.startswith(prefix)))


def test_open_on_its_page_shows_the_run_on_the_iris_page(app_page, runs_dir):
    at = _select_first_run(app_page, runs_dir)
    _button(at, "runs.open.").click().run()
    assert not at.exception
    assert at.title[0].value.endswith("Iris: a feed-forward classifier")
    assert any(m.label == "Test accuracy" for m in at.metric)
    assert at.sidebar.slider(key="iris.epochs").value == 1  # the run's settings are in the widgets


@pytest.mark.ray
def test_rerun_starts_a_job_and_goes_to_its_page(app_page, runs_dir):
    at = _select_first_run(app_page, runs_dir)
    _button(at, "runs.rerun.").click().run()
    assert not at.exception
    assert at.title[0].value.endswith("Iris: a feed-forward classifier")
    from ui.session import job_board

    job = job_board().get(at.session_state["browser_id"], "iris")  # this browser's job, on the server's board
    assert job is not None and job.params["epochs"] == 1
    assert job.wait(60)  # no training thread outlives the test


def test_a_drawing_says_whether_it_was_inverted_on_its_way_to_the_network():
    import numpy as np

    from ui.digits import _prepare

    paper = np.full((280, 280, 4), 255, dtype="uint8")
    paper[60:220, 130:150, :3] = 0  # a dark "1" on white
    shown = _prepare("drawing", paper, invert_dark=False)
    assert shown.dark_on_light and not shown.inverted  # the caption must not say "inverted"
    flipped = _prepare("drawing", paper, invert_dark=True)
    assert flipped.dark_on_light and flipped.inverted
    assert flipped.image[14, 14] > 0.5 > shown.image[14, 14]  # ink is bright only once inverted
