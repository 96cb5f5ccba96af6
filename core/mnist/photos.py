"""Photos that hold no digit: scikit-image's sample photos, whole and cropped, through the app's upload preprocessing.

What the out-of-distribution score (:mod:`core.mnist.ood`) is tested and benchmarked against.
"""

from __future__ import annotations

import hashlib

import numpy as np

from core.cache import cached_array, source_hash
from core.mnist import preprocess
from core.mnist.data import unit_pixels
from core.mnist.preprocess import PreprocessError, preprocess_digit

# Lazy imports: scikit-image (0.3 s for skimage.transform's resize, with SciPy) and SciPy's rankdata (0.7 s) inside the
# functions that use them, so that the CNN page imports this module at once.


def as_uploaded(images, size: int = 112) -> np.ndarray:
    """MNIST digits as the app's upload path hands them to the network: enlarged (bilinear) to ``size`` px, then
    :func:`core.mnist.preprocess.preprocess_digit`. float32 (n, 28, 28)."""
    from skimage.transform import resize

    return np.asarray([preprocess_digit((255 * resize(np.asarray(x, dtype="float32") / (255.0 if np.asarray(x).dtype == np.uint8 else 1.0), (size, size), order=1)).astype("uint8")).image
                       for x in images], dtype="float32")


def as_drawn(images, scale: int = 10) -> np.ndarray:
    """MNIST digits as a pen draws them: solid ink (thresholded at half), enlarged ``scale`` times with hard edges
    (a canvas stroke has no soft rim), then :func:`core.mnist.preprocess.preprocess_digit`. float32 (n, 28, 28)."""
    out = []
    for x in as_stored(images):
        solid = np.kron((x > 0.5).astype("uint8") * 255, np.ones((scale, scale), "uint8"))
        try:
            out.append(preprocess_digit(solid).image)
        except PreprocessError:  # a digit too faint to have solid ink: as stored
            out.append(x)
    return np.asarray(out, dtype="float32").reshape(-1, 28, 28)


def as_stored(images) -> np.ndarray:
    """MNIST digits as a 28x28 upload of the data set's own images reaches the network: unchanged, in [0, 1]."""
    return unit_pixels(images).reshape(-1, 28, 28)


RENDERINGS = {"uploaded": as_uploaded, "drawn": as_drawn, "stored": as_stored}  # how real digits reach the network
SLOW_RENDERINGS = ("uploaded", "drawn")  # kept on disk too; the stored rendering is only a reshape
_RENDERED: dict[tuple[str, str], np.ndarray] = {}


def rendered_once(images, how: str = "uploaded") -> np.ndarray:
    """``RENDERINGS[how](images)``, made once per machine: about 1.6 ms a digit, and it depends on the data and this
    code only, not on the model (every CNN run's saving needs 12,000 of them: :mod:`core.mnist.ood`). Kept on disk
    (:mod:`core.cache`, keyed by the images and the rendering code) and in this process (the last few sets)."""
    images = np.ascontiguousarray(images)
    key = (how, hashlib.sha1(images.tobytes()).hexdigest())
    if key not in _RENDERED:
        while len(_RENDERED) >= 8:
            _RENDERED.pop(next(iter(_RENDERED)))
        def make():
            return RENDERINGS[how](images)
        _RENDERED[key] = (cached_array(f"rendered-{how}-{key[1][:20]}-{source_hash(__file__, preprocess.__file__)}",
                                       make) if how in SLOW_RENDERINGS else make())
    return _RENDERED[key]



def auroc(in_scores, out_scores) -> float:
    """Area under the ROC curve for telling ``out`` (positives, higher scores) from ``in``: P(out > in), ties halved."""
    from scipy.stats import rankdata

    a = np.asarray(in_scores, dtype="float64")
    b = np.asarray(out_scores, dtype="float64")

    ranks = rankdata(np.concatenate([a, b]))
    return float((ranks[len(a):].sum() - len(b) * (len(b) + 1) / 2) / (len(a) * len(b)))


PHOTO_NAMES = ("astronaut", "brick", "camera", "cat", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass",
               "gravel", "horse", "hubble_deep_field", "logo", "moon", "page", "rocket", "text", "checkerboard",
               "immunohistochemistry", "retina", "microaneurysms", "cell", "stereo_motorcycle")


def skimage_photos(crops: bool = True) -> list[tuple[str, np.ndarray]]:
    """scikit-image's sample photos (those shipped with it), whole and (``crops``) as four quadrants and a centre.

    uint8 grey or RGB(A) arrays, as an upload would be decoded.
    """
    import skimage.data

    photos = []
    for name in PHOTO_NAMES:
        try:
            img = getattr(skimage.data, name)()
        except Exception:  # a photo that needs a download: not on this machine
            continue
        if isinstance(img, tuple):
            img = img[0]
        img = np.asarray(img)
        if img.dtype == bool:
            img = img.astype("uint8") * 255
        elif img.dtype != np.uint8:
            img = (255 * (img.astype("float64") - img.min()) / max(float(np.ptp(img)), 1e-9)).astype("uint8")
        photos.append((name, img))
        if crops:
            h, w = img.shape[:2]
            parts = {"top-left": img[: h // 2, : w // 2], "top-right": img[: h // 2, w // 2:],
                     "bottom-left": img[h // 2:, : w // 2], "bottom-right": img[h // 2:, w // 2:],
                     "centre": img[h // 4: 3 * h // 4, w // 4: 3 * w // 4]}
            photos += [(f"{name} ({where})", np.ascontiguousarray(part)) for where, part in parts.items()]
    return photos


def preprocessed_photos(crops: bool = True) -> tuple[list[str], np.ndarray]:
    """The photos through the app's upload preprocessing (:func:`core.mnist.preprocess.preprocess_digit`).

    Photos the preprocessing refuses (no ink found) never reach the network and are left out.
    """
    names, images = [], []
    for name, img in skimage_photos(crops):
        try:
            images.append(preprocess_digit(img).image)
            names.append(name)
        except PreprocessError:
            continue
    return names, np.asarray(images, dtype="float32").reshape(-1, 28, 28)
