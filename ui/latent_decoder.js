// The CVAE's decoder in the browser: one latent point of the pad's plane -> 28x28 probabilities, with no server
// round trip. The weights come from core.cvae.latent.decoder_net (arrays as base64 float32, little-endian); the
// arithmetic is the same as the Keras layers' (tests/test_latent_decoder_js.py compares the two in chromium).

function unpackDecoder(packed) {
  const f32 = (b64) => {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  };
  const d = packed.dense;
  return {
    dense: { wx: f32(d.wx), wy: f32(d.wy), b: f32(d.b), relu: d.relu },
    seed: packed.seed,
    convs: packed.convs.map((c) => ({ ...c, w: f32(c.w), b: f32(c.b) })),
  };
}

// h = relu(x W[dx] + y W[dy] + b) as an (H, W, C) map, then each transposed convolution:
// out[i s + ky - p, j s + kx - p, o] += sum_c in[i, j, c] W[ky, kx, c, o], p = max(k - s, 0) / 2 (rounded down),
// plus bias (and ReLU); finally the sigmoid of the logits. Returns a Float32Array of H x W probabilities.
// Written for speed in plain JS (about 17 million multiply-adds): each input value scales one row of the kernel
// into the output (kernels arrive as (kh, kw, in, out), so that row is contiguous), four at a time, and the ReLU's
// zeros are skipped.
function decodeLatent(net, x, y) {
  const d = net.dense;
  let map = new Float32Array(d.b.length);
  for (let j = 0; j < map.length; j++) {
    const v = x * d.wx[j] + y * d.wy[j] + d.b[j];
    map[j] = d.relu && v < 0 ? 0 : v;
  }
  let [H, W, C] = net.seed;
  for (const L of net.convs) {
    const { k, stride: s, cout, cin, w, b } = L;
    const OH = H * s, OW = W * s, p = Math.floor(Math.max(k - s, 0) / 2), o4 = cout - (cout % 4);
    const out = new Float32Array(OH * OW * cout);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const inBase = (i * W + j) * cin;
        for (let ky = 0; ky < k; ky++) {
          const oy = i * s + ky - p;
          if (oy < 0 || oy >= OH) continue;
          for (let kx = 0; kx < k; kx++) {
            const ox = j * s + kx - p;
            if (ox < 0 || ox >= OW) continue;
            const ob = (oy * OW + ox) * cout, wBase = (ky * k + kx) * cin * cout;
            for (let c = 0; c < cin; c++) {
              const v = map[inBase + c];
              if (v === 0) continue;
              const wc = wBase + c * cout;
              let o = 0;
              for (; o < o4; o += 4) {
                out[ob + o] += v * w[wc + o];
                out[ob + o + 1] += v * w[wc + o + 1];
                out[ob + o + 2] += v * w[wc + o + 2];
                out[ob + o + 3] += v * w[wc + o + 3];
              }
              for (; o < cout; o++) out[ob + o] += v * w[wc + o];
            }
          }
        }
      }
    }
    for (let q = 0; q < out.length; q++) {
      const v = out[q] + b[q % cout];
      out[q] = L.relu && v < 0 ? 0 : v;
    }
    map = out; H = OH; W = OW; C = cout;
  }
  const probs = new Float32Array(H * W);
  for (let q = 0; q < probs.length; q++) probs[q] = 1 / (1 + Math.exp(-map[q * C]));
  return probs;
}
