"""The roofline's FLOP count against a hand computation, and its rate measurement on a small product."""

import keras
import pytest

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
