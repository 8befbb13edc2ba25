"""Grouped cross-validation with the metrics the field reports, and feature importance.

:func:`evaluate` runs cross-validation that keeps every patient on one side
of each split (``StratifiedGroupKFold`` when ``groups`` are given) and
returns an :class:`EvaluationReport` of out-of-fold predictions: accuracy,
balanced accuracy, per-class and macro precision/recall/F1, one-vs-rest ROC
AUC, the confusion matrix and the per-fold scores, as tables.
:func:`feature_importance` measures which features a fitted pipeline uses.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.parallel import Parallel, delayed

from .datasets import shared_duplicates
from .features._extraction import FeatureExtractor

__all__ = [
    "EvaluationReport",
    "UngroupedCVWarning",
    "SharedDuplicatesWarning",
    "evaluate",
    "feature_importance",
]


class UngroupedCVWarning(UserWarning):
    """Cross-validation without ``groups``: slices of one patient may be on both sides.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.dummy import DummyClassifier
    >>> from braintumor_features.evaluation import UngroupedCVWarning, evaluate
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = evaluate(DummyClassifier(), [[0]] * 6, ["a", "b"] * 3, cv=3)
    >>> [w.category.__name__ for w in caught]
    ['UngroupedCVWarning']
    """


class SharedDuplicatesWarning(UserWarning):
    """A split puts duplicates of one image in both its train and its test side.

    Issued by :func:`evaluate` when given ``duplicates``; join the groups of
    duplicated images with
    :func:`~braintumor_features.datasets.merge_duplicate_groups`.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features.evaluation import SharedDuplicatesWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", SharedDuplicatesWarning)  # make leakage an error
    ...     issubclass(SharedDuplicatesWarning, UserWarning)
    True
    """


def _scores(estimator, X):
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)
    if hasattr(estimator, "decision_function"):
        scores = estimator.decision_function(X)
        return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores
    return None


def _fit_fold(pipeline, X, y, train, test, classes):
    model = clone(pipeline).fit(_safe_indexing(X, train), y[train])
    X_test = _safe_indexing(X, test)
    predicted = model.predict(X_test)
    scores = _scores(model, X_test)
    full = None
    if scores is not None:  # a fold may miss a class: put its columns in the global order
        full = np.zeros((len(test), len(classes)))
        full[:, np.searchsorted(classes, model.classes_)] = scores
    return predicted, full


def _default_cv(cv, groups, random_state):
    n_splits = 5 if cv is None else cv
    if groups is None:
        warnings.warn(
            "evaluate() got no groups: slices of one patient can fall in both the train and the "
            "test folds, which overstates accuracy on new patients; pass groups=<patient ids>",
            UngroupedCVWarning,
            stacklevel=3,
        )
        return StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    return StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)


def evaluate(pipeline, X, y, *, groups=None, cv=None, duplicates=None, n_jobs=None,
             random_state=0) -> EvaluationReport:
    """Cross-validate a classifier and report the usual metrics.

    Parameters
    ----------
    pipeline : classifier
        Any scikit-learn classifier, e.g. from
        :func:`~braintumor_features.make_pipeline`; a clone is fitted per fold.
    X : sequence of images
        Paths, arrays or :class:`~braintumor_features.images.MaskedImage` items.
    y : array-like of shape (n_samples,)
        Class labels.
    groups : array-like of shape (n_samples,), default=None
        Patient of each image. With groups the default splitter is
        ``StratifiedGroupKFold``: no patient is on both sides of a split.
        Without them an :class:`UngroupedCVWarning` is issued.
    cv : int, splitter or iterable, default=None
        Number of folds (default 5) of the default splitter, or any
        scikit-learn splitter, e.g. the published folds
        ``load_figshare(...).cv``.
    duplicates : Bunch, default=None
        The result of :func:`~braintumor_features.datasets.find_duplicates`
        over ``X``: a :class:`SharedDuplicatesWarning` is issued for every
        split that puts duplicates on both sides.
    n_jobs : int, default=None
        Folds fitted in parallel.
    random_state : int or None, default=0
        Shuffling of the default splitters.

    Returns
    -------
    EvaluationReport

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.evaluation import evaluate
    >>> demo = make_demo(n_samples=40, image_size=64, random_state=0)
    >>> pipe = make_pipeline(RandomForestClassifier(50, random_state=0), image_size=64)
    >>> report = evaluate(pipe, demo.images, demo.target, groups=demo.groups, cv=3)
    >>> report.confusion_matrix.sum(), report.fold_scores.shape[0]
    (np.int64(40), 3)
    >>> list(report.to_frame().columns)
    ['precision', 'recall', 'f1', 'support', 'roc_auc']
    """
    y = np.asarray(y)
    classes = np.unique(y)
    if groups is not None:
        groups = np.asarray(groups)
    if cv is None or isinstance(cv, Integral):
        cv = _default_cv(cv, groups, random_state)
    cv = check_cv(cv, y, classifier=True)
    splits = list(cv.split(X, y, groups))
    if duplicates is not None:
        for number, (train, test) in enumerate(splits):
            shared = shared_duplicates(duplicates, train, test)
            if shared:
                warnings.warn(
                    f"fold {number}: {len(shared)} duplicate groups have images in both train "
                    f"and test (first: images {shared[0].tolist()}); group them together",
                    SharedDuplicatesWarning,
                    stacklevel=2,
                )
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_fold)(pipeline, X, y, train, test, classes) for train, test in splits
    )
    n = len(y)
    y_pred = np.empty(n, dtype=y.dtype)
    fold = np.full(n, -1)
    y_score = None if results[0][1] is None else np.full((n, len(classes)), np.nan)
    for number, ((_, test), (predicted, scores)) in enumerate(zip(splits, results)):
        y_pred[test], fold[test] = predicted, number
        if y_score is not None:
            y_score[test] = scores
    tested = fold >= 0
    return EvaluationReport(
        classes=classes, y_true=y[tested], y_pred=y_pred[tested], fold=fold[tested],
        y_score=None if y_score is None else y_score[tested],
    )


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
        return float(balanced_accuracy_score(self.y_true, self.y_pred))

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
                "balanced_accuracy": balanced_accuracy_score(true, pred),
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


def _split_at_features(pipeline):
    """The pipeline up to its feature extractor, and the model after it."""
    for index, (_, step) in enumerate(pipeline.steps):
        if isinstance(step, FeatureExtractor):
            return pipeline[: index + 1], pipeline[index + 1 :]
    raise ValueError(
        "the pipeline has no feature extraction step (a FeatureExtractor such as ImageFeatures); "
        "feature importance needs one"
    )


def feature_importance(pipeline, X, y, *, method="permutation", n_repeats=5, n_jobs=None,
                       random_state=0) -> pd.DataFrame:
    """How much a fitted pipeline relies on each feature.

    Features are computed once; permutation importance then shuffles each
    feature column of ``X``'s feature matrix and measures the drop in
    accuracy of the model after the feature step (works for any classifier,
    e.g. the SVM). ``"impurity"`` reads a tree ensemble's
    ``feature_importances_`` (mean decrease in impurity, random forest).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline with a feature extraction step.
    X : sequence of images
        Held-out images (permutation) or any images (impurity: unused).
    y : array-like
        Their labels.
    method : {"permutation", "impurity"}, default="permutation"
    n_repeats : int, default=5
        Shuffles per feature (permutation).
    n_jobs : int, default=None
    random_state : int or None, default=0

    Returns
    -------
    pandas.DataFrame
        Indexed by feature name, with ``family`` (the name's prefix, e.g.
        ``glcm``), ``importance`` and ``std``; sorted by importance.

    Examples
    --------
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.evaluation import feature_importance
    >>> demo = make_demo(n_samples=40, image_size=64, random_state=0)
    >>> pipe = make_pipeline("rf", features=["glcm", "intensity"], image_size=64, random_state=0)
    >>> pipe = pipe.set_params(classifier__n_estimators=20).fit(demo.images, demo.target)
    >>> sorted(feature_importance(pipe, demo.images, demo.target, method="impurity").family.unique())
    ['glcm', 'intensity']
    """
    features, model = _split_at_features(pipeline)
    names = features[-1].get_feature_names_out()
    if method == "impurity":
        classifier = model[-1]
        if not hasattr(classifier, "feature_importances_"):
            raise ValueError(
                f"method='impurity' needs a tree ensemble; {type(classifier).__name__} has no "
                "feature_importances_: use method='permutation'"
            )
        importance, std = classifier.feature_importances_, np.zeros(len(names))
    elif method == "permutation":
        result = permutation_importance(model, features.transform(X), np.asarray(y),
                                        n_repeats=n_repeats, n_jobs=n_jobs,
                                        random_state=random_state)
        importance, std = result.importances_mean, result.importances_std
    else:
        raise ValueError(f"method must be 'permutation' or 'impurity', got {method!r}")
    frame = pd.DataFrame(
        {"family": [str(n).split("_", 1)[0] for n in names], "importance": importance,
         "std": std},
        index=pd.Index(names, name="feature"),
    )
    return frame.sort_values("importance", ascending=False)
