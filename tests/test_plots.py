"""Pictures drawn by hand-written SVG or encoded inline (core.plots), checked against what they must show."""

import base64
import io
import re

import numpy as np
from PIL import Image

from core.plots import PALETTE, png_data_uri, probability_svg


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_png_data_uri_round_trips_grey_floats_and_uint8_colour():
    grey = np.linspace(0, 1, 28 * 28).reshape(28, 28)
    np.testing.assert_array_equal(_decode(png_data_uri(grey)), np.round(grey * 255).astype("uint8"))
    assert _decode(png_data_uri(np.full((3, 3), 2.0))).max() == 255  # clipped, not wrapped around
    rgba = np.random.default_rng(0).integers(0, 256, (5, 7, 4), dtype="uint8")
    np.testing.assert_array_equal(_decode(png_data_uri(rgba)), rgba)


def test_probability_svg_has_a_bar_per_class_and_colours_the_top_one():
    probs = np.array([0.05, 0.7, 0.25])
    svg = probability_svg(probs, ["a", "b", "c"])
    bars = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="([^"]+)"><title>(\w): '
                      r'([\d.]+)%</title>', svg)
    assert [b[3] for b in bars] == ["a", "b", "c"]
    assert [b[2] for b in bars] == ["#B0B7C3", PALETTE[0], "#B0B7C3"]
    heights = [float(b[1]) for b in bars]
    assert abs(heights[1] / heights[0] - 14) < 0.05  # 0.7 / 0.05
    assert [float(b[4]) for b in bars] == [5.0, 70.0, 25.0]
    assert probability_svg(np.array([np.nan, 1.0]), ["x", "y"]).count("<rect") == 3  # a NaN draws an empty bar
