"""Is it a digit at all? An out-of-distribution score for the MNIST CNN, fitted when a run is saved.

Softmax is confident far from the training data (a scribble reads "8 (87%)"), so the verdict needs a second
question: does this input look like the digits the network learned from? Two scores answer it, each fitted
on training digits:

* **Mahalanobis distance on the penultimate layer** (Lee et al., 2018). With ``h(x)`` the Dense layer's
  activations before the softmax, fit class-conditional Gaussians with a shared covariance,
  ``h | y=c ~ N(mu_c, Sigma)``, and score ``M(x) = min_c (h - mu_c)^T Sigma^-1 (h - mu_c)``:
  a digit's features sit near one class mean, a photo's do not.
* **The same distance on the second convolution's channel means** (each of its filters' average response):
  the local textures of the input. A photo's are not a handwritten stroke's.
* **The same distance on the pixels' statistics** (:func:`pixel_statistics`: how much of the frame is flat
  mid-grey, how much holds ink): a photo squeezed into 28x28 keeps its continuous tones, a pen stroke has grey only
  along its rim. Fitted on training digits rendered the three ways real digits reach the network
  (:data:`core.mnist.photos.RENDERINGS`: uploaded as a photo, drawn with a pen, or the data set's own 28x28), so
  that none of them looks foreign. They do not depend on the model: computed once per process.

Each score is divided by its own 98.5% quantile on calibration digits (test digits, in the three renderings), and
the verdict uses the largest ratio, ``S(x) = max_i s_i(x) / q_i``. The threshold ``t`` is the largest of the three
renderings' 98.5% quantiles of ``S`` (on half of the first :data:`N_CALIB` test digits; the other half checks it),
so about 1.5% of real digits are flagged, however they arrive: ``S(x) > t`` reads "this does not look like a
digit". The statistics live in the run's folder (:data:`STATS_FILE`), written when the run is saved and computed
on first use for older runs. Measured on the Quick preset (``python -m core bench ood``): the penultimate layer
alone flags few photos (AUROC ~0.8: photos squeezed into 28x28 land near some class mean), the textures about
57%, the pixels' statistics about 92%; the README has the combined figures.
"""

from __future__ import annotations

import io
import json
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.files import write_atomic
from core.mnist.cnn import as_batch, compiled
from core.mnist.data import EVAL_BATCH, load_for, unit_pixels
from core.mnist.ood_parts import Gaussians, fit_gaussians, pixel_gaussians, pixel_statistics
from core.mnist.photos import RENDERINGS, rendered_once

# Lazy imports: TensorFlow and Keras (5.6 s to import) inside forward_head, so that the pages import this module
# before a model is loaded.

__all__ = ["Gaussians", "OodStats", "fit_ood", "pixel_gaussians", "pixel_statistics", "score", "score_one"]

STATS_FILE = "ood.npz"
VERSION = 3
N_FIT = 5000  # training digits the Gaussians are fitted on
QUANTILE = 0.985  # of calibration digits' scores: about 1.5% of real digits flagged
SCORE_NAMES = ("penultimate", "textures", "pixels")
N_CALIB = 2000  # test digits, rendered and preprocessed as an upload is, that the threshold is calibrated on


def features_and_logits(model, images, batch_size: int = EVAL_BATCH, training: bool = False):
    """The penultimate layer's activations ``h`` and the logits ``z`` (before the softmax) of a Sequential CNN.

    The last layer is ``Dense(10, softmax)``: ``z = h W + b`` and ``p = softmax(z)``. Returns NumPy (n, d) and (n, 10).
    """
    h, z, _ = _batched(model, images, batch_size, training)
    return h, z


def _head_with_textures(model, x):
    return forward_head(model, x, with_textures=True)


def _batched(model, images, batch_size: int = EVAL_BATCH, training: bool = False):
    x = as_batch(images)
    hs, zs, ts = [], [], []
    for i in range(0, len(x), batch_size):
        batch = x[i:i + batch_size]
        h, z, t = (forward_head(model, batch, training=True, with_textures=True) if training
                   else compiled(model, "head", _head_with_textures, batch))
        hs.append(np.asarray(h, dtype="float32"))
        zs.append(np.asarray(z, dtype="float32"))
        ts.append(np.asarray(t, dtype="float32"))
    if not hs:
        return np.zeros((0, 1), "float32"), np.zeros((0, 10), "float32"), np.zeros((0, 1), "float32")
    return np.concatenate(hs), np.concatenate(zs), np.concatenate(ts)


def forward_head(model, x, training: bool = False, with_textures: bool = False):
    """Tensors ``(h, z)``: every layer but the last applied in turn, then the last Dense's affine map (no softmax).

    Differentiable (a ``GradientTape`` can watch ``x``), and the logits never saturate as probabilities do.
    ``with_textures``: also the channel means of the second convolution's output (the first's for a one-layer net).
    """
    import keras
    import tensorflow as tf

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    texture_layer = convs[min(1, len(convs) - 1)] if convs else None
    head = layers[-1]
    h, textures = x, None
    for layer in layers[:-1]:
        h = layer(h, training=training)
        if layer is texture_layer:
            textures = tf.reduce_mean(tf.cast(h, tf.float32), axis=(1, 2))
    h = tf.cast(h, tf.float32)
    z = tf.matmul(h, tf.cast(head.kernel, tf.float32)) + tf.cast(head.bias, tf.float32)
    if with_textures:
        return h, z, textures if textures is not None else tf.zeros((tf.shape(h)[0], 1))
    return h, z


@dataclass
class OodStats:
    """What scoring needs: Gaussians of the penultimate layer, the textures and the pixels; the scales, the threshold.

    ``test_scores``: the combined score of every MNIST test digit (for the page's histogram).
    """

    penultimate: Gaussians
    textures: Gaussians
    pixels: Gaussians
    scales: np.ndarray  # (3,) calibration quantiles of the three scores
    threshold: float
    test_scores: np.ndarray  # (n_test,)
    meta: dict

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, means=self.penultimate.means, precision=self.penultimate.precision,
                            t_means=self.textures.means, t_precision=self.textures.precision,
                            p_means=self.pixels.means, p_precision=self.pixels.precision, scales=self.scales,
                            threshold=np.float64(self.threshold), test_scores=self.test_scores,
                            meta=np.array(json.dumps(self.meta)))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> OodStats:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("version") != VERSION:
                raise ValueError("statistics of another version")
            return cls(Gaussians(f["means"], f["precision"]), Gaussians(f["t_means"], f["t_precision"]),
                       Gaussians(f["p_means"], f["p_precision"]), f["scales"], float(f["threshold"]), f["test_scores"], meta)

    def raw(self, h, textures, images) -> np.ndarray:
        """(n, 3): the three scores, unscaled."""
        return np.stack([self.penultimate.distance(h), self.textures.distance(textures),
                         self.pixels.distance(pixel_statistics(images))], 1)

    def parts(self, h, textures, images) -> np.ndarray:
        """(n, 3): each score divided by its 98.5% quantile on calibration digits."""
        return self.raw(h, textures, images) / self.scales

    def combine(self, parts) -> np.ndarray:
        return np.asarray(parts).max(1)


def fit_ood(model, x_train, y_train, x_test, *, augment_invert: bool = False, n_fit: int = N_FIT,
            quantile: float = QUANTILE, seed: int = 0) -> OodStats:
    """Fit the Gaussians on ``n_fit`` training digits; scale and calibrate on MNIST test digits in the three ways
    real digits reach the network (:data:`core.mnist.photos.RENDERINGS`), so that the threshold holds for each.

    Images uint8 (n, 28, 28) as MNIST stores them (or floats in [0, 1]). With ``augment_invert`` the inverted
    copies join the fit, as they joined the model's training. ``meta`` records the share of the other half of the
    calibration digits flagged, per rendering.
    """
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x_train))[:n_fit]
    xf, yf = unit_pixels(x_train[idx]), np.asarray(y_train)[idx].astype(int)
    if augment_invert:
        xf, yf = np.concatenate([xf, 1 - xf]), np.concatenate([yf, yf])
    h, _, t = _batched(model, xf)
    stats = OodStats(fit_gaussians(h, yf), fit_gaussians(t, yf), pixel_gaussians(x_train, y_train), np.ones(3), 0.0,
                     np.zeros(0, "float32"), {})
    raw = {}
    for how in RENDERINGS:
        x = rendered_once(x_test[:N_CALIB], how)
        hc, _, tc = _batched(model, x)
        raw[how] = stats.raw(hc, tc, x)
    stats.scales = np.maximum(np.quantile(np.concatenate([r[0::2] for r in raw.values()]), quantile, axis=0), 1e-9)
    combined = {how: stats.combine(r / stats.scales) for how, r in raw.items()}
    stats.threshold = float(max(np.quantile(c[0::2], quantile) for c in combined.values()))
    stats.test_scores = combined["uploaded"].astype("float32")
    stats.meta = {"version": VERSION, "n_fit": len(xf), "quantile": quantile, "augment_invert": bool(augment_invert),
                  "feature_dim": int(h.shape[1]),
                  "flagged_test_fraction": {how: float((c[1::2] > stats.threshold).mean()) for how, c in combined.items()}}
    return stats


def score(model, stats: OodStats, images) -> dict:
    """Scores of 28x28 images in [0, 1] (one or a batch), as arrays: ``score`` (combined), its parts, ``not_a_digit``,
    ``percentile`` (the share of MNIST test digits with a lower score)."""
    x = as_batch(images)[..., 0]
    h, _, t = _batched(model, x)
    parts = stats.parts(h, t, x)
    combined = stats.combine(parts)
    pct = np.searchsorted(np.sort(stats.test_scores), combined) / max(len(stats.test_scores), 1)
    return {"score": combined, "not_a_digit": combined > stats.threshold, "percentile": pct,
            **{name: parts[:, i] for i, name in enumerate(SCORE_NAMES)}}


def score_one(model, stats: OodStats, image) -> dict:
    """:func:`score` of one image as plain numbers (JSON-able), with the threshold."""
    out = {k: v[0].item() for k, v in score(model, stats, image).items()}
    return {**out, "not_a_digit": bool(out["not_a_digit"]), "threshold": stats.threshold}


def stats_for_run(store, run_id: str, model, data=None) -> OodStats:
    """The run's statistics from its folder; fitted (and written there when the folder is writable) if missing.

    ``data``: the run's MNIST (:class:`core.mnist.data.MnistData`), loaded from its params when not given.
    """
    return stats_for_folder(store.path(run_id), model, data, store.get(run_id).get("params", {}))


def stats_for_folder(folder: Path, model, data=None, params: dict | None = None) -> OodStats:
    """:func:`stats_for_run` for a run's folder (its ``run.json`` names the data and the augmentation)."""
    path = Path(folder) / STATS_FILE
    if path.is_file():
        try:
            return OodStats.from_bytes(path.read_bytes())
        except (OSError, ValueError, KeyError):
            pass  # damaged: fit again
    if params is None:
        try:
            params = json.loads((Path(folder) / "run.json").read_text()).get("params", {})
        except (OSError, ValueError, AttributeError):
            params = {}
    stats = fit_for(model, params, data)
    try:
        write_atomic(path, stats.to_bytes())
    except OSError:
        pass  # a read-only runs folder: the statistics live in memory only
    return stats


def fit_for(model, params: dict, data=None) -> OodStats:
    """Fit on the MNIST a model's settings name (``data`` if given), with its inversion augmentation."""
    if data is None:
        data = load_for(params)
    return fit_ood(model, data.x_train, data.y_train, data.x_test, augment_invert=bool(params.get("augment_invert")))


_ATTACHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def attach(model, stats: OodStats) -> None:
    """Keep ``stats`` with a loaded model (for as long as the model lives)."""
    _ATTACHED[model] = stats


def attached(model) -> OodStats | None:
    return _ATTACHED.get(model)


def stats_for_ref(store, ref: str, model) -> OodStats:
    """The statistics of a model named as the command line names it: a run id, a run's folder, or a ``.keras`` file
    (in a run's folder: that run's; anywhere else: fitted now on the default MNIST, kept in memory)."""
    path = Path(ref)
    if path.is_dir():
        return stats_for_folder(path, model)
    if path.suffix == ".keras" or path.exists():
        if (path.parent / "run.json").is_file():
            return stats_for_folder(path.parent, model)
        return fit_for(model, {})
    return stats_for_run(store, ref, model)
