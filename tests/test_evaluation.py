"""evaluate() and EvaluationReport, checked against scikit-learn's own cross-validation."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from braintumor_features import make_pipeline
from braintumor_features.evaluation import EvaluationReport, UngroupedCVWarning, evaluate


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(120, 8, n_informative=5, n_classes=3, random_state=0)
    groups = np.repeat(np.arange(40), 3)
    return X, np.array(["a", "b", "c"])[y], groups


def test_matches_cross_val_predict_and_keeps_groups_apart(data):
    X, y, groups = data
    model = LogisticRegression(max_iter=500)
    report = evaluate(model, X, y, groups=groups, random_state=1)
    cv = StratifiedGroupKFold(5, shuffle=True, random_state=1)
    expected = cross_val_predict(model, X, y, groups=groups, cv=cv)
    proba = cross_val_predict(model, X, y, groups=groups, cv=cv, method="predict_proba")
    assert (report.y_pred == expected).all()
    assert report.accuracy == pytest.approx(accuracy_score(y, expected))
    assert report.roc_auc == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    for number in np.unique(report.fold):
        tested = set(groups[np.isin(np.arange(120), np.flatnonzero(report.fold == number))])
        assert len(tested) * 3 == (report.fold == number).sum()  # whole groups per fold


def test_fit_params_are_cut_to_each_folds_training_images(data):
    X, y, groups = data
    weight = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    model = LogisticRegression(max_iter=500)
    report = evaluate(model, X, y, groups=groups, random_state=1, params={"sample_weight": weight})
    cv = StratifiedGroupKFold(5, shuffle=True, random_state=1)
    expected = cross_val_predict(model, X, y, groups=groups, cv=cv, params={"sample_weight": weight})
    assert (report.y_pred == expected).all()
    unweighted = evaluate(model, X, y, groups=groups, random_state=1).y_pred
    assert (report.y_pred != unweighted).any()  # the weights reached the fits


def test_per_class_table_and_folds(data):
    X, y, groups = data
    report = evaluate(LogisticRegression(max_iter=500), X, y, groups=groups)
    expected = classification_report(report.y_true, report.y_pred, output_dict=True)
    table = report.to_frame()
    for name in ["a", "b", "c"]:
        assert table.loc[name, "recall"] == pytest.approx(expected[name]["recall"])
        assert table.loc[name, "f1"] == pytest.approx(expected[name]["f1-score"])
    assert table.loc["macro avg", "f1"] == pytest.approx(expected["macro avg"]["f1-score"])
    assert table.loc["macro avg", "support"] == 120
    assert report.confusion_matrix.sum() == 120
    folds = report.fold_scores
    assert folds.shape[0] == 5 and folds["n_test"].sum() == 120
    summary = report.summary()
    assert summary.loc["accuracy", "fold_mean"] == pytest.approx(folds["accuracy"].mean())
    assert summary.loc["accuracy", "pooled"] == report.accuracy


@pytest.mark.filterwarnings("ignore:The groups parameter is ignored")  # scikit-learn's own
def test_warns_without_groups_and_accepts_any_splitter(data):
    X, y, groups = data
    with pytest.warns(UngroupedCVWarning, match="pass groups"):
        evaluate(LogisticRegression(max_iter=500), X, y, cv=3)
    with pytest.warns(UngroupedCVWarning, match=r"cv=StratifiedKFold\(...\)\): this splitter ignores groups"):
        evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=StratifiedKFold(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UngroupedCVWarning)  # a group splitter: no warning
        report = evaluate(LinearSVC(), X, y, groups=groups, cv=GroupKFold(4))
    assert len(np.unique(report.fold)) == 4
    assert report.y_score.shape == (120, 3)  # decision_function when there is no predict_proba
    assert 0.5 < report.roc_auc <= 1  # AUC from decision values that are not probabilities


def test_tables_as_text_and_json_round_trip(data):
    X, y, groups = data
    report = evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=3)
    markdown = report.to_markdown()
    assert "### Per class" in markdown and "| macro avg |" in markdown
    assert f"{report.accuracy:.3f}" in markdown
    assert report.to_html().count("<table") == 4
    again = EvaluationReport.from_json(report.to_json())
    assert again.accuracy == report.accuracy and again.roc_auc == pytest.approx(report.roc_auc)
    assert "3 folds" in repr(again)


def test_image_pipeline_on_the_demo_set(demo):
    pipe = make_pipeline("rf", features=["intensity"], image_size=48, random_state=0)
    pipe.set_params(classifier__n_estimators=30)
    report = evaluate(pipe, demo.images, demo.target, groups=demo.groups, cv=2)
    assert report.confusion_matrix.shape == (4, 4) and report.confusion_matrix.sum() == 40
