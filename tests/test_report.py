"""The HTML report: one self-contained file, from Python and from the command line."""

import re

import cv2
import numpy as np
import pytest

from braintumor_features.evaluation import EvaluationReport
from braintumor_features.report import main, render_html, write_report


@pytest.fixture
def report():
    y = np.array(["glioma", "meningioma", "pituitary"] * 4)
    score = np.eye(3)[[0, 1, 2] * 4] * 0.6 + 0.1
    predicted = y.copy()
    predicted[0] = "pituitary"
    return EvaluationReport(np.unique(y), y, predicted, np.arange(12) % 2, score)


def test_page_is_self_contained_with_plots_and_tables(report, tmp_path):
    path = write_report(report, tmp_path / "report.html", title="Held-out <patients>")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Held-out &lt;patients&gt;" in page
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    assert images == ["confusion matrix (counts)", "confusion matrix (normalised)", "ROC curves",
                      "precision-recall curves", "calibration"]
    assert not re.search(r'(src|href)="(http|/|\.)', page)  # nothing fetched from elsewhere
    assert page.count("<table") == 4 and f"{report.accuracy:.3f}" in page


def test_without_scores_the_curves_are_left_out(report):
    plain = EvaluationReport(report.classes, report.y_true, report.y_pred, report.fold)
    assert render_html(plain).count("<img ") == 2


def test_command_line(report, tmp_path, capsys):
    saved = tmp_path / "evaluation.json"
    saved.write_text(report.to_json())
    assert main([str(saved), "-o", str(tmp_path / "out.html")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out.html")
    assert (tmp_path / "out.html").read_text().count("<img ") == 5
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bad.json")])
    assert "cannot read an evaluation" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no such folder"):
        write_report(report, tmp_path / "missing" / "r.html")


def test_single_test_set_with_gallery_and_training_summary(report, tmp_path):
    paths = []
    for i in range(12):
        paths.append(str(tmp_path / f"slice {i}.png"))
        cv2.imwrite(paths[-1], np.full((16, 16), 20 * i, np.uint8))
    one_set = EvaluationReport(report.classes, report.y_true, report.y_pred, np.zeros(12, int),
                               report.y_score, paths=paths)
    model = {"created": "2026-12-01T09:00:00+00:00", "estimator": "Pipeline",
             "versions": {"scikit-learn": "1.9.1"},
             "training": {"folders": ["/data/brain-mri"], "sources": {"figshare": 3064},
                          "sha256": ["0" * 64] * 3064}}
    page = render_html(one_set, model=model)
    assert "one test set" in page and "folds" not in page
    assert "Per fold" not in page and page.count("<table") == 4  # summary, class, confusion, model
    assert "most confident mistakes" in page and 'alt="most confident mistakes"' in page
    assert "2026-12-01" in page and "figshare (3064)" in page and "scikit-learn (1.9.1)" in page
    assert "3064 entries" in page and "0" * 64 not in page  # digests are counted, not listed
    plain = render_html(EvaluationReport(report.classes, report.y_true, report.y_pred,
                                         np.zeros(12, int)))
    assert "most confident mistakes" not in plain and "<h2>Model" not in plain
    right = EvaluationReport(report.classes, report.y_true, report.y_true, np.zeros(12, int),
                             report.y_score, paths=paths)
    assert "most confident mistakes" not in render_html(right)  # files, but no mistake


def test_command_line_shows_the_models_training_summary(report, tmp_path, capsys):
    from sklearn.dummy import DummyClassifier

    from braintumor_features.persistence import save_model

    model = save_model(DummyClassifier().fit([[0], [1]], ["a", "b"]), tmp_path / "m.joblib",
                       training={"sources": {"site_a": 2}})
    (tmp_path / "evaluation.json").write_text(report.to_json())
    assert main([str(tmp_path / "evaluation.json"), "-o", str(tmp_path / "r.html"),
                 "--model", str(model)]) == 0
    assert "site_a (2)" in (tmp_path / "r.html").read_text()


def test_saliency_beside_mistakes_and_correct_predictions(report, tmp_path):
    from braintumor_features import make_pipeline
    from braintumor_features.datasets import make_demo

    demo = make_demo(n_samples=24, image_size=48, random_state=0)
    paths = []
    for i, image in enumerate(demo.images[:12]):
        paths.append(str(tmp_path / f"slice {i}.png"))
        cv2.imwrite(paths[-1], image)
    paths[8] = str(tmp_path / "gone.png")  # one of the 2 correct ones drawn (seed 0) has gone
    pipe = make_pipeline(features=["intensity"], image_size=32, random_state=0)
    pipe.fit(demo.images, demo.target)
    with_files = EvaluationReport(report.classes, report.y_true, report.y_pred, report.fold,
                                  report.y_score, paths=paths)
    with pytest.warns(UserWarning, match="could not explain .*gone.png"):
        page = render_html(with_files, pipeline=pipe, n_saliency=2)
    assert "<h2>Where the model looks</h2>" in page and 'alt="saliency maps"' in page
    assert "The 1 most confident mistakes and 2 correct predictions" in page
    assert "Where the model looks" not in render_html(with_files)  # no pipeline, no maps
    assert "Where the model looks" not in render_html(with_files, pipeline=pipe, n_saliency=0)
