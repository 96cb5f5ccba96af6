"""The ``tabular`` model kind: a multi-layer perceptron on any CSV table, an ordinary kind of the registry.

The table is a file setting (``csv``): the executor ships its bytes to the worker, and the run keeps them
(``table.csv``, at most :data:`core.tabular.reading.MAX_BYTES`) beside the fitted column plan (``plan.json``), so the
run says exactly what it learnt from, and a prediction encodes a new row as the training did. Like every run, the
table belongs to the run's owner: it is read through the store with the viewer's id (:func:`run_table`).
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path

from core.metrics import confusion, cross_entropy
from core.params import Param, ParamSpace
from core.tabular.baselines import baseline_accuracies
from core.tabular.columns import NUMBER, Encoder
from core.tabular.data import load_table, prepare_table
from core.tabular.importance import permutation_importance
from core.tabular.model import build_mlp, predict_proba
from core.tabular.reading import TableError
from core.tasks import Prepared, Task

# Lazy imports: TensorFlow (5.6 s to import) inside prepare, which builds the input pipelines in the worker; pandas
# (0.24 s) inside predict_row, so that the registry imports this kind at once.

TABLE_FILE, PLAN_FILE = "table.csv", "plan.json"

SPACE = ParamSpace((
    Param("csv", "", "str", label="CSV file", browser=False,
          help="The table to learn from: a CSV file as a spreadsheet exports it (the page uploads yours)."),
    Param("label", "", "str", label="Label column",
          help="The column to predict; empty: a column named like label/class/target/species/diagnosis, else the "
               "last text column."),
    Param("drop", "", "str", label="Columns to drop", help="Column names separated by commas, left out of the inputs."),
    Param("hidden_layers", 2, "int", 1, 4, help="Number of hidden Dense layers."),
    Param("units", 16, "int", 1, 128, help="Neurons in each hidden layer."),
    Param("activation", "relu", "choice", choices=("relu", "tanh", "sigmoid", "elu", "linear"),
          help="Non-linearity phi of the hidden layers."),
    Param("optimizer", "adam", "choice", choices=("sgd", "momentum", "rmsprop", "adam"),
          help="How a gradient becomes a step: plain SGD (10 x eta), SGD with momentum 0.9, RMSprop or Adam."),
    Param("learning_rate", 3e-3, "float", 1e-5, 1.0, log=True, help="Step size eta."),
    Param("l1", 0.0, "float", 0.0, 1.0, step=0.01, label="L1 penalty", help="Adds l1 * sum |w| to the loss."),
    Param("l2", 0.0, "float", 0.0, 1.0, step=0.01, label="L2 penalty", help="Adds l2 * sum w^2 to the loss."),
    Param("batch_size", 32, "int", 1, 1024, help="Rows per gradient step."),
    Param("epochs", 40, "int", 1, 500, help="Passes over the training rows."),
    Param("test_fraction", 0.2, "float", 0.1, 0.5, step=0.05, help="Share of the rows held out for the test."),
    Param("validation_fraction", 0.2, "float", 0.1, 0.5, step=0.05,
          help="Share of the remaining rows for the validation curve (not trained on)."),
    Param("seed", 42, "int", 0, 2**31 - 1, help="Seed for the split, the weights and shuffling; same seed, same run."),
), groups={
    "Architecture": ("hidden_layers", "units", "activation"),
    "Training": ("optimizer", "learning_rate", "l1", "l2", "batch_size", "epochs", "seed"),
    "Data": ("test_fraction", "validation_fraction"),
})

_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a loaded model -> its run's Encoder


def read_plan(folder: Path) -> Encoder:
    path = Path(folder) / PLAN_FILE
    if not path.is_file():
        raise ValueError(f"no column plan ({PLAN_FILE}) beside this model: predict with a run of `train tabular`")
    return Encoder.from_dict(json.loads(path.read_text()))


def run_table(store, run_id: str, viewer: str | None) -> bytes:
    """The table a run was trained on, for ``viewer`` only if the run is theirs or shared (else RunNotFound)."""
    store.get(run_id, viewer)
    return (store.path(run_id) / TABLE_FILE).read_bytes()


def parse_row(inputs: list[str]) -> dict[str, str]:
    """``col=value`` words as a row; ValueError for a word without ``=``."""
    row = {}
    for word in inputs:
        name, sep, value = word.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"give each value as column=value, got {word!r}")
        row[name.strip()] = value.strip()
    return row


def predict_row(model, encoder: Encoder, row: dict[str, str]) -> dict:
    """The network's verdict on one row of text cells: missing columns filled as training filled empty cells; the
    label and columns the plan dropped (an id) ignored; any other name is a ValueError."""
    import pandas as pd

    ignored = [name for name in row if name in [d["name"] for d in encoder.dropped] + [encoder.label]]
    row = {name: value for name, value in row.items() if name not in ignored}
    unknown = [name for name in row if name not in [c["name"] for c in encoder.columns]]
    if unknown:
        used = ", ".join(c["name"] for c in encoder.columns)
        raise ValueError(f"no input column named {', '.join(map(repr, unknown))}; the network reads {used}")
    cells = {}
    for c in encoder.columns:
        value = row.get(c["name"]) or None
        if value is not None and c["role"] == NUMBER:
            try:
                value = repr(float(value.replace(",", ".")))  # 12.5 or 12,5 alike
            except ValueError:
                raise ValueError(f"{c['name']} takes a number, got {value!r}") from None
        cells[c["name"]] = value
    frame = pd.DataFrame([cells], dtype="string")
    x, _ = encoder.transform(frame)
    probs = predict_proba(model, x)[0]
    best = int(probs.argmax())
    return {"row": row, "ignored": ignored, "filled": [c["name"] for c in encoder.columns if not row.get(c["name"])],
            "class": encoder.classes[best], "probability": float(probs[best]),
            "probabilities": {c: float(p) for c, p in zip(encoder.classes, probs)}}


class TabularTask(Task):
    kind = "tabular"
    title = "Your table"
    space = SPACE
    cli_inputs = "column=value per input column (missing ones filled as training filled empty cells)"
    file_params = ("csv",)

    def check_ready(self, params, store):
        if not params["csv"]:
            raise ValueError("choose a table first: upload a CSV file (command line: --csv PATH)")
        try:
            prepare_table(load_table(params["csv"]), params)
        except TableError as err:
            raise ValueError(str(err)) from None

    def prepare(self, params, store=None):
        import tensorflow as tf

        table = load_table(params["csv"])
        data = prepare_table(table, params)
        name = Path(params["csv"]).name
        train = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
                 .shuffle(len(data.y_train), seed=params["seed"], reshuffle_each_iteration=True)
                 .batch(params["batch_size"]))
        validation = tf.data.Dataset.from_tensor_slices((data.x_val, data.y_val)).batch(1024)
        arrays = {"data": data, "bytes": Path(params["csv"]).read_bytes(), "name": name, "seed": params["seed"]}
        return Prepared(train, validation, data.info(name, table), arrays)

    def build(self, params, prepared=None):
        if prepared is None:
            raise ValueError("a table's network is sized by its table: prepare the data first")
        data = prepared.arrays["data"]
        return build_mlp(data.x_train.shape[1], len(data.encoder.classes), params["hidden_layers"], params["units"],
                         params["activation"], params["learning_rate"], params["optimizer"], params["l1"], params["l2"])

    def evaluate(self, model, prepared):
        data = prepared.arrays["data"]
        metrics = {}
        for split, x, y in (("train", data.x_train, data.y_train), ("validation", data.x_val, data.y_val),
                            ("test", data.x_test, data.y_test)):
            probs = predict_proba(model, x)
            metrics[f"{split}_accuracy"] = float((probs.argmax(1) == y).mean())
        test_probs = predict_proba(model, data.x_test)
        metrics["test_loss"] = cross_entropy(test_probs, data.y_test)
        metrics["confusion"] = confusion(data.y_test, test_probs.argmax(1), len(data.encoder.classes)).tolist()
        seed = int(prepared.arrays.get("seed", 42))
        for name, value in baseline_accuracies(data.x_train, data.y_train, data.x_test, data.y_test, seed).items():
            metrics[f"baseline_{name}_accuracy"] = value
        metrics["importance"] = permutation_importance(lambda x: predict_proba(model, x), data.x_test, data.y_test,
                                                       data.encoder.groups)
        metrics["classes"] = list(data.encoder.classes)
        return metrics

    def run_files(self, model, prepared):
        plan = json.dumps(prepared.arrays["data"].encoder.to_dict(), indent=1).encode()
        return {TABLE_FILE: prepared.arrays["bytes"], PLAN_FILE: plan}

    def record_fields(self, params, prepared):
        return {"table": {"file": TABLE_FILE, "name": prepared.arrays["name"], "bytes": len(prepared.arrays["bytes"])}}

    def attach_run(self, model, ref, store):
        path = Path(ref)
        if path.is_dir():
            folder = path
        elif path.suffix == ".keras" or path.exists():
            folder = path.parent
        else:
            store.get(ref)
            folder = store.path(ref)
        _PLANS[model] = read_plan(folder)

    def predict_inputs(self, model, inputs):
        encoder = _PLANS.get(model)
        if encoder is None:
            raise ValueError(f"no column plan for this model: name a run of `train tabular` ({PLAN_FILE} beside it)")
        return [predict_row(model, encoder, parse_row(inputs))]

    def format_prediction(self, result):
        probs = "  ".join(f"{c} {p:.3f}" for c, p in result["probabilities"].items())
        filled = f"  (filled: {', '.join(result['filled'])})" if result["filled"] else ""
        ignored = f"  (ignored: {', '.join(result['ignored'])})" if result.get("ignored") else ""
        return f"-> {result['class']} (p={result['probability']:.3f})   [{probs}]{filled}{ignored}"


TASK = TabularTask()
