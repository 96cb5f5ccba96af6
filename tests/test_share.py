"""Settings live in the URL query string: a copied link restores every hyper-parameter."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.cvae.task import SPACE as CVAE_SPACE
from core.iris.task import SPACE as IRIS_SPACE
from core.mnist.task import SPACE as CNN_SPACE

PAGES = Path(__file__).resolve().parents[1] / "app_pages"

# A non-default, valid value for every Iris setting.
IRIS_LINK = {"hidden_layers": 3, "units": 17, "activation": "tanh", "optimizer": "rmsprop", "learning_rate": 0.003,
             "l1": 0.02, "l2": 0.05, "batch_size": 16, "epochs": 25, "repeat": 5, "test_fraction": 0.3, "seed": 7}


def _widgets(at) -> dict:
    values = {}
    for kind in ("slider", "number_input", "selectbox", "toggle", "text_input"):
        for w in getattr(at.sidebar, kind):
            values[w.key] = w.value
    return values


def test_url_round_trip_restores_every_iris_setting():
    assert set(IRIS_LINK) == set(IRIS_SPACE.names())  # a new setting needs a non-default value here
    at = AppTest.from_file(str(PAGES / "iris.py"), default_timeout=60)
    for name, text in IRIS_SPACE.to_strings(IRIS_LINK).items():
        at.query_params[f"iris.{name}"] = text
    at.run()
    assert not at.exception
    values = _widgets(at)
    for name, value in IRIS_LINK.items():
        assert values[f"iris.{name}"] == pytest.approx(value) if isinstance(value, float) else values[
            f"iris.{name}"] == value, name
    assert not at.sidebar.warning


def test_invalid_url_values_fall_back_to_defaults_with_a_notice():
    at = AppTest.from_file(str(PAGES / "iris.py"), default_timeout=60)
    at.query_params["iris.units"] = "abc"
    at.query_params["iris.learning_rate"] = "-5"
    at.query_params["iris.epochs"] = "12"
    at.run()
    values = _widgets(at)
    assert values["iris.units"] == IRIS_SPACE["units"].default
    assert values["iris.learning_rate"] == pytest.approx(IRIS_SPACE["learning_rate"].default)
    assert values["iris.epochs"] == 12
    notices = " ".join(w.value for w in at.sidebar.warning)
    assert "Units" in notices and "Learning rate" in notices


@pytest.mark.parametrize("space", [IRIS_SPACE, CNN_SPACE, CVAE_SPACE], ids=["iris", "cnn", "cvae"])
def test_param_text_round_trip(space):
    values = space.defaults()
    parsed, notices = space.from_strings(space.to_strings(values))
    assert parsed == values and not notices
