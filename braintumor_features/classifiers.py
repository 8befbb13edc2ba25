"""Classifiers with the parameters a grid search over this library expects."""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from numbers import Integral, Real

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import _libsvm
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import _ovr_decision_function
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._parameters import ParameterNamesOnce

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

    def loss(a, b):
        z = a * f + b
        return float(weight @ (np.logaddexp(0.0, z) - (1.0 - target) * z))

    a, b = 0.0, float(np.log((prior0 + 1.0) / (prior1 + 1.0)))
    value = loss(a, b)
    for _ in range(100):
        p = expit(-(a * f + b))
        residual, curvature = weight * (target - p), weight * p * (1.0 - p)
        gradient_a, gradient_b = float(residual @ f), float(residual.sum())
        if max(abs(gradient_a), abs(gradient_b)) < 1e-12:
            break
        # The 2 x 2 Newton system in closed form, with a small ridge that keeps it defined
        # when all scores are equal (Lin et al.).
        h_aa, h_ab = float(curvature @ (f * f)) + 1e-12, float(curvature @ f)
        h_bb = float(curvature.sum()) + 1e-12
        determinant = h_aa * h_bb - h_ab * h_ab
        if determinant <= 0.0:
            break
        step_a = (h_bb * gradient_a - h_ab * gradient_b) / determinant
        step_b = (h_aa * gradient_b - h_ab * gradient_a) / determinant
        decrease = gradient_a * step_a + gradient_b * step_b
        rate = 1.0
        while rate >= 1e-10:
            trial_value = loss(a - rate * step_a, b - rate * step_b)
            if trial_value <= value - 1e-4 * rate * decrease:
                break
            rate /= 2.0
        else:
            break
        converged = abs(value - trial_value) <= 1e-15 * max(abs(value), 1.0)
        a, b, value = a - rate * step_a, b - rate * step_b, trial_value
        if converged:
            break
    return a / scale, b


def _squared_distances(A, B):
    """Squared Euclidean distances between the rows of ``A`` and of ``B``, from one matrix
    product (``|a|^2 + |b|^2 - 2 a.b``, clipped at 0, and 0 from a row to itself), as
    :func:`~sklearn.metrics.pairwise.euclidean_distances` computes them without its input
    checks, which cost as much again on SVMClassifier's small matrices."""
    distances = A @ B.T
    distances *= -2.0
    distances += np.einsum("ij,ij->i", A, A)[:, None]
    distances += np.einsum("ij,ij->i", B, B)[None, :]
    if A is B:
        np.fill_diagonal(distances, 0.0)
    return np.maximum(distances, 0.0, out=distances)


def _calibration_folds(labels, n_folds, random_state):
    """``StratifiedKFold(n_folds, shuffle=True, random_state).split`` of ``labels``, as a
    list; remembered for an int seed, since a grid search fits every setting on the same
    labels (the split costs a quarter of a small SVM's fit)."""
    if isinstance(random_state, Integral):
        return _seeded_folds(labels.astype(np.intp).tobytes(), n_folds, int(random_state))
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
    return list(folds.split(np.zeros(len(labels)), labels))


@lru_cache(maxsize=32)
def _seeded_folds(labels, n_folds, random_state):
    labels = np.frombuffer(labels, dtype=np.intp)
    folds = tuple(StratifiedKFold(n_folds, shuffle=True, random_state=random_state).split(
        np.zeros(len(labels)), labels))
    for indices in folds:
        for part in indices:
            part.flags.writeable = False  # shared by every fit on these labels
    return folds


def _centred_row_sums(X):
    """Sums and sums of squares of each row of ``X`` minus its overall mean, from which
    the variance of any set of rows follows without copying them (centred first, so that an
    offset loses no precision)."""
    centred = X - X.mean()
    return centred.sum(axis=1), np.einsum("ij,ij->i", centred, centred)


def _pair_coef(dual_coef, n_support):
    """libsvm's dual coefficients, shape (n_classes - 1, n_support), as one column of weights
    per class pair (:func:`itertools.combinations` order). The support vectors are grouped by
    class; in the pair (i, j), class i's are weighted by row j - 1 and class j's by row i."""
    start = np.r_[0, np.cumsum(n_support)]
    pairs = list(combinations(range(len(n_support)), 2))
    coef = np.zeros((start[-1], len(pairs)))
    for pair, (i, j) in enumerate(pairs):
        coef[start[i]:start[i + 1], pair] = dual_coef[j - 1, start[i]:start[i + 1]]
        coef[start[j]:start[j + 1], pair] = dual_coef[i, start[j]:start[j + 1]]
    return coef


def _pairwise_svm(kernel, labels, C, class_weight, sample_weight):
    """libsvm's one-vs-one SVMs on a precomputed kernel, as SVC fits them.

    Calls scikit-learn's libsvm binding directly: ``SVC.fit`` spends about three
    times libsvm's own time on checks of data that :meth:`SVMClassifier.fit`
    has checked once (tests/test_classifiers.py holds the two equal).

    Parameters
    ----------
    kernel : ndarray of shape (n_samples, n_samples)
    labels : ndarray of int, shape (n_samples,)
        ``0 .. n_classes - 1``, every class present.
    class_weight : ndarray of shape (n_classes,)
        Factor of ``C`` per class.
    sample_weight : ndarray of shape (n_samples,) or None
        Factor of ``C`` per sample; samples weighted 0 are left out, as SVC
        leaves them out, and every class needs one weighted above 0.

    Returns
    -------
    support : ndarray of int
        Rows of ``kernel`` that are support vectors.
    coef : ndarray of shape (n_support, n_classes * (n_classes - 1) // 2)
    intercept : ndarray of shape (n_classes * (n_classes - 1) // 2,)
        ``kernel[:, support] @ coef + intercept`` are the one-vs-one decision
        values, positive for the first class of each pair, class pairs in
        the order of :func:`itertools.combinations`.
    """
    kept = None
    if sample_weight is not None and (sample_weight <= 0).any():
        # libsvm drops these samples and numbers its support vectors among the rest.
        kept = np.flatnonzero(sample_weight > 0)
        kernel, labels, sample_weight = kernel[np.ix_(kept, kept)], labels[kept], sample_weight[kept]
    _libsvm.set_verbosity_wrap(0)  # a process-wide switch, which SVC also sets before fitting
    support, _, n_support, dual_coef, intercept, *_ = _libsvm.fit(
        np.ascontiguousarray(kernel), labels.astype(np.float64), svm_type=0,
        kernel="precomputed", C=float(C), tol=1e-3, shrinking=1, cache_size=200.0, max_iter=-1,
        class_weight=np.asarray(class_weight, dtype=np.float64),
        sample_weight=np.empty(0) if sample_weight is None else np.ascontiguousarray(
            sample_weight, dtype=np.float64),
    )
    if not (np.isfinite(dual_coef).all() and np.isfinite(intercept).all()):
        raise ValueError(  # SVC's check and message
            "The dual coefficients or intercepts are not finite. The input data may contain "
            "large values and need to be preprocessed."
        )
    return (support if kept is None else kept[support]), _pair_coef(dual_coef, n_support), intercept


def _one_vs_rest(pairwise, n_classes):
    """SVC's decision values (``decision_function_shape="ovr"``) from one-vs-one ones: the
    second class's score when there are two classes, else scikit-learn's votes plus
    squashed confidences, as ``SVC.decision_function`` turns them."""
    if n_classes == 2:
        return -pairwise[:, 0]
    return _ovr_decision_function(pairwise < 0, -pairwise, n_classes)


def _from_svc(svm):
    """The attributes of :class:`SVMClassifier`'s SVM, from a fitted SVC (earlier builds'
    pickles)."""
    sign = -1.0 if len(svm.classes_) == 2 else 1.0  # SVC flips a binary model's public signs
    dual_coef, intercept = sign * svm.dual_coef_, sign * svm.intercept_
    return {"support_vectors_": svm.support_vectors_, "gamma_": svm._gamma,
            "pair_coef_": _pair_coef(dual_coef, svm.n_support_), "pair_intercept_": intercept}


class SVMClassifier(ParameterNamesOnce, ClassifierMixin, BaseEstimator):
    """Support vector machine with calibrated class probabilities.

    libsvm's SVM, as :class:`sklearn.svm.SVC` fits it, with its scores mapped
    to probabilities by Platt scaling learned on internal cross-validation:
    the probabilities of :class:`~sklearn.calibration.CalibratedClassifierCV`
    with ``method="sigmoid"`` and ``ensemble=False`` (the replacement
    scikit-learn recommends for the deprecated ``SVC(probability=True)``),
    to within scikit-learn's optimiser tolerance (about 1e-5), at about a
    tenth of the cost (``fit`` on 160 samples of the default features: 17 to
    24 ms of CPU against 200 to 250 ms): the internal folds and the final SVM
    share one distance matrix, and libsvm is called without re-checking the
    data for each of them. The SVM's own parameters stay at the top level,
    so a grid says ``classifier__C``.

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
    support_vectors_ : ndarray of shape (n_support, n_features)
        Support vectors of the SVM fitted on all the training data, grouped
        by class.
    pair_coef_ : ndarray of shape (n_support, n_classes * (n_classes - 1) // 2)
    pair_intercept_ : ndarray of shape (n_classes * (n_classes - 1) // 2,)
        The one-vs-one SVMs: ``kernel(X, support_vectors_) @ pair_coef_ +
        pair_intercept_`` is positive where the first class of each pair
        wins, pairs in the order of :func:`itertools.combinations`.
    gamma_ : float
        The kernel width used (``gamma`` resolved for the training data).
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
        # Models pickled by earlier builds kept a fitted SVC in svm_, or scikit-learn's
        # CalibratedClassifierCV (calibrated_): the same SVM and sigmoids.
        if "calibrated_" in state:
            calibrated = state.pop("calibrated_").calibrated_classifiers_[0]
            state["svm_"] = calibrated.estimator
            state["sigmoids_"] = np.array([[c.a_, c.b_] for c in calibrated.calibrators])
        if "svm_" in state:
            state.update(_from_svc(state.pop("svm_")))
        super().__setstate__(state)

    def _gamma(self, row_sums, row_squares, n_features):
        """The kernel width SVC would use when fitted on the rows whose (centred) sums and
        sums of squares are given (:func:`_centred_row_sums`); ``"scale"`` needs the variance
        of all their values."""
        if self.gamma == "scale":
            n_values = len(row_sums) * n_features
            mean = row_sums.sum() / n_values
            variance = max(row_squares.sum() / n_values - mean * mean, 0.0)
            return 1.0 / (n_features * variance) if variance != 0 else 1.0
        if self.gamma == "auto":
            return 1.0 / n_features
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

    def _class_weight(self, labels):
        """Factor of ``C`` per class (``classes_`` order) as SVC computes it from ``labels``
        (``compute_class_weight`` takes 1.4 ms a call in checks, more than a fold's SVM)."""
        n_classes = len(self.classes_)
        if self.class_weight == "balanced":
            return len(labels) / (n_classes * np.bincount(labels, minlength=n_classes))
        weight = np.ones(n_classes)
        if isinstance(self.class_weight, dict):
            known = self.classes_.tolist()
            unknown = [key for key in self.class_weight if key not in known]
            if unknown:
                raise ValueError(f"class_weight names classes that are not in y: {unknown}")
            for key, value in self.class_weight.items():
                weight[known.index(key)] = value
        return weight

    def _fit_svm(self, kernel, labels, sample_weight):
        if sample_weight is not None:
            weighted = np.unique(labels[sample_weight > 0])
            if len(weighted) < len(self.classes_):
                missing = np.setdiff1d(np.arange(len(self.classes_)), weighted)
                raise ValueError(
                    f"classes {self.classes_[missing].tolist()} have no sample with a positive "
                    f"sample_weight among the {len(labels)} samples an SVM is fitted on (the "
                    "final SVM, or one of the calibration folds')"
                )
        return _pairwise_svm(kernel, labels, self.C, self._class_weight(labels), sample_weight)

    def fit(self, X, y, sample_weight=None):
        """Fit the SVM and its probability map.

        The SVMs of the internal folds, whose out-of-fold scores the
        probability map is learned from, and the final SVM on all of ``X``
        are fitted on precomputed kernels, all computed from one matrix of
        distances (rbf) or dot products between the training samples. That
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
        weight = None if sample_weight is None else _check_sample_weight(
            sample_weight, X, ensure_non_negative=True)  # Platt's class totals need them >= 0
        n_folds = min(self.calibration_cv, int(counts.min()))
        scores = np.empty((len(y), len(self.classes_) if len(self.classes_) > 2 else 1))
        # One matrix product for all folds: squared distances (rbf) or dot products.
        sums, squares = _centred_row_sums(X)
        base = _squared_distances(X, X) if self.kernel == "rbf" else X @ X.T
        for train, test in _calibration_folds(labels, n_folds, self.random_state):
            gamma = self._gamma(sums[train], squares[train], X.shape[1])
            support, coef, intercept = self._fit_svm(
                self._kernel(base[np.ix_(train, train)], gamma), labels[train],
                None if weight is None else weight[train],
            )
            pairwise = self._kernel(base[np.ix_(test, train[support])], gamma) @ coef + intercept
            scores[test] = _one_vs_rest(pairwise, len(self.classes_)).reshape(len(test), -1)
        self.gamma_ = self._gamma(sums, squares, X.shape[1])
        support, self.pair_coef_, self.pair_intercept_ = self._fit_svm(
            self._kernel(base, self.gamma_), labels, weight)  # the last use of base: in place
        self.support_vectors_ = X[support]
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
        vectors = self.support_vectors_
        base = _squared_distances(X, vectors) if self.kernel == "rbf" else X @ vectors.T
        pairwise = self._kernel(base, self.gamma_) @ self.pair_coef_ + self.pair_intercept_
        return _one_vs_rest(pairwise, len(self.classes_))
