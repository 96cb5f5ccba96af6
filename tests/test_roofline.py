"""The roofline's FLOP count against a hand computation, and its rate measurement on a small product."""

import os
import subprocess
import sys

import keras
import pytest

from core import PROJECT_ROOT as ROOT
from core.roofline import TRAINING_FACTOR, forward_flops, matmul_rate, roofline


def _tiny():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same"),
                             keras.layers.MaxPooling2D(2), keras.layers.Conv2D(6, 3, padding="valid"),
                             keras.layers.Flatten(), keras.layers.Dense(5)])


def test_forward_flops_by_hand():
    conv1 = 2 * 8 * 8 * 3 * 3 * 1 * 4  # 8x8 output, 3x3 kernel, 1 -> 4 channels
    conv2 = 2 * 2 * 2 * 3 * 3 * 4 * 6  # pooled to 4x4, valid 3x3 -> 2x2 output, 4 -> 6 channels
    dense = 2 * (2 * 2 * 6) * 5
    assert forward_flops(_tiny()) == conv1 + conv2 + dense


def test_transposed_convolutions_and_nested_models_by_hand():
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(7 * 7 * 3), keras.layers.Reshape((7, 7, 3)),
                                keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")])
    dense = 2 * 2 * 147
    up = 2 * 7 * 7 * 3 * 3 * 3 * 4  # each of 7x7 input pixels, 3 channels, scattered over a 3x3x4 patch
    assert forward_flops(decoder) == dense + up
    outer = keras.Sequential([keras.Input((8, 8, 1)), _tiny()])  # a model inside a model counts
    assert forward_flops(outer) == forward_flops(_tiny())


def test_the_portfolio_cvae_costs_its_layers():
    from core.cvae.model import build_cvae

    # "valid" stride-2 convolutions: 28 -> 13 -> 6, then 6 * 6 * 128 features -> (mean, log-variance)
    encoder = 2 * 13 * 13 * 9 * 1 * 64 + 2 * 6 * 6 * 9 * 64 * 128 + 2 * 6 * 6 * 128 * 4
    decoder = 2 * 2 * 1568 + 2 * 7 * 7 * 9 * 32 * 128 + 2 * 14 * 14 * 9 * 128 * 64 + 2 * 28 * 28 * 9 * 64 * 1
    assert forward_flops(build_cvae()) == encoder + decoder


def test_the_portfolio_cnn_costs_about_43_mflop_per_training_image():
    from core.mnist.cnn import build_cnn

    assert TRAINING_FACTOR * forward_flops(build_cnn(precision="float32")) / 1e6 == pytest.approx(43, rel=0.02)


def test_rates_and_fraction():
    assert matmul_rate("float32", n=256, seconds=0.05) > 0.1
    figures = roofline(_tiny(), images_per_s=1000.0, dtypes=("float32",))
    assert figures["roofline_dtype"] == "float32"
    assert figures["achieved_gflops"] == pytest.approx(TRAINING_FACTOR * forward_flops(_tiny()) * 1000 / 1e9)
    assert figures["roofline_fraction"] == pytest.approx(figures["achieved_gflops"] / figures["matmul_peak_gflops"]["float32"])


def _child(code: str, **env) -> str:
    """The last line a fresh Python prints after ``code``, with TF_ENABLE_ONEDNN_OPTS unset (TensorFlow's default)."""
    env = {**{k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}, **env}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()[-1]


ONEDNN = "import tensorflow\nfrom core.roofline import onednn_enabled\nprint(onednn_enabled())"


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["import app", "import core.cli", "import core.mnist.cnn"])
def test_the_app_and_the_cli_run_tensorflow_on_its_onednn_kernels(entry):
    """The server (``app.py``), the CLI and a notebook importing ``core`` all train on oneDNN's kernels, which
    TensorFlow leaves off by itself on an AVX2-only CPU like this one (about 2x the CNN's training throughput)."""
    assert _child(f"{entry}\n{ONEDNN}") == "True"


@pytest.mark.slow
def test_the_benchmarks_baseline_keeps_tensorflows_own_choice():
    """``NN_PLAYGROUND_TF_DEFAULTS``: ``core`` leaves the kernels to TensorFlow (the portfolio's baseline)."""
    code = "import os, core\nprint(os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset'))"
    assert _child(code, NN_PLAYGROUND_TF_DEFAULTS="1") == "unset"
    assert _child(code) == "1"
