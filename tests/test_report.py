"""The HTML report: one self-contained file, from Python and from the command line."""

import re

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
                      "precision-recall curves"]
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
    assert (tmp_path / "out.html").read_text().count("<img ") == 4
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "bad.json")])
    assert "cannot read an evaluation" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no such folder"):
        write_report(report, tmp_path / "missing" / "r.html")
