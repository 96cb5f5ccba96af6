"""Jobs belong to the server's job board under a browser's id (AppTest): another browser does not see them, a
second session of the same browser (a reload, a new tab) does; the run records its owner; a second visitor's
training waits in the fair queue and says so."""

import time

import pytest

from core.store import RunStore
from tests.conftest import BATCH_TRAINED

pytestmark = pytest.mark.ray  # every training goes through the executor's Ray workers

OWNER = "browser_id"  # where ui.session keeps this session's browser id (read from the nnp_owner cookie)


def _progress(at) -> str:
    bars = at.get("progress")
    return bars[0].proto.text if bars else ""


def _iris(app_page, owner: str | None = None, epochs: int = 200):
    at = app_page("iris")
    if owner is not None:
        at.session_state[OWNER] = owner
    at.query_params["iris.epochs"] = str(epochs)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _buttons(at) -> tuple[bool, bool]:
    """(Train enabled, Stop enabled)."""
    return not at.button(key="iris.train").disabled, not at.button(key="iris.stop").disabled


def test_two_browsers_do_not_see_each_others_jobs(app_page, runs_dir):
    mine = _iris(app_page)
    mine.button(key="iris.train").click().run()
    assert _buttons(mine) == (False, True)
    my_id = mine.session_state[OWNER]

    stranger = _iris(app_page)
    assert stranger.session_state[OWNER] != my_id
    assert _buttons(stranger) == (True, False) and _progress(stranger) == ""
    assert any("press **Train**" in i.value for i in stranger.info)

    reloaded = _iris(app_page, owner=my_id)  # a new session of the same browser: the cookie brings the same id
    assert _buttons(reloaded) == (False, True) and _progress(reloaded)
    deadline = time.time() + 120  # a worker process starts it (the first time: Ray and TensorFlow start too)
    while not BATCH_TRAINED.match(_progress(reloaded)) and time.time() < deadline:  # a Stop keeps it from then on
        time.sleep(0.25)
        reloaded.run()

    reloaded.button(key="iris.stop").click().run()
    deadline = time.time() + 60
    while not _progress(reloaded).startswith("Stopped") and time.time() < deadline:
        time.sleep(0.25)
        reloaded.run()
    assert _progress(reloaded).startswith("Stopped after")
    stranger.run()
    assert _buttons(stranger) == (True, False) and _progress(stranger) == ""
    [run] = RunStore(runs_dir).list("iris")
    assert run.record["owner"] == my_id and run.record["status"] == "stopped"


def test_a_second_visitors_training_waits_its_turn_and_stop_cancels_it(app_page, runs_dir, monkeypatch):
    """One slot for trainings (NN_PLAYGROUND_WORKER_CPUS=1): the second visitor's Train queues, the page says where it
    stands, and Stop takes it out of the queue at once."""
    import core.executor
    import ui.session

    monkeypatch.setenv("NN_PLAYGROUND_WORKER_CPUS", "1")
    core.executor.forget_shared()  # this test's limits, read when the server's executor is made
    first = _iris(app_page)
    first.button(key="iris.train").click().run()
    job = ui.session.job_board().get(first.session_state[OWNER], "iris")
    deadline = time.time() + 120
    while job.progress.snapshot()["phase"] != "training" and time.time() < deadline:
        time.sleep(0.25)
    second = _iris(app_page, epochs=2)
    second.button(key="iris.train").click().run()
    assert _progress(second).startswith("Queued: 1st of 1"), _progress(second)
    assert _buttons(second) == (False, True)
    second.button(key="iris.stop").click().run()
    assert _buttons(second) == (True, False)
    assert any("Cancelled before it started" in i.value for i in second.info), [i.value for i in second.info]
    job.stop()
    assert job.wait(60) and job.progress.snapshot()["status"] == "stopped"
    assert [r.record["owner"] for r in RunStore(runs_dir).list("iris")] == [first.session_state[OWNER]]
    core.executor.forget_shared()


def test_a_diverging_loss_is_named_and_the_loss_axis_can_go_log(app_page):
    import json

    at = app_page("iris")
    for name, value in {"learning_rate": "1", "activation": "linear", "epochs": "3"}.items():
        at.query_params[f"iris.{name}"] = value
    at.run()
    at.button(key="iris.train").click().run()
    deadline = time.time() + 90
    while not _progress(at).startswith(("Done", "Failed", "Stopped")) and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    assert any("diverging" in w.value and "log-scale" in w.value for w in at.warning), [w.value for w in at.warning]
    at.toggle(key="iris.log_loss").set_value(True).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["yaxis"]["type"] == "log"  # the loss panel
