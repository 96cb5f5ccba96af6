"""The ``plane`` model kind: a network that learns to colour a plane, on Playground's data sets or points drawn by hand.

Its settings are TensorFlow Playground's (data set, noise, train/test ratio, input features, layers, neurons,
activation, learning rate, batch size, L1/L2) plus the Iris page's optimizers. The defaults learn every generated set:
the spiral to ≥ 90 % test accuracy and the others to ≥ 95 % (README's held-out table). Several times a second the
task publishes the network's output over the plane (:meth:`PlaneTask.callbacks`), so a page redraws the boundary
while the job trains.
"""

from __future__ import annotations

import math

import numpy as np

from core.params import Param, ParamSpace
from core.plane import data
from core.plane.data import DATASETS, FEATURES
from core.plane.live import boundary_callback
from core.plane.model import ACTIVATIONS, build_model, log_loss, predict_blue
from core.tasks import Prepared, Task

# Lazy import: TensorFlow (5.6 s to import) inside PlaneTask.prepare, which builds the input pipelines.

BOUNDARY_RESOLUTION = 40  # grid points per axis of the published boundary

_FEATURE_HELP = {"x1": "x1 itself", "x2": "x2 itself", "x1_squared": "x1^2", "x2_squared": "x2^2",
                 "x1_x2": "the product x1 x2", "sin_x1": "sin x1", "sin_x2": "sin x2"}

SPACE = ParamSpace((
    Param("dataset", "circle", "choice", choices=DATASETS,
          help="The points to learn: Playground's circle, XOR, two Gaussians or spiral, moons, or drawn: the points "
               "of the 'points' setting (clicked on the page)."),
    Param("noise", 0.0, "float", 0.0, 0.5, step=0.05, help="How far the generated points stray (Playground's 0-50 %)."),
    Param("n_points", 500, "int", 50, 1000, step=50, label="Points", help="Points generated (both classes)."),
    Param("test_fraction", 0.5, "float", 0.1, 0.9, step=0.05, label="Test share",
          help="Share of the points held out for testing (Playground's ratio of training to test data)."),
    Param("points", "", "str", label="Drawn points",
          help="The points drawn by hand, 'x,y,class;x,y,class;...' (class 0 orange, 1 blue; x, y in [-6, 6]); "
               "used when the data set is 'drawn'."),
    *(Param(name, name in ("x1", "x2"), "bool", label=label, help=f"Feed {_FEATURE_HELP[name]} to the network.")
      for name, (label, _) in FEATURES.items()),
    Param("hidden_layers", 3, "int", 0, 6, help="Number of hidden Dense layers (0: a linear classifier of the features)."),
    Param("units", 8, "int", 1, 8, label="Neurons", help="Neurons in each hidden layer (Playground's at most 8)."),
    Param("activation", "relu", "choice", choices=ACTIVATIONS, help="Non-linearity phi of the hidden layers."),
    Param("optimizer", "adam", "choice", choices=("sgd", "momentum", "rmsprop", "adam"),
          help="How a gradient becomes a step: plain SGD (10 x eta), SGD with momentum 0.9, RMSprop or Adam."),
    Param("learning_rate", 0.01, "float", 1e-5, 1.0, log=True, help="Step size eta."),
    Param("l1", 0.0, "float", 0.0, 0.1, step=0.001, label="L1 rate",
          help="Adds l1 * sum |w| over the kernels to the loss: pushes weights to exactly 0."),
    Param("l2", 0.0, "float", 0.0, 0.1, step=0.001, label="L2 rate",
          help="Adds l2 * sum w^2 over the kernels to the loss (weight decay): keeps weights small."),
    Param("batch_size", 10, "int", 1, 100, help="Points per gradient step (Playground's 1-30)."),
    Param("epochs", 25, "int", 1, 500, help="Passes over the training points, each repeated 'repeat' times."),
    Param("repeat", 5, "int", 1, 50, help="Times the training points are repeated within one epoch."),
    Param("seed", 0, "int", 0, 2**31 - 1, help="Seed for the points, the split, the weights and the shuffling."),
), groups={
    "Data": ("dataset", "noise", "n_points", "test_fraction", "points"),
    "Features": tuple(FEATURES),
    "Network": ("hidden_layers", "units", "activation"),
    "Training": ("optimizer", "learning_rate", "l1", "l2", "batch_size", "epochs", "repeat", "seed"),
})


class PlaneTask(Task):
    kind = "plane"
    title = "2-D playground"
    space = SPACE
    cli_inputs = "x1 x2 pairs: points on the plane"
    publish_seconds = 0.1  # the boundary is redrawn live, more than twice a second

    def check_ready(self, params, store=None):
        if not data.chosen_features(params):
            raise ValueError("switch on at least one input feature (x1, x2, x1², ...)")
        if params["dataset"] == "drawn":
            _, labels = data.parse_points(params["points"])
            data.check_drawn(labels)

    def prepare(self, params, store=None):
        import tensorflow as tf

        self.check_ready(params)
        split = data.load(params)
        names = data.chosen_features(params)
        x_train, x_test = data.features(split.xy_train, names), data.features(split.xy_test, names)
        n = len(x_train)
        train = (tf.data.Dataset.from_tensor_slices((x_train, split.y_train)).repeat(params["repeat"])
                 .shuffle(n * params["repeat"], seed=params["seed"], reshuffle_each_iteration=True)
                 .batch(params["batch_size"]).prefetch(2))
        validation = tf.data.Dataset.from_tensor_slices((x_test, split.y_test)).batch(1024)
        _, grid_xy = data.grid(BOUNDARY_RESOLUTION)
        arrays = {"xy_train": split.xy_train, "y_train": split.y_train, "xy_test": split.xy_test,
                  "y_test": split.y_test, "x_train": x_train, "x_test": x_test, "grid": data.features(grid_xy, names)}
        return Prepared(train, validation, {**split.info, "features": names}, arrays)

    def build(self, params, prepared=None):
        return build_model(len(data.chosen_features(params)), params["hidden_layers"], params["units"],
                           params["activation"], params["learning_rate"], params["optimizer"], params["l1"],
                           params["l2"])

    def evaluate(self, model, prepared):
        a, metrics = prepared.arrays, {}
        for part in ("train", "test"):
            p = predict_blue(model, a[f"x_{part}"])
            metrics[f"{part}_accuracy"] = float(((p >= 0.5) == a[f"y_{part}"]).mean())
            metrics[f"{part}_loss"] = log_loss(p, a[f"y_{part}"])
        return metrics

    def callbacks(self, prepared, progress):
        """Publish p(blue) over a 40 x 40 grid of the plane (bytes 0-255, 1.6 kB) several times a second and after
        each epoch, for the live picture (:mod:`core.plane.live`)."""
        return (boundary_callback(prepared.arrays["grid"], BOUNDARY_RESOLUTION, progress),)

    def check_inputs(self, inputs):
        _points(inputs)

    def predict_inputs(self, model, inputs):
        xy = _points(inputs)
        names = getattr(model, "_plane_features", None) or ["x1", "x2"]
        if len(names) != int(model.inputs[0].shape[-1]):
            raise ValueError(f"this model takes {int(model.inputs[0].shape[-1])} features; name its run to predict")
        return [{"point": [float(x), float(y)], "p_blue": float(p), "class": data.CLASSES[int(p >= 0.5)]}
                for (x, y), p in zip(xy, predict_blue(model, data.features(xy, names)))]

    def attach_run(self, model, ref, store):
        """The run's features (x1, x2, x1², ...), which turn a point into the model's inputs."""
        model._plane_features = data.chosen_features(store.get(ref)["params"])

    def format_prediction(self, result):
        x, y = result["point"]
        return f"({x:g}, {y:g}) -> {result['class']} (p(blue) = {result['p_blue']:.3f})"


def _points(inputs: list[str]) -> np.ndarray:
    """Command-line numbers as points (x1, x2) of the plane; ValueError with what is wrong."""
    try:
        values = [float(v) for v in inputs]
    except ValueError:
        raise ValueError(f"plane takes numbers x1 x2, got {' '.join(inputs)!r}") from None
    if not values or len(values) % 2 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"plane takes pairs of finite numbers x1 x2; got {' '.join(inputs)!r}")
    return np.asarray(values, dtype="float32").reshape(-1, 2)


TASK = PlaneTask()
