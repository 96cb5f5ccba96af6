"""The Your-table page under Streamlit's AppTest: an example table is read and planned, a label that cannot be
learnt is one message and Train starts nothing; trained through the executor, the page shows the test accuracy beside
the two baselines and predicts a new row."""

import time

import pytest

from core.store import RunStore

TIMEOUT = 180


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def _metric(at, label):
    return next((m.value for m in at.metric if m.label == label), None)


def _with_wine(app_page):
    at = app_page("table").run()
    _no_exception(at)
    assert any("Upload a CSV file" in i.value for i in at.info)
    at.button(key="tabular.example.wine").click().run()
    _no_exception(at)
    return at


def test_an_example_table_is_planned_and_a_bad_label_starts_nothing(app_page, runs_dir):
    at = _with_wine(app_page)
    assert at.selectbox(key="tabular.label_choice").value == "target"  # guessed from its name
    assert any("wine" in c.value and "178 rows" in c.value for c in at.caption)
    plan = next(df.value for df in at.dataframe if "becomes" in df.value.columns)
    roles = dict(zip(plan["column"], plan["becomes"]))
    assert roles["target"] == "label" and roles["alcohol"] == "number" and len(roles) == 14
    at.selectbox(key="tabular.label_choice").set_value("alcohol").run()
    _no_exception(at)
    assert any("126 different values" in e.value for e in at.error)
    at.button(key="tabular.train").click().run()
    _no_exception(at)
    assert any(e.value.startswith("Cannot train:") and "at most 20 classes" in e.value for e in at.error)
    assert not at.get("progress") and not RunStore(runs_dir).list()  # nothing started, nothing saved


@pytest.mark.ray
def test_train_shows_the_network_beside_the_baselines_and_predicts_a_row(app_page, runs_dir):
    at = _with_wine(app_page)
    at.sidebar.slider(key="tabular.epochs").set_value(30).run()
    at.button(key="tabular.train").click().run()
    _no_exception(at)
    deadline = time.time() + TIMEOUT
    while _metric(at, "Random forest") is None:
        assert time.time() < deadline, "no results within the timeout"
        time.sleep(0.25)
        at.run()
        _no_exception(at)
    network = float(_metric(at, "Test accuracy").rstrip("%")) / 100
    assert network >= 0.9 and float(_metric(at, "Logistic regression").rstrip("%")) >= 90
    [run] = RunStore(runs_dir).list("tabular")
    assert run.record["metrics"]["test_accuracy"] == pytest.approx(network, abs=5e-4)
    assert (run.path / "table.csv").is_file()
    next(b for b in at.button if b.label == "Predict").click().run()
    _no_exception(at)
    assert any(m.value.startswith("Predicted: **class") for m in at.markdown)

    stranger = app_page("table").run()  # another visitor: neither the run nor its table
    assert not [b for b in stranger.button if b.key == "tabular.load"]
    again = app_page("table")  # the same visitor in a new session: load the run, then its table
    again.session_state["browser_id"] = at.session_state["browser_id"]
    again.run()
    again.button(key="tabular.load").click().run()
    again.button(key="tabular.run_table").click().run()
    _no_exception(again)
    assert again.selectbox(key="tabular.label_choice").value == "target"
    assert _metric(again, "Test accuracy") == _metric(at, "Test accuracy")
