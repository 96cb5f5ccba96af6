"""Fool the CNN: the fast gradient sign method, a targeted attack, and accuracy against the attack's size.

**FGSM** (Goodfellow et al., 2015). With ``L(x, y)`` the cross-entropy of the network's prediction for label
``y``, one step up the loss, as large as allowed in every pixel at once:

    x_adv = clip(x + eps * sign(grad_x L(x, y)), 0, 1)

No pixel moves by more than ``eps`` (the L-infinity ball), yet every pixel moves in the direction that hurts
most to first order: the change in loss is about ``eps * ||grad_x L||_1``, which grows with the number of
pixels. For a drawing, ``y`` is the network's own reading (it has no other label).

**Targeted attack** (iterative, Kurakin et al., 2016): small steps *down* the loss of a chosen target ``t``,

    x_{k+1} = clip(x_k - alpha * sign(grad_x L(x_k, t)), 0, 1),

until the network reads ``t`` or the step budget runs out.

The gradients come from the logits (:func:`core.mnist.ood.forward_head`), not from the softmax's output: a
confident prediction's probability rounds to 1.0 in float32 and the cross-entropy of a probability has no
gradient left there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.mnist.cnn import as_batch, predict_digits
from core.mnist.ood import forward_head

# Lazy import: TensorFlow (5.6 s to import) inside loss_gradient, so that the CNN page imports this module at once.

EPSILONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def loss_gradient(model, images, labels) -> tuple[np.ndarray, np.ndarray]:
    """``grad_x L(x, y)`` (n, 28, 28) for images in [0, 1] and integer labels, and the probabilities (n, 10)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(as_batch(images))
    y = tf.convert_to_tensor(np.atleast_1d(np.asarray(labels, dtype="int32")))
    with tf.GradientTape() as tape:
        tape.watch(x)
        _, z = forward_head(model, x)
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z))
    grad = np.asarray(tape.gradient(loss, x), dtype="float32")[..., 0]
    return grad, np.asarray(tf.nn.softmax(z), dtype="float32")


def fgsm_from_gradient(images, gradient, eps: float) -> np.ndarray:
    """``clip(x + eps * sign(g), 0, 1)``: the FGSM step itself, given the gradient."""
    x = np.asarray(images, dtype="float32")
    return np.clip(x + np.float32(eps) * np.sign(gradient).astype("float32"), 0.0, 1.0)


def fgsm(model, images, labels, eps: float) -> np.ndarray:
    """Adversarial images ``clip(x + eps * sign(grad_x L(x, y)), 0, 1)``, same shape as ``images`` ((28, 28) or (n, 28, 28))."""
    x = np.asarray(images, dtype="float32")
    grad, _ = loss_gradient(model, x, labels)
    return fgsm_from_gradient(x, grad.reshape(x.shape), eps)


def accuracy_vs_epsilon(model, images, labels, epsilons=EPSILONS, batch_size: int = 500) -> list[dict]:
    """Accuracy on ``images`` (in [0, 1]) after FGSM with each ``eps``; the gradient is computed once per batch."""
    x = np.asarray(images, dtype="float32")
    y = np.asarray(labels).astype(int)
    grads = np.concatenate([loss_gradient(model, x[i:i + batch_size], y[i:i + batch_size])[0]
                            for i in range(0, len(x), batch_size)])
    rows = []
    for eps in epsilons:
        adv = fgsm_from_gradient(x, grads, eps)
        rows.append({"epsilon": float(eps), "accuracy": float((predict_digits(model, adv).argmax(1) == y).mean())})
    return rows


@dataclass
class TargetedResult:
    image: np.ndarray  # (28, 28) the final image
    target: int
    reached: bool
    steps: int  # gradient steps taken
    probabilities: np.ndarray  # (10,) for the final image
    linf: float  # max |x_adv - x|
    l1_mean: float  # mean |x_adv - x| per pixel: how much ink was moved


def targeted_attack(model, image, target: int, alpha: float = 0.01, max_steps: int = 100,
                    extra_steps: int = 2) -> TargetedResult:
    """Steps ``x <- clip(x - alpha * sign(grad_x L(x, target)), 0, 1)`` until the network reads ``target``.

    ``extra_steps`` more steps after the first success make the reading less marginal.
    """
    x0 = np.asarray(image, dtype="float32").reshape(28, 28)
    x = x0.copy()
    steps, left = 0, extra_steps
    grad, probs = loss_gradient(model, x, [target])
    while steps < max_steps:
        if int(probs[0].argmax()) == target:
            if left == 0:
                break
            left -= 1
        x = np.clip(x - np.float32(alpha) * np.sign(grad[0]), 0.0, 1.0)
        steps += 1
        grad, probs = loss_gradient(model, x, [target])
    reached = int(probs[0].argmax()) == target
    delta = np.abs(x - x0)
    return TargetedResult(x, int(target), reached, steps, probs[0], float(delta.max()), float(delta.mean()))
