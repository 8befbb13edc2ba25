"""Classifiers with the parameters a grid search over this library expects."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..exceptions import ModelFileError

__all__ = ["SVMClassifier"]

KERNELS = ("rbf", "linear", "poly", "sigmoid")


class SVMClassifier(ClassifierMixin, BaseEstimator):
    """Support vector machine with calibrated class probabilities.

    scikit-learn's :class:`~sklearn.calibration.CalibratedClassifierCV` of an
    :class:`~sklearn.svm.SVC`, with ``method="sigmoid"`` (Platt scaling) and
    ``ensemble=False``: the SVM's scores on internal cross-validation folds
    fit the sigmoids, and one SVM fitted on all the data gives the scores
    (the replacement scikit-learn recommends for the deprecated
    ``SVC(probability=True)``). The SVM's own parameters stay at the top
    level, so a grid says ``classifier__C``.

    The kernel matrix of the training rows is computed once, with
    :func:`~sklearn.metrics.pairwise.pairwise_kernels` (BLAS), and every SVC
    (one per calibration fold and the final one) is fitted on slices of it
    (``SVC(kernel="precomputed")``), instead of libsvm computing the same
    kernel entries six times. Hence ``gamma="scale"`` or ``"auto"`` is
    resolved once, on all the training rows (``gamma_``), and the calibration
    folds share it, where ``CalibratedClassifierCV(SVC(gamma="scale"))``
    would resolve it again on each fold's training rows (on the brain MRI
    features those per-fold values lie within -8% and +14% of the shared
    one; cross-validated accuracy moved by at most one image in a thousand).

    Parameters
    ----------
    C : float, default=10.0
        Regularization: larger fits the training data more closely.
    kernel : {"rbf", "linear", "poly", "sigmoid"}, default="rbf"
        As in :class:`~sklearn.svm.SVC`, with its ``degree=3`` and ``coef0=0``.
    gamma : {"scale", "auto"} or float, default="scale"
        Kernel coefficient (:class:`~sklearn.svm.SVC`'s ``gamma``).
    class_weight : dict, "balanced" or None, default=None
        Weight of each class (a dict is keyed by the class labels of ``y``),
        given to every sample of the class as a sample weight, so that it
        reaches both the SVM (a factor of ``C``) and the sigmoids that turn
        its decisions into the probabilities ``predict`` takes the largest
        of. (Given to the SVM alone, as ``SVC(class_weight=...)`` inside
        ``CalibratedClassifierCV``, the sigmoids would undo it.)
    calibration_cv : int, default=5
        Folds of the internal cross-validation that fits the sigmoids;
        fewer (down to 2) when the smallest class has fewer samples.
    random_state : int, RandomState instance or None, default=None
        None: the folds are :class:`~sklearn.model_selection.StratifiedKFold`
        without shuffling, so two fits on the same data give the same model
        (and slices of one patient, stored next to each other, mostly share
        a fold). Otherwise the samples are shuffled with this seed first.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    calibrated_ : CalibratedClassifierCV
        The fitted calibrated ``SVC(kernel="precomputed")``, fitted on the
        training kernel matrix and the class codes ``0 .. n_classes - 1``
        (the positions in ``classes_``).
    gamma_ : float
        The kernel coefficient used, ``gamma`` resolved on the training rows.
    support_vectors_ : ndarray of shape (n_support_vectors, n_features)
        The training rows the SVM kept, the only ones new rows are compared
        with (see Notes for their size).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when ``X`` has string column names.

    Notes
    -----
    Memory, in float64: fitting holds the training kernel matrix, ``8 n**2``
    bytes (106 MB for 3637 training rows), and one fold's slices of it at a
    time. The fitted model keeps the support vectors, ``8 * n_support_vectors
    * n_features`` bytes: at most the training set (29 MB for 3600 rows of
    1000 features); 13.4 MB for the 1684 of 3637 standardized rows of 995
    default features kept on the brain MRI set. Predicting ``m`` rows builds
    an ``m x n`` kernel matrix, zero outside the support vectors' columns.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.classifiers import SVMClassifier
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2))] + np.random.default_rng(0).normal(0, .1, (40, 2))
    >>> y = np.repeat(["a", "b"], 20)
    >>> model = SVMClassifier().fit(X, y)
    >>> model.predict([[0, 0], [1, 1]]).tolist()
    ['a', 'b']
    >>> bool(model.predict_proba([[1, 1]])[0, 1] > 0.5)
    True
    >>> float(round(model.gamma_, 2))  # "scale": 1 / (n_features * X.var())
    1.8
    >>> model.support_vectors_.shape[0] < len(X)  # kept for predictions
    True
    """

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
        if "sigmoids_" in state:
            raise ModelFileError(
                "this SVMClassifier was saved by braintumor-features before it was built on "
                "scikit-learn's CalibratedClassifierCV; fit the model again and save it anew"
            )
        super().__setstate__(state)

    def _codes_weight(self):
        """``class_weight`` keyed by class code (the classifier fits on codes)."""
        if not isinstance(self.class_weight, dict):
            return self.class_weight
        known = self.classes_.tolist()
        unknown = [key for key in self.class_weight if key not in known]
        if unknown:
            raise ValueError(
                f"class_weight names classes that are not in y: {unknown} (classes: {known})"
            )
        return {known.index(key): value for key, value in self.class_weight.items()}

    def _check_weights(self, sample_weight, codes):
        if sample_weight is None:
            return None
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != codes.shape:
            raise ValueError(
                f"sample_weight has shape {sample_weight.shape}; it needs one weight per "
                f"sample, shape {codes.shape}"
            )
        if (sample_weight < 0).any():
            raise ValueError("sample_weight has negative values; Platt's class totals need them >= 0")
        missing = np.setdiff1d(np.arange(len(self.classes_)), codes[sample_weight > 0])
        if len(missing):
            raise ValueError(
                f"classes {self.classes_[missing].tolist()} have no sample with a positive "
                "sample_weight: the SVM cannot learn them"
            )
        return sample_weight

    def _check_parameters(self):
        """Check the parameters before any work (``class_weight`` is checked against
        the classes of ``y``)."""
        if not (isinstance(self.kernel, str) and self.kernel in KERNELS):
            raise ValueError(f"kernel must be one of {list(KERNELS)}, got {self.kernel!r}")
        if not (isinstance(self.gamma, str) and self.gamma in ("scale", "auto")):
            check_scalar(self.gamma, "gamma", Real, min_val=0.0)
        check_scalar(self.C, "C", Real, min_val=0.0, include_boundaries="neither")
        check_scalar(self.calibration_cv, "calibration_cv", Integral, min_val=2)
        try:
            check_random_state(self.random_state)
        except ValueError as error:
            raise ValueError(f"random_state: {error}") from None

    def _folds(self, smallest_class):
        """The calibration folds."""
        return StratifiedKFold(min(self.calibration_cv, smallest_class),
                               shuffle=self.random_state is not None,
                               random_state=self.random_state)

    def _resolve_gamma(self, X):
        """``gamma`` as :class:`~sklearn.svm.SVC` resolves it on ``X``."""
        if isinstance(self.gamma, str) and self.gamma == "auto":
            return 1.0 / X.shape[1]
        if isinstance(self.gamma, str) and self.gamma == "scale":
            variance = X.multiply(X).mean() - X.mean() ** 2 if sparse.issparse(X) else X.var()
            return 1.0 / (X.shape[1] * variance) if variance != 0 else 1.0
        return float(self.gamma)

    def _kernel(self, X, Y=None):
        return pairwise_kernels(X, Y, metric=self.kernel, filter_params=True,
                                gamma=self.gamma_, degree=3, coef0=0.0)

    def _svm(self):
        """The SVC fitted on all the training rows."""
        check_is_fitted(self)
        return self.calibrated_.calibrated_classifiers_[0].estimator

    def _test_kernel(self, X):
        """Kernel between ``X`` and the training rows, as the precomputed SVC takes it:
        one column per training row, of which it reads only the support vectors' ones."""
        svm = self._svm()
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        kernel = np.zeros((X.shape[0], svm.shape_fit_[0]))
        kernel[:, svm.support_] = self._kernel(X, self.support_vectors_)
        return kernel

    def fit(self, X, y, sample_weight=None):
        """Fit the SVM and its sigmoids.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Factor of ``C`` per sample, also weighting the sigmoids' fit. Rows
            of weight 0 are left out, as if not given (from the folds, gamma
            and ``class_weight="balanced"`` too).

        Returns
        -------
        self
        """
        self._check_parameters()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"the SVM needs at least 2 classes, got 1 class: {self.classes_.tolist()}")
        sample_weight = self._check_weights(sample_weight, codes)
        if sample_weight is not None and not sample_weight.all():
            # libsvm drops rows of weight 0, after which a precomputed-kernel SVC reads the
            # wrong kernel columns (scikit-learn issue 5150, PR 27763): drop them first.
            keep = sample_weight > 0
            X, codes, sample_weight = X[keep], codes[keep], sample_weight[keep]
        self.gamma_ = self._resolve_gamma(X)
        counts = np.bincount(codes, minlength=len(self.classes_))
        if counts.min() < 2:
            raise ValueError(
                f"class {str(self.classes_[counts.argmin()])!r} has a single training sample; the "
                "SVM's probabilities are calibrated by cross-validation and need at least 2 per class"
            )
        folds = self._folds(int(counts.min()))
        if self.class_weight is not None:
            per_class = compute_sample_weight(self._codes_weight(), codes)
            sample_weight = per_class if sample_weight is None else sample_weight * per_class
        svm = SVC(C=self.C, kernel="precomputed")
        # The SVC's "pairwise" tag makes the folds slice rows and columns of the kernel.
        self.calibrated_ = CalibratedClassifierCV(svm, method="sigmoid", cv=folds, ensemble=False)
        self.calibrated_.fit(self._kernel(X), codes, sample_weight=sample_weight)
        self.support_vectors_ = X[self._svm().support_]
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        kernel = self._test_kernel(X)
        return self.calibrated_.predict_proba(kernel)

    def predict(self, X):
        """The most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples,)
            Columns in the order of ``classes_``; one value, for the second
            class, when there are two.
        """
        kernel = self._test_kernel(X)
        return self._svm().decision_function(kernel)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
