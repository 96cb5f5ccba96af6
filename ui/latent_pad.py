"""A pad over the latent plane with a draggable dot: click or drag, and the page decodes the point at once.

A small ``st.components.v2`` component (inline JS, no iframe). It draws the decoded-digit manifold and the
test set's encodings as background and sends the dot's latent coordinates while it is dragged (at most
one message per animation frame), so only the fragment holding it reruns.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

PAD_PIXELS = 420
IMAGE_ALPHA = 0.85  # the decoded manifold behind the dots
ORIGIN = {"x": 0.0, "y": 0.0}

_HTML = f'<canvas class="pad" width="{PAD_PIXELS}" height="{PAD_PIXELS}"></canvas><div class="coords"></div>'
_CSS = """
.pad { cursor: crosshair; border: 1px solid #ccd; border-radius: 6px; touch-action: none; max-width: 100%; }
.coords { font: 13px monospace; color: #555; margin-top: 4px; }
"""
_JS = """
export default function(component) {
  const { data, setStateValue, parentElement } = component;
  const canvas = parentElement.querySelector('canvas.pad');
  const label = parentElement.querySelector('.coords');
  const ctx = canvas.getContext('2d');
  const N = canvas.width, lo = data.lo, hi = data.hi;
  const toPx = (v) => (v - lo) / (hi - lo) * N;
  const toZ = (p) => lo + p / N * (hi - lo);
  let point = canvas._point || [data.x, data.y];
  if (canvas._key !== data.key) { point = [data.x, data.y]; canvas._key = data.key; }
  const img = new Image();
  const colors = data.colors;
  function draw() {
    ctx.clearRect(0, 0, N, N);
    if (img.complete && img.naturalWidth) { ctx.globalAlpha = data.image_alpha; ctx.drawImage(img, 0, 0, N, N); }
    ctx.globalAlpha = 0.55;
    for (const [x, y, c] of data.points) {
      ctx.fillStyle = colors[c % colors.length];
      ctx.fillRect(toPx(x) - 1.5, N - toPx(y) - 1.5, 3, 3);
    }
    ctx.globalAlpha = 1;
    const px = toPx(point[0]), py = N - toPx(point[1]);
    ctx.beginPath(); ctx.arc(px, py, 8, 0, 2 * Math.PI);
    ctx.fillStyle = '#FF4B4B'; ctx.fill(); ctx.lineWidth = 2; ctx.strokeStyle = 'white'; ctx.stroke();
    label.textContent = `z = (${point[0].toFixed(2)}, ${point[1].toFixed(2)})`;
  }
  img.onload = draw;
  img.src = data.image;
  draw();
  let pending = null;
  function send() {
    if (pending) return;
    pending = requestAnimationFrame(() => { pending = null; setStateValue('point', {x: point[0], y: point[1]}); });
  }
  function move(e) {
    const r = canvas.getBoundingClientRect();
    const px = (e.clientX - r.left) / r.width * N, py = (e.clientY - r.top) / r.height * N;
    point = [Math.min(hi, Math.max(lo, toZ(px))), Math.min(hi, Math.max(lo, toZ(N - py)))];
    canvas._point = point;
    draw(); send();
  }
  canvas.onpointerdown = (e) => { canvas.setPointerCapture(e.pointerId); canvas._drag = true; move(e); };
  canvas.onpointermove = (e) => { if (canvas._drag) move(e); };
  canvas.onpointerup = (e) => { canvas._drag = false; };
}
"""


@st.cache_resource
def _component():
    return st.components.v2.component("nn_playground.latent_pad", html=_HTML, css=_CSS, js=_JS)


def _pad_data(key: str, background: np.ndarray, points: np.ndarray, labels: np.ndarray, lo: float,
              hi: float) -> dict:
    """What the pad draws, built once per pad (``key``) and session: the PNG and the points are not re-encoded on
    every move of the dot."""
    from core.plots import PALETTE, png_data_uri

    cache = st.session_state.setdefault("latent_pad.data", {})
    if key not in cache:
        cache.clear()
        pts = [[round(float(x), 3), round(float(y), 3), int(c)] for (x, y), c in zip(points, labels)]
        cache[key] = {"image": png_data_uri(background), "points": pts, "lo": lo, "hi": hi, "x": 0.0, "y": 0.0,
                      "colors": list(PALETTE), "image_alpha": IMAGE_ALPHA, "key": key}
    return cache[key]


def latent_pad(key: str, background: np.ndarray, points: np.ndarray, labels: np.ndarray, lo: float,
               hi: float, drawing_key: str | None = None) -> tuple[float, float]:
    """Mount the pad (the dot starts at the origin); returns the current point in the two shown dimensions.

    The pad's drawing is cached by ``drawing_key`` (default ``key``): it must change whenever the background, the
    points or the range do, while ``key`` changes only when the dot should start again at the origin.
    """
    data = {**_pad_data(drawing_key or key, background, points, labels, lo, hi), "key": key}
    result = _component()(data=data, key=key, default={"point": ORIGIN}, on_point_change=lambda: None)
    point = getattr(result, "point", None) or ORIGIN
    return float(point["x"]), float(point["y"])
