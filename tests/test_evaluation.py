"""evaluate() and EvaluationReport, checked against scikit-learn's own cross-validation."""

import shutil
import warnings

import cv2
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    classification_report,
    f1_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import (
    GroupKFold,
    PredefinedSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.svm import LinearSVC

from braintumor_features import make_pipeline
from braintumor_features.datasets import make_demo
from braintumor_features.evaluation import (
    EvaluationReport,
    UngroupedCVWarning,
    evaluate,
)
from braintumor_features.exceptions import TrainingOverlapWarning
from braintumor_features.persistence import image_digests


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
    with pytest.warns(UngroupedCVWarning, match=r"cv=StratifiedKFold\(...\)\): folds \[0, 1, 2\] put "
                      "slices of one patient"):
        evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=StratifiedKFold(3))
    # any splitter whose folds keep each patient on one side, e.g. figshare's predefined folds
    fixed = PredefinedSplit(np.asarray(groups) % 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UngroupedCVWarning)
        evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=fixed)
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
    assert report.to_html().count("<table") == 5  # and the patients' table: 3 images each
    assert "### Per patient" in markdown
    again = EvaluationReport.from_json(report.to_json())
    assert again.accuracy == report.accuracy and again.roc_auc == pytest.approx(report.roc_auc)
    assert "3 folds" in repr(again)


def test_image_pipeline_on_the_demo_set(demo):
    pipe = make_pipeline("rf", features=["intensity"], image_size=48, random_state=0)
    pipe.set_params(classifier__n_estimators=30)
    report = evaluate(pipe, demo.images, demo.target, groups=demo.groups, cv=2)
    assert report.confusion_matrix.shape == (4, 4) and report.confusion_matrix.sum() == 40


@pytest.fixture
def missing_class():
    """A test set without class "c", although the model knows it and predicts it once."""
    y = np.array(["a"] * 6 + ["b"] * 6)
    predicted = y.copy()
    predicted[[0, 6]] = ["b", "c"]
    score = np.full((12, 3), 0.1)
    score[np.arange(12), np.searchsorted(["a", "b", "c"], predicted)] = 0.8
    score[[1, 2], 0] = 0.5  # two right but unsure "a"
    return EvaluationReport(np.array(["a", "b", "c"]), y, predicted, np.zeros(12, int), score)


def test_a_class_without_test_images_is_n_a_and_out_of_the_averages(missing_class):
    report = missing_class
    present = ["a", "b"]
    table = report.to_frame()
    assert table.loc["c", ["precision", "recall", "f1", "roc_auc"]].isna().all()
    assert table.loc["c", "support"] == 0
    assert table.loc["macro avg", "f1"] == pytest.approx(
        f1_score(report.y_true, report.y_pred, labels=present, average="macro"))
    assert table.loc["macro avg", "recall"] == pytest.approx(report.balanced_accuracy)
    aucs = [roc_auc_score(report.y_true == c, report.y_score[:, k]) for k, c in enumerate(present)]
    assert report.roc_auc == pytest.approx(np.mean(aucs))
    assert report.summary().loc["macro_f1", "value"] == pytest.approx(table.loc["macro avg", "f1"])
    markdown = report.to_markdown()
    row = next(line for line in markdown.splitlines() if line.startswith("|  ")
               and line.split("|")[1].strip() == "c")
    assert row.count("n/a") == 4 and "0.000" not in row
    assert "<td>n/a</td>" in report.to_html()


def test_a_single_test_set_is_reported_as_one_set(missing_class):
    report = missing_class
    assert report.n_folds == 1 and "one test set" in repr(report)
    assert list(report.summary().columns) == ["value", "ci_low", "ci_high"]
    assert "Per fold" not in report.to_markdown() and "fold" not in report.to_html()


def test_bootstrap_intervals_resample_subjects(data):
    X, y, groups = data
    report = evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=3)
    intervals = report.confidence_intervals()
    again = report.confidence_intervals()
    pd.testing.assert_frame_equal(intervals, again)  # seeded
    summary = report.summary()
    for metric in ["accuracy", "balanced_accuracy", "macro_f1"]:
        low, high = intervals.loc[metric]
        assert low < summary.loc[metric, "pooled"] < high
        assert summary.loc[metric, "ci_low"] == low
    assert np.isnan(summary.loc["roc_auc", "ci_low"])
    # Each subject's three images right or wrong together: resampling subjects, not images,
    # gives the wider interval that 40 independent observations (not 120) call for.
    joined = EvaluationReport(report.classes, y, np.where(np.repeat(np.arange(40) % 4 == 0, 3),
                                                          "a", y), report.fold, groups=groups)
    as_images = EvaluationReport(joined.classes, y, joined.y_pred, joined.fold)
    width = np.diff(joined.confidence_intervals().to_numpy(), axis=1)
    assert (width > 1.4 * np.diff(as_images.confidence_intervals().to_numpy(), axis=1)).all()
    with pytest.raises(ValueError, match="n_resamples"):
        report.confidence_intervals(n_resamples=0)


def test_bootstrap_statistic_is_scikit_learns_metric(data):
    from braintumor_features.evaluation._report import _confusion_metrics

    X, y, groups = data
    report = evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=3)
    absent = EvaluationReport(np.append(report.classes, "d"), report.y_true[y != "c"],
                              report.y_pred[y != "c"], report.fold[y != "c"])
    for each in (report, absent):
        metrics = _confusion_metrics(each.confusion_matrix)
        expected = each.summary()["pooled" if each.n_folds > 1 else "value"]
        np.testing.assert_allclose(metrics, expected[["accuracy", "balanced_accuracy",
                                                      "macro_f1"]])


def test_patient_level_report_pools_each_subjects_scores(data):
    X, y, groups = data
    report = evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=3)
    patients = report.by_subject()
    pairs = set(zip(groups.tolist(), y.tolist()))  # these synthetic subjects mix classes
    assert len(patients.y_true) == len(pairs) and set(patients.groups.tolist()) == set(groups)
    for subject, label in sorted(pairs)[::10]:
        rows = (groups == subject) & (y == label)
        mean = report.y_score[rows].mean(axis=0)
        mine = (patients.groups == subject) & (patients.y_true == label)
        assert patients.y_pred[mine].tolist() == [report.classes[mean.argmax()]]
        np.testing.assert_allclose(patients.y_score[mine][0], mean)
    assert "### Per patient" in report.to_markdown()
    with pytest.raises(ValueError, match="groups"):
        EvaluationReport(report.classes, y, report.y_pred, report.fold).by_subject()


def test_breakdown_by_source_and_sequence(data):
    X, y, groups = data
    sources = np.where(groups < 20, "figshare", "radiopaedia")
    sequence = np.where(sources == "radiopaedia", np.array(["T1", "T2", ""])[groups % 3], "")
    report = evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=3,
                      metadata={"source": sources, "sequence": sequence})
    table = report.breakdown(sources, "source")
    part = sources == "radiopaedia"
    row = table.loc["radiopaedia"]
    assert row["n"] == part.sum()
    assert row["accuracy"] == pytest.approx(accuracy_score(y[part], report.y_pred[part]))
    assert row["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(y[part], report.y_pred[part]))
    assert row["recall_b"] == pytest.approx(
        recall_score(y[part], report.y_pred[part], labels=["b"], average=None)[0])
    by_sequence = report.breakdown(sequence, "sequence")
    assert by_sequence.index.tolist() == ["(not given)", "T1", "T2"]
    markdown = report.to_markdown()
    assert "### By source" in markdown and "### By sequence" in markdown
    assert "| radiopaedia |" in markdown
    with pytest.raises(ValueError, match="one group per image"):
        report.breakdown(sources[:5])


def test_json_keeps_subjects_files_and_metadata(data):
    X, y, groups = data
    report = evaluate(LogisticRegression(max_iter=500), X, y, groups=groups, cv=3,
                      metadata={"source": np.where(groups < 20, "s1", "s2")},
                      paths=[f"{i}.png" for i in range(120)])
    again = EvaluationReport.from_json(report.to_json())
    assert again.groups.tolist() == groups.tolist() and again.paths == report.paths
    pd.testing.assert_frame_equal(again.metadata, report.metadata)
    assert again.to_markdown() == report.to_markdown()


@pytest.fixture
def folders(tmp_path, demo):
    """The demo images as files: a training folder, and test images of four kinds."""
    paths = []
    for i, (image, label) in enumerate(zip(demo.images, demo.target)):
        paths.append(tmp_path / "train" / label / f"{i}.png")
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(paths[-1]), image)
    test = tmp_path / "test"
    test.mkdir()
    shutil.copy(paths[1], test / "copy.png")  # the same bytes under another name
    cv2.imwrite(str(test / "resized.png"), cv2.resize(demo.images[2], (48, 48)))
    rng = np.random.default_rng(1)
    cv2.imwrite(str(test / "new.png"), rng.integers(0, 255, (64, 64), dtype=np.uint8))
    return [str(p) for p in paths], test


def test_prefit_warns_when_test_images_are_training_images(folders, demo):
    train, test = folders
    model = make_pipeline("rf", features=["intensity"], image_size=48, random_state=0)
    model.set_params(classifier__n_estimators=20).fit(train, demo.target)
    tested = [train[0], str(test / "copy.png"), str(test / "resized.png"), str(test / "new.png")]
    y = demo.target[[0, 1, 2, 3]]
    with pytest.warns(TrainingOverlapWarning, match=r"3 of 4 test images .* \(2 the same files, "
                                                    r"1 near-duplicates"):
        report = evaluate(model, tested, y, cv="prefit", training=image_digests(train))
    assert report.n_folds == 1 and report.paths == tested
    assert report.y_pred[0] == model.predict(train[:1])[0]
    # The folders of `braintumor train` summaries are enough to find the near-duplicate.
    with pytest.warns(TrainingOverlapWarning, match="2 of 2 test images"):
        evaluate(model, tested[:3:2], y[:3:2], cv="prefit",
                 training={"folders": [str(test.parent / "train")]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingOverlapWarning)
        evaluate(model, tested[3:], y[3:], cv="prefit", training=image_digests(train))
    with pytest.raises(ValueError, match="needs cv='prefit'"):
        evaluate(model, tested, y, training=image_digests(train))
    with pytest.warns(TrainingOverlapWarning, match="could not be checked"):
        evaluate(model, tested[3:], y[3:], cv="prefit", training={"n_images": 40})
    with pytest.raises(ValueError, match="training: .* pass paths="):
        evaluate(model, model[:-2].transform(tested), y, cv="prefit", training={"files": train})


def test_command_line_evaluate_warns_and_reports_the_training_summary(folders, tmp_path, capsys):
    from braintumor_features.cli import main

    test = folders[1]
    model = tmp_path / "model.joblib"
    assert main(["train", str(test.parent / "train"), "-o", str(model), "--features",
                 "intensity", "--image-size", "32", "-q"]) == 0
    capsys.readouterr()
    page = tmp_path / "report.html"
    assert main(["evaluate", str(model), str(test.parent / "train"), "--report", str(page)]) == 0
    err = capsys.readouterr().err
    assert "warning: 40 of 40 test images are in the model's training data (40 the same" in err
    html = page.read_text()
    assert "<h2>Model</h2>" in html and "training: n_images" in html
    assert "one test set" in html


def test_a_splitter_that_does_not_test_every_image_once_is_refused_with_the_way_out():
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import GroupShuffleSplit

    X, y = np.zeros((12, 1)), np.array([0, 1] * 6)
    groups = np.repeat(np.arange(6), 2)
    with pytest.raises(ValueError, match="exactly once.*cv='prefit'"):
        evaluate(DummyClassifier(), X, y, groups=groups,
                 cv=GroupShuffleSplit(n_splits=1, test_size=0.5, random_state=0))


def test_too_few_images_of_a_class_for_the_folds_is_named_before_any_fit():
    """Issue 29 item 1, from Python: evaluate(..., cv=5) with 2 slices of a class failed in a
    fold's fit with ``class '3' has a single training sample``."""
    demo = make_demo(n_samples=40, image_size=32, random_state=0)
    keep = np.flatnonzero(demo.target != "pituitary").tolist()
    keep += np.flatnonzero(demo.target == "pituitary")[:2].tolist()
    images = [demo.images[i] for i in keep]

    pipe = make_pipeline(image_size=32, features=["intensity"])
    with pytest.warns(UserWarning, match="least populated class"), \
            pytest.raises(ValueError, match=r"class 'pituitary' has 2 image\(s\), 1 subject\(s\): "
                                         r"the training images of fold \d of 5 hold [01] of them, "
                                         r"and the SVM .* use fewer folds \(cv\)"):
        evaluate(pipe, images, demo.target[keep], groups=demo.groups[keep], cv=5)


def test_a_class_the_model_never_learnt_has_no_roc_auc():
    """Issue 29 item 13: evaluate on a class the model never learnt gave it a ROC AUC of 0.50
    and averaged it into the macro AUC."""
    X, y = make_classification(120, 6, n_informative=4, n_classes=3, random_state=0)
    names = np.array(["glioma", "meningioma", "pituitary"])[y]
    model = LogisticRegression().fit(X[names != "pituitary"], names[names != "pituitary"])
    report = evaluate(model, X, names, cv="prefit")
    table = report.to_frame()
    assert np.isnan(table.loc["pituitary", "roc_auc"])
    learnt = table.loc[["glioma", "meningioma"], "roc_auc"]
    assert learnt.notna().all()
    assert table.loc["macro avg", "roc_auc"] == pytest.approx(learnt.mean())
    assert report.roc_auc == pytest.approx(learnt.mean())
