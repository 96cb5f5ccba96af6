"""``python -m core bench cvae``: the project's CVAE training against the portfolio's plain step, measured in the same
run; where a batch's time goes; the roofline; and the latency of decoding one latent point."""

from __future__ import annotations

import statistics
import time

import numpy as np

from core.cvae.data import binarize, make_cvae_datasets
from core.mnist.data import load_mnist
from core.roofline import print_roofline, roofline

# Lazy imports: TensorFlow and Keras (5.6 s to import) and core.cvae.model / core.cvae.latent (TensorFlow Probability
# too) inside the bench, so that `python -m core --help` does not load them.


def bench_cvae(n_images: int | None = None, repeats: int = 3) -> dict:
    """CVAE training images/s, project fit vs the portfolio's plain step; one-point decode latency."""
    from core.cvae.model import build_cvae

    figures = _bench_cvae(load_mnist().x_train, n_images=n_images or 3200, repeats=repeats)
    for name, value in figures.items():
        print(f"  {name}: {value:.4g}" if isinstance(value, float) else f"  {name}: {value}")
    figures.update(roofline(build_cvae(), figures["project_images_per_s"]))
    figures["portfolio_roofline_fraction"] = figures["roofline_fraction"] / figures["ratio"]
    print_roofline(figures, "the project's fit")
    print(f"roofline: the portfolio's step trains at {figures['portfolio_roofline_fraction']:.0%} of it: a "
          f"throughput of k times the portfolio's needs k x {figures['portfolio_roofline_fraction']:.0%} of the "
          "machine's best matmul rate")
    return figures


def _portfolio_step(model, optimizer):
    """The TensorFlow tutorial's training step: its loss (closed-form densities), a tape, a tf.function."""
    import tensorflow as tf

    from core.cvae.model import log_normal_pdf

    def compute_portfolio_loss(x):
        mean, logvar = model.encode(x)
        z = model.reparameterize(mean, logvar)
        x_logit = model.decode(z)
        cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
        logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
        logpz = log_normal_pdf(z, 0.0, 0.0)
        logqz_x = log_normal_pdf(z, mean, logvar)
        return -tf.reduce_mean(logpx_z + logpz - logqz_x)

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = compute_portfolio_loss(x)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    return train_step


def _bench_cvae(x_train, n_images: int = 3200, batch_size: int = 64, repeats: int = 3) -> dict:
    """Training images/s of the project's ``fit`` against the portfolio's plain ``tf.function`` step.

    Both train a fresh CVAE on the same ``n_images`` images for one epoch per repeat, alternating so that
    background load hits both alike; the best repeat of each counts. Also the median latency of
    :func:`decode_point` over 200 calls, beside ``decoder.predict`` for comparison.
    """
    import keras
    import tensorflow as tf

    from core.cvae.latent import decode_point
    from core.cvae.model import DEFAULT_LEARNING_RATE, build_cvae

    x = binarize(x_train[:n_images])

    portfolio = build_cvae()
    step = _portfolio_step(portfolio, keras.optimizers.Adam(DEFAULT_LEARNING_RATE))
    portfolio_ds = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x)).batch(batch_size)

    project = build_cvae()
    project_ds, _ = make_cvae_datasets(x, x[:batch_size], batch_size=batch_size)

    for batch in portfolio_ds.take(1):  # trace both before timing
        step(batch)
    project.fit(project_ds.take(1), verbose=0, shuffle=False)

    def portfolio_epoch() -> float:
        start = time.perf_counter()
        for batch in portfolio_ds:
            step(batch)
        return len(x) / (time.perf_counter() - start)

    def project_epoch() -> float:
        start = time.perf_counter()
        project.fit(project_ds, verbose=0, shuffle=False)
        return len(x) / (time.perf_counter() - start)

    rates = {"portfolio": [], "project": []}
    for _ in range(repeats):
        rates["portfolio"].append(portfolio_epoch())
        rates["project"].append(project_epoch())

    z = np.zeros(project.latent_dim, "float32")
    decode_point(project, z)
    latencies = []
    for _ in range(200):
        start = time.perf_counter()
        decode_point(project, z)
        latencies.append((time.perf_counter() - start) * 1000)
    predict_ms = []
    for _ in range(5):
        start = time.perf_counter()
        project.decoder.predict(z[None], verbose=0)
        predict_ms.append((time.perf_counter() - start) * 1000)
    portfolio_rate, project_rate = max(rates["portfolio"]), max(rates["project"])
    return {"images": len(x), "batch_size": batch_size, "portfolio_images_per_s": portfolio_rate,
            "project_images_per_s": project_rate, "ratio": project_rate / portfolio_rate,
            **_cvae_time_split(project, project_ds, 1000 * batch_size / project_rate),
            "decode_point_ms_median": statistics.median(latencies),
            "decoder_predict_ms_median": statistics.median(predict_ms)}


def _cvae_time_split(model, dataset, fit_ms_per_batch: float, repeats: int = 3) -> dict:
    """Where a training batch's time goes, in ms per batch: the input pipeline alone (iterated, no model), the
    forward pass with the loss, forward + backward (the gradients), and the whole step with the optimizer; the
    rest of ``fit``'s time per batch (``fit_ms_per_batch``, measured before) is the metric trackers and Keras' loop."""
    import tensorflow as tf

    batches = [b for b in dataset]

    @tf.function
    def forward(x):
        return tf.reduce_mean(model._loss_and_elbo(x, training=True)[0])

    @tf.function
    def backward(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model._loss_and_elbo(x, training=True)[0])
        return tape.gradient(loss, model.trainable_variables)

    @tf.function
    def step(x):
        model.optimizer.apply_gradients(zip(backward(x), model.trainable_variables))

    def per_batch(run) -> float:  # best of ``repeats`` passes over the batches (after a warm-up batch)
        run(batches[0])
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for b in batches:
                run(b)
            best = min(best, (time.perf_counter() - start) * 1000 / len(batches))
        return best

    def read_input() -> float:
        start = time.perf_counter()
        n = sum(1 for _ in dataset)
        return (time.perf_counter() - start) * 1000 / n

    input_ms = min(read_input() for _ in range(repeats))
    forward_ms = per_batch(lambda b: forward(b).numpy())
    backward_ms = per_batch(lambda b: [g.numpy() for g in backward(b)])
    step_ms = per_batch(lambda b: step(b))
    return {"split_input_ms": input_ms, "split_forward_ms": forward_ms,
            "split_backward_ms": backward_ms - forward_ms, "split_optimizer_ms": step_ms - backward_ms,
            "split_metrics_and_loop_ms": fit_ms_per_batch - step_ms, "fit_ms_per_batch": fit_ms_per_batch}
