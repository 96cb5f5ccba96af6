"""How close a training run comes to what this machine can compute: the roofline of ``python -m core bench cnn``.

The machine's peak is measured, not looked up: the best rate of a large square matrix product in each precision
(float32, bfloat16), in the same run as the figure it judges (machines differ: one had AVX-512 with native bf16,
~220 GFLOP/s fp32 and ~400 bf16; another only AVX2, where bf16 is slower than fp32). A model's cost is counted
from its layers: a convolution with a ``k×k`` kernel, ``C_in`` input and ``C_out`` output channels over an
``H×W`` output costs ``2·H·W·k²·C_in·C_out`` FLOPs per image forward, a dense layer ``2·n_in·n_out``; a
training step costs about three forward passes (the forward pass, then the gradients with respect to the inputs
and to the weights, each about as large).
"""

from __future__ import annotations

import time

# Lazy imports: TensorFlow and Keras (5.6 s to import) inside the functions that measure, so that the bench commands'
# parser imports this module at once.

TRAINING_FACTOR = 3.0  # a training step ≈ forward + two backward products of the same size


def forward_flops(model) -> float:
    """FLOPs of one image's forward pass through the model's Conv2D, Conv2DTranspose and Dense layers (multiply-adds
    count 2), inside nested models too (a VAE's encoder and decoder). A transposed convolution scatters each of its
    ``H_in×W_in`` input pixels over a ``k×k×C_out`` patch: ``2·H_in·W_in·k²·C_in·C_out``."""
    import keras

    flops = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            flops += 2.0 * h * w * kh * kw * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            c_in = layer.input.shape[-1]
            flops += 2.0 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, keras.layers.Dense):
            flops += 2.0 * layer.input.shape[-1] * layer.units
        elif getattr(layer, "layers", None):
            flops += forward_flops(layer)
    return flops


def matmul_rate(dtype: str = "float32", n: int = 2048, seconds: float = 1.0) -> float:
    """Best GFLOP/s of ``n×n @ n×n`` products in ``dtype`` over about ``seconds`` (after a warm-up product)."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    product = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)))
    product().numpy()  # trace and warm up
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        product().numpy()
        best = max(best, 2.0 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return best


def matmul_peaks(dtypes=("float32", "bfloat16"), before: dict | None = None) -> dict:
    """The best matmul rate in each of ``dtypes``: measured now, or the better of now and ``before`` (a bench
    measures it between its repeats, so that a moment of load on a shared machine does not lower the bar)."""
    before = before or {}
    return {dtype: max(matmul_rate(dtype), before.get(dtype, 0.0)) for dtype in dtypes}


def roofline(model, images_per_s: float, dtypes=("float32", "bfloat16"), peaks: dict | None = None) -> dict:
    """The training throughput of ``model`` as GFLOP/s and as a share of the best matmul rate in ``dtypes``
    (``peaks``: rates measured earlier in the same run, improved on by one more measurement now)."""
    per_image = TRAINING_FACTOR * forward_flops(model)
    peaks = matmul_peaks(dtypes, peaks)
    best_dtype = max(peaks, key=peaks.get)
    achieved = per_image * images_per_s / 1e9
    return {"train_mflop_per_image": per_image / 1e6, "achieved_gflops": achieved,
            "matmul_peak_gflops": peaks, "roofline_dtype": best_dtype,
            "roofline_fraction": achieved / peaks[best_dtype]}


def format_peaks(peaks: dict) -> str:
    """``{"float32": 218.3, ...}`` as "float32 218, bfloat16 414" (GFLOP/s)."""
    return ", ".join(f"{d} {g:.0f}" for d, g in peaks.items())


def print_roofline(figures: dict, label: str) -> None:
    peaks = format_peaks(figures["matmul_peak_gflops"])
    print(f"roofline: {label} trains at {figures['achieved_gflops']:.1f} GFLOP/s "
          f"({figures['train_mflop_per_image']:.1f} MFLOP per training image) = "
          f"{figures['roofline_fraction']:.0%} of this machine's best matmul rate ({peaks} GFLOP/s)")


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs its oneDNN kernels (see ``core/__init__.py``)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())
