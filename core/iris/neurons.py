"""Inside the Iris network, neuron by neuron and one training step at a time (NumPy out, no Streamlit).

TensorFlow Playground draws every neuron as a small picture: its activation over a plane of inputs. Here the plane
is two chosen measurements (a, b); the other two are held at their training mean m:

    x(a, b) = m with x[fx] = a, x[fy] = b
    h_0 = x,   h_l = phi(W_l^T h_(l-1) + b_l)   (hidden layers),   p = softmax(W_L^T h_(L-1) + b_L)

The map of neuron j in layer l is h_l[j](a, b) over a grid: the network truncated after layer l, evaluated on the
grid (:func:`neuron_maps`). The weight W_l[i, j] joins neuron i of layer l-1 to neuron j of layer l; the diagram
draws it as a line whose width grows with |W_l[i, j]| and whose colour is its sign (:func:`weight_diagram`).

A :class:`Stepper` trains its own model one batch at a time. Step k feeds batch k of the training set repeated
``repeat`` times, each pass over it shuffled by (seed, pass), and applies one optimizer update to every weight,

    w <- w - eta * u(g),   g = dL_batch / dw   (u: the optimizer's rule, see :mod:`core.iris.model`)

with ``train_on_batch``. :meth:`Stepper.reset` puts back the seed's initial weights and the optimizer's initial
state (zero moments, iteration 0) and rewinds the batches, so the next step is again the very first one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.iris.task import SPACE, TASK
from core.seeding import set_seed

# Lazy imports: TensorFlow and Keras (5.6 s to import) and core.training (imports both) inside the functions that
# build and step a model, so that the Iris page paints before they load.

RESOLUTION = 25  # grid points per axis of a neuron map


@dataclass
class NeuronMaps:
    """Every neuron's value over a grid of two features.

    layers[l]: array (n_neurons, ny, nx); layer 0 holds the four inputs, the last the three class probabilities.
    """

    xs: np.ndarray  # (nx,) values of feature fx
    ys: np.ndarray  # (ny,) values of feature fy
    features: tuple[int, int]
    layers: list[np.ndarray]
    names: list[str]


@dataclass
class Diagram:
    """The network's weights: ``kernels[l]`` (n_in, n_out) joins layer l to layer l + 1; ``sizes`` neurons per layer."""

    sizes: list[int]
    kernels: list[np.ndarray]
    biases: list[np.ndarray]
    names: list[str]

    def edges(self) -> np.ndarray:
        """One row (layer, i, j, weight) per line of the diagram: from neuron i of ``layer`` to j of ``layer`` + 1."""
        rows = [(layer, i, j, w) for layer, k in enumerate(self.kernels) for (i, j), w in np.ndenumerate(k)]
        return np.asarray(rows, dtype="float64").reshape(-1, 4)


def plane_grid(x_reference, features=(2, 3), resolution: int = RESOLUTION, margin: float = 0.5):
    """Grid axes over two features and the grid's flowers, shape (ny * nx, 4): the others at the reference mean.

    Row ``i * nx + j`` is the point (xs[j], ys[i]).
    """
    ref = np.asarray(x_reference, dtype="float32")
    fx, fy = features
    xs = np.linspace(ref[:, fx].min() - margin, ref[:, fx].max() + margin, resolution, dtype="float32")
    ys = np.linspace(ref[:, fy].min() - margin, ref[:, fy].max() + margin, resolution, dtype="float32")
    gx, gy = np.meshgrid(xs, ys)
    rows = np.repeat(ref.mean(axis=0, keepdims=True), gx.size, axis=0)
    rows[:, fx], rows[:, fy] = gx.ravel(), gy.ravel()
    return xs, ys, rows


def layer_outputs_model(model):
    """A Keras model from the network's input to the output of every layer (the truncated networks, all at once).

    It shares the layers (and so the weights) of ``model``: it sees every training step without being rebuilt.
    """
    import keras

    return keras.Model(model.inputs, [layer.output for layer in model.layers])


def compiled_layer_outputs(model, jit: bool = False):
    """``f(x)``: the outputs of every layer for an (n, 4) array, as one traced (``jit``: XLA-compiled) function."""
    import tensorflow as tf

    probe = layer_outputs_model(model)
    return tf.function(lambda x: probe([x], training=False), jit_compile=jit, reduce_retracing=True)


def neuron_maps(model, x_reference, features=(2, 3), resolution: int = RESOLUTION, probe=None) -> NeuronMaps:
    """Each neuron's activation over the plane of ``features`` (others at the mean of ``x_reference``).

    ``probe``: a function from an (n, 4) array to the outputs of every layer (:func:`compiled_layer_outputs`),
    if already made; by default the truncated networks of :func:`layer_outputs_model`, called eagerly.
    """
    xs, ys, rows = plane_grid(x_reference, features, resolution)
    if probe is None:
        truncated = layer_outputs_model(model)

        def probe(x):
            return truncated([x], training=False)

    outputs = probe(rows)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    shape = (len(ys), len(xs))
    layers = [rows.T.reshape(-1, *shape)] + [np.asarray(o).T.reshape(-1, *shape) for o in outputs]
    names = ["input"] + [layer.name for layer in model.layers]
    return NeuronMaps(xs, ys, tuple(features), layers, names)


def weight_diagram(model) -> Diagram:
    """The kernels and biases of the network's Dense layers, input to output."""
    dense = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]
    kernels = [np.asarray(layer.kernel) for layer in dense]
    biases = [np.asarray(layer.bias) for layer in dense]
    sizes = [kernels[0].shape[0]] + [k.shape[1] for k in kernels]
    return Diagram(sizes, kernels, biases, ["input"] + [layer.name for layer in dense])


@dataclass
class Stepper:
    """A model trained by hand, one batch per :meth:`step`; :meth:`reset` goes back to the start exactly."""

    model: Any
    x: np.ndarray
    y: np.ndarray
    batch_size: int
    repeat: int
    seed: int
    key: Any = None  # the settings it was built from (the page rebuilds it when they change)
    steps: int = 0
    losses: list = field(default_factory=list)
    probe: Any = None
    _initial: list = field(default_factory=list)
    _initial_optimizer: list = field(default_factory=list)
    _order: tuple = (None, None)  # (pass, shuffled indices of that pass)
    _mark: int = 0
    xla: bool = False

    def __post_init__(self):
        self.use_xla(self.xla)
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self._initial = [np.array(w) for w in self.model.get_weights()]
        self._initial_optimizer = [np.array(v) for v in optimizer.variables]

    @property
    def steps_per_pass(self) -> int:
        return math.ceil(len(self.x) * self.repeat / self.batch_size)

    def batch_indices(self, k: int) -> np.ndarray:
        """The training flowers of step k: slice k of its pass's shuffled order of the repeated training set."""
        n = len(self.x) * self.repeat
        p, i = divmod(k, self.steps_per_pass)
        if self._order[0] != p:
            self._order = (p, np.random.default_rng([self.seed, p]).permutation(n) % len(self.x))
        return self._order[1][i * self.batch_size:(i + 1) * self.batch_size]

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        idx = self.batch_indices(self.steps)
        return self.x[idx], self.y[idx]

    def step(self) -> float:
        """Train on the next batch (one optimizer update); returns that batch's loss (with the penalties)."""
        xb, yb = self.next_batch()
        logs = self.model.train_on_batch(xb, yb, return_dict=True)
        self.steps += 1
        self.losses.append(float(logs["loss"]))
        return self.losses[-1]

    def reset(self) -> None:
        """The initial weights and optimizer state, the first batch next, no losses."""
        self.model.set_weights(self._initial)
        for variable, value in zip(self.model.optimizer.variables, self._initial_optimizer):
            variable.assign(value)
        self.steps, self.losses = 0, []

    def where(self) -> str:
        """Where the last step was in the data: " (pass 1, batch 8 of 75)"; "" before the first step."""
        p, i = divmod(max(self.steps - 1, 0), self.steps_per_pass)
        return f" (pass {p + 1}, batch {i + 1} of {self.steps_per_pass})" if self.steps else ""

    def last_loss(self) -> str:
        return f"batch loss {self.losses[-1]:.4f}" if self.losses else "no step yet"

    def accuracy(self) -> float:
        """Share of the training flowers the model classifies right now."""
        probs = np.asarray(self.probe(self.x)[-1])
        return float((probs.argmax(1) == self.y).mean())

    def use_xla(self, on: bool) -> None:
        """Train and probe with (or without) XLA; the step functions are traced again on their next call.

        A traced step takes 3-8 ms here, but ``keras.backend.clear_session()`` (which Streamlit calls after every
        script run, fragments too, unless the app turns it off as :func:`ui.session.ensure_tf` does) clears
        TensorFlow's eager kernel cache, after which a traced step is set up again on every call: 100-500 ms. An
        XLA-compiled one survives that (about 10 ms) but takes 2-4 s longer to build.
        """
        self.model.jit_compile = on
        self.model.train_function = None
        self.probe = compiled_layer_outputs(self.model, jit=on)

    def close(self) -> None:
        """Free the graphs its training step traced (see :func:`core.training.free_traced_graphs`)."""
        from core.training import free_traced_graphs

        free_traced_graphs(self.model, self._mark)


def make_stepper(params: dict, x_train, y_train, warm: bool = True) -> Stepper:
    """A fresh model of the Iris task for ``params`` (seeded as a training with that seed starts) to step through.

    ``warm``: compile the training step now (one step, then :meth:`Stepper.reset`), so the first click is as quick
    as the others.
    """
    from tensorflow.python.framework import ops

    params = SPACE.validate(params)
    mark = ops.uid()
    set_seed(params["seed"])
    model = TASK.build(params)
    stepper = Stepper(model, np.asarray(x_train, dtype="float32"), np.asarray(y_train, dtype="int32"),
                      params["batch_size"], params["repeat"], params["seed"], key=stepper_key(params))
    stepper._mark = mark
    if warm:
        stepper.step()
        stepper.reset()
        stepper.probe(np.zeros((RESOLUTION * RESOLUTION, stepper.x.shape[1]), dtype="float32"))  # the maps' grid
        stepper.accuracy()
    return stepper


STEPPER_SETTINGS = ("hidden_layers", "units", "activation", "optimizer", "learning_rate", "l1", "l2", "batch_size",
                    "repeat", "test_fraction", "seed")


def stepper_key(params: dict) -> tuple:
    """The settings a stepper depends on (not ``epochs``): another value needs another stepper."""
    return tuple(params[name] for name in STEPPER_SETTINGS)
