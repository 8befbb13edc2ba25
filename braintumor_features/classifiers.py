"""Classifiers with the parameters a grid search over this library expects."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

__all__ = ["SVMClassifier"]


class SVMClassifier(ClassifierMixin, BaseEstimator):
    """Support vector machine with calibrated class probabilities.

    An :class:`sklearn.svm.SVC` whose scores are mapped to probabilities by
    Platt scaling learned on internal cross-validation
    (:class:`~sklearn.calibration.CalibratedClassifierCV` with
    ``ensemble=False``), the replacement scikit-learn recommends for the
    deprecated ``SVC(probability=True)``. The SVM's own parameters stay at
    the top level, so a grid says ``classifier__C``.

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
    calibrated_ : CalibratedClassifierCV
        The fitted SVM and its probability map.

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

    def fit(self, X, y, sample_weight=None):
        """Fit the SVM and its probability map.

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
        svm = SVC(C=self.C, kernel=self.kernel, gamma=self.gamma, class_weight=self.class_weight)
        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            raise ValueError(
                f"class {str(classes[counts.argmin()])!r} has a single training sample; the SVM's "
                "probabilities are calibrated by cross-validation and need at least 2 per class"
            )
        n_folds = min(self.calibration_cv, int(counts.min()))
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=self.random_state)
        self.calibrated_ = CalibratedClassifierCV(svm, method="sigmoid", cv=folds, ensemble=False)
        self.calibrated_.fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.calibrated_.classes_
        self.n_features_in_ = self.calibrated_.n_features_in_
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        return self.calibrated_.predict_proba(X)

    def predict(self, X):
        """The most probable class of each sample."""
        check_is_fitted(self)
        return self.calibrated_.predict(X)

    def decision_function(self, X):
        """The SVM's one-vs-rest decision values."""
        check_is_fitted(self)
        return self.calibrated_.calibrated_classifiers_[0].estimator.decision_function(X)
