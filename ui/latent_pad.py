"""A pad over the latent plane with a draggable dot: click or drag, and the point is decoded at once, in the browser.

A small ``st.components.v2`` component (inline JS, no iframe). It draws the decoded-digit manifold and the
test set's encodings as background, and beside the pad the decoded dot: the decoder's weights
(:func:`core.cvae.latent.decoder_net`) come with the pad's data, once, and ``latent_decoder.js`` decodes each
position in a few milliseconds with no server round trip. The dot's coordinates still go to the server (at most
one message per animation frame), so only the fragment holding the pad reruns, for what depends on them.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import streamlit as st

from core.plots import PALETTE, png_data_uri

PAD_PIXELS = 420
DECODED_PIXELS = 224  # 28 x 8: the decoded digit, each pixel a sharp 8x8 block
IMAGE_ALPHA = 0.85  # the decoded manifold behind the dots
ORIGIN = {"x": 0.0, "y": 0.0}

_HTML = f"""<div class="latent-pad">
<div><canvas class="pad" width="{PAD_PIXELS}" height="{PAD_PIXELS}"></canvas></div>
<figure><canvas class="decoded" width="28" height="28"></canvas><figcaption></figcaption></figure>
</div>"""
_CSS = f"""
.latent-pad {{ display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }}
.pad {{ cursor: crosshair; border: 1px solid #ccd; border-radius: 6px; touch-action: none; max-width: 100%; }}
.latent-pad figure {{ margin: 0; }}
.decoded {{ width: {DECODED_PIXELS}px; height: {DECODED_PIXELS}px; image-rendering: pixelated; background: #000; }}
.latent-pad figcaption {{ font: 14px sans-serif; color: #666; margin-top: 4px; }}
"""
_PAD_JS = """
export default function(component) {
  const { data, setStateValue, parentElement } = component;
  const canvas = parentElement.querySelector('canvas.pad');
  const decoded = parentElement.querySelector('canvas.decoded');
  const caption = parentElement.querySelector('figcaption');
  const ctx = canvas.getContext('2d');
  const N = canvas.width, lo = data.lo, hi = data.hi;
  const toPx = (v) => (v - lo) / (hi - lo) * N;
  const toZ = (p) => lo + p / N * (hi - lo);
  let point = canvas._point || [data.x, data.y];
  if (canvas._key !== data.key) { point = [data.x, data.y]; canvas._key = data.key; }
  if (canvas._netKey !== data.drawing_key) { canvas._net = unpackDecoder(data.decoder); canvas._netKey = data.drawing_key; }
  const net = canvas._net;
  if (canvas._imageSrc !== data.image) {  // the background mosaic: decoded once per picture, not on every rerun
    canvas._image = new Image();
    canvas._image.src = canvas._imageSrc = data.image;
  }
  const img = canvas._image;
  const colors = data.colors;
  function showDecoded() {  // a rerun of the page calls this function again: decode only a new point or decoder
    const shown = `${point[0]},${point[1]}|${canvas._netKey}`;
    if (decoded._shown === shown) return;
    decoded._shown = shown;
    const probs = decodeLatent(net, point[0], point[1]);
    const dctx = decoded.getContext('2d');
    const pixels = dctx.createImageData(decoded.width, decoded.height);
    for (let q = 0; q < probs.length; q++) {
      const v = Math.round(Math.min(1, Math.max(0, probs[q])) * 255);
      pixels.data[4 * q] = pixels.data[4 * q + 1] = pixels.data[4 * q + 2] = v;
      pixels.data[4 * q + 3] = 255;
    }
    dctx.putImageData(pixels, 0, 0);
    caption.textContent = `decoded z = (${point[0].toFixed(2)}, ${point[1].toFixed(2)})`;
  }
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
  }
  if (!img.complete) img.onload = draw;
  draw();
  showDecoded();
  // A click decodes at once; a drag's moves are drawn, decoded and sent at most once per animation frame.
  let pending = null, dirty = false;
  function frame() {
    pending = null;
    if (dirty) { dirty = false; draw(); showDecoded(); }
    setStateValue('point', {x: point[0], y: point[1]});
  }
  function move(e, now) {
    const r = canvas.getBoundingClientRect();
    const px = (e.clientX - r.left) / r.width * N, py = (e.clientY - r.top) / r.height * N;
    point = [Math.min(hi, Math.max(lo, toZ(px))), Math.min(hi, Math.max(lo, toZ(N - py)))];
    canvas._point = point;
    if (now) { draw(); showDecoded(); } else dirty = true;
    if (!pending) pending = requestAnimationFrame(frame);
  }
  canvas.onpointerdown = (e) => { canvas.setPointerCapture(e.pointerId); canvas._drag = true; move(e, true); };
  canvas.onpointermove = (e) => { if (canvas._drag) move(e, false); };
  canvas.onpointerup = (e) => { canvas._drag = false; };
}
"""
DECODER_JS = (Path(__file__).parent / "latent_decoder.js").read_text()


def pack_decoder(net: dict) -> dict:
    """:func:`core.cvae.latent.decoder_net` for the browser: every array as base64 float32 (little-endian), each
    kernel transposed from Keras' (kh, kw, out, in) to (kh, kw, in, out), the order ``latent_decoder.js`` reads."""
    def b64(a) -> str:
        return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")

    return {"dense": {**{k: b64(v) for k, v in net["dense"].items() if k != "relu"}, "relu": net["dense"]["relu"]},
            "seed": net["seed"],
            "convs": [{**c, "w": b64(np.swapaxes(c["w"], 2, 3)), "b": b64(c["b"])} for c in net["convs"]]}


@st.cache_resource
def _component():
    return st.components.v2.component("nn_playground.latent_pad", html=_HTML, css=_CSS, js=DECODER_JS + _PAD_JS)


def _pad_data(key: str, background: np.ndarray, points: np.ndarray, labels: np.ndarray, lo: float, hi: float,
              decoder) -> dict:
    """What the pad draws and decodes with, built once per pad (``key``) and session: the PNG, the points and the
    weights are not re-encoded on every move of the dot. ``decoder()`` gives :func:`core.cvae.latent.decoder_net`."""
    cache = st.session_state.setdefault("latent_pad.data", {})
    if key not in cache:
        cache.clear()
        pts = [[round(float(x), 3), round(float(y), 3), int(c)] for (x, y), c in zip(points, labels)]
        cache[key] = {"image": png_data_uri(background), "points": pts, "lo": lo, "hi": hi, "x": 0.0, "y": 0.0,
                      "colors": list(PALETTE), "image_alpha": IMAGE_ALPHA, "drawing_key": key,
                      "decoder": pack_decoder(decoder())}
    return cache[key]


def latent_pad(key: str, background: np.ndarray, points: np.ndarray, labels: np.ndarray, lo: float, hi: float,
               decoder, drawing_key: str | None = None) -> tuple[float, float]:
    """Mount the pad (the dot starts at the origin) and the decoded dot beside it; returns the current point in the
    two shown dimensions. ``decoder()`` gives the decoder's weights for that plane
    (:func:`core.cvae.latent.decoder_net`), called only when the pad's drawing is built.

    The pad's drawing is cached by ``drawing_key`` (default ``key``): it must change whenever the background, the
    points, the range or the decoder do, while ``key`` changes only when the dot should start again at the origin.
    """
    data = {**_pad_data(drawing_key or key, background, points, labels, lo, hi, decoder), "key": key}
    result = _component()(data=data, key=key, default={"point": ORIGIN}, on_point_change=lambda: None)
    point = getattr(result, "point", None) or ORIGIN
    return float(point["x"]), float(point["y"])
