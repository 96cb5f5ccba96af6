"""Turn a drawing or a photo of a digit into the 28x28 image the network expects, the way MNIST was made.

MNIST's recipe: light ink on a dark background; the digit's bounding box scaled so that its longer side
is 20 pixels (keeping the aspect ratio, anti-aliased); then placed in a 28x28 frame so that its centre
of mass sits at the centre. A network trained on MNIST reads a user's digit well only after the same
steps. NumPy, scikit-image and Pillow only: no TensorFlow, so this imports instantly.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Lazy imports: scikit-image's threshold_otsu and resize (0.2-0.3 s to import, with SciPy) and SciPy's shift (0.2 s)
# inside the functions that use them, so that the pages and the registry import this module at once.

FRAME, BOX = 28, 20  # MNIST: a 20x20 box inside a 28x28 frame
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # larger images are refused before they are decoded
MAX_SIDE = 1024  # photos are read at most this large: ample for one digit, and a 40 MP photo costs MBs, not GBs
MIN_CONTRAST = 0.15  # ink must differ from the background by this much (0..1) to count as a digit


class PreprocessError(ValueError):
    """An image that cannot become a digit; the message is meant for the user."""


class EmptyImageError(PreprocessError):
    """Nothing drawn (or no ink found)."""


@dataclass
class PreprocessResult:
    image: np.ndarray  # float32 (28, 28) in [0, 1], light ink on dark
    inverted: bool  # the input was dark ink on a light background
    bbox: tuple[int, int, int, int]  # (top, left, bottom, right) of the ink in the input
    steps: dict = field(default_factory=dict)  # intermediate images, for display


def load_image_bytes(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a PNG/JPEG (EXIF orientation applied) to uint8 (h, w) grey or (h, w, 4) RGBA, at most MAX_SIDE px.

    A JPEG is decoded straight at a reduced scale (``Image.draft``: 1/2 to 1/8 of its size, in the decoder);
    anything still larger is shrunk (``thumbnail``) before it becomes an array.
    """
    if not data:
        raise PreprocessError("The file is empty.")
    if len(data) > max_bytes:
        raise PreprocessError(f"The file is too large ({len(data) / 2**20:.1f} MB; at most {max_bytes / 2**20:.0f} MB).")
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise PreprocessError(f"The image is too large ({width}×{height} pixels; at most "
                                  f"{max_pixels / 1e6:.0f} megapixels).")
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image.draft("RGB" if image.mode == "RGB" else image.mode, (MAX_SIDE, MAX_SIDE))
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGBA" if has_alpha else "L")
        return np.asarray(image, dtype="uint8")
    except PreprocessError:
        raise
    except Image.DecompressionBombError:
        raise PreprocessError("The image is too large to decode safely.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise PreprocessError(f"This is not a readable PNG or JPEG image ({type(err).__name__}).") from None


def to_gray(img) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey levels in [0, 1], and for transparent drawings the ink mask from the alpha channel (else None)."""
    a = np.asarray(img)
    if a.size == 0 or a.ndim not in (2, 3):
        raise PreprocessError("Expected an image (height × width, optionally with colour channels).")
    a = a.astype("float32")
    if a.max(initial=0) > 1.0:
        a = a / 255.0
    if a.ndim == 2:
        return a, None
    if a.shape[2] == 4:
        alpha = a[..., 3]
        gray = a[..., :3] @ np.array([0.299, 0.587, 0.114], dtype="float32")
        if alpha.min() < 0.99:  # a transparent background: whatever is opaque is ink
            return gray * alpha + (1 - alpha) * (1 - _ink_tone(gray, alpha)), alpha
        return gray, None
    if a.shape[2] == 3:
        return a @ np.array([0.299, 0.587, 0.114], dtype="float32"), None
    if a.shape[2] == 1:
        return a[..., 0], None
    raise PreprocessError(f"Unsupported number of colour channels: {a.shape[2]}.")


def _ink_tone(gray, alpha) -> float:
    """The mean grey level of the opaque (ink) pixels."""
    w = alpha.sum()
    return float((gray * alpha).sum() / w) if w > 0 else 1.0


def detect_dark_on_light(gray: np.ndarray) -> bool:
    """True when the background (the image border, where a centred digit seldom reaches) is light."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.median(border)) > 0.5


def _ink(gray: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """Ink intensity in [0, 1] (0 = background), contrast-stretched, and whether the input was inverted."""
    if alpha is not None:
        return np.clip(alpha, 0, 1), False
    inverted = detect_dark_on_light(gray)
    ink = 1.0 - gray if inverted else gray
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    background, top = float(np.median(border)), float(np.percentile(ink, 99.9))
    if top - background < MIN_CONTRAST:
        return np.zeros_like(ink), inverted
    return np.clip((ink - background) / (top - background), 0, 1), inverted


def _mask(ink: np.ndarray) -> np.ndarray:
    """Pixels that are ink: above Otsu's threshold (so paper texture and JPEG noise are not)."""
    from skimage.filters import threshold_otsu

    if ink.max() <= 0:
        return np.zeros(ink.shape, bool)
    try:
        level = threshold_otsu(ink)
    except ValueError:
        level = 0.5
    return ink > max(level, 0.2)


def _center_of_mass(image: np.ndarray) -> tuple[float, float]:
    total = image.sum()
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def preprocess_digit(img, invert_dark: bool = True) -> PreprocessResult:
    """The MNIST recipe on one image (see the module docstring); EmptyImageError when there is no digit.

    With ``invert_dark=False`` a dark-on-light input stays dark on light (cropped, scaled and centred all the
    same): that is what a network without the inversion augmentation fails to read.
    """
    from scipy.ndimage import shift
    from skimage.transform import resize

    gray, alpha = to_gray(img)
    ink, inverted = _ink(gray, alpha)
    mask = _mask(ink)
    if mask.sum() < 3:
        raise EmptyImageError("Draw a digit first: the image has no ink.")
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = np.where(ink[top:bottom, left:right] >= 0.5 * max(float(np.min(ink[mask])), 0.2),
                    ink[top:bottom, left:right], 0.0)
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = resize(crop, (new_h, new_w), anti_aliasing=max(h, w) > BOX, order=1, preserve_range=True)
    frame = np.zeros((FRAME, FRAME), dtype="float32")
    r0, c0 = (FRAME - new_h) // 2, (FRAME - new_w) // 2
    frame[r0:r0 + new_h, c0:c0 + new_w] = small
    if frame.sum() <= 0:
        raise EmptyImageError("Draw a digit first: the image has no ink.")
    cy, cx = _center_of_mass(frame)
    centred = shift(frame, (FRAME / 2 - cy, FRAME / 2 - cx), order=1, mode="constant", cval=0.0)
    centred = np.clip(centred / max(float(centred.max()), 1e-6), 0, 1).astype("float32")
    if inverted and not invert_dark:
        centred = 1.0 - centred
    return PreprocessResult(centred, inverted, (int(top), int(left), int(bottom), int(right)),
                            {"ink": ink, "crop": crop, "boxed": frame})


def prediction_summary(probs, unsure_below: float = 0.6, margin: float = 0.2) -> dict:
    """The digit, its probability, and whether the network is unsure (low top probability or a close second)."""
    probs = np.asarray(probs, dtype=float)
    order = np.argsort(-probs)
    best, second = int(order[0]), int(order[1])
    p, q = float(probs[best]), float(probs[second])
    unsure = p < unsure_below or p - q < margin
    if unsure:
        message = f"it might be a {best} ({p:.0%}) or a {second} ({q:.0%}); try drawing it larger and clearer"
    else:
        message = f"a {best} with probability {p:.1%}"
    return {"digit": best, "probability": p, "runner_up": second, "runner_up_probability": q, "unsure": unsure,
            "message": message}
