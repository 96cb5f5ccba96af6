"""Is it a digit at all: the out-of-distribution score of the CNN (core/mnist/ood.py)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.cnn_lessons_support import need_mnist, small_run


@pytest.fixture(scope="module")
def run():
    need_mnist()
    return small_run()


@pytest.mark.slow  # the small CNN: a 6,000-image training shared by the lessons' tests
def test_statistics_are_saved_with_the_run_and_read_back(run):
    from core.mnist.ood import N_CALIB, STATS_FILE, OodStats, stats_for_run

    store, run_id, model, data = run
    path = store.path(run_id) / STATS_FILE
    assert path.is_file(), "the run's folder holds the statistics fitted when it was saved"
    stats = stats_for_run(store, run_id, model)
    saved = OodStats.from_bytes(path.read_bytes())
    assert stats.threshold == saved.threshold and len(stats.test_scores) == N_CALIB
    # An older run without them: fitted on first use and written into its folder.
    path.unlink()
    again = stats_for_run(store, run_id, model, data)
    assert path.is_file()
    assert again.threshold == pytest.approx(stats.threshold, rel=1e-4)


@pytest.mark.slow  # the small CNN: a 6,000-image training shared by the lessons' tests
def test_photos_are_flagged_and_mnist_test_digits_are_not(run):
    from core.mnist.ood import score, stats_for_run
    from core.mnist.photos import as_uploaded, auroc, preprocessed_photos

    store, run_id, model, data = run
    stats = stats_for_run(store, run_id, model)
    _, photos = preprocessed_photos()
    assert len(photos) >= 60, "scikit-image's photos, whole and cropped"
    flagged = score(model, stats, photos)["not_a_digit"]
    test_flagged = score(model, stats, as_uploaded(data.x_test[1:4000:2]))["not_a_digit"]  # not calibrated on
    assert flagged.mean() >= 0.9, f"only {flagged.mean():.0%} of the photos flagged"
    assert test_flagged.mean() <= 0.02
    assert (stats.test_scores > stats.threshold).mean() <= 0.02
    assert auroc(stats.test_scores, score(model, stats, photos)["score"]) > 0.9


@pytest.mark.slow  # the small CNN: a 6,000-image training shared by the lessons' tests
def test_the_bar_photos_ninety_percent_flagged_digits_at_most_two_percent_however_they_arrive(run):
    from core.mnist.ood import N_CALIB, score, stats_for_run
    from core.mnist.photos import RENDERINGS, preprocessed_photos

    store, run_id, model, data = run
    stats = stats_for_run(store, run_id, model)
    _, photos = preprocessed_photos()
    assert score(model, stats, photos)["not_a_digit"].mean() >= 0.9
    held_out = data.x_test[N_CALIB:N_CALIB + 1000]  # never calibrated on
    for how, render in RENDERINGS.items():
        flagged = score(model, stats, render(held_out))["not_a_digit"].mean()
        assert flagged <= 0.025, f"{flagged:.1%} of test digits {how} flagged"


def test_pixel_statistics_by_hand():
    from core.mnist.ood import pixel_statistics

    stroke = np.zeros((28, 28), "float32")
    stroke[4:24, 13:15] = 1.0  # solid ink: no flat grey at all
    tone = np.full((28, 28), 0.5, "float32")  # a flat grey photo
    f = pixel_statistics(np.stack([stroke, tone, 1.0 - stroke]))
    np.testing.assert_allclose(f[0], [0.0, 40 / 784, 40 / 784, 0.0, 20 / 28, 2 / 28])
    np.testing.assert_allclose(f[1], [1.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(f[2], f[0])  # dark ink on light reads the same


@pytest.mark.slow  # the small CNN: a 6,000-image training shared by the lessons' tests
def test_predict_cli_says_not_a_digit(run, tmp_path, capsys):
    from PIL import Image

    from core.cli import main
    from core.mnist.ood import score_one, stats_for_run
    from core.mnist.photos import skimage_photos
    from core.mnist.preprocess import preprocess_digit

    store, run_id, model, data = run
    stats = stats_for_run(store, run_id, model)
    photo = next(img for _, img in skimage_photos(crops=False)
                 if score_one(model, stats, preprocess_digit(img).image)["not_a_digit"])
    Image.fromarray(photo).save(tmp_path / "coffee.png")
    from skimage.transform import resize

    digit = (255 * resize(data.x_test[0] / 255.0, (224, 224), order=1)).astype("uint8")  # a test digit, enlarged
    Image.fromarray(255 - digit).save(tmp_path / "digit.png")  # dark on light, as on paper
    assert main(["--runs-dir", str(store.root), "predict", "cnn", run_id, str(tmp_path / "coffee.png"),
                 str(tmp_path / "digit.png"), "--json"]) == 0
    coffee, seven = json.loads(capsys.readouterr().out)
    assert coffee["not_a_digit"] is True and coffee["ood_score"] > coffee["ood_threshold"]
    assert seven["not_a_digit"] is False and seven["digit"] == int(data.y_test[0]), seven
    assert main(["--runs-dir", str(store.root), "predict", "cnn", run_id, str(tmp_path / "coffee.png")]) == 0
    assert "does not look like a digit" in capsys.readouterr().out


@pytest.mark.slow  # the small CNN: a 6,000-image training shared by the lessons' tests
def test_a_straight_line_is_not_a_digit(run):
    from core.mnist.ood import score_one, stats_for_run
    from core.mnist.preprocess import preprocess_digit

    store, run_id, model, _ = run
    canvas = np.zeros((280, 280), "uint8")
    canvas[130:152, 40:240] = 255
    assert score_one(model, stats_for_run(store, run_id, model), preprocess_digit(canvas).image)["not_a_digit"]


@pytest.mark.slow  # the small CNN: a 6,000-image training shared by the lessons' tests
def test_statistics_round_trip_and_refuse_other_versions(run):
    from core.mnist.ood import OodStats, stats_for_run

    store, run_id, model, _ = run
    stats = stats_for_run(store, run_id, model)
    back = OodStats.from_bytes(stats.to_bytes())
    np.testing.assert_allclose(back.penultimate.precision, stats.penultimate.precision)
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps({"version": -1})))
    with pytest.raises((ValueError, KeyError)):
        OodStats.from_bytes(buf.getvalue())
