"""feature_importance: a family that carries the label is important, noise is not."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from braintumor_features.evaluation import feature_importance
from braintumor_features.features import FeatureExtractor, ImageFeatures

CLASSES = np.array(["glioma", "meningioma", "no_tumor", "pituitary"])


class _Row(FeatureExtractor):
    """The first ``width`` pixels of one image row as features."""

    def __init__(self, row=0, width=6, n_jobs=None, batch_size=None, on_error="raise"):
        self.row, self.width = row, width
        self.n_jobs, self.batch_size, self.on_error = n_jobs, batch_size, on_error

    def _features(self, image, mask):
        return image[self.row, : self.width].astype(float)

    def _feature_names(self):
        return [f"row{self.row}_{k}" for k in range(self.width)]


def _images(n, seed):
    """Row 0 of each image: noisy copies of its class code; row 1: noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    images = rng.integers(0, 256, (n, 2, 6)).astype(np.uint8)
    images[:, 0] = np.clip(y[:, None] * 60 + 20 + rng.normal(0, 6, (n, 6)), 0, 255)
    return list(images), CLASSES[y]


@pytest.fixture(scope="module")
def fitted():
    """A forest on a label family (six redundant copies) and a noise family."""
    features = ImageFeatures([("label", _Row(row=0)), ("noise", _Row(row=1))])
    pipe = Pipeline([("features", features),
                     ("classifier", RandomForestClassifier(n_estimators=40, random_state=0))])
    X, y = _images(120, seed=0)
    X_test, y_test = _images(80, seed=1)
    return pipe.fit(X, y), X_test, y_test


def test_permuting_a_family_that_carries_the_label_costs_the_accuracy(fitted):
    pipe, X, y = fitted
    assert pipe.score(X, y) == 1.0
    families = feature_importance(pipe, X, y, by="family", n_repeats=5)
    assert families.index.tolist() == ["label", "noise"]
    assert families.family.tolist() == ["label", "noise"]
    # Shuffled together, the six copies tell nothing: accuracy falls to about chance (0.25).
    assert families.loc["label", "importance"] > 0.5
    assert abs(families.loc["noise", "importance"]) < 0.05
    assert families.loc["label", "std"] > 0
    # One copy at a time, the forest reads the label from the other five: the sum of the
    # per-column importances (what the example printed per family) says almost nothing.
    columns = feature_importance(pipe, X, y, n_repeats=5)
    per_column_sum = columns.groupby("family")["importance"].sum()
    assert per_column_sum["label"] < families.loc["label", "importance"] / 2


def test_permutation_of_one_column_is_scikit_learns(fitted):
    pipe, X, y = fitted
    table = feature_importance(pipe, X, y, n_repeats=3, random_state=4)
    expected = permutation_importance(pipe[1:], pipe[:1].transform(X), y, n_repeats=3,
                                      random_state=4)
    names = pipe[0].get_feature_names_out()
    np.testing.assert_allclose(table.loc[names, "importance"], expected.importances_mean)
    np.testing.assert_allclose(table.loc[names, "std"], expected.importances_std)


def test_impurity_std_is_the_spread_over_the_trees(fitted):
    pipe, _, _ = fitted
    forest = pipe[-1]
    per_tree = np.array([tree.feature_importances_ for tree in forest.estimators_])
    table = feature_importance(pipe, None, None, method="impurity")
    names = pipe[0].get_feature_names_out()
    np.testing.assert_allclose(table.loc[names, "importance"], forest.feature_importances_)
    np.testing.assert_allclose(table.loc[names, "std"], per_tree.std(axis=0))
    assert (table.loc[names[:6], "std"] > 0).all()  # today: all 0.0

    families = feature_importance(pipe, None, None, method="impurity", by="family")
    label = per_tree[:, :6].sum(axis=1)
    assert families.index.tolist() == ["label", "noise"]
    assert families.importance.sum() == pytest.approx(1.0)
    assert families.loc["label", "importance"] > 0.8
    assert families.loc["label", "std"] == pytest.approx(label.std())


def test_a_single_tree_has_no_spread_over_trees(fitted):
    _, X, y = fitted
    pipe = Pipeline([("features", ImageFeatures([("label", _Row(row=0))])),
                     ("classifier", DecisionTreeClassifier(random_state=0))]).fit(X, y)
    table = feature_importance(pipe, None, None, method="impurity", by="family")
    assert table.loc["label", "importance"] == pytest.approx(1.0)
    assert np.isnan(table.loc["label", "std"])


def test_unknown_grouping_is_refused(fitted):
    pipe, X, y = fitted
    with pytest.raises(ValueError, match="by must be 'feature' or 'family', got 'column'"):
        feature_importance(pipe, X, y, by="column")
