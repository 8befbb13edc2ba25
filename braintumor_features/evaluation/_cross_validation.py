"""Grouped cross-validation: every patient on one side of each split."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import clone
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

from ..datasets import shared_duplicates
from ..exceptions import SharedDuplicatesWarning, UngroupedCVWarning
from ._report import EvaluationReport

__all__ = ["evaluate"]


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
