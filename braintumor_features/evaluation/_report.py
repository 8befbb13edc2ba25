"""The evaluation report: predictions and the metrics the field reports, as tables.

Averages over classes use the classes present in the test set: a class with
no test image has no recall, F1 or ROC AUC, and is shown as "n/a" rather
than as a score of 0. Confidence intervals come from a bootstrap over
subjects (patients), since the slices of one patient are not independent.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from scipy.stats import bootstrap
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

__all__ = ["EvaluationReport", "N_RESAMPLES"]

#: Bootstrap resamples behind the confidence intervals of :meth:`EvaluationReport.summary`.
N_RESAMPLES = 1000

#: The metrics with a bootstrap confidence interval.
_BOOTSTRAPPED = ("accuracy", "balanced_accuracy", "macro_f1")


def _class_aucs(y_true, y_score, classes):
    """One-vs-rest ROC AUC of each class (NaN for a class absent, or alone, in ``y_true``,
    and for a class the model gives no score: the same score for every image, as the 0 of
    a class it never learnt, ranks nothing and is not an AUC of 0.5)."""
    if y_score is None:
        return np.full(len(classes), np.nan)
    return np.array([roc_auc_score(y_true == c, y_score[:, k])
                     if 0 < (y_true == c).sum() < len(y_true) and np.ptp(y_score[:, k]) > 0
                     else np.nan
                     for k, c in enumerate(classes)])


def _auc(y_true, y_score, classes):
    """Macro one-vs-rest ROC AUC over the classes present in ``y_true`` (as
    ``roc_auc_score(multi_class="ovr")`` where every class is present, but for
    any scores); NaN with fewer than two classes present."""
    aucs = _class_aucs(y_true, y_score, classes)
    return np.nan if np.isnan(aucs).all() else float(np.nanmean(aucs))


def _macro_f1(y_true, y_pred, classes) -> float:
    """Mean F1 over the classes present in ``y_true``."""
    return float(f1_score(y_true, y_pred, labels=classes[np.isin(classes, y_true)],
                          average="macro", zero_division=0))


def _metrics(y_true, y_pred, y_score, classes) -> dict:
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": _balanced_accuracy(y_true, y_pred),
            "macro_f1": _macro_f1(y_true, y_pred, classes),
            "roc_auc": _auc(y_true, y_score, classes)}


def _confusion_metrics(counts):
    """Accuracy, balanced accuracy and macro F1 (over the classes present) of stacked
    confusion matrices ``(..., n_classes, n_classes)``, as scikit-learn computes them."""
    diagonal = np.diagonal(counts, axis1=-2, axis2=-1)
    true, predicted = counts.sum(axis=-1), counts.sum(axis=-2)
    present = true > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, diagonal / true, np.nan)
        f1 = np.where(present, 2 * diagonal / (true + predicted), np.nan)
    return np.stack([diagonal.sum(axis=-1) / true.sum(axis=-1),
                     np.nanmean(recall, axis=-1), np.nanmean(f1, axis=-1)])


def _balanced_accuracy(y_true, y_pred) -> float:
    """Mean recall over the classes present in ``y_true``. Predictions of classes
    absent there (common when scoring another source) are errors like any other;
    scikit-learn's warning about them is left out, the report's table shows them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")  # one group's
        return float(balanced_accuracy_score(y_true, y_pred))


@dataclass
class EvaluationReport:
    """Predictions on test images and the metrics computed from them.

    Either the out-of-fold predictions of a cross-validation, pooled over
    the folds (:attr:`fold_scores` has the per-fold values), or the
    predictions on one test set (every ``fold`` 0), reported as one set.

    Averages over classes (macro precision, recall, F1, balanced accuracy,
    ROC AUC) use the classes present in ``y_true``; a class without test
    images has no recall, F1 or AUC (NaN, shown as "n/a"). Predictions of
    such a class are errors like any other.

    Attributes
    ----------
    classes : ndarray
        Class labels, sorted.
    y_true, y_pred : ndarray of shape (n_samples,)
        True and predicted labels of every tested image.
    fold : ndarray of int
        The fold in which each image was tested.
    y_score : ndarray of shape (n_samples, n_classes) or None
        Class probabilities (or decision values) per image, columns in
        ``classes`` order; None when the classifier gives neither.
    groups : ndarray of shape (n_samples,) or None
        The subject (patient) of each image: the bootstrap resamples
        subjects, and :meth:`by_subject` pools each subject's images. None:
        every image is its own subject.
    paths : list of str or None
        The image file of each row, for the gallery of mistakes in the HTML
        report; None when the images were arrays.
    metadata : pandas.DataFrame or None
        More columns per image (e.g. ``source``, ``sequence``): the tables
        break the scores down by each column with two or more values. A
        dict of arrays is turned into a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.evaluation import EvaluationReport
    >>> report = EvaluationReport(classes=np.array(["a", "b"]), y_true=np.array(["a", "a", "b", "b"]),
    ...                           y_pred=np.array(["a", "b", "b", "b"]), fold=np.array([0, 1, 0, 1]))
    >>> report.accuracy, report.confusion_matrix.tolist()
    (0.75, [[1, 1], [0, 2]])
    >>> EvaluationReport.from_json(report.to_json()).balanced_accuracy
    0.75

    A class absent from the test set has no recall, and is left out of the
    macro averages:

    >>> report = EvaluationReport(np.array(["a", "b", "c"]), np.array(["a", "a", "b", "b"]),
    ...                           np.array(["a", "c", "b", "b"]), np.zeros(4, int))
    >>> report.to_frame()["recall"].round(2).tolist()
    [0.5, 1.0, nan, 0.75]
    """

    classes: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    fold: np.ndarray
    y_score: np.ndarray | None = None
    groups: np.ndarray | None = None
    paths: list | None = None
    metadata: pd.DataFrame | None = None

    def __post_init__(self):
        if self.groups is not None:
            self.groups = np.asarray(self.groups)
        if self.metadata is not None:
            self.metadata = pd.DataFrame(self.metadata).reset_index(drop=True)

    @property
    def accuracy(self) -> float:
        """Fraction of images classified correctly."""
        return float(accuracy_score(self.y_true, self.y_pred))

    @property
    def balanced_accuracy(self) -> float:
        """Mean recall over the classes present in the test set."""
        return _balanced_accuracy(self.y_true, self.y_pred)

    @property
    def roc_auc(self) -> float:
        """Macro one-vs-rest ROC AUC over the classes present (NaN without scores)."""
        return float(_auc(self.y_true, self.y_score, self.classes))

    @property
    def confusion_matrix(self) -> np.ndarray:
        """Counts, rows true classes and columns predicted, in ``classes`` order."""
        return confusion_matrix(self.y_true, self.y_pred, labels=self.classes)

    @property
    def n_folds(self) -> int:
        """Number of folds; 1 for a single test set."""
        return len(np.unique(self.fold))

    @property
    def fold_scores(self) -> pd.DataFrame:
        """Accuracy, balanced accuracy, macro F1 and ROC AUC of each fold."""
        rows = []
        for number in np.unique(self.fold):
            part = self.fold == number
            scores = None if self.y_score is None else self.y_score[part]
            rows.append({"fold": int(number), "n_test": int(part.sum()),
                         **_metrics(self.y_true[part], self.y_pred[part], scores, self.classes)})
        return pd.DataFrame(rows).set_index("fold")

    def confidence_intervals(self, *, n_resamples=N_RESAMPLES, confidence_level=0.95,
                             random_state=0) -> pd.DataFrame:
        """Bootstrap confidence intervals of accuracy, balanced accuracy and macro F1.

        Subjects (``groups``; each image where None) are drawn with
        replacement, all images of a drawn subject together, since slices of
        one patient are not independent; the interval is the percentile
        interval of :func:`scipy.stats.bootstrap`.

        Parameters
        ----------
        n_resamples : int, default=N_RESAMPLES (1000)
            Bootstrap resamples.
        confidence_level : float, default=0.95
        random_state : int, numpy Generator or None, default=0
            Seed of the resampling: the same seed gives the same interval.

        Returns
        -------
        pandas.DataFrame
            Rows ``accuracy``, ``balanced_accuracy``, ``macro_f1``; columns
            ``ci_low`` and ``ci_high`` (NaN with fewer than two subjects).

        Examples
        --------
        >>> import numpy as np
        >>> from braintumor_features.evaluation import EvaluationReport
        >>> y = np.array(["a", "b"] * 10)
        >>> predicted = np.where(np.arange(20) < 4, "b", y)  # 2 of 10 "a" wrong
        >>> report = EvaluationReport(np.array(["a", "b"]), y, predicted, np.zeros(20, int))
        >>> intervals = report.confidence_intervals()
        >>> bool(intervals.loc["accuracy", "ci_low"] < report.accuracy
        ...      < intervals.loc["accuracy", "ci_high"])
        True
        """
        if not (isinstance(n_resamples, Integral) and n_resamples >= 1):
            raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
        if not 0 < confidence_level < 1:
            raise ValueError(f"confidence_level must be between 0 and 1, got {confidence_level!r}")
        subjects = np.arange(len(self.y_true)) if self.groups is None else np.asarray(self.groups)
        _, subject = np.unique(subjects, return_inverse=True)
        n_subjects, k = subject.max(initial=-1) + 1, len(self.classes)
        frame = pd.DataFrame(np.nan, index=pd.Index(_BOOTSTRAPPED, name="metric"),
                             columns=["ci_low", "ci_high"])
        if n_subjects < 2:
            return frame
        cells = np.zeros((n_subjects, k * k))  # each subject's confusion matrix, flattened
        np.add.at(cells, (subject, np.searchsorted(self.classes, self.y_true) * k
                          + np.searchsorted(self.classes, self.y_pred)), 1)

        def statistic(drawn, axis=-1):
            counts = np.apply_along_axis(np.bincount, axis, drawn, minlength=n_subjects)
            return _confusion_metrics((counts @ cells).reshape(*counts.shape[:-1], k, k))

        result = bootstrap((np.arange(n_subjects),), statistic, n_resamples=n_resamples,
                           confidence_level=confidence_level, method="percentile",
                           vectorized=True, rng=random_state)
        frame["ci_low"], frame["ci_high"] = result.confidence_interval
        return frame

    def summary(self) -> pd.DataFrame:
        """Each overall metric, its 95% bootstrap interval and, over folds, mean and std.

        Returns
        -------
        pandas.DataFrame
            Rows ``accuracy``, ``balanced_accuracy``, ``macro_f1``,
            ``roc_auc``; columns ``value`` (for a cross-validation:
            ``pooled``, over every out-of-fold prediction), ``ci_low`` and
            ``ci_high`` (:meth:`confidence_intervals`, not for ROC AUC), and
            for a cross-validation ``fold_mean`` and ``fold_std``.

        Examples
        --------
        >>> import numpy as np
        >>> from braintumor_features.evaluation import EvaluationReport
        >>> y = np.array(["a", "b"] * 10)
        >>> report = EvaluationReport(np.array(["a", "b"]), y, y, np.arange(20) % 2)
        >>> report.summary().columns.tolist()
        ['pooled', 'ci_low', 'ci_high', 'fold_mean', 'fold_std']
        """
        single = self.n_folds == 1
        values = pd.Series(_metrics(self.y_true, self.y_pred, self.y_score, self.classes),
                           name="value" if single else "pooled")
        frame = values.to_frame().join(self.confidence_intervals())
        if not single:
            folds = self.fold_scores.drop(columns="n_test")
            frame["fold_mean"], frame["fold_std"] = folds.mean(), folds.std(ddof=0)
        return frame.rename_axis("metric")

    def to_frame(self) -> pd.DataFrame:
        """Precision, recall, F1, support and one-vs-rest ROC AUC per class, and their macro average.

        Classes without test images have NaN (shown as "n/a") everywhere but
        their support, 0, and are left out of the macro average; so has the
        ROC AUC of a class the model never learnt (it scores it 0 for every
        image).
        """
        precision, recall, f1, support = precision_recall_fscore_support(
            self.y_true, self.y_pred, labels=self.classes, zero_division=0
        )
        auc = _class_aucs(self.y_true, self.y_score, self.classes)
        frame = pd.DataFrame(
            {"precision": precision, "recall": recall, "f1": f1, "support": support,
             "roc_auc": auc},
            index=pd.Index([str(c) for c in self.classes], name="class"),
        )
        metrics = ["precision", "recall", "f1", "roc_auc"]
        frame.loc[support == 0, metrics] = np.nan
        frame.loc["macro avg"] = {**frame[metrics].mean(), "support": support.sum()}
        frame["support"] = frame["support"].astype(int)
        return frame

    def confusion_frame(self) -> pd.DataFrame:
        """The confusion matrix with class names (rows true, columns predicted)."""
        names = [str(c) for c in self.classes]
        return pd.DataFrame(self.confusion_matrix,
                            index=pd.Index(names, name="true"),
                            columns=pd.Index(names, name="predicted"))

    def breakdown(self, values, name="group") -> pd.DataFrame:
        """Scores of each group of images: by source, MRI sequence, scanner...

        Parameters
        ----------
        values : array-like of shape (n_samples,)
            The group of each image, e.g. ``data.frame["sequence"]``. Missing
            values (None, NaN, "") form a group named ``"(not given)"``.
        name : str, default="group"
            The name of the index.

        Returns
        -------
        pandas.DataFrame
            One row per group, sorted: ``n``, ``accuracy``,
            ``balanced_accuracy`` and ``recall_<class>`` of each class (NaN
            where the group has no image of the class).

        Examples
        --------
        >>> import numpy as np
        >>> from braintumor_features.evaluation import EvaluationReport
        >>> y = np.array(["glioma", "no_tumor", "glioma", "no_tumor"])
        >>> report = EvaluationReport(np.unique(y), y, np.array(["glioma"] * 4), np.zeros(4, int))
        >>> report.breakdown(["T1", "T1", "T2", None], "sequence")
        ... # doctest: +NORMALIZE_WHITESPACE
                     n  accuracy  balanced_accuracy  recall_glioma  recall_no_tumor
        sequence
        (not given)  1       0.0                0.0            NaN              0.0
        T1           2       0.5                0.5            1.0              0.0
        T2           1       1.0                1.0            1.0              NaN
        """
        labels = pd.Series(values, dtype=object).replace("", None)
        if len(labels) != len(self.y_true):
            raise ValueError(f"values must give one group per image ({len(self.y_true)}), "
                             f"got {len(labels)}")
        labels = labels.where(labels.notna(), "(not given)").astype(str).to_numpy()
        rows = {}
        for group in np.unique(labels):
            part = labels == group
            true, predicted = self.y_true[part], self.y_pred[part]
            recall = precision_recall_fscore_support(true, predicted, labels=self.classes,
                                                     zero_division=np.nan)[1]
            rows[group] = {"n": int(part.sum()), "accuracy": float(accuracy_score(true, predicted)),
                           "balanced_accuracy": _balanced_accuracy(true, predicted),
                           **{f"recall_{c}": r for c, r in zip(self.classes, recall)}}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis(name)

    def by_subject(self) -> EvaluationReport:
        """The patient-level report: one prediction per subject (and true class).

        A subject's class scores are the mean of its images' scores, and its
        prediction the class of highest mean score; without scores, the class
        predicted most often (ties: the first class).

        Returns
        -------
        EvaluationReport
            One row per subject, true class and fold; ``groups`` the subjects.

        Raises
        ------
        ValueError
            If the report has no ``groups``.

        Examples
        --------
        >>> import numpy as np
        >>> from braintumor_features.evaluation import EvaluationReport
        >>> report = EvaluationReport(np.array(["a", "b"]), np.array(["a", "a", "a", "b"]),
        ...                           np.array(["a", "a", "b", "a"]), np.zeros(4, int),
        ...                           groups=np.array(["p1", "p1", "p1", "p2"]))
        >>> patients = report.by_subject()
        >>> patients.groups.tolist(), patients.y_pred.tolist(), patients.accuracy
        (['p1', 'p2'], ['a', 'a'], 0.5)
        """
        if self.groups is None:
            raise ValueError("by_subject needs the subject of each image: build the report "
                             "with groups=<patient ids> (evaluate(..., groups=...))")
        scores = (self.y_pred[:, None] == self.classes).astype(float) if self.y_score is None \
            else self.y_score
        pooled = pd.DataFrame(scores).groupby([self.fold, np.asarray(self.groups),
                                               self.y_true], dropna=False).mean()
        fold, subject, true = (pooled.index.get_level_values(level).to_numpy(dtype=dtype)
                               for level, dtype in enumerate([int, np.asarray(self.groups).dtype,
                                                              self.y_true.dtype]))
        return EvaluationReport(
            classes=self.classes, y_true=true, y_pred=self.classes[pooled.to_numpy().argmax(1)],
            fold=fold, y_score=None if self.y_score is None else pooled.to_numpy(),
            groups=subject,
        )

    def confident_mistakes(self, n=None) -> pd.DataFrame:
        """The wrongly classified images, most confident first.

        Parameters
        ----------
        n : int or None, default=None
            Keep the first ``n``; None keeps every mistake.

        Returns
        -------
        pandas.DataFrame
            Indexed by the image's row: ``path`` (None without
            :attr:`paths`), ``true``, ``predicted`` and ``confidence`` (the
            score of the predicted class; NaN without scores).

        Examples
        --------
        >>> import numpy as np
        >>> from braintumor_features.evaluation import EvaluationReport
        >>> y = np.array(["a", "a", "b"])
        >>> report = EvaluationReport(np.array(["a", "b"]), y, np.array(["b", "b", "a"]),
        ...                           np.zeros(3, int), np.array([[.4, .6], [.1, .9], [.7, .3]]))
        >>> report.confident_mistakes()["confidence"].to_dict()
        {1: 0.9, 2: 0.7, 0: 0.6}
        """
        wrong = np.flatnonzero(self.y_true != self.y_pred)
        confidence = (np.full(len(wrong), np.nan) if self.y_score is None else
                      self.y_score[wrong, np.searchsorted(self.classes, self.y_pred[wrong])])
        frame = pd.DataFrame({
            "path": [None if self.paths is None else self.paths[i] for i in wrong],
            "true": self.y_true[wrong], "predicted": self.y_pred[wrong], "confidence": confidence,
        }, index=wrong)
        return frame.sort_values("confidence", ascending=False, kind="stable").head(n)

    def _tables(self):
        single = self.n_folds == 1
        tables = [("Summary (95% bootstrap intervals over subjects)", self.summary()),
                  ("Per class", self.to_frame()),
                  ("Confusion matrix (rows true, columns predicted)", self.confusion_frame())]
        if not single:
            tables.append(("Per fold", self.fold_scores))
        if self.groups is not None and len(np.unique(self.groups)) < len(self.y_true):
            tables.append(("Per patient (scores of each subject's images averaged)",
                           self.by_subject().summary()))
        if self.metadata is not None:
            for column in self.metadata.columns:
                if self.metadata[column].replace("", None).nunique() > 1:
                    tables.append((f"By {column}", self.breakdown(self.metadata[column], column)))
        return tables

    def to_markdown(self) -> str:
        """The tables (summary, per class, confusion, per fold, per patient, by metadata) as Markdown."""
        return "\n\n".join(
            f"### {title}\n\n"
            + table.map(_cell).to_markdown(disable_numparse=True, stralign="right")
            for title, table in self._tables()) + "\n"

    def to_html(self) -> str:
        """The same tables as an HTML fragment (see :mod:`braintumor_features.report` for a page)."""
        return "\n".join(
            f"<h3>{title}</h3>\n"
            + table.to_html(float_format=lambda v: f"{v:.3f}", na_rep="n/a", classes="metrics",
                            border=0)
            for title, table in self._tables()
        )

    def to_json(self) -> str:
        """The predictions as JSON; :meth:`from_json` rebuilds the report."""
        return json.dumps({
            "classes": self.classes.tolist(), "y_true": self.y_true.tolist(),
            "y_pred": self.y_pred.tolist(), "fold": self.fold.tolist(),
            "y_score": None if self.y_score is None else self.y_score.tolist(),
            "groups": None if self.groups is None else np.asarray(self.groups).tolist(),
            "paths": self.paths,
            "metadata": None if self.metadata is None else self.metadata.to_dict("list"),
        })

    @classmethod
    def from_json(cls, text) -> EvaluationReport:
        """Rebuild a report saved with :meth:`to_json`."""
        data = json.loads(text)
        score, groups, metadata = data["y_score"], data.get("groups"), data.get("metadata")
        return cls(classes=np.asarray(data["classes"]), y_true=np.asarray(data["y_true"]),
                   y_pred=np.asarray(data["y_pred"]), fold=np.asarray(data["fold"]),
                   y_score=None if score is None else np.asarray(score, dtype=float),
                   groups=None if groups is None else np.asarray(groups),
                   paths=data.get("paths"),
                   metadata=None if metadata is None else pd.DataFrame(metadata))

    def __repr__(self):
        sets = "one test set" if self.n_folds == 1 else f"{self.n_folds} folds"
        return (f"EvaluationReport({len(self.y_true)} images, {sets}, "
                f"accuracy={self.accuracy:.3f}, balanced_accuracy={self.balanced_accuracy:.3f})")


def _cell(value) -> str:
    """A table cell as the Markdown tables show it: 3 decimals, "n/a" for a missing value."""
    if isinstance(value, (float, np.floating)):
        return "n/a" if np.isnan(value) else f"{value:.3f}"
    return str(value)
