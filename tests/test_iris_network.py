"""The Iris network opened up: neuron maps are the truncated network on the grid, one step is one train_on_batch,
reset goes back exactly; the optimizers and weight penalties are hyper-parameters that train Iris and round-trip
through the command line and the URL."""

import argparse
from xml.etree import ElementTree

import keras
import numpy as np
import pytest

from core.iris.data import FEATURES, SPECIES, load_split
from core.iris.network_figure import NEGATIVE, POSITIVE, network_svg, step_loss_svg
from core.iris.neurons import make_stepper, neuron_maps, plane_grid, weight_diagram
from core.iris.task import SPACE
from core.registry import get_task
from core.training import run_training


@pytest.fixture(scope="module")
def split():
    return load_split()


@pytest.fixture
def stepper(split):
    return make_stepper(SPACE.defaults(), split.x_train, split.y_train)


def test_neuron_maps_are_the_truncated_network_on_the_grid(stepper, split):
    stepper.step()  # not the initial weights only
    model = stepper.model
    maps = neuron_maps(model, split.x_train, (0, 3), resolution=9)
    xs, ys, rows = plane_grid(split.x_train, (0, 3), resolution=9)
    np.testing.assert_allclose(rows[:, [1, 2]], np.broadcast_to(split.x_train.mean(0)[[1, 2]], (81, 2)), rtol=1e-6)
    assert rows[9 * 4 + 7, 0] == xs[7] and rows[9 * 4 + 7, 3] == ys[4]
    assert [m.shape for m in maps.layers] == [(4, 9, 9), (10, 9, 9), (10, 9, 9), (3, 9, 9)]
    np.testing.assert_array_equal(maps.layers[0], rows.T.reshape(4, 9, 9))
    for depth in range(1, len(model.layers) + 1):
        truncated = keras.Sequential([keras.Input((4,)), *model.layers[:depth]])
        direct = np.asarray(truncated(rows)).T.reshape(-1, 9, 9)
        np.testing.assert_allclose(maps.layers[depth], direct, rtol=1e-5, atol=1e-6)
    h = rows  # and by hand: h = relu(h W + b), softmax at the end
    for layer in model.layers[:-1]:
        h = np.maximum(h @ np.asarray(layer.kernel) + np.asarray(layer.bias), 0)
    z = h @ np.asarray(model.layers[-1].kernel) + np.asarray(model.layers[-1].bias)
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(maps.layers[-1], (p / p.sum(1, keepdims=True)).T.reshape(3, 9, 9), atol=1e-5)


def test_one_step_is_one_train_on_batch_of_that_batch(stepper, split):
    twin = make_stepper(SPACE.defaults(), split.x_train, split.y_train, warm=False)  # same seed, same start; the
    # stepper was warmed up (one step compiled, then reset): it starts from there all the same
    for a, b in zip(stepper.model.get_weights(), twin.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for _ in range(3):
        xb, yb = stepper.next_batch()
        assert len(xb) == 32
        before = [w.copy() for w in stepper.model.get_weights()]
        loss = stepper.step()
        logs = twin.model.train_on_batch(xb, yb, return_dict=True)
        assert loss == pytest.approx(logs["loss"], rel=1e-6)
        for a, b in zip(stepper.model.get_weights(), twin.model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        assert any(not np.array_equal(a, old) for a, old in zip(stepper.model.get_weights(), before))
    assert stepper.steps == 3 and len(stepper.losses) == 3


def test_batches_cover_the_repeated_training_set_once_per_pass(stepper):
    counts = np.bincount(np.concatenate([stepper.batch_indices(k) for k in range(stepper.steps_per_pass)]),
                         minlength=len(stepper.x))
    assert stepper.steps_per_pass == 75 and set(counts) == {20}  # 120 flowers x 20 repeats in 75 batches
    assert not np.array_equal(stepper.batch_indices(0), stepper.batch_indices(75))  # the next pass: another order


def test_reset_restores_the_initial_weights_and_the_next_steps_exactly(stepper):
    initial = [w.copy() for w in stepper.model.get_weights()]
    first = [stepper.step() for _ in range(4)]
    after = [w.copy() for w in stepper.model.get_weights()]
    stepper.reset()
    assert stepper.steps == 0 and stepper.losses == []
    for a, b in zip(stepper.model.get_weights(), initial):
        np.testing.assert_array_equal(a, b)
    assert [stepper.step() for _ in range(4)] == first  # optimizer state and batches rewound too
    for a, b in zip(stepper.model.get_weights(), after):
        np.testing.assert_array_equal(a, b)


def test_weight_diagram_and_figures(stepper):
    diagram = weight_diagram(stepper.model)
    assert diagram.sizes == [4, 10, 10, 3]
    edges = diagram.edges()
    assert edges.shape == (4 * 10 + 10 * 10 + 10 * 3, 4)
    layer, i, j, w = edges[45]  # the 6th weight of the second kernel
    assert (layer, i, j) == (1, 0, 5) and w == pytest.approx(float(stepper.model.layers[1].kernel[0, 5]))
    maps = neuron_maps(stepper.model, stepper.x, (2, 3), probe=stepper.probe)
    svg = ElementTree.fromstring(network_svg(maps, diagram, FEATURES, SPECIES))
    ns = "{http://www.w3.org/2000/svg}"
    lines = svg.findall(f"{ns}line")
    assert len(lines) == 170  # a line per weight, in the order of Diagram.edges, its value in its title
    for line, (_, _, _, w) in zip(lines, edges):
        assert line.get("stroke") == (POSITIVE if w >= 0 else NEGATIVE)
        assert line.find(f"{ns}title").text.startswith(f"w = {w:+.3f}")
    widths = np.array([float(line.get("stroke-width")) for line in lines])
    assert widths[np.abs(edges[:, 3]).argmax()] == widths.max()  # the largest |w|, the widest line
    (maps_png,) = svg.findall(f"{ns}image")
    assert maps_png.get("href").startswith("data:image/png;base64,")
    labels = [t.text for t in svg.findall(f"{ns}text")]
    assert labels[:4] == ["inputs", "hidden 1", "hidden 2", "output (softmax)"] and labels[-3:] == list(SPECIES)
    stepper.step()
    loss = ElementTree.fromstring(step_loss_svg(stepper.losses))
    assert [c.find(f"{ns}title").text for c in loss.findall(f"{ns}circle")] == [f"step 1: {stepper.losses[0]:.4f}"]
    stepper.step()
    loss = ElementTree.fromstring(step_loss_svg([*stepper.losses, float("nan")]))  # a NaN step is left out
    assert len(loss.findall(f"{ns}circle")) == 2 and len(loss.find(f"{ns}polyline").get("points").split()) == 2


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_each_optimizer_trains_iris_at_its_default_setting(optimizer):
    result = run_training(get_task("iris"), {"optimizer": optimizer}, save=False)
    accuracy = result.metrics["test_accuracy"]
    print(f"\n{optimizer} (learning rate {SPACE['learning_rate'].default}, 10 epochs): test accuracy {accuracy:.3f}")
    assert result.status == "done" and accuracy >= 0.9


def _kernel_norm(model) -> float:
    return float(np.sqrt(sum((np.asarray(layer.kernel) ** 2).sum() for layer in model.layers)))


def test_l2_shrinks_the_weights_against_the_same_seed_without_it():
    base = {"epochs": 3, "seed": 3}
    plain = run_training(get_task("iris"), base, save=False)
    penalised = run_training(get_task("iris"), {**base, "l2": 0.05}, save=False)
    ratio = _kernel_norm(penalised.model) / _kernel_norm(plain.model)
    print(f"\nkernel norm with l2=0.05 / without, 3 epochs: {ratio:.3f}")
    assert ratio < 0.85
    assert penalised.model.layers[0].kernel_regularizer is not None and plain.model.layers[0].kernel_regularizer is None


def test_l1_adds_its_penalty_to_the_loss(split):
    stepper = make_stepper({**SPACE.defaults(), "l1": 0.1}, split.x_train, split.y_train)
    xb, yb = stepper.next_batch()
    probs = np.asarray(stepper.model(xb))
    data_loss = -np.log(probs[np.arange(len(yb)), yb]).mean()
    penalty = 0.1 * sum(np.abs(np.asarray(layer.kernel)).sum() for layer in stepper.model.layers)
    assert stepper.step() == pytest.approx(data_loss + penalty, rel=1e-4)


def test_the_new_settings_round_trip_through_flags_and_url_text():
    values = {**SPACE.defaults(), "optimizer": "rmsprop", "l1": 0.01, "l2": 0.25}
    parsed, notices = SPACE.from_strings(SPACE.to_strings(values))
    assert parsed == values and not notices
    parser = argparse.ArgumentParser()
    SPACE.add_flags(parser)
    args = parser.parse_args(["--optimizer", "momentum", "--l1", "0.02", "--l2", "0.5"])
    flags, problems = SPACE.from_flags(args)
    assert not problems and (flags["optimizer"], flags["l1"], flags["l2"]) == ("momentum", 0.02, 0.5)
    _, problems = SPACE.from_flags(parser.parse_args(["--optimizer", "lbfgs", "--l2", "-1"]))
    assert any("'lbfgs' is not one of sgd, momentum, rmsprop, adam" in p for p in problems)
    assert any("L2 penalty: -1.0 is below the minimum 0" in p for p in problems)
    assert SPACE.diff(values) == {"optimizer": "rmsprop", "l1": 0.01, "l2": 0.25}


def test_the_page_section_steps_and_resets(app_page):
    at = app_page("iris").run()
    assert not at.exception and not at.get("plotly_chart")  # closed: no TensorFlow needed for the first paint
    at.toggle(key="iris.net.open").set_value(True).run()

    def state():
        assert not at.exception, [e.value for e in at.exception]
        step = next(m.value for m in at.markdown if m.value.startswith("**Step"))
        assert len(at.get("image")) == 2  # the network picture and the loss-per-step picture
        return step, len(at.session_state["iris.net.stepper"].losses)

    step, points = state()
    assert step.startswith("**Step 0** · no step yet") and points == 0
    at.button(key="iris.net.step").click().run()
    step, points = state()
    assert step.startswith("**Step 1** (pass 1, batch 1 of 75) · batch loss") and points == 1
    at.button(key="iris.net.step10").click().run()
    assert state()[1] == 11
    at.button(key="iris.net.reset").click().run()
    assert state()[0].startswith("**Step 0**") and state()[1] == 0
    assert any("The update rules" in e.label for e in at.expander)
    assert any(r"\lambda_2 \sum w^2" in latex.value for latex in at.latex)


def test_with_xla_the_stepper_also_steps_and_resets(split):
    stepper = make_stepper(SPACE.defaults(), split.x_train, split.y_train, warm=False)
    stepper.use_xla(True)
    initial = [w.copy() for w in stepper.model.get_weights()]
    losses = [stepper.step() for _ in range(2)]
    stepper.reset()
    for a, b in zip(stepper.model.get_weights(), initial):
        np.testing.assert_array_equal(a, b)
    assert [stepper.step() for _ in range(2)] == losses and stepper.accuracy() >= 0
