"""The 2-D playground (issue 24): its data sets and drawn points, its defaults learning the spiral and XOR, the same
seed giving the same run, drawn points kept with a run, the command line's --json, and the page under AppTest."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core.params import ParamError
from core.plane import data
from core.plane.task import SPACE, TASK
from core.progress import Progress
from core.store import RunStore
from tests.test_cli import ROOT

DRAWN = "-3,-3,0;-4,-2,0;-2,-4.5,0;-3.5,-3.25,0;3,3,1;4,2,1;2.5,4,1;3.75,3.5,1"


def test_every_generated_set_is_reproducible_balanced_and_on_the_plane():
    for name in data.DATASETS[:-1]:
        xy, y = data.generate(name, 200, 0.2, seed=3)
        again, y2 = data.generate(name, 200, 0.2, seed=3)
        assert np.array_equal(xy, again) and np.array_equal(y, y2), name
        assert xy.shape == (200, 2) and np.abs(xy).max() <= data.LIMIT, name
        assert 0.3 < y.mean() < 0.7, name  # both classes, about as many of each
        assert not np.array_equal(xy, data.generate(name, 200, 0.2, seed=4)[0]), name


def test_the_features_are_playgrounds_seven():
    x = data.features([(2.0, -1.0)], list(data.FEATURES))
    assert x[0] == pytest.approx([2, -1, 4, 1, -2, np.sin(2), np.sin(-1)])


def test_drawn_points_round_trip_through_text_and_a_link():
    xy, y = data.parse_points(DRAWN)
    assert data.parse_points(data.format_points(xy, y))[0] == pytest.approx(xy)
    text = data.add_point(data.add_point("", 1.234, -5.9, 1), 9, 0, 0)  # clipped to the plane
    assert text == "1.23,-5.90,1;6,0,0" and data.undo_point(text) == "1.23,-5.90,1"
    values, notices = SPACE.from_strings(SPACE.to_strings({**SPACE.defaults(), "dataset": "drawn", "points": DRAWN}))
    assert not notices and values["points"] == DRAWN and values["dataset"] == "drawn"


@pytest.mark.parametrize("points, message", [
    ("", "you have 0 orange and 0 blue; add 2 more orange and 2 more blue"),
    ("1,1,1;2,2,1;-1,-1,0", "add 1 more orange"),
    ("1,1", "each point is x,y,class"),
    ("1,9,1", "must lie in [-6, 6]"),
])
def test_a_drawn_set_that_cannot_be_trained_on_says_why(points, message):
    with pytest.raises(ValueError) as err:
        TASK.check_ready(SPACE.validate({"dataset": "drawn", "points": points}))
    assert message in str(err.value)


def test_no_feature_and_bad_settings_are_refused_clearly():
    with pytest.raises(ValueError, match="at least one input feature"):
        TASK.check_ready(SPACE.validate({"x1": False, "x2": False}))
    with pytest.raises(ParamError, match="Neurons: 9 is above the maximum 8"):
        SPACE.validate({"units": 9})


@pytest.mark.slow
@pytest.mark.parametrize("dataset, bar", [("spiral", 0.9), ("xor", 0.95)])
def test_the_defaults_learn(dataset, bar):
    from core.training import run_training

    result = run_training(TASK, {"dataset": dataset})
    print(f"\nplane {dataset}, defaults: test accuracy {result.metrics['test_accuracy']:.3f}")
    assert result.status == "done" and result.metrics["test_accuracy"] >= bar


def test_the_same_seed_reruns_identically_and_drawn_points_stay_with_the_run(tmp_path):
    from core.training import run_training

    store = RunStore(tmp_path / "runs")
    params = {"dataset": "drawn", "points": DRAWN, "epochs": 3, "x1_x2": True, "units": 4}
    progress = Progress(3)
    first, second = run_training(TASK, params, store=store, progress=progress), run_training(TASK, params, store=store)
    a, b = store.get(first.run_id), store.get(second.run_id)
    assert a["history"] == b["history"] and a["metrics"] == b["metrics"] and a["batch_loss"] == b["batch_loss"]
    assert a["params"]["points"] == DRAWN and a["data"]["source"] == "drawn" and a["data"]["n_test"] == 4
    rerun = data.load(a["params"])  # a re-run reads the same points, split the same way
    assert sorted(map(tuple, np.concatenate([rerun.xy_train, rerun.xy_test]).tolist())) == \
        sorted(map(tuple, data.parse_points(DRAWN)[0].tolist()))
    extras = progress.snapshot()["extras"]  # the live boundary: at least one per epoch
    assert [e["epoch"] for e in extras if e["step"] is None] == [1, 2, 3]
    assert extras[-1]["boundary"].shape == (40, 40) and extras[-1]["boundary"].dtype == np.uint8


@pytest.mark.ray
def test_the_command_line_trains_a_plane_and_prints_json(tmp_path, project_env):
    runs = tmp_path / "runs"
    out = subprocess.run([sys.executable, "-m", "core", "--runs-dir", str(runs), "train", "plane", "--dataset", "xor",
                          "--epochs", "4", "--json"], cwd=ROOT, env=project_env(runs), capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["status"] == "done" and result["metrics"]["test_accuracy"] >= 0.9, result
    record = RunStore(runs).get(result["run_id"])
    assert record["kind"] == "plane" and record["params"]["dataset"] == "xor"


# --- the page ------------------------------------------------------------------------------------------------------

def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def test_the_page_offers_every_setting_and_explains_a_bad_drawn_set(app_page):
    at = app_page("playground")
    at.query_params["plane.dataset"] = "drawn"
    at.query_params["plane.points"] = "1,1,1;2,2,0"
    at.run()
    _no_exception(at)
    for p in SPACE:
        assert at.session_state[f"plane.{p.name}"] == (p.default if p.name not in ("dataset", "points")
                                                      else {"dataset": "drawn", "points": "1,1,1;2,2,0"}[p.name])
    assert any(r"\sin x_2" in latex.value for latex in at.latex)  # the features' equations
    at.button(key="plane.train").click().run()
    _no_exception(at)
    assert any("draw at least 2 points of each class" in e.value for e in at.error)
    at.button(key="plane.draw.undo").click().run()  # Undo takes the last point away, Clear the rest
    assert at.text_input(key="plane.points").value == "1,1,1"
    at.button(key="plane.draw.clear").click().run()
    assert at.text_input(key="plane.points").value == ""
    at.button(key="plane.less.hidden_layers").click().run()  # the - button of the layers
    _no_exception(at)
    assert at.slider(key="plane.hidden_layers").value == SPACE["hidden_layers"].default - 1


def test_one_step_ten_steps_and_reset_on_the_page(app_page):
    at = app_page("playground")
    at.query_params["plane.dataset"] = "xor"
    at.run()
    at.toggle(key="plane.net.open").set_value(True).run()
    _no_exception(at)

    def step_line():
        return next(m.value for m in at.markdown if m.value.startswith("**Step"))

    assert step_line().startswith("**Step 0**")
    at.button(key="plane.net.step10").click().run()
    at.button(key="plane.net.step").click().run()
    assert step_line().startswith("**Step 11**") and "batch loss" in step_line()
    at.button(key="plane.net.reset").click().run()
    assert step_line().startswith("**Step 0**")
    _no_exception(at)


def test_a_network_without_hidden_layers_steps_and_draws_its_neurons():
    from core.plane.neurons import make_stepper, neuron_maps

    stepper = make_stepper({"dataset": "circle", "hidden_layers": 0, "x1_squared": True, "x2_squared": True})
    for _ in range(5):
        stepper.step()
    maps = neuron_maps(stepper.model, stepper.names, probe=stepper.probe)
    assert [layer.shape for layer in maps.layers] == [(4, 25, 25), (1, 25, 25)]
    assert stepper.output_grid().shape == (40, 40) and 0 <= stepper.accuracy() <= 1
