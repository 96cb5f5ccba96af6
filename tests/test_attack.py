"""Fool the network: FGSM against a hand computation, accuracy against epsilon, a targeted attack."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cnn_lessons_support import need_mnist, small_run


def _tiny_model(seed: int = 0):
    """Flatten -> Dense(10, softmax) with known weights: the loss gradient is W (p - e_y) by hand."""
    import keras

    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    w, b = rng.normal(0, 0.05, (784, 10)).astype("float32"), rng.normal(0, 0.1, 10).astype("float32")
    model.layers[-1].set_weights([w, b])
    return model, w, b


def test_fgsm_matches_a_hand_computation():
    from core.mnist.attack import fgsm, loss_gradient

    model, w, b = _tiny_model()
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (3, 28, 28)).astype("float32")
    x[0, :4] = 0.0  # pixels at the bounds: clipping must hold them in [0, 1]
    x[1, :4] = 1.0
    y = np.array([3, 7, 0])
    z = x.reshape(3, -1) @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = (p - np.eye(10)[y]) @ w.T  # d/dx of -log softmax(z)_y
    grad_model, _ = loss_gradient(model, x, y)
    np.testing.assert_allclose(grad_model.reshape(3, -1), grad, rtol=1e-4, atol=1e-7)
    for eps in (0.0, 0.05, 0.3):
        expected = np.clip(x + eps * np.sign(grad.reshape(x.shape)), 0, 1)
        np.testing.assert_allclose(fgsm(model, x, y, eps), expected, atol=1e-6)
    adv = fgsm(model, x, y, 0.3)
    assert adv.min() >= 0 and adv.max() <= 1
    assert np.abs(adv - x).max() <= 0.3 + 1e-6
    one = fgsm(model, x[2], [0], 0.1)  # a single (28, 28) image keeps its shape
    assert one.shape == (28, 28)


@pytest.fixture(scope="module")
def trained():
    need_mnist()
    return small_run()


@pytest.mark.slow
def test_accuracy_falls_as_epsilon_grows(trained):
    from core.mnist.attack import accuracy_vs_epsilon

    _, _, model, data = trained
    rows = accuracy_vs_epsilon(model, data.x_test[:500] / 255.0, data.y_test[:500], (0.0, 0.05, 0.1, 0.2))
    acc = [r["accuracy"] for r in rows]
    assert acc[0] > 0.9
    assert acc[0] > acc[1] > acc[2] >= acc[3]
    assert acc[3] < 0.5


@pytest.mark.slow
def test_targeted_attack_reaches_its_target(trained):
    from core.mnist.attack import targeted_attack
    from core.mnist.cnn import predict_digits

    _, _, model, data = trained
    x = data.x_test[0] / 255.0
    label = int(predict_digits(model, x).argmax())
    target = (label + 3) % 10
    result = targeted_attack(model, x, target, alpha=0.01, max_steps=60)
    assert result.reached and result.steps <= 60
    assert int(predict_digits(model, result.image).argmax()) == target
    assert result.linf <= 0.01 * result.steps + 1e-6 and 0 < result.l1_mean < 0.2
