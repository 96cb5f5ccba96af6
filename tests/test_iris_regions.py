"""Iris decision regions that agree with the model: averaged over the other measurements, or on the flowers'
principal plane; confidence visible, misclassified flowers marked."""

import numpy as np
import pytest

from core.iris.analysis import feature_plane, pca_plane
from core.iris.data import FEATURES, SPECIES, load_split
from core.iris.model import predict_proba
from core.plots import decision_regions_figure
from core.registry import get_task
from core.training import run_training


@pytest.fixture(scope="module")
def trained():
    result = run_training(get_task("iris"), {"epochs": 10})
    return result.model, load_split()


def test_feature_plane_averages_the_model_over_the_other_measurements(trained):
    model, split = trained
    regions = feature_plane(model, split.x_train, (0, 1), resolution=7, feature_names=FEATURES)
    assert regions.probs.shape == (7, 7, 3) and regions.axis_titles == (FEATURES[0], FEATURES[1])
    for i, j in [(0, 0), (3, 5), (6, 2)]:
        flowers = split.x_train.copy()
        flowers[:, 0], flowers[:, 1] = regions.xs[j], regions.ys[i]
        np.testing.assert_allclose(regions.probs[i, j], predict_proba(model, flowers).mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(regions.points, split.x_train[:, [0, 1]])


def test_the_principal_plane_agrees_with_the_model_on_the_flowers(trained):
    model, split = trained
    regions = pca_plane(model, split.x_train, x_points=split.x_test)
    predicted = predict_proba(model, split.x_test).argmax(1)
    agreement = (regions.class_at(regions.points) == predicted).mean()
    assert agreement >= 0.9, agreement
    assert "PC 1" in regions.axis_titles[0]


def test_the_figure_marks_exactly_the_misclassified_flowers_and_shades_by_confidence(trained):
    model, split = trained
    regions = pca_plane(model, split.x_train, x_points=split.x_test)
    predicted = predict_proba(model, split.x_test).argmax(1)
    predicted[:3] = (split.y_test[:3] + 1) % 3  # pretend three mistakes
    fig = decision_regions_figure(regions, split.y_test, predicted, SPECIES)
    wrong = next(t for t in fig.data if t.name and t.name.startswith("misclassified"))
    assert len(wrong.x) == 3 and wrong.name == "misclassified (3)"
    alpha = np.asarray(fig.data[0].z)[..., 3]
    assert alpha.min() < alpha.max()  # paler where less sure
