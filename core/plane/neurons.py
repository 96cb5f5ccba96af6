"""Inside the plane's network, neuron by neuron and one training step at a time (NumPy out, no Streamlit).

Here the picture of a neuron is TensorFlow Playground's exactly: its output over the whole plane (x1, x2) in
[-6, 6]². The input column holds the features themselves (x1, x2, x1², ..., each over the plane), the hidden
columns h_l[j](x1, x2), and the output p(blue)(x1, x2): the network truncated after each layer, evaluated on a grid.

Stepping reuses the Iris page's :class:`core.iris.neurons.Stepper` (one ``train_on_batch`` per step, the batches
of a seeded shuffle of the training points, ``reset`` back to the seed's start exactly); only the accuracy differs:
a point is called blue where p ≥ 0.5.
"""

from __future__ import annotations

import numpy as np

from core.iris.neurons import NeuronMaps, Stepper, layer_outputs_model
from core.plane import data
from core.plane.task import SPACE, TASK
from core.seeding import set_seed

# Lazy import: TensorFlow (5.6 s to import) inside make_stepper (its op counter marks the graphs to free later).

RESOLUTION = 25  # grid points per axis of a neuron map


def neuron_maps(model, names, resolution: int = RESOLUTION, probe=None) -> NeuronMaps:
    """Each neuron's output over the plane; ``names``: the model's input features (:func:`core.plane.data.chosen_features`)."""
    xs, points = data.grid(resolution)
    inputs = data.features(points, names)
    if probe is None:
        truncated = layer_outputs_model(model)

        def probe(x):
            return truncated([x], training=False)

    outputs = probe(inputs)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    shape = (resolution, resolution)
    layers = [inputs.T.reshape(-1, *shape)] + [np.asarray(o).T.reshape(-1, *shape) for o in outputs]
    # The output as p - 0.5, so that its map is white on the boundary, blue and orange either side.
    layers[-1] = layers[-1] - 0.5
    return NeuronMaps(xs, xs, (0, 1), layers, ["input"] + [layer.name for layer in model.layers])


class PlaneStepper(Stepper):
    def p_blue(self, inputs) -> np.ndarray:
        """The output p(blue), shape (n,), through the traced probe (a lone tensor when there is no hidden layer)."""
        outputs = self.probe(inputs)
        return np.asarray(outputs[-1] if isinstance(outputs, (list, tuple)) else outputs).reshape(-1)

    def accuracy(self) -> float:
        """Share of the training points the model puts on the right side of the boundary now."""
        return float(((self.p_blue(self.x) >= 0.5) == self.y).mean())

    def output_grid(self, resolution: int = 40) -> np.ndarray:
        """p(blue) over a (resolution, resolution) grid of the plane, row 0 at x2 = -6."""
        _, points = data.grid(resolution)
        return self.p_blue(data.features(points, self.names)).reshape(resolution, resolution)


def make_stepper(params: dict, warm: bool = True) -> PlaneStepper:
    """A fresh model of the plane task for ``params`` (seeded as a training with that seed starts) to step through,
    on the training points of these settings (ValueError for a bad drawn set). ``warm``: trace its step now."""
    from tensorflow.python.framework import ops

    params = SPACE.validate(params)
    TASK.check_ready(params)
    split = data.load(params)
    names = data.chosen_features(params)
    mark = ops.uid()
    set_seed(params["seed"])
    model = TASK.build(params)
    stepper = PlaneStepper(model, data.features(split.xy_train, names), split.y_train.astype("float32"),
                           params["batch_size"], 1, params["seed"], key=stepper_key(params))
    stepper._mark = mark
    stepper.names = names
    stepper.split = split
    if warm:
        stepper.step()
        stepper.reset()
        stepper.probe(data.features(data.grid(RESOLUTION)[1], names))
        stepper.output_grid()
        stepper.accuracy()
    return stepper


STEPPER_SETTINGS = ("dataset", "noise", "n_points", "test_fraction", "points", *data.FEATURES, "hidden_layers",
                    "units", "activation", "optimizer", "learning_rate", "l1", "l2", "batch_size", "seed")


def stepper_key(params: dict) -> tuple:
    """The settings a stepper depends on (not ``epochs`` or ``repeat``): another value needs another stepper."""
    return tuple(params[name] for name in STEPPER_SETTINGS)

