"""Probe digits that are not MNIST: digits rendered from fonts, light-on-dark and dark-on-light, distorted.

They show what the portfolio showed: a network trained only on MNIST's white-on-black digits fails on
dark ink on a light background, and the inversion augmentation fixes that. The fonts are the TrueType
files that ship with matplotlib, so every machine that runs the app can render them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.mnist.preprocess import preprocess_digit

# Lazy imports: matplotlib (0.1 s to import; only its font files are used) and SciPy's ndimage (0.2 s) inside the
# functions that use them.

FONTS = {
    "DejaVu Sans": "DejaVuSans.ttf",
    "DejaVu Serif": "DejaVuSerif.ttf",
    "DejaVu Sans Mono Bold": "DejaVuSansMono-Bold.ttf",
    "DejaVu Sans Oblique": "DejaVuSans-Oblique.ttf",
    "Computer Modern": "cmr10.ttf",
    "STIX": "STIXGeneral.ttf",
}
DISTORTIONS = ("plain", "rotated", "blurred", "noisy")
POLARITIES = ("light-on-dark", "dark-on-light")
RENDER = 64  # rendering canvas (pixels)


@dataclass
class Probes:
    images: np.ndarray  # float32 (n, 28, 28) after MNIST-style preprocessing that keeps the polarity
    raw: np.ndarray  # float32 (n, 64, 64) as rendered, before preprocessing
    labels: np.ndarray
    polarity: list
    description: list

    def select(self, n: int = 24) -> np.ndarray:
        """Indices of a small balanced subset: each digit in both polarities first, then the rest in order."""
        picked = []
        for digit in range(10):
            for pol in POLARITIES:
                picked += [i for i in range(len(self.labels)) if self.labels[i] == digit and self.polarity[i] == pol][:1]
        rest = [i for i in range(len(self.labels)) if i not in picked]
        return np.asarray((picked + rest)[:n])


def font_path(file_name: str) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / file_name


def render_digit(digit: int, font_file: str, size: int = 46) -> np.ndarray:
    """A white digit on black, centred on a 64x64 canvas, in [0, 1]."""
    font = ImageFont.truetype(str(font_path(font_file)), size)
    image = Image.new("L", (RENDER, RENDER), 0)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font)
    draw.text(((RENDER - (right - left)) / 2 - left, (RENDER - (bottom - top)) / 2 - top), str(digit), fill=255,
              font=font)
    return np.asarray(image, dtype="float32") / 255.0


def distort(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import gaussian_filter, rotate

    if kind == "rotated":
        return np.clip(rotate(image, rng.uniform(8, 15) * rng.choice([-1, 1]), reshape=False, order=1), 0, 1)
    if kind == "blurred":
        return np.clip(gaussian_filter(image, 1.5), 0, 1)
    if kind == "noisy":
        return np.clip(image + rng.normal(0, 0.08, image.shape), 0, 1)
    return image


def make_probes(seed: int = 0) -> Probes:
    """Every digit in every font, in both polarities, each with one distortion; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    images, raws, labels, polarity, description = [], [], [], [], []
    k = 0
    for font_name, font_file in FONTS.items():
        for digit in range(10):
            base = render_digit(digit, font_file)
            for pol in POLARITIES:
                kind = DISTORTIONS[k % len(DISTORTIONS)]
                k += 1
                raw = distort(base, kind, rng)
                if pol == "dark-on-light":
                    raw = 1.0 - raw
                images.append(preprocess_digit(raw, invert_dark=False).image)
                raws.append(raw.astype("float32"))
                labels.append(digit)
                polarity.append(pol)
                description.append(f"{font_name}, {pol}, {kind}")
    return Probes(np.stack(images), np.stack(raws), np.asarray(labels), polarity, description)
