"""The latent pad's decoder in JavaScript (ui/latent_decoder.js) against Keras: same weights, same images.

Runs the file in chromium (no server): the pad shows what this code computes, so it must equal
``core.cvae.latent.decode_points`` for points of the shown plane (the other coordinates 0).
"""

from types import SimpleNamespace

import numpy as np
import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def decoder_page(_chromium):
    from ui.latent_pad import DECODER_JS

    page = _chromium.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=DECODER_JS)
    yield page
    page.close()


def _random_cvae(latent_dim: int, seed: int):
    import keras

    from core.cvae.model import CVAE

    keras.utils.set_random_seed(seed)
    model = CVAE(latent_dim=latent_dim)
    model(np.zeros((1, 28, 28, 1), "float32"))
    rng = np.random.default_rng(seed)
    for layer in model.decoder.layers:  # Keras starts biases at 0: give them values, so their paths are checked;
        weights = layer.get_weights()  # larger weights than Glorot's give images far from a flat grey 0.5
        if len(weights) == 2:
            layer.set_weights([3 * weights[0], rng.normal(0, 0.3, weights[1].shape).astype("float32")])
    return model


@pytest.mark.parametrize("latent_dim, dims", [(2, (0, 1)), (4, (3, 1)), (1, (0, 0))])
def test_the_browser_decodes_a_point_as_keras_does(decoder_page, latent_dim, dims):
    from core.cvae import latent
    from ui.latent_pad import pack_decoder

    model = _random_cvae(latent_dim, seed=latent_dim)
    points = [(0.0, 0.0), (-1.6, 1.2), (0.7, -0.3), (2.5, 2.5)]
    z = np.zeros((len(points), latent_dim), "float32")
    z[:, dims[0]], z[:, dims[1]] = np.array(points).T  # one dimension on both axes: the vertical one sets it
    expected = latent.decode_points(model, z)

    got, ms = decoder_page.evaluate("""([packed, points]) => {
        const net = unpackDecoder(packed);
        const images = points.map(([x, y]) => Array.from(decodeLatent(net, x, y)));
        const times = [];  // warm now: what a click costs
        for (let r = 0; r < 11; r++) { const t0 = performance.now(); decodeLatent(net, 0.1 * r, -0.3); times.push(performance.now() - t0); }
        return [images, times.sort((a, b) => a - b)[5]];
    }""", [pack_decoder(latent.decoder_net(model, dims)), points])
    got = np.array(got, "float32").reshape(expected.shape)
    print(f"\nJS decode of one point, warm: median {ms:.1f} ms of 11 (latent_dim {latent_dim}, random weights)")
    assert np.abs(got - expected).max() < 1e-5
    assert expected.std() > 0.01  # a real image, not a constant that any code would match


def test_a_decoder_of_other_layers_is_refused():
    import keras

    from core.cvae import latent

    dense_only = SimpleNamespace(decoder=keras.Sequential([keras.Input((2,)), keras.layers.Dense(784)]))
    with pytest.raises(ValueError, match="not Dense -> Reshape -> Conv2DTranspose"):
        latent.decoder_net(dense_only)
