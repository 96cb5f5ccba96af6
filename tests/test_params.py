"""core.params: one declaration per hyper-parameter gives parsing, validation, notices and a text round trip."""

import math

import pytest

from core.iris.task import SPACE as IRIS
from core.params import Param, ParamError, ParamSpace

EPOCHS = Param("epochs", 10, "int", 1, 200, help="Passes over the data.")
RATE = Param("learning_rate", 1e-3, "float", 1e-5, 1.0, log=True)
AUGMENT = Param("augment", False, "bool")
ACT = Param("activation", "relu", "choice", choices=("relu", "tanh", "sigmoid"))
NAME = Param("name", "run", "str", label="Run name")
SPACE = ParamSpace((EPOCHS, RATE, AUGMENT, ACT, NAME))


# --- one Param -----------------------------------------------------------------------------------------------

def test_title_and_flag_come_from_the_name():
    assert RATE.title == "Learning rate" and RATE.flag == "--learning-rate"
    assert NAME.title == "Run name"  # an explicit label wins


@pytest.mark.parametrize("text, value", [("5", 5), (" 7 ", 7), ("5.0", 5), ("1e2", 100), ("1", 1), ("200", 200)])
def test_int_parses_whole_numbers(text, value):
    parsed = EPOCHS.parse(text)
    assert parsed == value and type(parsed) is int


@pytest.mark.parametrize("text", ["abc", "", "5.5", "nan", "inf", "-inf", "1e400", "0x10", "five"])
def test_int_rejects_text_that_is_not_a_whole_number(text):
    with pytest.raises(ParamError, match=r"^Epochs: .* is not a valid int"):
        EPOCHS.parse(text)


@pytest.mark.parametrize("text, message", [("0", "0 is below the minimum 1"), ("-3", "below the minimum 1"),
                                           ("201", "201 is above the maximum 200")])
def test_int_bounds_are_enforced_with_the_bound_in_the_message(text, message):
    with pytest.raises(ParamError, match=message):
        EPOCHS.parse(text)


def test_bounds_are_inclusive():
    assert EPOCHS.validate(1) == 1 and EPOCHS.validate(200) == 200
    assert RATE.validate(1e-5) == 1e-5 and RATE.validate(1) == 1.0


@pytest.mark.parametrize("text, value", [("0.003", 0.003), ("1e-3", 1e-3), (" 0.5 ", 0.5), ("1", 1.0)])
def test_float_parses(text, value):
    parsed = RATE.parse(text)
    assert parsed == value and type(parsed) is float


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
def test_float_rejects_nan_and_infinity(text):
    with pytest.raises(ParamError, match="must be a finite number"):
        RATE.parse(text)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_validate_rejects_non_finite_numbers_for_every_numeric_kind(value):
    for p in (RATE, EPOCHS):
        with pytest.raises(ParamError, match="finite"):
            p.validate(value)


@pytest.mark.parametrize("text", ["abc", "", "1,5", "0.1.2"])
def test_float_rejects_garbage(text):
    with pytest.raises(ParamError, match=r"^Learning rate: .* is not a valid float"):
        RATE.parse(text)


def test_float_bounds():
    with pytest.raises(ParamError, match="below the minimum 1e-05"):
        RATE.parse("1e-6")
    with pytest.raises(ParamError, match="above the maximum 1"):
        RATE.parse("2")


@pytest.mark.parametrize("value", ["3", None, [3], True, False])
def test_numbers_must_be_numbers_not_text_or_bools(value):
    with pytest.raises(ParamError, match="expected a number"):
        EPOCHS.validate(value)


def test_int_validate_takes_whole_floats_but_not_fractions():
    assert EPOCHS.validate(12.0) == 12 and type(EPOCHS.validate(12.0)) is int
    with pytest.raises(ParamError, match="whole number"):
        EPOCHS.validate(12.5)


def test_float_validate_coerces_ints():
    assert RATE.validate(1) == 1.0 and type(RATE.validate(1)) is float


@pytest.mark.parametrize("text, value", [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True),
                                         ("false", False), ("0", False), ("No", False), ("off", False)])
def test_bool_parses_the_usual_spellings(text, value):
    assert AUGMENT.parse(text) is value


@pytest.mark.parametrize("text", ["maybe", "2", "", "truthy"])
def test_bool_rejects_other_text(text):
    with pytest.raises(ParamError, match="Augment"):
        AUGMENT.parse(text)


def test_bool_validate():
    assert AUGMENT.validate(True) is True and AUGMENT.validate(0) is False and AUGMENT.validate(1) is True
    for bad in (2, "yes", None, 0.5):
        with pytest.raises(ParamError, match="expected true or false"):
            AUGMENT.validate(bad)


def test_choice_accepts_only_its_choices_and_lists_them():
    assert ACT.parse("tanh") == "tanh" and ACT.parse(" sigmoid ") == "sigmoid"
    with pytest.raises(ParamError, match="'swish' is not one of relu, tanh, sigmoid"):
        ACT.parse("swish")
    with pytest.raises(ParamError, match="not one of"):
        ACT.parse("ReLU")  # case matters: the value goes to Keras as is


def test_str_kind():
    assert NAME.parse("  my run ") == "my run"
    with pytest.raises(ParamError, match="expected text"):
        NAME.validate(3)


def test_parse_of_a_non_string_validates_it():
    assert EPOCHS.parse(7) == 7
    with pytest.raises(ParamError, match="below the minimum"):
        EPOCHS.parse(0)


# --- a ParamSpace ----------------------------------------------------------------------------------------------

def test_space_lookup_names_defaults():
    assert SPACE.names() == ["epochs", "learning_rate", "augment", "activation", "name"]
    assert SPACE["epochs"] is EPOCHS and [p.name for p in SPACE] == SPACE.names()
    assert SPACE.defaults() == {"epochs": 10, "learning_rate": 1e-3, "augment": False, "activation": "relu",
                                "name": "run"}
    with pytest.raises(KeyError):
        SPACE["epoch"]


def test_validate_completes_with_defaults_and_coerces():
    values = SPACE.validate({"epochs": 3.0, "learning_rate": 1})
    assert values == {**SPACE.defaults(), "epochs": 3, "learning_rate": 1.0}
    assert type(values["epochs"]) is int and type(values["learning_rate"]) is float


def test_validate_rejects_unknown_names():
    with pytest.raises(ParamError, match="unknown hyper-parameter 'epoch'"):
        SPACE.validate({"epoch": 3})


def test_one_error_lists_every_problem():
    with pytest.raises(ParamError) as err:
        SPACE.validate({"epochs": 0, "learning_rate": math.nan, "activation": "swish", "bogus": 1, "augment": "x"})
    message = str(err.value)
    problems = message.split("; ")
    assert len(problems) == 5, message
    for part in ("unknown hyper-parameter 'bogus'", "Epochs: 0 is below the minimum 1", "Learning rate: must be a finite",
                 "Activation: 'swish' is not one of", "Augment: expected true or false"):
        assert part in message


def test_param_error_is_a_value_error():
    assert issubclass(ParamError, ValueError)


def test_from_strings_parses_valid_text_and_ignores_unknown_names():
    values, notices = SPACE.from_strings({"epochs": "25", "augment": "true", "utm_source": "mail"})
    assert values == {**SPACE.defaults(), "epochs": 25, "augment": True} and notices == []


def test_from_strings_falls_back_to_defaults_with_one_notice_per_bad_value():
    values, notices = SPACE.from_strings({"epochs": "abc", "learning_rate": "nan", "activation": "tanh",
                                          "augment": "perhaps"})
    assert values == {**SPACE.defaults(), "activation": "tanh"}
    assert len(notices) == 3
    by_name = dict(zip(("epochs", "learning_rate", "augment"), notices))
    assert "Epochs: 'abc' is not a valid int" in by_name["epochs"] and "using the default 10" in by_name["epochs"]
    assert "finite" in by_name["learning_rate"] and "using the default 0.001" in by_name["learning_rate"]
    assert "using the default False" in by_name["augment"]


def test_from_strings_rejects_out_of_bounds_values_too():
    values, notices = SPACE.from_strings({"epochs": "100000"})
    assert values["epochs"] == 10 and "above the maximum 200" in notices[0]


def test_to_strings_is_plain_text():
    text = SPACE.to_strings({"epochs": 5, "learning_rate": 0.003, "augment": True, "activation": "tanh"})
    assert text == {"epochs": "5", "learning_rate": "0.003", "augment": "true", "activation": "tanh"}
    assert SPACE.to_strings({"augment": False}) == {"augment": "false"}


@pytest.mark.parametrize("values", [
    SPACE.defaults(),
    {"epochs": 1, "learning_rate": 1e-5, "augment": True, "activation": "sigmoid", "name": "a b&c=d"},
    {"epochs": 200, "learning_rate": 0.1 + 0.2, "augment": False, "activation": "tanh", "name": ""},
])
def test_to_strings_from_strings_round_trip_is_exact(values):
    back, notices = SPACE.from_strings(SPACE.to_strings(values))
    assert notices == [] and back == values
    assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in values.items()}


def test_round_trip_of_every_iris_setting():
    values = {"hidden_layers": 3, "units": 17, "activation": "tanh", "optimizer": "momentum", "learning_rate": 3e-4,
              "l1": 0.01, "l2": 0.3, "batch_size": 16, "epochs": 25, "repeat": 5, "test_fraction": 0.35,
              "seed": 2**31 - 1}
    back, notices = IRIS.from_strings(IRIS.to_strings(values))
    assert notices == [] and back == values == IRIS.validate(values)


def test_diff_keeps_only_changed_known_values():
    assert SPACE.diff({**SPACE.defaults(), "epochs": 3, "other": 1}) == {"epochs": 3}
    assert SPACE.diff(SPACE.defaults()) == {}


def test_iris_defaults_are_the_portfolio_setting_and_valid():
    d = IRIS.defaults()
    assert (d["hidden_layers"], d["units"], d["activation"], d["learning_rate"], d["batch_size"], d["epochs"],
            d["repeat"], d["test_fraction"]) == (2, 10, "relu", 1e-3, 32, 10, 20, 0.2)
    assert IRIS.validate({}) == d


@pytest.mark.parametrize("kind", ["iris", "cnn", "cvae"])
def test_the_sidebar_groups_cover_every_setting_once(kind):
    from core.registry import get_task

    space = get_task(kind).space
    grouped = space.grouped()
    names = [p.name for _, members in grouped for p in members]
    assert sorted(names) == sorted(space.names()) and len(set(names)) == len(names)
    assert all(title for title, _ in grouped)  # nothing left over, ungrouped


def test_groups_that_name_an_unknown_setting_are_refused():
    space = ParamSpace((Param("a", 1, "int", 0, 2),), groups={"G": ("a", "b")})
    with pytest.raises(KeyError, match="'b'"):
        space.grouped()
