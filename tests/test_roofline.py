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


def test_the_portfolio_cnn_costs_about_43_mflop_per_training_image():
    from core.mnist.cnn import build_cnn

    assert TRAINING_FACTOR * forward_flops(build_cnn(precision="float32")) / 1e6 == pytest.approx(43, rel=0.02)


def test_rates_and_fraction():
    assert matmul_rate("float32", n=256, seconds=0.05) > 0.1
    figures = roofline(_tiny(), images_per_s=1000.0, dtypes=("float32",))
    assert figures["roofline_dtype"] == "float32"
    assert figures["achieved_gflops"] == pytest.approx(TRAINING_FACTOR * forward_flops(_tiny()) * 1000 / 1e9)
    assert figures["roofline_fraction"] == pytest.approx(figures["achieved_gflops"] / figures["matmul_peak_gflops"]["float32"])
