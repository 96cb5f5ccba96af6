"""The Iris model kind: hyper-parameters, data, model and evaluation for the training machinery."""

from __future__ import annotations

import math

from core.iris import data
from core.iris.data import FEATURES, SPECIES
from core.iris.model import build_model, predict_proba
from core.metrics import confusion, cross_entropy
from core.params import Param, ParamSpace
from core.tasks import Prepared, Task

SPACE = ParamSpace((
    Param("hidden_layers", 2, "int", 1, 4, help="Number of hidden Dense layers."),
    Param("units", 10, "int", 1, 64, help="Neurons in each hidden layer."),
    Param("activation", "relu", "choice", choices=("relu", "tanh", "sigmoid", "elu", "linear"),
          help="Non-linearity phi of the hidden layers."),
    Param("optimizer", "adam", "choice", choices=("sgd", "momentum", "rmsprop", "adam"),
          help="How a gradient becomes a step: plain SGD, SGD with momentum 0.9, RMSprop or Adam (the portfolio's)."),
    Param("learning_rate", 1e-3, "float", 1e-5, 1.0, log=True,
          help="Step size eta: Adam, RMSprop and momentum use it as is; plain SGD steps 10 x eta, the long-run step of "
               "momentum 0.9 (at eta itself it would barely learn Iris in 10 epochs)."),
    Param("l1", 0.0, "float", 0.0, 1.0, step=0.01, label="L1 penalty",
          help="Adds l1 * sum |w| over the hidden and output kernels to the loss: pushes weights to exactly 0."),
    Param("l2", 0.0, "float", 0.0, 1.0, step=0.01, label="L2 penalty",
          help="Adds l2 * sum w^2 over the hidden and output kernels to the loss (weight decay): keeps weights small."),
    Param("batch_size", 32, "int", 1, 1024, help="Examples per gradient step."),
    Param("epochs", 10, "int", 1, 200, help="Passes over the (repeated) training set."),
    Param("repeat", 20, "int", 1, 100, help="Times the training set is repeated within one epoch."),
    Param("test_fraction", 0.2, "float", 0.1, 0.5, step=0.05, help="Share of the 150 flowers held out for testing."),
    Param("seed", 42, "int", 0, 2**31 - 1, help="Seed for weights and shuffling; same seed, same run."),
), groups={  # how the sidebar groups the settings
    "Architecture": ("hidden_layers", "units", "activation"),
    "Training": ("optimizer", "learning_rate", "l1", "l2", "batch_size", "epochs", "repeat", "seed"),
    "Data": ("test_fraction",),
})


class IrisTask(Task):
    kind = "iris"
    title = "Iris classifier"
    space = SPACE
    input_shape = (4,)
    cli_inputs = "4 measurements in cm per flower"

    def prepare(self, params, store=None):
        split = data.load_split(params["test_fraction"])
        train = data.train_dataset(split.x_train, split.y_train, repeat=params["repeat"],
                                   batch_size=params["batch_size"], seed=params["seed"])
        validation = data.eval_dataset(split.x_test, split.y_test)
        arrays = {"x_train": split.x_train, "y_train": split.y_train, "x_test": split.x_test, "y_test": split.y_test}
        return Prepared(train, validation, split.info, arrays)

    def build(self, params, prepared=None):
        return build_model(params["hidden_layers"], params["units"], params["activation"], params["learning_rate"],
                           params["optimizer"], params["l1"], params["l2"])

    def evaluate(self, model, prepared):
        a = prepared.arrays
        metrics = {}
        for split in ("train", "test"):
            probs = predict_proba(model, a[f"x_{split}"])
            metrics[f"{split}_accuracy"] = float((probs.argmax(1) == a[f"y_{split}"]).mean())
        test_probs = predict_proba(model, a["x_test"])
        metrics["test_loss"] = cross_entropy(test_probs, a["y_test"])
        metrics["confusion"] = confusion(a["y_test"], test_probs.argmax(1)).tolist()
        return metrics

    def check_inputs(self, inputs):
        _flowers(inputs)

    def predict_inputs(self, model, inputs):
        flowers = _flowers(inputs)
        results = []
        for flower, probs in zip(flowers, predict_proba(model, flowers)):
            results.append({
                "flower": flower,
                "species": SPECIES[int(probs.argmax())],
                "probability": float(probs.max()),
                "probabilities": {s: float(p) for s, p in zip(SPECIES, probs)},
            })
        return results

    def format_prediction(self, result):
        flower = " ".join(f"{v:g}" for v in result["flower"])
        probs = "  ".join(f"{s} {p:.3f}" for s, p in result["probabilities"].items())
        return f"{flower} -> {result['species']} (p={result['probability']:.3f})   [{probs}]"


def _flowers(inputs: list[str]) -> list[list[float]]:
    """Command-line numbers as flowers of 4 measurements in cm; ValueError with what is wrong."""
    try:
        values = [float(v) for v in inputs]
    except ValueError:
        raise ValueError(f"iris takes numbers in cm ({', '.join(FEATURES)}), got {' '.join(inputs)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"iris takes finite measurements in cm, got {' '.join(inputs)!r}")
    if not values or len(values) % 4:
        raise ValueError(f"iris takes 4 numbers per flower ({', '.join(FEATURES)}); got {len(values)}")
    return [values[i:i + 4] for i in range(0, len(values), 4)]


TASK = IrisTask()
