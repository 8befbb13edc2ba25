"""Classifiers with the parameters a grid search over this library expects."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.special import expit
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

__all__ = ["SVMClassifier", "platt_sigmoid"]


def platt_sigmoid(decision, positive, sample_weight=None):
    """Fit Platt's sigmoid ``P(positive | f) = 1 / (1 + exp(a f + b))``.

    Minimises the (weighted) cross-entropy against Platt's regularised
    targets, ``(N+ + 1) / (N+ + 2)`` for positives and ``1 / (N- + 2)`` for
    negatives, with ``N`` the classes' total sample weights, as
    scikit-learn's sigmoid calibration does; by Newton's method with a
    backtracking line search (Lin, Lin and Weng, "A note on Platt's
    probabilistic outputs for support vector machines", Machine Learning
    68, 2007), which solves this two-parameter convex problem to machine
    precision in a few steps.

    Parameters
    ----------
    decision : ndarray of shape (n_samples,)
        Decision values, e.g. out-of-fold SVM scores.
    positive : ndarray of bool, shape (n_samples,)
        Whether each sample belongs to the class being calibrated.
    sample_weight : ndarray of shape (n_samples,) or None
        Weight of each sample in the cross-entropy and in the class totals.

    Returns
    -------
    a, b : float
        Slope and offset of the sigmoid; ``a`` is negative when larger
        decision values mean the positive class is more likely.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.classifiers import platt_sigmoid
    >>> decision = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])
    >>> a, b = platt_sigmoid(decision, decision > 0)
    >>> bool(a < 0), round(float(1 / (1 + np.exp(a * 2.0 + b))), 2)
    (True, 0.88)
    """
    decision = np.asarray(decision, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    weight = np.ones_like(decision) if sample_weight is None else np.asarray(sample_weight, float)
    prior1, prior0 = weight[positive].sum(), weight[~positive].sum()
    target = np.where(positive, (prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0))
    scale = max(float(np.abs(decision).max(initial=0.0)), 1.0)  # conditioning only
    f = decision / scale

    def loss(ab):
        z = ab[0] * f + ab[1]
        return float(weight @ (np.logaddexp(0.0, z) - (1.0 - target) * z))

    ab = np.array([0.0, np.log((prior0 + 1.0) / (prior1 + 1.0))])
    value = loss(ab)
    for _ in range(100):
        p = expit(-(ab[0] * f + ab[1]))
        residual, curvature = weight * (target - p), weight * p * (1.0 - p)
        gradient = np.array([residual @ f, residual.sum()])
        if np.abs(gradient).max() < 1e-12:
            break
        # A small ridge keeps the step defined when all scores are equal (Lin et al.).
        hessian = np.array([[curvature @ (f * f) + 1e-12, curvature @ f],
                            [curvature @ f, curvature.sum() + 1e-12]])
        step = np.linalg.solve(hessian, gradient)
        rate = 1.0
        while rate >= 1e-10:
            trial = ab - rate * step
            trial_value = loss(trial)
            if trial_value <= value - 1e-4 * rate * (gradient @ step):
                break
            rate /= 2.0
        else:
            break
        converged = abs(value - trial_value) <= 1e-15 * max(abs(value), 1.0)
        ab, value = trial, trial_value
        if converged:
            break
    return float(ab[0] / scale), float(ab[1])


class SVMClassifier(ClassifierMixin, BaseEstimator):
    """Support vector machine with calibrated class probabilities.

    An :class:`sklearn.svm.SVC` whose scores are mapped to probabilities by
    Platt scaling learned on internal cross-validation: the probabilities
    of :class:`~sklearn.calibration.CalibratedClassifierCV` with
    ``method="sigmoid"`` and ``ensemble=False`` (the replacement
    scikit-learn recommends for the deprecated ``SVC(probability=True)``),
    to within scikit-learn's optimiser tolerance (about 1e-5), at about
    half the cost: the internal folds share one distance matrix. The SVM's
    own parameters stay at the top level, so a grid says ``classifier__C``.

    Parameters
    ----------
    C : float, default=10.0
        Regularisation: larger fits the training data more closely.
    kernel : {"rbf", "linear", "poly", "sigmoid"}, default="rbf"
    gamma : {"scale", "auto"} or float, default="scale"
        RBF kernel width.
    class_weight : dict, "balanced" or None, default=None
    calibration_cv : int, default=5
        Folds of the internal cross-validation that fits the probability map;
        fewer (down to 2) when the smallest class has fewer samples.
    random_state : int or None, default=None
        Seed of the internal fold split.

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    svm_ : sklearn.svm.SVC
        The SVM fitted on all the training data.
    sigmoids_ : ndarray of shape (n_classes, 2) or (1, 2)
        Platt's ``(a, b)`` per class (:func:`platt_sigmoid`), learned from
        out-of-fold SVM scores; one row, for the second class, when there are
        two classes.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.classifiers import SVMClassifier
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2))] + np.random.default_rng(0).normal(0, .1, (40, 2))
    >>> y = np.repeat(["a", "b"], 20)
    >>> model = SVMClassifier(random_state=0).fit(X, y)
    >>> model.predict([[0, 0], [1, 1]]).tolist()
    ['a', 'b']
    >>> model.predict_proba([[1, 1]]).round(1).tolist()[0][1] > 0.5
    True
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "kernel": [StrOptions({"rbf", "linear", "poly", "sigmoid"})],
        "gamma": [StrOptions({"scale", "auto"}), Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "calibration_cv": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, C=10.0, kernel="rbf", gamma="scale", class_weight=None, calibration_cv=5,
        random_state=None,
    ):
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.class_weight = class_weight
        self.calibration_cv = calibration_cv
        self.random_state = random_state

    def __setstate__(self, state):
        # Models pickled by earlier builds kept scikit-learn's CalibratedClassifierCV
        # (attribute calibrated_); its SVM and sigmoids are the same model.
        if "calibrated_" in state:
            calibrated = state.pop("calibrated_").calibrated_classifiers_[0]
            state["svm_"] = calibrated.estimator
            state["sigmoids_"] = np.array([[c.a_, c.b_] for c in calibrated.calibrators])
        super().__setstate__(state)

    def _gamma(self, X):
        """The kernel width SVC would use when fitted on ``X``."""
        if self.gamma == "scale":
            variance = X.var()
            return 1.0 / (X.shape[1] * variance) if variance != 0 else 1.0
        if self.gamma == "auto":
            return 1.0 / X.shape[1]
        return self.gamma

    def _kernel(self, block, gamma):
        """SVC's kernel (degree 3, coef0 0) from a block of squared distances (rbf) or dot
        products, computed in place: ``block`` must be a copy."""
        if self.kernel == "rbf":
            block *= -gamma
            return np.exp(block, out=block)
        if self.kernel == "poly":
            block *= gamma
            return np.power(block, 3, out=block)
        if self.kernel == "sigmoid":
            block *= gamma
            return np.tanh(block, out=block)
        return block

    def _svm(self, kernel):
        """An SVC for the integer labels ``0 .. n_classes - 1`` (positions in ``classes_``)."""
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            known = self.classes_.tolist()
            unknown = [key for key in class_weight if key not in known]
            if unknown:
                raise ValueError(f"class_weight names classes that are not in y: {unknown}")
            class_weight = {known.index(key): value for key, value in class_weight.items()}
        return SVC(C=self.C, kernel=kernel, gamma=self.gamma, class_weight=class_weight)

    def fit(self, X, y, sample_weight=None):
        """Fit the SVM and its probability map.

        The out-of-fold scores that the probability map is learned from come
        from SVMs on precomputed kernel blocks, all cut from one matrix of
        distances (rbf) or dot products between the training samples,
        instead of each SVM's own kernel evaluations; the final SVM is an
        ordinary :class:`~sklearn.svm.SVC` fitted on all of ``X``. That
        matrix takes ``8 n_samples**2`` bytes while ``fit`` runs (101 MiB for
        3637 samples, 3 GiB for 20000). ``X`` must be dense.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_, labels, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(self.classes_) < 2:
            raise ValueError(f"the SVM needs at least 2 classes, got 1 class: {self.classes_.tolist()}")
        if counts.min() < 2:
            raise ValueError(
                f"class {str(self.classes_[counts.argmin()])!r} has a single training sample; the "
                "SVM's probabilities are calibrated by cross-validation and need at least 2 per class"
            )
        weight = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        n_folds = min(self.calibration_cv, int(counts.min()))
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=self.random_state)
        scores = np.empty((len(y), len(self.classes_) if len(self.classes_) > 2 else 1))
        # One matrix product for all folds: squared distances (rbf) or dot products.
        base = euclidean_distances(X, squared=True) if self.kernel == "rbf" else X @ X.T
        # Integer labels: SVC checks them much faster than strings; same order as classes_.
        # The data and parameters are checked above: the inner SVMs skip the checks.
        with config_context(assume_finite=True, skip_parameter_validation=True):
            for train, test in folds.split(X, labels):
                gamma = self._gamma(X[train])
                fold = self._svm("precomputed").fit(
                    self._kernel(base[np.ix_(train, train)], gamma), labels[train],
                    sample_weight=None if weight is None else weight[train],
                )
                scores[test] = fold.decision_function(
                    self._kernel(base[np.ix_(test, train)], gamma)
                ).reshape(len(test), -1)
            del base
            self.svm_ = self._svm(self.kernel).fit(X, labels, sample_weight=weight)
        positives = [labels == k for k in range(len(self.classes_))][-scores.shape[1]:]
        self.sigmoids_ = np.array([
            platt_sigmoid(column, positive, weight) for column, positive in zip(scores.T, positives)
        ])
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Each class's SVM score goes through its sigmoid and the rows are
        normalised to sum to 1 (for two classes, the second class's
        probability and its complement), as
        :class:`~sklearn.calibration.CalibratedClassifierCV` does.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        scores = scores.reshape(scores.shape[0], -1)
        calibrated = expit(-(scores * self.sigmoids_[:, 0] + self.sigmoids_[:, 1]))
        if len(self.classes_) == 2:
            return np.column_stack([1.0 - calibrated[:, 0], calibrated[:, 0]])
        total = calibrated.sum(axis=1, keepdims=True)
        uniform = np.full_like(calibrated, 1.0 / len(self.classes_))
        return np.divide(calibrated, total, out=uniform, where=total != 0)

    def predict(self, X):
        """The most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def decision_function(self, X):
        """The SVM's one-vs-rest decision values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples,)
            Columns in the order of ``classes_``; one value, for the second
            class, when there are two.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.svm_.decision_function(X)
