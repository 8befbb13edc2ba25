"""Grouped cross-validation (every patient on one side of each split), and the
scoring of a fitted model on a test set that checks it is not the training set."""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import (
    StratifiedGroupKFold,
    StratifiedKFold,
    check_cv,
    cross_val_predict,
)

from ..classifiers import SVMClassifier
from ..datasets import find_duplicates, load_folder, shared_duplicates
from ..exceptions import (
    SharedDuplicatesWarning,
    TrainingOverlapWarning,
    UngroupedCVWarning,
)
from ..persistence import image_digests
from ._report import EvaluationReport

__all__ = ["evaluate"]


def _score_method(estimator):
    """The method of ``estimator`` giving class scores: ``predict_proba``, else
    ``decision_function``; None for neither."""
    return next((name for name in ("predict_proba", "decision_function")
                 if hasattr(estimator, name)), None)


def _columns(scores):
    """One column of scores per class (a binary ``decision_function`` gives one for both)."""
    return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores


def _predict(model, X, classes):
    """A fitted model's predictions (the class of highest score, as ``cross_val_predict``'s
    scores give them) and its scores in ``classes`` order, 0 for a class it never saw."""
    method = _score_method(model)
    if method is None:
        return model.predict(X), None
    scores = _columns(getattr(model, method)(X))
    full = np.zeros((len(scores), len(classes)))
    full[:, np.searchsorted(classes, model.classes_)] = scores
    return np.asarray(model.classes_)[scores.argmax(axis=1)], full


def _fit_predict(pipeline, X_train, y_train, X_test, classes):
    return _predict(clone(pipeline).fit(X_train, y_train), X_test, classes)


def _cross_val_predict(pipeline, X, y, splits, classes, n_jobs, params):
    """Out-of-fold predictions and scores, one fit per split, through ``cross_val_predict``."""
    method = _score_method(pipeline)
    out = cross_val_predict(pipeline, X, y, cv=splits, n_jobs=n_jobs, params=params,
                            method=method or "predict")
    if method is None:
        return out, None
    scores = _columns(out)
    return classes[scores.argmax(axis=1)], scores


def _image_paths(X):
    """``X`` as file names when every item is one, else None."""
    items = list(X) if not hasattr(X, "ndim") or X.ndim == 1 else []
    if items and all(isinstance(item, (str, os.PathLike)) for item in items):
        return [os.fspath(item) for item in items]
    return None


def _training_files(training):
    """The training images a model's summary names: its ``files``, else the images of
    its ``folders`` (``data`` in the summaries ``braintumor train`` writes) still present."""
    if training.get("files"):
        return [str(file) for file in training["files"]]
    folders = training.get("folders", training.get("data")) or []
    folders = [folders] if isinstance(folders, str) else folders
    return [path for folder in folders if Path(folder).is_dir()
            for path in load_folder(folder).paths]


def _warn_training_overlap(paths, training, n_jobs):
    """Warn when test images are training files, copies of them (same SHA-256) or
    near-duplicates of training images (``find_duplicates``)."""
    if paths is None:
        raise ValueError("training: checking the test images against the training data needs "
                         "their files; give X as file paths, or pass paths=<image files>")
    train_files = _training_files(training)
    known = {str(Path(file).resolve()) for file in train_files}
    tested = image_digests(paths)
    same = {i for i, file in enumerate(tested["files"]) if file in known}
    digests = set(training.get("sha256") or ())
    same |= {i for i, digest in enumerate(tested["sha256"]) if digest in digests}
    present = [file for file in train_files if Path(file).is_file()]
    near = set()
    if present:
        labels = find_duplicates([*present, *paths], n_jobs=n_jobs).labels
        shared = set(labels[:len(present)].tolist()) - {-1}
        near = {i for i, label in enumerate(labels[len(present):]) if label in shared} - same
    if same or near:
        first = paths[min(same | near)]
        warnings.warn(
            f"{len(same | near)} of {len(paths)} test images are in the model's training data "
            f"({len(same)} the same files, {len(near)} near-duplicates of training images; "
            f"first: {first}); their scores overstate the accuracy on new images. Evaluate on "
            "other images, or remove these (find_duplicates)",
            TrainingOverlapWarning,
            stacklevel=3,
        )
    elif not present and not digests:
        warnings.warn(
            "training: the summary names no training file that is still present and no "
            "digests, so the test images could not be checked against the training data",
            TrainingOverlapWarning,
            stacklevel=3,
        )


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


def _per_class_needed(estimator):
    """Images of each class every training fold must hold: 2 for the SVM, whose probabilities
    are calibrated by cross-validation, 1 for any other classifier."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return 2 if isinstance(final, SVMClassifier) else 1


def _check_training_folds(estimator, y, splits, groups=None, fewer="fewer folds (cv)"):
    """Refuse, before any fit, splits whose training images hold too few of a class for the
    classifier: the error names the class, its images and subjects, and what to do."""
    y = np.asarray(y)
    needed = _per_class_needed(estimator)
    for number, (train, _) in enumerate(splits):
        for label in np.unique(y):
            held = int((y[train] == label).sum())
            if held >= needed:
                continue
            chosen = y == label
            subjects = ("" if groups is None else
                        f", {len(np.unique(np.asarray(groups)[chosen]))} subject(s)")
            why = ("the SVM calibrates its probabilities by cross-validation and needs at least "
                   "2 images of each class to train on" if needed == 2 else
                   "the classifier cannot learn a class it is not shown")
            raise ValueError(
                f"class {str(label)!r} has {int(chosen.sum())} image(s){subjects}: the training "
                f"images of fold {number} of {len(splits)} hold {held} of them, and {why}; use "
                f"{fewer}, add images of {str(label)!r}, or leave the class out")


def evaluate(pipeline, X, y, *, groups=None, cv=None, duplicates=None, n_jobs=None,
             random_state=0, params=None, training=None, paths=None,
             metadata=None) -> EvaluationReport:
    """Cross-validate a classifier, or score a fitted one, and report the usual metrics.

    Parameters
    ----------
    pipeline : classifier
        Any scikit-learn classifier, e.g. from
        :func:`~braintumor_features.make_pipeline`; a clone is fitted per
        fold. With ``cv="prefit"``: a fitted classifier, used as it is.
    X : sequence of images
        Paths, arrays or :class:`~braintumor_features.images.MaskedImage`
        items (or feature rows, for a classifier without feature steps).
    y : array-like of shape (n_samples,)
        Class labels.
    groups : array-like of shape (n_samples,), default=None
        Patient of each image. With groups the default splitter is
        ``StratifiedGroupKFold``: no patient is on both sides of a split.
        Without them an :class:`UngroupedCVWarning` is issued. The report's
        confidence intervals resample patients, and
        :meth:`~EvaluationReport.by_subject` pools each patient's images.
    cv : int, splitter, iterable or "prefit", default=None
        Number of folds (default 5) of the default splitter, or any
        scikit-learn splitter that tests every image once, e.g. the
        published folds ``load_figshare(...).cv``. A splitter that ignores
        groups (such as ``StratifiedKFold``) gets an
        :class:`UngroupedCVWarning`. ``"prefit"``: ``pipeline`` is already
        fitted and ``X`` is one test set, reported as one set; the classes
        are those of the model and of ``y``.
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
    training : dict, default=None
        Only with ``cv="prefit"``: the model's training summary (the
        ``training`` entry of the metadata of
        :func:`~braintumor_features.persistence.load_model`). A
        :class:`~braintumor_features.exceptions.TrainingOverlapWarning` is
        issued when test images are training files (its ``files``, or the
        images of its ``folders``), byte-identical copies of them (its
        ``sha256``, see :func:`~braintumor_features.persistence.image_digests`)
        or near-duplicates of training images still on disk
        (:func:`~braintumor_features.datasets.find_duplicates`, which reads
        every training image).
    paths : sequence of str, default=None
        The image file of each item of ``X`` when ``X`` is not file names
        itself (e.g. feature rows): for the ``training`` check and the
        report's gallery of mistakes.
    metadata : pandas.DataFrame or dict of arrays, default=None
        More columns per image, e.g. ``data.frame[["source", "sequence"]]``
        of :func:`~braintumor_features.datasets.load_folders`: the report's
        tables break the scores down by each column.

    Returns
    -------
    EvaluationReport
        Its predictions are the class of highest score (probability or
        decision value) where the classifier gives scores.

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

    A fitted model scored on one test set, here (wrongly) its training images:

    >>> import cv2, os, tempfile, warnings
    >>> from braintumor_features.persistence import image_digests
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, f"{i}.png") for i in range(len(demo.images))]
    >>> for path, image in zip(paths, demo.images):
    ...     _ = cv2.imwrite(path, image)
    >>> model = pipe.fit(paths, demo.target)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     again = evaluate(model, paths[:8], demo.target[:8], cv="prefit",
    ...                      training=image_digests(paths))
    >>> again.n_folds, [str(w.message)[:51] for w in caught]
    (1, ["8 of 8 test images are in the model's training data"])
    """
    y = np.asarray(y)
    if groups is not None:
        groups = np.asarray(groups)
    paths = _image_paths(X) if paths is None else [os.fspath(path) for path in paths]
    prefit = isinstance(cv, str) and cv == "prefit"
    if training is not None and not prefit:
        raise ValueError("training is the summary of a fitted model's training data: it needs "
                         "cv='prefit' (cross-validation refits the model on X itself)")
    if prefit:
        if training is not None:
            _warn_training_overlap(paths, training, n_jobs)
        classes = np.unique(np.concatenate([np.asarray(pipeline.classes_), y]))
        y_pred, y_score = _predict(pipeline, X, classes)
        return EvaluationReport(classes=classes, y_true=y, y_pred=y_pred,
                                fold=np.zeros(len(y), int), y_score=y_score, groups=groups,
                                paths=paths, metadata=metadata)
    classes = np.unique(y)
    default = cv is None or isinstance(cv, Integral)
    splitter = not default and hasattr(cv, "split")  # not an iterable of splits
    cv = check_cv(_default_cv(cv, groups, random_state) if default else cv, y, classifier=True)
    splits = list(cv.split(X, y, groups))  # a group splitter refuses groups=None here
    if groups is None and splitter:
        warnings.warn(
            f"evaluate(cv={type(cv).__name__}(...)): this splitter ignores groups, so slices of "
            "one patient can fall in both the train and the test folds; use a group splitter "
            "such as StratifiedGroupKFold with groups=<patient ids>",
            UngroupedCVWarning,
            stacklevel=2,
        )
    elif groups is not None:
        crossing = [number for number, (train, test) in enumerate(splits)
                    if np.intersect1d(groups[train], groups[test]).size]
        if crossing:
            warnings.warn(
                f"evaluate(cv={type(cv).__name__}(...)): folds {crossing} put slices of one "
                "patient (group) in both train and test; use a group splitter such as "
                "StratifiedGroupKFold with groups=<patient ids>",
                UngroupedCVWarning,
                stacklevel=2,
            )
    tested = np.sort(np.concatenate([test for _, test in splits]))
    if not np.array_equal(tested, np.arange(len(y))):
        raise ValueError(
            f"evaluate(cv={cv!r}): the test folds must hold every image exactly once (a "
            "partition, as StratifiedGroupKFold's do); to score one train/test split, fit the "
            "pipeline on the training images and call evaluate(fitted, X_test, y_test, "
            "cv='prefit')"
        )
    _check_training_folds(pipeline, y, splits, groups)
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
    y_pred, y_score = _cross_val_predict(pipeline, X, y, splits, classes, n_jobs, params)
    fold = np.empty(len(y), int)
    for number, (_, test) in enumerate(splits):
        fold[test] = number
    return EvaluationReport(classes=classes, y_true=y, y_pred=y_pred, fold=fold, y_score=y_score,
                            groups=groups, paths=paths, metadata=metadata)
