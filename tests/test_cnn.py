"""The MNIST CNN: architecture, a short real training run, the inversion augmentation, the CLI on image files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.mnist.cnn import build_cnn, feature_maps, first_layer_kernels, predict_digits, saliency
from core.registry import get_task
from core.training import run_training

ROOT = Path(__file__).resolve().parents[1]
NPZ = ROOT.parent / "shared" / "data" / "mnist.npz"
pytestmark = pytest.mark.skipif(not NPZ.is_file(), reason=f"genuine MNIST not found at {NPZ}")
SHORT = {"train_size": 4000, "epochs": 2, "data_path": str(NPZ)}


def test_portfolio_architecture():
    model = build_cnn(precision="float32")
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [16, 32, 64, 128]
    assert all(c.kernel_size == (5, 5) and c.padding == "same" for c in convs)
    assert model.output_shape == (None, 10)
    assert [layer.output.shape[1] for layer in model.layers if "pool" in layer.name] == [14, 7, 3, 1]
    dropout = next(layer for layer in model.layers if layer.__class__.__name__ == "Dropout")
    assert dropout.rate == 0.4


@pytest.fixture(scope="module")
def short_runs():
    task = get_task("cnn")
    return {aug: run_training(task, {**SHORT, "augment_invert": aug}) for aug in (False, True)}


@pytest.mark.slow
def test_short_run_reads_mnist(short_runs):
    plain = short_runs[False]
    assert plain.status == "done", plain.error
    # Measured: about 0.95 after 2 epochs on 4,000 images.
    assert plain.metrics["test_accuracy"] >= 0.92
    assert len(plain.metrics["mistakes"]) == 16
    assert np.asarray(plain.metrics["confusion"]).sum() == 10000


@pytest.mark.slow
def test_augmentation_reads_inverted_digits(short_runs):
    plain, augmented = short_runs[False].metrics, short_runs[True].metrics
    # Measured: about 0.3 without and 0.95 with the augmentation.
    assert augmented["inverted_test_accuracy"] > plain["inverted_test_accuracy"] + 0.3
    assert augmented["inverted_test_accuracy"] >= 0.9


@pytest.mark.slow
def test_what_the_network_sees(short_runs):
    model = short_runs[False].model
    image = np.load(NPZ)["x_test"][0] / 255.0
    maps = feature_maps(model, image)
    assert [(name, m.shape) for name, m in maps] == [("conv1", (16, 28, 28)), ("conv2", (32, 14, 14)),
                                                       ("conv3", (64, 7, 7)), ("conv4", (128, 3, 3))]
    assert first_layer_kernels(model).shape == (16, 5, 5)
    sal, cls = saliency(model, image)
    assert sal.shape == (28, 28) and sal.max() == pytest.approx(1.0)
    assert cls == int(predict_digits(model, image)[0].argmax())
    # The gradient lives where the digit is, not in the empty corners.
    assert sal[image > 0.5].mean() > sal[:4, :4].mean()


def test_compiled_graphs_match_eager_calls():
    """The page's per-stroke calls run compiled graphs: same numbers as the eager computation they replace, for
    one image and a batch; (n, 28, 28, 1) input goes through the same graph as (n, 28, 28)."""
    import tensorflow as tf

    from core.mnist.ood import features_and_logits, forward_head

    model = build_cnn(filters=(4, 8), dense_units=16)
    x = np.random.default_rng(0).random((3, 28, 28)).astype("float32")
    batch = x[..., None]
    np.testing.assert_allclose(predict_digits(model, x), model(batch, training=False), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_digits(model, x[0])[0], model(batch[:1], training=False)[0], rtol=1e-5,
                               atol=1e-6)
    h, z = features_and_logits(model, x)
    h_ref, z_ref = forward_head(model, tf.constant(batch))
    np.testing.assert_allclose(h, h_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z, z_ref, rtol=1e-5, atol=1e-5)
    reference = tf.constant(batch[:1])
    with tf.GradientTape() as tape:
        tape.watch(reference)
        probs = model(reference, training=False)
        top = int(np.argmax(probs[0]))
        p_top = probs[0, top]
    grad = np.abs(tape.gradient(p_top, reference).numpy()[0, :, :, 0])
    sal, cls = saliency(model, x[0])
    assert cls == top
    np.testing.assert_allclose(sal, grad / grad.max(), rtol=1e-4, atol=1e-6)
    conv1 = model.get_layer("conv1")(batch[:1])  # the first layer after the input
    np.testing.assert_allclose(feature_maps(model, x[0])[0][1], np.transpose(conv1[0], (2, 0, 1)),
                               rtol=1e-5, atol=1e-6)
    assert predict_digits(model, x[..., None]).shape == (3, 10)  # (n, 28, 28, 1) is the same signature


def test_compiled_graphs_of_many_models_log_no_retracing_warning():
    """Each model traces its own graphs once; TensorFlow must not take many models for one retracing function
    (it counts traces per code object, and its warning lands in the app's server log)."""
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        x = np.random.default_rng(1).random((1, 28, 28)).astype("float32")
        for _ in range(7):
            model = build_cnn(filters=(4, 8), dense_units=16)
            predict_digits(model, x), saliency(model, x[0]), feature_maps(model, x[0])
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records if "retracing" in r.getMessage()] == []


@pytest.mark.slow
def test_cli_predicts_image_files(short_runs, tmp_path):
    from PIL import Image

    model_path = tmp_path / "cnn.keras"
    short_runs[False].model.save(model_path)
    x, y = np.load(NPZ)["x_test"][:3], np.load(NPZ)["y_test"][:3]
    files = []
    for i, img in enumerate(x):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(255 - img).resize((140, 140)).save(path)  # dark on light, larger: a "scan"
        files.append(str(path))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    files.append(str(tmp_path / "broken.png"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "core", "predict", "cnn", str(model_path), *files, "--json"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 2, out.stderr[-2000:]  # one unreadable file: status 2, the others still predicted
    assert [line for line in out.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {tmp_path / 'broken.png'}: This is not a readable PNG or JPEG image (UnidentifiedImageError)."]
    results = json.loads(out.stdout)
    assert [r["digit"] for r in results[:3]] == list(y)
    assert all(r["inverted"] for r in results[:3])
    assert "not a readable PNG or JPEG" in results[3]["error"]
