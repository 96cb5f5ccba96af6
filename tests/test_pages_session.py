"""Jobs belong to the server's job board under a browser's id (AppTest): another browser does not see them, a
second session of the same browser (a reload, a new tab) does; the run records its owner."""

import time

from core.store import RunStore

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


def test_a_train_click_interrupted_while_tensorflow_loads_still_trains(app_page, monkeypatch):
    """The first Train click of a server waits for TensorFlow's import in the button's callback; should it be
    interrupted (Streamlit's StopException, a click elsewhere), the job must start anyway."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    import core.jobs
    import ui.session

    real_import = core.jobs.import_tensorflow
    calls = []

    def interrupted_while_loading():
        calls.append(1)
        if len(calls) == 1:
            raise StopException()
        real_import()

    monkeypatch.setattr(core.jobs, "import_tensorflow", interrupted_while_loading)
    at = _iris(app_page, epochs=2)
    at.button(key="iris.train").click().run()
    job = ui.session.job_board().get(at.session_state[OWNER], "iris")
    assert job is not None and job.wait(60)
    assert job.progress.snapshot()["status"] == "done" and job.progress.snapshot()["run_id"]


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
