"""Grouped cross-validation with the metrics the field reports, and feature importance.

:func:`evaluate` runs cross-validation that keeps every patient on one side
of each split (``StratifiedGroupKFold`` when ``groups`` are given) and
returns an :class:`EvaluationReport` of out-of-fold predictions: accuracy,
balanced accuracy, per-class and macro precision/recall/F1, one-vs-rest ROC
AUC, the confusion matrix and the per-fold scores, as tables.
:func:`feature_importance` measures which features a fitted pipeline uses.

What a model is worth on other hospitals' images: :func:`evaluate_cross_source`
trains on one data set and scores on another, :func:`leave_one_source_out`
holds out each source in turn, and :func:`shortcut_audit` measures how well
file metadata alone predicts the label (a data set whose classes come from
different sources can be "solved" without looking at the anatomy) and how
well the features predict the source.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    LeaveOneGroupOut,
    LeavePGroupsOut,
    StratifiedGroupKFold,
    StratifiedKFold,
    check_cv,
)
from sklearn.utils import _safe_indexing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params

from .datasets import shared_duplicates
from .features._extraction import FeatureExtractor
from .io import _decode, _read_bytes

__all__ = [
    "EvaluationReport",
    "ShortcutAudit",
    "ShortcutWarning",
    "UngroupedCVWarning",
    "SharedDuplicatesWarning",
    "evaluate",
    "evaluate_cross_source",
    "feature_importance",
    "leave_one_source_out",
    "shortcut_audit",
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


def _fit_predict(pipeline, X_train, y_train, X_test, classes, params=None):
    model = clone(pipeline).fit(X_train, y_train, **(params or {}))
    predicted = model.predict(X_test)
    scores = _scores(model, X_test)
    full = None
    if scores is not None:  # training may miss a class: put its columns in the global order
        full = np.zeros((len(predicted), len(classes)))
        full[:, np.searchsorted(classes, model.classes_)] = scores
    return predicted, full


def _fit_fold(pipeline, X, y, train, test, classes, params):
    return _fit_predict(pipeline, _safe_indexing(X, train), y[train], _safe_indexing(X, test),
                        classes, _check_method_params(X, params or {}, indices=train))


#: Splitters that keep each group on one side of every split.
_GROUP_SPLITTERS = (GroupKFold, StratifiedGroupKFold, GroupShuffleSplit, LeaveOneGroupOut,
                    LeavePGroupsOut)


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
             random_state=0, params=None) -> EvaluationReport:
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
        ``load_figshare(...).cv``. A splitter that ignores groups (such as
        ``StratifiedKFold``) gets an :class:`UngroupedCVWarning`.
    duplicates : Bunch, default=None
        The result of :func:`~braintumor_features.datasets.find_duplicates`
        over ``X``: a :class:`SharedDuplicatesWarning` is issued for every
        split that puts duplicates on both sides.
    n_jobs : int, default=None
        Folds fitted in parallel.
    random_state : int or None, default=0
        Shuffling of the default splitters.
    params : dict, default=None
        Parameters of each fold's ``fit``, as
        :func:`~sklearn.model_selection.cross_validate` takes them: values
        with one entry per image are cut to the fold's training images. A
        pipeline with a family that learns from outlines takes its
        patients this way: ``params={"features__groups": groups}``.

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
    elif hasattr(cv, "split") and not isinstance(cv, _GROUP_SPLITTERS):
        warnings.warn(
            f"evaluate(cv={type(cv).__name__}(...)): this splitter ignores groups, so slices of "
            "one patient can fall in both the train and the test folds; use a group splitter "
            "such as StratifiedGroupKFold with groups=<patient ids>",
            UngroupedCVWarning,
            stacklevel=2,
        )
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
        delayed(_fit_fold)(pipeline, X, y, train, test, classes, params) for train, test in splits
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
        Indexed by feature name, with ``family`` (the name the family has in
        :class:`~braintumor_features.features.ImageFeatures`, e.g. ``glcm``),
        ``importance`` and ``std``; sorted by importance.

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
        {"family": features[-1]._column_families(), "importance": importance,
         "std": std},
        index=pd.Index(names, name="feature"),
    )
    return frame.sort_values("importance", ascending=False)


def evaluate_cross_source(pipeline, X_train, y_train, X_test, y_test) -> EvaluationReport:
    """Train on one data set and score on another: what the model is worth elsewhere.

    Cross-validation within one source rewards anything that source's
    images share, including how they were acquired and exported; scoring on
    images from other scanners and hospitals measures what carries over.

    Parameters
    ----------
    pipeline : classifier
        Any scikit-learn classifier, e.g. from
        :func:`~braintumor_features.make_pipeline`; a clone is fitted.
    X_train, y_train : sequence of images, array-like
        The training source.
    X_test, y_test : sequence of images, array-like
        The other source. Classes missing from the training labels count as
        errors.

    Returns
    -------
    EvaluationReport
        One "fold": every image of ``X_test``. ``classes`` is the union of
        both label sets.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.evaluation import evaluate_cross_source
    >>> one = make_demo(n_samples=40, image_size=64, random_state=0)
    >>> other = make_demo(n_samples=20, image_size=48, random_state=1)
    >>> pipe = make_pipeline(RandomForestClassifier(50, random_state=0), image_size=64)
    >>> report = evaluate_cross_source(pipe, one.images, one.target, other.images, other.target)
    >>> int(report.confusion_matrix.sum()), 0 <= report.accuracy <= 1
    (20, True)
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    classes = np.unique(np.concatenate([y_train, y_test]))
    predicted, scores = _fit_predict(pipeline, X_train, y_train, X_test, classes)
    return EvaluationReport(classes=classes, y_true=y_test, y_pred=predicted,
                            fold=np.zeros(len(y_test), int), y_score=scores)


def leave_one_source_out(pipeline, X, y, sources, *, n_jobs=None) -> pd.DataFrame:
    """Hold out each source in turn, train on the others, and score on it.

    Parameters
    ----------
    pipeline : classifier
        A clone is fitted per held-out source.
    X : sequence of images
    y : array-like of shape (n_samples,)
    sources : array-like of shape (n_samples,)
        Where each image comes from (data set, hospital, scanner), e.g. the
        ``sources`` of :func:`~braintumor_features.datasets.load_folders`
        (the ``source`` column of ``metadata.csv``, else the folder's name).
        At least two sources.
    n_jobs : int, default=None
        Held-out sources fitted in parallel.

    Returns
    -------
    pandas.DataFrame
        One row per held-out source: ``n_train``, ``n_test``, ``n_unseen``
        (test images whose class no training image has: they cannot be
        right), and ``accuracy``, ``balanced_accuracy``, ``macro_f1``,
        ``roc_auc`` as in :attr:`EvaluationReport.fold_scores`. Where the
        other sources hold a single class no model can be trained: the
        scores are NaN and a warning names the source.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from braintumor_features.evaluation import leave_one_source_out
    >>> X = np.array([[0], [1], [0], [1], [0], [1]])
    >>> y = np.array(["a", "b", "a", "b", "a", "b"])
    >>> table = leave_one_source_out(LogisticRegression(), X, y, ["s1", "s1", "s2", "s2", "s3", "s3"])
    >>> table["accuracy"].to_dict(), table["n_train"].tolist()
    ({'s1': 1.0, 's2': 1.0, 's3': 1.0}, [4, 4, 4])
    """
    y, sources = np.asarray(y), np.asarray(sources)
    names = np.unique(sources)
    if len(names) < 2:
        raise ValueError(
            f"leave_one_source_out needs at least two sources, got {names.tolist()}; "
            "use evaluate() for cross-validation within one source"
        )
    rows, splits, usable = [], [], []
    for name in names:
        test, train = np.flatnonzero(sources == name), np.flatnonzero(sources != name)
        seen = np.unique(y[train])
        rows.append({"source": name, "n_train": len(train), "n_test": len(test),
                     "n_unseen": int((~np.isin(y[test], seen)).sum())})
        if len(seen) < 2:
            warnings.warn(
                f"leave_one_source_out: cannot hold out source {str(name)!r}: the other sources "
                f"have only class {seen.tolist()}; its scores are NaN",
                UserWarning, stacklevel=2,
            )
        else:
            splits.append((train, test))
            usable.append(name)
    table = pd.DataFrame(rows).set_index("source")
    if splits:
        report = evaluate(pipeline, X, y, groups=sources, cv=splits, n_jobs=n_jobs)
        scores = report.fold_scores.drop(columns="n_test")
        scores.index = pd.Index(usable, name="source")
        return table.join(scores)
    return table.reindex(columns=[*table.columns, "accuracy", "balanced_accuracy", "macro_f1",
                                  "roc_auc"])


class ShortcutWarning(UserWarning):
    """Metadata alone predicts the label far above chance: the data set has a shortcut.

    Issued by :func:`shortcut_audit`; see :attr:`ShortcutAudit.label_skill`
    for the rule.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features.evaluation import ShortcutWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", ShortcutWarning)  # refuse confounded data
    ...     issubclass(ShortcutWarning, UserWarning)
    True
    """


#: The columns of :attr:`ShortcutAudit.metadata`.
METADATA_COLUMNS = ["height", "width", "channels", "chroma", "bit_depth", "format", "file_size",
                    "min", "max"]


def _file_metadata(path) -> dict:
    """What a file says without its content: size, colour mode, format, depth, raw range."""
    path = Path(path)
    data = _read_bytes(path)
    image = _decode(data, path)  # as stored: colour and bit depth kept, no preprocessing
    channels = 1 if image.ndim == 2 else image.shape[2]
    colour = image[..., :3].astype(np.int32) if channels >= 3 else None
    chroma = 0.0 if colour is None else float(
        np.abs(np.diff(colour, axis=-1)).mean())  # 0 for gray stored as RGB
    values = [image.shape[0], image.shape[1], channels, chroma, image.dtype.itemsize * 8,
              path.suffix.lower(), int(data.size), float(image.min()), float(image.max())]
    return dict(zip(METADATA_COLUMNS, values))


def _chance(labels) -> float:
    """Accuracy of always predicting the most frequent class."""
    _, counts = np.unique(labels, return_counts=True)
    return float(counts.max() / counts.sum())


def _skill(accuracy, chance) -> float:
    """The share of the gap from chance to perfect accuracy that a model closes."""
    return 0.0 if chance >= 1 else (accuracy - chance) / (1 - chance)


@dataclass
class ShortcutAudit:
    """How much of a data set's labels can be read without looking at the anatomy.

    Attributes
    ----------
    metadata : pandas.DataFrame
        Per file: ``height``, ``width``, ``channels``, ``chroma`` (mean
        absolute difference between colour channels; 0 for gray),
        ``bit_depth``, ``format`` (the suffix), ``file_size`` (bytes),
        ``min`` and ``max`` of the stored values.
    label_report : EvaluationReport
        Grouped cross-validation of a classifier predicting the label from
        ``metadata`` alone.
    label_chance : float
        Accuracy of always predicting the most frequent label.
    source_report : EvaluationReport or None
        Grouped cross-validation of the classifier predicting the source
        from the given features.
    source_chance : float or None
        Accuracy of always predicting the most frequent source.
    tolerance : float
        The largest :attr:`label_skill` accepted without a
        :class:`ShortcutWarning`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from braintumor_features.evaluation import EvaluationReport, ShortcutAudit
    >>> y = np.array(["a", "a", "b", "b"])
    >>> report = EvaluationReport(np.array(["a", "b"]), y, y, np.zeros(4, int))
    >>> audit = ShortcutAudit(pd.DataFrame(), report, 0.5, None, None, 0.25)
    >>> audit.label_accuracy, audit.label_skill, audit.has_shortcut
    (1.0, 1.0, True)
    """

    metadata: pd.DataFrame
    label_report: EvaluationReport
    label_chance: float
    source_report: EvaluationReport | None
    source_chance: float | None
    tolerance: float

    @property
    def label_accuracy(self) -> float:
        """Cross-validated accuracy of predicting the label from metadata alone."""
        return self.label_report.accuracy

    @property
    def label_skill(self) -> float:
        """``(accuracy - chance) / (1 - chance)``: the share of the gap from chance to perfect
        that metadata closes (0 at chance, 1 when metadata gives every label)."""
        return _skill(self.label_accuracy, self.label_chance)

    @property
    def has_shortcut(self) -> bool:
        """Whether :attr:`label_skill` exceeds :attr:`tolerance`."""
        return self.label_skill > self.tolerance

    @property
    def source_accuracy(self) -> float | None:
        """Cross-validated accuracy of predicting the source from the features (or None)."""
        return None if self.source_report is None else self.source_report.accuracy

    def summary(self) -> pd.DataFrame:
        """Accuracy, balanced accuracy and chance of each audit, one row each."""
        rows = {"label from metadata": (self.label_report, self.label_chance)}
        if self.source_report is not None:
            rows["source from features"] = (self.source_report, self.source_chance)
        return pd.DataFrame(
            {name: {"accuracy": report.accuracy, "balanced_accuracy": report.balanced_accuracy,
                    "chance": chance, "skill": _skill(report.accuracy, chance)}
             for name, (report, chance) in rows.items()}
        ).T.rename_axis("audit")

    def __repr__(self):
        text = (f"ShortcutAudit({len(self.metadata)} files, label from metadata "
                f"{self.label_accuracy:.3f} vs chance {self.label_chance:.3f}")
        if self.source_report is not None:
            text += (f"; source from features {self.source_accuracy:.3f} vs chance "
                     f"{self.source_chance:.3f}")
        return text + ")"


def shortcut_audit(paths, y, groups=None, sources=None, features=None, *, classifier=None,
                   cv=None, tolerance=0.25, n_jobs=None, random_state=0) -> ShortcutAudit:
    """Measure how well labels can be predicted without the anatomy: a shortcut audit.

    When every image of a class comes from one source, a model can score well
    by recognising the source (image size, colour mode, format, grey range)
    instead of the tumour, and fail on anyone else's images. This audit
    reports (a) the grouped cross-validated accuracy of a classifier given
    only the files' metadata, read as stored (no preprocessing), beside
    chance (always the most frequent label); and (b), when ``features`` and
    ``sources`` are given, how well those features predict the source.

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files.
    y : array-like of shape (n_samples,)
        Their labels.
    groups : array-like of shape (n_samples,), default=None
        Patient of each image, for grouped cross-validation as in
        :func:`evaluate` (without them an :class:`UngroupedCVWarning` is
        issued).
    sources : array-like of shape (n_samples,), default=None
        Source of each image, for the audit of the features.
    features : array-like of shape (n_samples, n_features), default=None
        Feature matrix of the images, e.g. the output of a fitted pipeline's
        feature step.
    classifier : classifier, default=None
        The model of both audits; default a random forest of 200 trees.
    cv : int or splitter, default=None
        As in :func:`evaluate` (default 5 folds).
    tolerance : float, default=0.25
        A :class:`ShortcutWarning` is issued when the metadata closes more
        than this share of the gap from chance to perfect accuracy:
        ``(accuracy - chance) / (1 - chance) > tolerance``. With two balanced
        classes, 0.25 means metadata accuracy above 0.625.
    n_jobs : int, default=None
        Files read, and folds fitted, in parallel.
    random_state : int or None, default=0

    Returns
    -------
    ShortcutAudit

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> import cv2, numpy as np
    >>> from braintumor_features.evaluation import shortcut_audit
    >>> folder, rng = tempfile.mkdtemp(), np.random.default_rng(0)
    >>> paths, labels = [], []
    >>> for i in range(20):  # every tumour is a large PNG, every normal a small JPEG
    ...     tumour = i % 2 == 0
    ...     path = os.path.join(folder, f"{i}.png" if tumour else f"{i}.jpg")
    ...     _ = cv2.imwrite(path, rng.integers(0, 255, (40, 40) if tumour else (30, 30), np.uint8))
    ...     paths.append(path); labels.append("tumour" if tumour else "normal")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     audit = shortcut_audit(paths, labels, groups=range(20), cv=4)
    >>> audit.label_accuracy, audit.label_chance, [w.category.__name__ for w in caught]
    (1.0, 0.5, ['ShortcutWarning'])
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, Real) or not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be a number in [0, 1), got {tolerance!r}")
    if (features is None) != (sources is None):
        raise ValueError("give both features and sources to audit the features, or neither")
    y = np.asarray(y)
    paths = list(paths)
    if len(paths) != len(y):
        raise ValueError(f"got {len(paths)} paths but {len(y)} labels; give one label per file")
    if classifier is None:
        classifier = RandomForestClassifier(200, random_state=random_state)
    records = Parallel(n_jobs=n_jobs)(delayed(_file_metadata)(path) for path in paths)
    metadata = pd.DataFrame(records, columns=METADATA_COLUMNS,
                            index=pd.Index([str(p) for p in paths], name="file"))
    matrix = metadata.assign(format=pd.factorize(metadata["format"])[0]).to_numpy(float)

    def audit(X, target):
        return evaluate(classifier, X, target, groups=groups, cv=cv, n_jobs=n_jobs,
                        random_state=random_state)

    result = ShortcutAudit(metadata=metadata, label_report=audit(matrix, y),
                           label_chance=_chance(y), source_report=None, source_chance=None,
                           tolerance=tolerance)
    if features is not None:
        sources = np.asarray(sources)
        result.source_report, result.source_chance = audit(features, sources), _chance(sources)
    if result.has_shortcut:
        warnings.warn(
            f"metadata alone (image size, colour mode, format, grey range) predicts the label "
            f"with accuracy {result.label_accuracy:.3f} against {result.label_chance:.3f} for "
            f"always guessing the most frequent class: a model can learn the source instead "
            f"of the anatomy; score it on another source (evaluate_cross_source) before "
            f"trusting it",
            ShortcutWarning, stacklevel=2,
        )
    return result
