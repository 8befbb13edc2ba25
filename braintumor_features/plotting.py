"""Pictures that explain a model: evaluation curves, mistakes, feature importance, texture maps.

Every function draws with matplotlib and returns the ``Axes`` (or the
``Figure`` for multi-panel plots); pass ``ax=`` to draw into an existing
figure. The evaluation plots take an
:class:`~braintumor_features.evaluation.EvaluationReport`.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
)

from .features.glcm import HARALICK_NAMES, cooccurrence, haralick, quantize
from .features.lbp import lbp_codes
from .images import Outline, load_item
from .preprocessing import ImageStep

__all__ = [
    "plot_confusion_matrix",
    "plot_roc",
    "plot_precision_recall",
    "plot_calibration",
    "plot_mistakes",
    "plot_feature_importance",
    "plot_preprocessing",
    "plot_lbp",
    "plot_glcm",
    "plot_texture_map",
    "plot_saliency",
    "local_texture",
]


def _axes(ax):
    return plt.subplots()[1] if ax is None else ax


def plot_confusion_matrix(report, *, normalize=None, ax=None):
    """Draw the confusion matrix of an evaluation.

    Parameters
    ----------
    report : EvaluationReport
    normalize : {None, "true", "pred", "all"}, default=None
        None: counts; ``"true"``: each row divided by its total (the
        diagonal is each class's recall), and so on as scikit-learn.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> from braintumor_features.plotting import plot_confusion_matrix
    >>> report = EvaluationReport(np.array(["a", "b"]), np.array(["a", "a", "b"]),
    ...                           np.array(["a", "b", "b"]), np.zeros(3, int))
    >>> plot_confusion_matrix(report).get_title()
    'Confusion matrix (counts)'
    """
    ax = _axes(ax)
    display = ConfusionMatrixDisplay.from_predictions(
        report.y_true, report.y_pred, labels=report.classes, normalize=normalize, ax=ax,
        cmap="Blues", colorbar=False, values_format=".2f" if normalize else "d",
    )
    title = "counts" if normalize is None else f"normalised over {normalize}"
    display.ax_.set_title(f"Confusion matrix ({title})")
    return display.ax_


def _scored(report):
    if report.y_score is None:
        raise ValueError("the report has no class scores (the classifier has no predict_proba "
                         "or decision_function), so curves cannot be drawn")
    return report.y_score


def _one_vs_rest_curves(report, ax, display, chance=False):
    """One scikit-learn curve per class present in the test set (and not alone in it)."""
    ax = _axes(ax)
    scores = _scored(report)
    drawn = [(k, name) for k, name in enumerate(report.classes)
             if 0 < (report.y_true == name).sum() < len(report.y_true)]
    for number, (k, name) in enumerate(drawn):
        display.from_predictions(report.y_true == name, scores[:, k], pos_label=True,
                                 name=str(name), ax=ax,
                                 plot_chance_level=chance and number == len(drawn) - 1)
    return ax


def plot_roc(report, *, ax=None):
    """One-vs-rest ROC curve of every class, with its AUC in the legend.

    Drawn by scikit-learn's :class:`~sklearn.metrics.RocCurveDisplay`, one
    curve per class present in the test set.

    Parameters
    ----------
    report : EvaluationReport
        With class scores (``y_score``).
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> from braintumor_features.plotting import plot_roc
    >>> y = np.array(["a", "a", "b", "b"])
    >>> report = EvaluationReport(np.array(["a", "b"]), y, y, np.zeros(4, int),
    ...                           np.array([[.9, .1], [.6, .4], [.3, .7], [.2, .8]]))
    >>> [t.get_text() for t in plot_roc(report).get_legend().get_texts()]
    ['a (AUC = 1.00)', 'b (AUC = 1.00)', 'Chance level (AUC = 0.5)']
    """
    ax = _one_vs_rest_curves(report, ax, RocCurveDisplay, chance=True)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title("ROC curves (one vs rest)")
    return ax


def plot_precision_recall(report, *, ax=None):
    """One-vs-rest precision-recall curve of every class, average precision in the legend.

    Drawn by scikit-learn's :class:`~sklearn.metrics.PrecisionRecallDisplay`,
    one curve per class present in the test set.

    Parameters
    ----------
    report : EvaluationReport
        With class scores (``y_score``).
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> from braintumor_features.plotting import plot_precision_recall
    >>> y = np.array(["a", "a", "b", "b"])
    >>> report = EvaluationReport(np.array(["a", "b"]), y, y, np.zeros(4, int),
    ...                           np.array([[.9, .1], [.6, .4], [.3, .7], [.2, .8]]))
    >>> plot_precision_recall(report).get_title()
    'Precision-recall curves (one vs rest)'
    """
    ax = _one_vs_rest_curves(report, ax, PrecisionRecallDisplay)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_title("Precision-recall curves (one vs rest)")
    return ax


def plot_calibration(report, *, n_bins=10, ax=None):
    """Reliability diagram: is a prediction made with confidence p right a fraction p of the time?

    The confidence of a prediction is the probability of the predicted
    class; scikit-learn's :class:`~sklearn.calibration.CalibrationDisplay`
    bins the predictions by it and plots the fraction that were right in
    each bin. Points below the diagonal: the model is overconfident.

    Parameters
    ----------
    report : EvaluationReport
        With class probabilities (``y_score`` in [0, 1]).
    n_bins : int, default=10
        Bins of equal width over [0, 1].
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If the report has no scores, or scores that are not probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> from braintumor_features.plotting import plot_calibration
    >>> y = np.array(["a", "a", "b", "b"])
    >>> report = EvaluationReport(np.array(["a", "b"]), y, np.array(["a", "b", "b", "b"]),
    ...                           np.zeros(4, int),
    ...                           np.array([[.9, .1], [.4, .6], [.3, .7], [.2, .8]]))
    >>> [line.get_label() for line in plot_calibration(report, n_bins=2).get_lines()]
    ['Perfectly calibrated', 'predicted class']
    """
    scores = _scored(report)
    if scores.min() < 0 or scores.max() > 1:
        raise ValueError("report.y_score holds decision values, not probabilities, so a "
                         "calibration plot cannot be drawn; use a classifier with predict_proba")
    ax = _axes(ax)
    confidence = scores[np.arange(len(scores)), np.searchsorted(report.classes, report.y_pred)]
    CalibrationDisplay.from_predictions(report.y_true == report.y_pred, confidence,
                                        n_bins=n_bins, pos_label=True, name="predicted class",
                                        ax=ax)
    ax.set_xlabel("Confidence (probability of the predicted class)")
    ax.set_ylabel("Fraction of predictions that are right")
    ax.set_title("Calibration (reliability)")
    return ax


def plot_mistakes(report, *, n=8, columns=4):
    """The most confident mistakes: thumbnails of the wrongly classified images.

    Parameters
    ----------
    report : EvaluationReport
        With the image files (``paths``).
    n : int, default=8
        Most mistakes shown, most confident first
        (:meth:`~braintumor_features.evaluation.EvaluationReport.confident_mistakes`).
    columns : int, default=4
        Thumbnails per row.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per mistake, titled with the image's file name and, under
        it, ``true -> predicted`` and the confidence; an empty figure when
        there is no mistake.

    Raises
    ------
    ValueError
        If the report does not know its images' files.

    Examples
    --------
    >>> import cv2, numpy as np, os, tempfile
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> from braintumor_features.plotting import plot_mistakes
    >>> path = os.path.join(tempfile.mkdtemp(), "slice.png")
    >>> _ = cv2.imwrite(path, np.zeros((16, 16), np.uint8))
    >>> report = EvaluationReport(np.array(["a", "b"]), np.array(["a", "b"]), np.array(["b", "b"]),
    ...                           np.zeros(2, int), np.array([[.2, .8], [.1, .9]]),
    ...                           paths=[path, "never read.png"])
    >>> [ax.get_title() for ax in plot_mistakes(report).axes]
    ['slice.png\\na -> b (0.80)']
    """
    if report.paths is None:
        raise ValueError("report.paths is None: the gallery needs the image files; evaluate "
                         "file paths, or pass paths=<image files> to evaluate()")
    mistakes = report.confident_mistakes(n)
    rows = -(-len(mistakes) // columns)
    # constrained layout keeps each two-line title inside its own cell, clear of its neighbours
    figure = plt.figure(figsize=(3.0 * min(len(mistakes), columns), 3.2 * rows),
                        layout="constrained")
    for number, row in enumerate(mistakes.itertuples()):
        ax = figure.add_subplot(rows, min(len(mistakes), columns), number + 1)
        ax.imshow(_image(row.path)[0], cmap="gray")
        confidence = "" if np.isnan(row.confidence) else f" ({row.confidence:.2f})"
        ax.set_title(f"{_short_name(row.path)}\n{row.true} -> {row.predicted}{confidence}",
                     fontsize=8)
        ax.set_axis_off()
    return figure


def _short_name(path, width=28):
    """The file name of ``path`` (a slice of a volume: its text), cut to its last ``width``
    characters so that titles side by side do not run into each other."""
    name = os.path.basename(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else str(path)
    return name if len(name) <= width else "\N{HORIZONTAL ELLIPSIS}" + name[-(width - 1):]


def plot_feature_importance(importance, *, by="family", top=20, ax=None):
    """Bar chart of feature importance, summed per feature family or per feature.

    Parameters
    ----------
    importance : pandas.DataFrame
        From :func:`~braintumor_features.evaluation.feature_importance`.
    by : {"family", "feature"}, default="family"
        Sum the importances of each family (``glcm``, ``lbp``, ...), or show
        the ``top`` single features.
    top : int, default=20
        Number of features shown with ``by="feature"``.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from braintumor_features.plotting import plot_feature_importance
    >>> table = pd.DataFrame({"family": ["glcm", "glcm", "lbp"], "importance": [.2, .1, .4],
    ...                       "std": [0, 0, 0]}, index=["glcm_a", "glcm_b", "lbp_c"])
    >>> [round(float(p.get_width()), 2) for p in plot_feature_importance(table).patches]
    [0.3, 0.4]
    """
    ax = _axes(ax)
    if by == "family":
        values = importance.groupby("family")["importance"].sum().sort_values()
        errors = None
    elif by == "feature":
        chosen = importance.sort_values("importance").tail(top)
        values, errors = chosen["importance"], chosen["std"]
    else:
        raise ValueError(f"by must be 'family' or 'feature', got {by!r}")
    ax.barh([str(v) for v in values.index], values.to_numpy(), xerr=errors)
    ax.set_xlabel("importance")
    ax.set_title(f"Feature importance by {by}")
    return ax


def _image(image, mask=None):
    """An item of ``X`` (path, array, MaskedImage) as ``(image, mask)`` arrays."""
    loaded, carried = load_item(image)
    return loaded, carried if mask is None else np.asarray(mask, bool)


def plot_preprocessing(pipeline, image, *, mask=None):
    """Each preprocessing stage of a pipeline applied to one image, side by side.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline or list of ImageStep
        Its image-to-image steps are applied in order (feature and model steps
        are ignored).
    image : path, array or MaskedImage
    mask : array of bool, default=None
        A tumour mask, outlined in red on every stage (it moves with the image).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per stage, titled ``original`` and then by step name.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.plotting import plot_preprocessing
    >>> demo = make_demo(n_samples=4, image_size=64, random_state=0)
    >>> figure = plot_preprocessing(make_pipeline(image_size=48), demo.images[0], mask=demo.masks[0])
    >>> [ax.get_title() for ax in figure.axes]
    ['original', 'grayscale', 'crop', 'resize', 'clahe', 'normalize']
    """
    steps = pipeline.steps if hasattr(pipeline, "steps") else [
        (type(step).__name__, step) for step in pipeline]
    steps = [(name, step) for name, step in steps if isinstance(step, ImageStep)]
    current = _image(image, mask)
    stages = [("original", current)]
    for name, step in steps:
        current = step._apply(*current)
        stages.append((name, current))
    figure, axes = plt.subplots(1, len(stages), figsize=(2.6 * len(stages), 2.9),
                                squeeze=False)
    for ax, (name, (picture, region)) in zip(axes[0], stages):
        ax.imshow(picture, cmap="gray")
        if region is not None and region.any():
            ax.contour(region, levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(name)
        ax.set_axis_off()
    figure.tight_layout()
    return figure


def plot_lbp(image, *, radius=1, points=8, method="uniform", ax=None):
    """The local binary pattern code of every pixel.

    Parameters
    ----------
    image : path, array or MaskedImage
    radius : float, default=1
    points : int, default=8
    method : {"uniform", "ror"}, default="uniform"
        As :func:`~braintumor_features.features.lbp.lbp_codes`.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        The code image is ``ax.images[0]``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.plotting import plot_lbp
    >>> int(plot_lbp(np.full((8, 8), 3.0)).images[0].get_array().max())  # flat: code 8
    8
    """
    ax = _axes(ax)
    codes = lbp_codes(_image(image)[0], points, radius, method)
    shown = ax.imshow(codes, cmap="nipy_spectral", interpolation="nearest")
    ax.figure.colorbar(shown, ax=ax, label="LBP code")
    ax.set_title(f"LBP codes (P={points}, R={radius}, {method})")
    ax.set_axis_off()
    return ax


def plot_glcm(image, *, distance=1, angle=0.0, levels=32, region=None, ax=None):
    """The grey-level co-occurrence matrix of an image as a heatmap.

    Parameters
    ----------
    image : path, array or MaskedImage
    distance : int, default=1
    angle : float, default=0.0
        Radians (0 looks right, pi/2 down).
    levels : int, default=32
        Grey levels after :func:`~braintumor_features.features.glcm.quantize`.
    region : array of bool, default=None
        Count only pairs inside this region (e.g. the tumour mask).
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        The heatmap (``ax.images[0]``) holds the symmetric co-occurrence
        probabilities, shown on a logarithmic colour scale.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.plotting import plot_glcm
    >>> ax = plot_glcm(np.array([[0, 255], [0, 255]], np.uint8), levels=2)
    >>> ax.images[0].get_array().tolist()
    [[0.0, 0.5], [0.5, 0.0]]
    """
    from matplotlib.colors import LogNorm

    ax = _axes(ax)
    counts = cooccurrence(quantize(_image(image)[0], levels), [distance], [angle], levels,
                          mask=region)[0, 0].astype(float)
    probabilities = counts / max(counts.sum(), 1.0)
    positive = probabilities[probabilities > 0]
    norm = LogNorm(positive.min(), positive.max()) if positive.size and positive.min() < positive.max() else None
    shown = ax.imshow(probabilities, cmap="magma", norm=norm, interpolation="nearest")
    ax.figure.colorbar(shown, ax=ax, label="probability")
    ax.set_title(f"GLCM (d={distance}, angle={np.degrees(angle):.0f}°, {levels} levels)")
    ax.set_xlabel("grey level j")
    ax.set_ylabel("grey level i")
    return ax


def local_texture(image, *, feature="contrast", window=32, step=16, distance=1, levels=32):
    """A Haralick feature computed in sliding windows: a map of local texture.

    Parameters
    ----------
    image : ndarray of shape (height, width)
    feature : str, default="contrast"
        One of ``HARALICK_NAMES`` (``contrast``, ``homogeneity``, ``entropy``...).
    window : int, default=32
        Side of the square windows.
    step : int, default=16
        Distance between window corners.
    distance : int, default=1
        GLCM pixel distance; the value is averaged over the four angles.
    levels : int, default=32

    Returns
    -------
    ndarray of shape (n_rows, n_cols)
        Value ``[r, c]`` is the feature of the window whose top-left corner is
        ``(r * step, c * step)``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.plotting import local_texture
    >>> image = np.zeros((64, 64), np.uint8); image[:, 32:] = np.arange(32) % 2 * 255
    >>> local_texture(image, window=32, step=32, levels=2)  # flat left; striped right: contrast 1 at 0, 45 and 135 degrees, 0 at 90
    array([[0.  , 0.75],
           [0.  , 0.75]])
    """
    if feature not in HARALICK_NAMES:
        raise ValueError(f"feature must be one of {list(HARALICK_NAMES)}, got {feature!r}")
    column = HARALICK_NAMES.index(feature)
    quantized = quantize(image, levels)
    angles = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
    starts_r = range(0, max(image.shape[0] - window, 0) + 1, step)
    starts_c = range(0, max(image.shape[1] - window, 0) + 1, step)
    values = np.empty((len(starts_r), len(starts_c)))
    for i, r in enumerate(starts_r):
        for j, c in enumerate(starts_c):
            counts = cooccurrence(quantized[r:r + window, c:c + window], [distance], angles, levels)
            values[i, j] = haralick(counts)[0, :, column].mean()
    return values


def plot_texture_map(image, *, feature="contrast", window=32, step=16, levels=32, ax=None):
    """The image with a heatmap of a local texture feature laid over it.

    Parameters
    ----------
    image : path, array or MaskedImage
    feature, window, step, levels
        As :func:`local_texture`.
    ax : matplotlib Axes, default=None

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0]`` is the image, ``ax.images[1]`` the texture map.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.plotting import plot_texture_map
    >>> rng = np.random.default_rng(0)
    >>> ax = plot_texture_map(rng.integers(0, 256, (64, 64), dtype=np.uint8))
    >>> ax.images[1].get_array().shape
    (3, 3)
    """
    ax = _axes(ax)
    picture = _image(image)[0]
    values = local_texture(picture, feature=feature, window=window, step=step, levels=levels)
    ax.imshow(picture, cmap="gray")
    rows, cols = values.shape
    extent = (window / 2 - step / 2 - 0.5, window / 2 + (cols - 0.5) * step - 0.5,
              window / 2 + (rows - 0.5) * step - 0.5, window / 2 - step / 2 - 0.5)
    shown = ax.imshow(values, cmap="inferno", alpha=0.5, extent=extent, interpolation="bilinear")
    ax.figure.colorbar(shown, ax=ax, label=f"GLCM {feature}")
    ax.set_title(f"Local texture: GLCM {feature} ({window}px windows)")
    ax.set_axis_off()
    return ax


def plot_saliency(image, saliency, *, ax=None, outline=None, title=None, alpha=0.7,
                  colorbar=True):
    """An image with a saliency map laid over it, and the tumour's outline.

    The positive part of the map (evidence for the class) is drawn in a hot
    colour map, more opaque where stronger; the rest of the image shows
    through.

    Parameters
    ----------
    image : path, array or MaskedImage
        The image the map was computed for (its original coordinates).
    saliency : ndarray of the image's shape
        From :func:`~braintumor_features.evaluation.saliency_map`.
    ax : matplotlib Axes, default=None
    outline : Outline, array of bool or None, default=None
        The tumour, drawn as a cyan contour; None draws the mask the image
        carries (a MaskedImage), if any.
    title : str or None, default=None
    alpha : float, default=0.7
        Opacity of the map's strongest value.
    colorbar : bool, default=True
        Add a colour bar of the map's values.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0]`` is the image, ``ax.images[1]`` the map.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.images import Outline
    >>> from braintumor_features.plotting import plot_saliency
    >>> image = np.zeros((64, 64), np.uint8)
    >>> saliency = np.zeros((64, 64)); saliency[10:20, 10:20] = 0.3
    >>> ax = plot_saliency(image, saliency, outline=Outline([(8, 8), (22, 8), (15, 22)]))
    >>> ax.images[1].get_array().shape
    (64, 64, 4)
    """
    ax = _axes(ax)
    picture, carried = _image(image)
    saliency = np.asarray(saliency, float)
    if saliency.shape != picture.shape:
        raise ValueError(
            f"saliency has shape {saliency.shape} but the image {picture.shape}; pass the map "
            "saliency_map returned for this image"
        )
    if isinstance(outline, Outline):
        outline = outline.to_mask(picture.shape)
    outline = carried if outline is None else np.asarray(outline, bool)
    positive = np.clip(saliency, 0, None)
    top = positive.max() if positive.max() > 0 else 1.0
    colors = plt.get_cmap("inferno")(positive / top)
    colors[..., 3] = alpha * positive / top
    ax.imshow(picture, cmap="gray")
    ax.imshow(colors)
    if outline is not None and outline.any():
        ax.contour(outline, levels=[0.5], colors="cyan", linewidths=0.9)
    if colorbar:
        shown = plt.cm.ScalarMappable(cmap="inferno", norm=plt.Normalize(0, top))
        ax.figure.colorbar(shown, ax=ax, label="saliency", fraction=0.046, pad=0.02)
    if title is not None:
        ax.set_title(title)
    ax.set_axis_off()
    return ax
