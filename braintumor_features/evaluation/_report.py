"""The evaluation report: out-of-fold predictions and the metrics the field reports, as tables."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

__all__ = ["EvaluationReport"]


def _class_aucs(y_true, y_score, classes):
    """One-vs-rest ROC AUC of each class (NaN for a class absent, or alone, in ``y_true``)."""
    if y_score is None:
        return np.full(len(classes), np.nan)
    return np.array([roc_auc_score(y_true == c, y_score[:, k])
                     if 0 < (y_true == c).sum() < len(y_true) else np.nan
                     for k, c in enumerate(classes)])


def _auc(y_true, y_score, classes):
    """Macro one-vs-rest ROC AUC (as ``roc_auc_score(multi_class="ovr")``, but for any scores)."""
    aucs = _class_aucs(y_true, y_score, classes)
    if len(classes) == 2:
        return aucs[1]
    return np.nan if np.isnan(aucs).any() else aucs.mean()


def _balanced_accuracy(y_true, y_pred) -> float:
    """Mean recall over the classes present in ``y_true``. Predictions of classes
    absent there (common when scoring another source) are errors like any other;
    scikit-learn's warning about them is left out, the report's table shows them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(balanced_accuracy_score(y_true, y_pred))


@dataclass
class EvaluationReport:
    """Out-of-fold predictions of a cross-validation and the metrics computed from them.

    Pooled metrics use every image's prediction from the fold in which it was
    tested; :attr:`fold_scores` has the per-fold values.

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
    """

    classes: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    fold: np.ndarray
    y_score: np.ndarray | None = None

    @property
    def accuracy(self) -> float:
        """Fraction of images classified correctly."""
        return float(accuracy_score(self.y_true, self.y_pred))

    @property
    def balanced_accuracy(self) -> float:
        """Mean recall over the classes."""
        return _balanced_accuracy(self.y_true, self.y_pred)

    @property
    def roc_auc(self) -> float:
        """Macro one-vs-rest ROC AUC (NaN without scores)."""
        return float(_auc(self.y_true, self.y_score, self.classes))

    @property
    def confusion_matrix(self) -> np.ndarray:
        """Counts, rows true classes and columns predicted, in ``classes`` order."""
        return confusion_matrix(self.y_true, self.y_pred, labels=self.classes)

    @property
    def fold_scores(self) -> pd.DataFrame:
        """Accuracy, balanced accuracy, macro F1 and ROC AUC of each fold."""
        rows = []
        for number in np.unique(self.fold):
            part = self.fold == number
            true, pred = self.y_true[part], self.y_pred[part]
            rows.append({
                "fold": int(number),
                "n_test": int(part.sum()),
                "accuracy": accuracy_score(true, pred),
                "balanced_accuracy": _balanced_accuracy(true, pred),
                "macro_f1": f1_score(true, pred, labels=self.classes, average="macro",
                                     zero_division=0),
                "roc_auc": _auc(true, None if self.y_score is None else self.y_score[part],
                                self.classes),
            })
        return pd.DataFrame(rows).set_index("fold")

    def summary(self) -> pd.DataFrame:
        """Pooled value, and mean and std over the folds, of each overall metric."""
        folds = self.fold_scores.drop(columns="n_test")
        pooled = {"accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy,
                  "macro_f1": float(self.to_frame().loc["macro avg", "f1"]),
                  "roc_auc": self.roc_auc}
        return pd.DataFrame({"pooled": pd.Series(pooled), "fold_mean": folds.mean(),
                             "fold_std": folds.std(ddof=0)})

    def to_frame(self) -> pd.DataFrame:
        """Precision, recall, F1, support and one-vs-rest ROC AUC per class, and their macro average."""
        precision, recall, f1, support = precision_recall_fscore_support(
            self.y_true, self.y_pred, labels=self.classes, zero_division=0
        )
        auc = _class_aucs(self.y_true, self.y_score, self.classes)
        frame = pd.DataFrame(
            {"precision": precision, "recall": recall, "f1": f1, "support": support,
             "roc_auc": auc},
            index=pd.Index([str(c) for c in self.classes], name="class"),
        )
        frame.loc["macro avg"] = [*frame[["precision", "recall", "f1"]].mean(), support.sum(),
                                  frame["roc_auc"].mean()]
        frame["support"] = frame["support"].astype(int)
        return frame

    def confusion_frame(self) -> pd.DataFrame:
        """The confusion matrix with class names (rows true, columns predicted)."""
        names = [str(c) for c in self.classes]
        return pd.DataFrame(self.confusion_matrix,
                            index=pd.Index(names, name="true"),
                            columns=pd.Index(names, name="predicted"))

    def _tables(self):
        return [("Summary", self.summary()), ("Per class", self.to_frame()),
                ("Confusion matrix (rows true, columns predicted)", self.confusion_frame()),
                ("Per fold", self.fold_scores)]

    def to_markdown(self) -> str:
        """The summary, per-class, confusion and per-fold tables as Markdown."""
        return "\n\n".join(f"### {title}\n\n{_markdown_table(table)}"
                           for title, table in self._tables()) + "\n"

    def to_html(self) -> str:
        """The same tables as an HTML fragment (see :mod:`braintumor_features.report` for a page)."""
        return "\n".join(
            f"<h3>{title}</h3>\n"
            + table.to_html(float_format=lambda v: f"{v:.3f}", classes="metrics", border=0)
            for title, table in self._tables()
        )

    def to_json(self) -> str:
        """The predictions as JSON; :meth:`from_json` rebuilds the report."""
        return json.dumps({
            "classes": self.classes.tolist(), "y_true": self.y_true.tolist(),
            "y_pred": self.y_pred.tolist(), "fold": self.fold.tolist(),
            "y_score": None if self.y_score is None else self.y_score.tolist(),
        })

    @classmethod
    def from_json(cls, text) -> EvaluationReport:
        """Rebuild a report saved with :meth:`to_json`."""
        data = json.loads(text)
        score = data["y_score"]
        return cls(classes=np.asarray(data["classes"]), y_true=np.asarray(data["y_true"]),
                   y_pred=np.asarray(data["y_pred"]), fold=np.asarray(data["fold"]),
                   y_score=None if score is None else np.asarray(score, dtype=float))

    def __repr__(self):
        return (f"EvaluationReport({len(self.y_true)} images, {len(np.unique(self.fold))} folds, "
                f"accuracy={self.accuracy:.3f}, balanced_accuracy={self.balanced_accuracy:.3f})")


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value):
        return f"{value:.3f}" if isinstance(value, (float, np.floating)) else str(value)

    header = [frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, *values in frame.itertuples():  # itertuples keeps each column's type
        lines.append("| " + " | ".join([str(label)] + [cell(v) for v in values]) + " |")
    return "\n".join(lines)
