"""A self-contained HTML report of an evaluation: tables and plots in one file.

The page has the summary with bootstrap confidence intervals, the tables of
:meth:`~braintumor_features.evaluation.EvaluationReport.to_html` (per class,
confusion, per fold, per patient, by source or sequence), the confusion
matrix, ROC, precision-recall and calibration plots, a gallery of the most
confident mistakes (when the report knows its image files), saliency maps of
a few mistakes and correct predictions (when given the fitted pipeline) and
the model's training summary (when given its metadata).

From Python::

    from braintumor_features.report import write_report
    write_report(evaluate(pipeline, X, y, groups=groups), "report.html")

From the command line, with an evaluation saved by
``EvaluationReport.to_json()``::

    python -m braintumor_features.report evaluation.json -o report.html --model model.skops
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .evaluation import EvaluationReport, saliency_maps
from .images import load_item
from .persistence import load_model
from .plotting import (
    plot_calibration,
    plot_confusion_matrix,
    plot_mistakes,
    plot_precision_recall,
    plot_roc,
    plot_saliency,
)

__all__ = ["render_html", "write_report", "main"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table.metrics { border-collapse: collapse; margin: 0.5em 0 1.5em; }
table.metrics th, table.metrics td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd;
  text-align: right; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plots figure { margin: 0; }
.plots img { width: 520px; }
.gallery img { max-width: 1000px; }
table.model td, table.model th { padding: 0.2em 0.8em; text-align: left; vertical-align: top; }
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
        if 0 <= report.y_score.min() and report.y_score.max() <= 1:  # probabilities
            drawings.append(("calibration", lambda ax: plot_calibration(report, ax=ax)))
    for caption, draw in drawings:
        figure = Figure(figsize=(5.5, 4.5))  # not pyplot's: no window with any backend
        draw(figure.add_subplot())
        yield caption, _png(figure)
    for caption, figure in figures:
        yield caption, _png(figure)


def _gallery(report, n):
    """The most confident mistakes as one embedded image, or "" without files or mistakes."""
    wrong = int((report.y_true != report.y_pred).sum())
    if report.paths is None or not wrong:
        return ""
    shown = min(n, wrong)
    return (f"<h2>The {shown} most confident mistakes</h2>\n<p>True class -> predicted class "
            "(probability of the predicted class).</p>\n"
            f'<div class="gallery"><img alt="most confident mistakes" '
            f'src="data:image/png;base64,{_png(plot_mistakes(report, n=n))}"></div>')


#: Occlusion in the report: windows 1/8 of the side, stride 1/8 (64 copies per map, a
#: quarter of saliency_map's default), so that eight maps cost seconds.
_REPORT_SALIENCY = {"patch": 0.125, "stride": 0.125}


def _saliency_section(report, pipeline, n):
    """Saliency beside the ``n`` most confident mistakes and ``n`` correct predictions drawn
    at random (seed 0), or "" without a pipeline, image files or anything to show."""
    if pipeline is None or report.paths is None or n <= 0:
        return ""
    shown = [(row.path, row.true, row.predicted, "mistake")
             for row in report.confident_mistakes(n).itertuples()]
    right = np.flatnonzero(report.y_true == report.y_pred)
    shown += [(report.paths[i], report.y_true[i], report.y_pred[i], "correct")
              for i in sorted(np.random.default_rng(0).choice(right, min(n, len(right)),
                                                              replace=False))]
    if not shown:
        return ""
    maps = saliency_maps(pipeline, [item[0] for item in shown],
                         target=[item[2] for item in shown], **_REPORT_SALIENCY)
    columns = 2  # image and map side by side, two of them a row: legible at the page's width
    rows = -(-len(shown) // columns)
    figure = Figure(figsize=(2.4 * 2 * min(len(shown), columns), 2.6 * rows))
    for number, ((path, true, predicted, kind), saliency) in enumerate(zip(shown, maps)):
        image_ax = figure.add_subplot(rows, 2 * columns, 2 * number + 1)
        image_ax.set_title(f"{kind}: {true} -> {predicted}", fontsize=9)
        image_ax.set_axis_off()
        map_ax = figure.add_subplot(rows, 2 * columns, 2 * number + 2)
        if saliency is None:  # named in a warning by saliency_maps
            map_ax.set_title("could not be explained", fontsize=9)
            map_ax.set_axis_off()
            continue
        image_ax.imshow(load_item(path)[0], cmap="gray")
        plot_saliency(path, saliency, ax=map_ax, colorbar=False)
        map_ax.set_title(f"evidence for {predicted}", fontsize=9)
    figure.tight_layout()
    return (f"<h2>Where the model looks</h2>\n<p>The {sum(k == 'mistake' for *_, k in shown)} "
            f"most confident mistakes and {sum(k == 'correct' for *_, k in shown)} correct "
            "predictions drawn at random, each beside its occlusion saliency map for the "
            "predicted class (windows 1/8 of the side, stride 1/8; brighter: hiding that "
            "region lowers the class's probability more). The maps are the given model's; "
            "where it was trained on these images (the final model of a cross-validation) "
            "its own prediction may differ from the fold's.</p>\n"
            f'<div class="gallery"><img alt="saliency maps" '
            f'src="data:image/png;base64,{_png(figure)}"></div>')


def _summary_value(value):
    """A training-summary value as text; long lists (files, digests) by their length, scores
    to 3 decimals."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{key} ({_summary_value(item)})" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return f"{len(value)} entries" if len(value) > 10 else ", ".join(map(str, value))
    return str(value)


def _model_section(metadata):
    """The model's metadata (:func:`~braintumor_features.persistence.model_metadata`) as a table."""
    if not metadata:
        return ""
    rows = {"created": metadata.get("created"), "estimator": metadata.get("estimator"),
            "classes": metadata.get("classes"), "versions": metadata.get("versions"),
            **{f"training: {key}": value
               for key, value in (metadata.get("training") or {}).items()}}
    cells = "\n".join(f"<tr><th>{html.escape(name)}</th>"
                      f"<td>{html.escape(_summary_value(value))}</td></tr>"
                      for name, value in rows.items() if value is not None)
    return f'<h2>Model</h2>\n<table class="model">\n{cells}\n</table>'


def render_html(report: EvaluationReport, *, title="Evaluation report", description="",
                figures=(), model=None, n_mistakes=12, pipeline=None, n_saliency=4) -> str:
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
    model : dict, default=None
        The model's metadata (``load_model(path, return_metadata=True)[1]``):
        its date, versions and training summary (sources, class counts,
        cross-validated scores) are shown.
    n_mistakes : int, default=12
        Thumbnails in the gallery of the most confident mistakes, shown
        when the report has its images' ``paths``.
    pipeline : fitted Pipeline or None, default=None
        The model: with the images' ``paths``, the page shows its occlusion
        saliency maps (:func:`~braintumor_features.evaluation.saliency_maps`,
        windows 1/8 of the side, stride 1/8) of the predicted class beside
        the most confident mistakes and a random sample of correct
        predictions.
    n_saliency : int, default=4
        Mistakes, and correct predictions, shown with saliency (each map
        costs about 64 predictions).

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
    >>> page = render_html(report, title="Demo", model={"created": "2026-01-05T10:00:00+00:00",
    ...                                                 "training": {"sources": {"site_a": 40}}})
    >>> page.count("<img "), "<title>Demo</title>" in page, "site_a (40)" in page
    (5, True, True)
    """
    images = "\n".join(
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, data in _plots(report, figures)
    )
    intro = f"<p>{html.escape(description)}</p>" if description else ""
    sets = "one test set" if report.n_folds == 1 else f"{report.n_folds} folds"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{intro}
<p>{len(report.y_true)} images, {len(report.classes)} classes, {sets}.
Accuracy {report.accuracy:.3f}, balanced accuracy {report.balanced_accuracy:.3f}.</p>
<div class="plots">
{images}
</div>
{report.to_html()}
{_gallery(report, n_mistakes)}
{_saliency_section(report, pipeline, n_saliency)}
{_model_section(model)}
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
        ``title``, ``description``, ``figures``, ``model``, ``n_mistakes``,
        ``pipeline``, ``n_saliency``: as :func:`render_html`.

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
    parser.add_argument("--model", help="model file (from save_model or `braintumor train`) whose "
                                        "date, versions and training summary the page shows; "
                                        "a .joblib file is unpickled, so only give one you trust")
    args = parser.parse_args(argv)
    source = Path(args.evaluation)
    try:
        report = EvaluationReport.from_json(source.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        parser.error(f"{source}: cannot read an evaluation ({exc}); write one with "
                     "EvaluationReport.to_json()")
    model = None if args.model is None else load_model(args.model, return_metadata=True)[1]
    print(write_report(report, args.output, title=args.title, model=model))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
