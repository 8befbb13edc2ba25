"""Cross-source evaluation and leave-one-source-out, checked against plain scikit-learn fits."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from braintumor_features.evaluation import evaluate_cross_source, leave_one_source_out


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(150, 6, n_informative=4, n_classes=3, random_state=0)
    sources = np.array(["s1", "s2", "s3"])[np.arange(150) % 3]
    return X, np.array(["a", "b", "c"])[y], sources


def test_cross_source_report_is_a_plain_fit_and_predict(data):
    X, y, _ = data
    model = LogisticRegression(max_iter=500)
    train, test = slice(0, 100), slice(100, None)
    report = evaluate_cross_source(model, X[train], y[train], X[test], y[test])
    expected = model.fit(X[train], y[train])
    np.testing.assert_array_equal(report.y_pred, expected.predict(X[test]))
    np.testing.assert_allclose(report.y_score, expected.predict_proba(X[test]))
    assert report.accuracy == pytest.approx(accuracy_score(y[test], report.y_pred))
    assert report.fold_scores.shape[0] == 1


def test_cross_source_with_a_class_the_training_source_lacks(data):
    X, y, _ = data
    seen = y[:100] != "c"
    report = evaluate_cross_source(LogisticRegression(max_iter=500), X[:100][seen], y[:100][seen],
                                   X[100:], y[100:])
    assert report.classes.tolist() == ["a", "b", "c"]
    assert (report.y_pred != "c").all()
    assert (report.y_score[:, 2] == 0).all()  # no probability for a class never trained on
    assert report.to_frame().loc["c", "recall"] == 0


def test_leave_one_source_out_matches_a_manual_loop(data):
    X, y, sources = data
    model = LogisticRegression(max_iter=500)
    table = leave_one_source_out(model, X, y, sources)
    assert table.index.tolist() == ["s1", "s2", "s3"]
    for name in ["s1", "s2", "s3"]:
        held = sources == name
        predicted = model.fit(X[~held], y[~held]).predict(X[held])
        row = table.loc[name]
        assert (row.n_train, row.n_test, row.n_unseen) == ((~held).sum(), held.sum(), 0)
        assert row.accuracy == pytest.approx(accuracy_score(y[held], predicted))
        assert row.balanced_accuracy == pytest.approx(balanced_accuracy_score(y[held], predicted))
        assert row.macro_f1 == pytest.approx(f1_score(y[held], predicted, average="macro"))


def test_sources_confounded_with_the_label():
    # As on brain-mri: one source holds every "normal", the other every tumour.
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.array(["normal"] * 20 + ["glioma"] * 10 + ["pituitary"] * 10)
    sources = np.array(["br35h"] * 20 + ["figshare"] * 20)
    with pytest.warns(UserWarning, match="cannot hold out source 'figshare'"):
        table = leave_one_source_out(LogisticRegression(), X, y, sources)
    assert np.isnan(table.loc["figshare", "accuracy"])
    assert table.loc["br35h", "n_unseen"] == 20  # no training image is "normal"
    assert table.loc["br35h", "accuracy"] == 0


def test_one_source_is_refused(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="at least two sources"):
        leave_one_source_out(LogisticRegression(), X, y, ["s1"] * len(y))


def test_no_source_can_be_held_out_when_each_has_one_class():
    X = np.arange(10.0)[:, None]
    y = np.array(["a"] * 5 + ["b"] * 5)
    with pytest.warns(UserWarning, match="cannot hold out"):
        table = leave_one_source_out(LogisticRegression(), X, y, y)
    assert table["accuracy"].isna().all() and table["n_unseen"].tolist() == [5, 5]
