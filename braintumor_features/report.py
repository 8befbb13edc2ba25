"""A self-contained HTML report of an evaluation: tables and plots in one file.

From Python::

    from braintumor_features.report import write_report
    write_report(evaluate(pipeline, X, y, groups=groups), "report.html")

From the command line, with an evaluation saved by
``EvaluationReport.to_json()``::

    python -m braintumor_features.report evaluation.json -o report.html
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .evaluation import EvaluationReport
from .plotting import plot_confusion_matrix, plot_precision_recall, plot_roc

__all__ = ["render_html", "write_report", "main"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table.metrics { border-collapse: collapse; margin: 0.5em 0 1.5em; }
table.metrics th, table.metrics td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd;
  text-align: right; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plots figure { margin: 0; }
.plots img { width: 520px; }
"""


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(report, figures):
    drawings = [("confusion matrix (counts)", lambda ax: plot_confusion_matrix(report, ax=ax)),
                ("confusion matrix (normalised)",
                 lambda ax: plot_confusion_matrix(report, normalize="true", ax=ax))]
    if report.y_score is not None:
        drawings += [("ROC curves", lambda ax: plot_roc(report, ax=ax)),
                     ("precision-recall curves", lambda ax: plot_precision_recall(report, ax=ax))]
    for caption, draw in drawings:
        figure = Figure(figsize=(5.5, 4.5))  # not pyplot's: no window with any backend
        draw(figure.add_subplot())
        yield caption, _png(figure)
    for caption, figure in figures:
        yield caption, _png(figure)


def render_html(report: EvaluationReport, *, title="Evaluation report", description="",
                figures=()) -> str:
    """The report as one HTML page, plots embedded as PNG data.

    Parameters
    ----------
    report : EvaluationReport
        From :func:`~braintumor_features.evaluation.evaluate`.
    title : str, default="Evaluation report"
    description : str, default=""
        A paragraph under the title (e.g. the data set and the pipeline).
    figures : sequence of (str, matplotlib Figure), default=()
        More figures to embed with their captions (e.g. from
        :mod:`braintumor_features.plotting`); they are closed.

    Returns
    -------
    str
        A complete HTML document that needs no other file.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> from braintumor_features.report import render_html
    >>> y = np.array(["a", "a", "b", "b"])
    >>> report = EvaluationReport(np.array(["a", "b"]), y, y, np.array([0, 1, 0, 1]),
    ...                           np.array([[.9, .1], [.6, .4], [.3, .7], [.2, .8]]))
    >>> page = render_html(report, title="Demo")
    >>> page.count("<img "), "<title>Demo</title>" in page
    (4, True)
    """
    images = "\n".join(
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, data in _plots(report, figures)
    )
    intro = f"<p>{html.escape(description)}</p>" if description else ""
    folds = len(set(report.fold.tolist()))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{intro}
<p>{len(report.y_true)} images, {len(report.classes)} classes, {folds} folds.
Accuracy {report.accuracy:.3f}, balanced accuracy {report.balanced_accuracy:.3f}.</p>
<div class="plots">
{images}
</div>
{report.to_html()}
</body></html>
"""


def write_report(report: EvaluationReport, path, **options) -> Path:
    """Write :func:`render_html`'s page to ``path``; returns the path.

    Parameters
    ----------
    report : EvaluationReport
    path : str or path-like
        The ``.html`` file to write (its folder must exist).
    **options
        ``title``, ``description``, ``figures``: as :func:`render_html`.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> from braintumor_features.report import write_report
    >>> y = np.array(["a", "b", "a", "b"])
    >>> report = EvaluationReport(np.array(["a", "b"]), y, y, np.array([0, 0, 1, 1]))
    >>> path = write_report(report, os.path.join(tempfile.mkdtemp(), "report.html"))
    >>> path.read_text().startswith("<!DOCTYPE html>")
    True
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent}: no such folder for the report; create it first")
    path.write_text(render_html(report, **options), encoding="utf-8")
    return path


def main(argv=None) -> int:
    """``python -m braintumor_features.report EVALUATION.json -o REPORT.html``.

    Parameters
    ----------
    argv : list of str or None, default=None
        The command-line arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 on success.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> from braintumor_features.report import main
    >>> labels = np.array(["a", "b", "a", "b"])
    >>> report = EvaluationReport(classes=np.array(["a", "b"]), y_true=labels, y_pred=labels,
    ...                           fold=np.array([0, 0, 1, 1]))
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "evaluation.json"), "w") as file:
    ...     _ = file.write(report.to_json())
    >>> main([os.path.join(folder, "evaluation.json"), "-o", os.path.join(folder, "r.html")])
    ... # doctest: +ELLIPSIS
    /.../r.html
    0
    """
    parser = argparse.ArgumentParser(
        prog="python -m braintumor_features.report",
        description="Render an evaluation saved with EvaluationReport.to_json() as one "
                    "self-contained HTML file (tables and plots embedded).",
    )
    parser.add_argument("evaluation", help="JSON file written by EvaluationReport.to_json()")
    parser.add_argument("-o", "--output", default="report.html", help="HTML file to write")
    parser.add_argument("--title", default="Evaluation report")
    args = parser.parse_args(argv)
    source = Path(args.evaluation)
    try:
        report = EvaluationReport.from_json(source.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        parser.error(f"{source}: cannot read an evaluation ({exc}); write one with "
                     "EvaluationReport.to_json()")
    print(write_report(report, args.output, title=args.title))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
