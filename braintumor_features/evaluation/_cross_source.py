"""What a model is worth on other hospitals' images: train on some sources, score on another."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.utils import _safe_indexing
from sklearn.utils.parallel import Parallel, delayed

from ._cross_validation import _fit_predict
from ._report import EvaluationReport

__all__ = ["evaluate_cross_source", "leave_one_source_out"]


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
        ``roc_auc`` as in :attr:`EvaluationReport.fold_scores` (averages over
        the classes of the held-out source). Where the
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
    rows, usable = [], []
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
            usable.append((name, train, test))
    table = pd.DataFrame(rows).set_index("source")
    reports = Parallel(n_jobs=n_jobs)(
        delayed(evaluate_cross_source)(pipeline, _safe_indexing(X, train), y[train],
                                       _safe_indexing(X, test), y[test])
        for _, train, test in usable
    )
    scores = pd.DataFrame([report.fold_scores.iloc[0].drop("n_test") for report in reports],
                          index=pd.Index([name for name, _, _ in usable], name="source"),
                          columns=["accuracy", "balanced_accuracy", "macro_f1", "roc_auc"])
    return table.join(scores)
