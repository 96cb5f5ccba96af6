// The drawing's verdict (see ui/verdict.py). Called with each rerun's data; also, at the pen's lift on the drawing
// canvas, reads the canvas and asks the server for the verdict at once (POST /_nn/verdict/<token>), without waiting
// for the canvas's own message (200 ms later) and the page's rerun it starts.

const LAST_WORD_MS = 1500;

function settle(state, data) {  // provisional (dimmed, data-provisional) until the drawing has been still a moment
  const box = document.querySelector('.st-key-' + data.target);
  if (!box) return;
  clearTimeout(state.settle);
  if (!state.provisional) { box.style.opacity = ''; delete box.dataset.provisional; return; }
  box.dataset.provisional = 'true';
  box.style.transition = 'opacity 0.12s';
  box.style.opacity = '0.4';
  state.settle = setTimeout(() => { box.style.opacity = ''; delete box.dataset.provisional; }, data.settle_ms);
}

function show(state, data, answer) {
  if (answer.stamp === state.stamp) return;  // this drawing is shown already (a rerun after its quick answer)
  state.stamp = answer.stamp;
  state.provisional = answer.provisional;
  state.root.innerHTML = answer.html;
  settle(state, data);
}

function canvasHost(path, key) {  // the drawing canvas' element container, if the event came from it
  const prefix = 'st-key-' + key + '-canvas-';
  return path.find((el) => el.classList && [...el.classList].some((c) => c.startsWith(prefix)));
}

function onPenUp(event) {
  const state = window.__nnVerdict;
  if (!state || !state.root.isConnected || !canvasHost(event.composedPath(), state.data.canvas)) return;
  const upper = event.composedPath().find((el) => el.tagName === 'CANVAS');
  const lower = upper && upper.parentElement.querySelector('canvas.lower-canvas');
  if (!lower) return;
  const seq = ++state.asked;
  const { reruns } = state;
  const { token } = state.data;
  // two frames: the canvas adds the finished stroke to its picture in the frame after the lift
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const copy = document.createElement('canvas');
    copy.width = lower.clientWidth;  // the canvas' CSS size: what it sends (a HiDPI canvas holds more pixels)
    copy.height = lower.clientHeight;
    copy.getContext('2d').drawImage(lower, 0, 0, copy.width, copy.height);
    copy.toBlob((png) => {
      const base = (window.__streamlit && window.__streamlit.BACKEND_BASE_URL) || (window.location.origin + '/');
      fetch(base.replace(/\/?$/, '/') + '_nn/verdict/' + encodeURIComponent(token), { method: 'POST', body: png })
        .then((r) => (r.ok ? r.json() : null))
        .then((answer) => {
          // dropped if a later stroke asked since, a rerun came meanwhile (it knows better), or the canvas is gone
          // (Clear mounts a new one)
          if (!answer || seq < state.asked || reruns !== state.reruns || !lower.isConnected) return;
          state.quick.push(answer.stamp);
          state.quick = state.quick.slice(-20);
          show(state, state.data, answer);
        })
        .catch(() => {});  // the rerun brings the verdict anyway
    }, 'image/png');
  }));
}

function canvases(key) {  // the drawing canvas' two layers (fabric.js: the picture, and the stroke being drawn)
  const host = document.querySelector(`[class*="st-key-${key}-canvas-"]`);
  if (!host) return [];
  const roots = [host, ...[...host.querySelectorAll('*')].filter((el) => el.shadowRoot).map((el) => el.shadowRoot)];
  const root = roots.find((r) => r.querySelector('canvas.lower-canvas'));
  return root ? [root.querySelector('canvas.lower-canvas'), root.querySelector('canvas.upper-canvas')] : [];
}

function onClear(event) {  // shown at the click: the fragment's rerun then mounts a new, empty canvas
  const state = window.__nnVerdict;
  const { data } = state || {};
  if (!state || !state.root.isConnected || !data.paper) return;
  if (!event.composedPath().some((el) => el.classList && el.classList.contains(`st-key-${data.canvas}-clear`))) return;
  for (const layer of canvases(data.canvas)) {
    const ctx = layer.getContext('2d');
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, layer.width, layer.height);
    if (layer.classList.contains('lower-canvas')) { ctx.fillStyle = data.paper; ctx.fillRect(0, 0, layer.width, layer.height); }
    ctx.restore();
  }
  state.asked += 1;  // a quick answer still in flight is for the drawing just cleared
  show(state, data, data.empty);
}

export default function(component) {
  const { data, parentElement } = component;
  const root = parentElement.querySelector('.nnv');
  const state = root.__nnv || (root.__nnv = { root, stamp: null, quick: [], asked: 0, reruns: 0, provisional: false });
  state.data = data;
  state.reruns += 1;
  window.__nnVerdict = state;
  if (!window.__nnVerdictListening) {
    window.__nnVerdictListening = true;
    document.addEventListener('pointerup', onPenUp, true);
    document.addEventListener('click', onClear, true);
  }
  // A rerun's verdict, unless it is for a drawing older than the one a quick answer already shows (the rerun of an
  // earlier stroke, come late); the latest rerun has the last word, a moment later, should no newer one come.
  state.lastRerun = data;
  const i = state.quick.indexOf(data.stamp);
  if (i >= 0 && i < state.quick.length - 1) {
    setTimeout(() => { if (state.lastRerun === data) { state.quick = []; show(state, data, data); } }, LAST_WORD_MS);
    return;
  }
  if (i >= 0) state.quick = [];  // the reruns caught up with the quick answers
  show(state, data, data);
}
