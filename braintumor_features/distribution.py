"""Flag images whose features lie outside what a model was trained on.

A classifier answers for any input: a blank array, a 3 x 3 thumbnail, noise or
a chest film each get a tumour class with a confident probability. A
:class:`DistributionCheck` step, placed after the features in
:func:`~braintumor_features.make_pipeline`, learns the spread of the
training images' feature rows and flags, with an
:class:`~braintumor_features.exceptions.OutOfDistributionWarning`, the rows
that lie further from it than the training images' own held-out rows do. It
passes its input through unchanged: the predictions are the same with or
without it, but they are never given silently for such images.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import PCA
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .exceptions import OutOfDistributionWarning

__all__ = ["DistributionCheck"]

#: Training rows whose held-out distance exceeds this many times the median
#: held-out distance are gross outliers, left out of the model.
_GROSS = 10.0

#: How many of a row's largest absolute standardised values its extremes average.
_EXTREMES = 10


class DistributionCheck(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Flag feature rows far outside the training distribution; pass every row through.

    The training rows are standardised robustly (median and interquartile
    range of each column) and summarised by their principal components. A
    row is measured twice: its distance, the root mean square of its
    standardised values in the components (whitened) and of what the
    components leave out, so a row can be far in a direction the training
    images vary along or in one they never vary along; and its extremes,
    the mean of its ten largest absolute standardised values, so a row far
    out in a few columns (uniform noise has LBP histograms no slice has) is
    not hidden among a thousand ordinary ones. Each has a threshold: the
    ``quantile`` of the same measure of training rows, each measured by a
    model of the other folds (``cv`` folds), times ``margin``; training rows
    far beyond all others are left out first. A row is flagged when either
    measure exceeds its threshold (:meth:`score_samples` above 1).

    Parameters
    ----------
    n_components : int, default=20
        Principal components kept (at most the number of training rows
        minus one and the number of columns).
    quantile : float, default=0.995
        Share of held-out training rows that the threshold keeps inside.
    margin : float, default=1.5
        The threshold is ``margin`` times that quantile: rows flagged are
        clearly outside, not at the edge.
    cv : int, default=5
        Folds for the held-out training distances (one row per fold when
        there are fewer rows).
    warn : bool, default=True
        Warn with :class:`~braintumor_features.exceptions.OutOfDistributionWarning`
        when ``transform`` meets flagged rows (never in ``fit_transform``).

    Attributes
    ----------
    center_, scale_ : ndarray of shape (n_features,)
        Median and interquartile range (1 where it is 0) of the training columns.
    pca_ : PCA
        The components, fitted on the standardised training rows.
    thresholds_ : ndarray of shape (2,)
        The thresholds of the distance and of the extremes.
    n_training_outliers_ : int
        Training rows left out of the model and the threshold: their held-out
        distance or extremes were more than ten times the median (a corrupt
        or foreign image among the training images).
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.distribution import DistributionCheck
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(200, 6))
    >>> check = DistributionCheck(n_components=3).fit(train)
    >>> new = np.vstack([rng.normal(size=(1, 6)), np.full((1, 6), 50.0)])
    >>> check.flag(new).tolist()
    [False, True]
    >>> bool((check.transform(new[:1]) == new[:1]).all())  # rows pass through unchanged
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "quantile": [Interval(Real, 0, 1, closed="right")],
        "margin": [Interval(Real, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "warn": ["boolean"],
    }

    def __init__(self, n_components=20, quantile=0.995, margin=1.5, cv=5, warn=True):
        self.n_components = n_components
        self.quantile = quantile
        self.margin = margin
        self.cv = cv
        self.warn = warn

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the training rows' spread and the flagging threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training feature rows; rows with NaN (skipped images) are ignored.
        y : ignored

        Returns
        -------
        self
        """
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        X = X[np.isfinite(X).all(axis=1)]
        if len(X) < 3:
            raise ValueError(
                "DistributionCheck needs at least 3 training rows without NaN, got "
                f"{len(X)} sample(s)"
            )
        held_out = np.empty((len(X), 2))
        folds = KFold(min(self.cv, len(X)), shuffle=True, random_state=0)
        for train, test in folds.split(X):
            held_out[test] = self._measures(self._model(X[train]), X[test])
        # Gross outliers among the training rows (a corrupt or foreign image) would
        # stretch the components and the threshold: they are left out of both.
        inliers = (held_out <= _GROSS * np.median(held_out, axis=0)).all(axis=1)
        self.center_, self.scale_, self.pca_ = self._model(X[inliers])
        self.thresholds_ = self.margin * np.quantile(held_out[inliers], self.quantile, axis=0)
        self.n_training_outliers_ = int((~inliers).sum())
        return self

    def _model(self, X):
        center = np.median(X, axis=0)
        q75, q25 = np.percentile(X, [75, 25], axis=0)
        scale = np.where(q75 > q25, q75 - q25, 1.0)
        k = min(self.n_components, len(X) - 1, X.shape[1])
        # exact either way: an SVD of the rows when they are fewer than the columns (the
        # randomized default costs 20 times more on 50 rows), else of their covariance
        solver = "full" if len(X) < X.shape[1] else "covariance_eigh"
        pca = PCA(n_components=k, whiten=True, svd_solver=solver).fit((X - center) / scale)
        return center, scale, pca

    @staticmethod
    def _measures(model, X):
        """Distance and extremes of each row (columns of the result)."""
        center, scale, pca = model
        z = (X - center) / scale
        scores = pca.transform(z)
        residual = z - pca.inverse_transform(scores)
        # residual per left-out dimension, in units of the training residual's spread
        left = max(z.shape[1] - pca.n_components_, 1)
        noise = max(float(pca.noise_variance_), 1e-12)
        squares = (scores**2).sum(axis=1) + (residual**2).sum(axis=1) / noise
        distance = np.sqrt(squares / (pca.n_components_ + left))
        top = min(_EXTREMES, z.shape[1])
        extremes = np.partition(np.abs(z), z.shape[1] - top, axis=1)[:, -top:].mean(axis=1)
        return np.column_stack([distance, extremes])

    def score_samples(self, X):
        """How far each row lies outside: above 1 is flagged (NaN for rows with NaN).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            The larger of the row's distance and extremes, each divided by
            its threshold.
        """
        check_is_fitted(self)
        return self._scores(self._validated(X))

    def _validated(self, X):
        return validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                             dtype=np.float64)

    def _scores(self, X):
        scores = np.full(len(X), np.nan)
        finite = np.isfinite(X).all(axis=1)
        if finite.any():
            model = (self.center_, self.scale_, self.pca_)
            scores[finite] = (self._measures(model, X[finite]) / self.thresholds_).max(axis=1)
        return scores

    def flag(self, X):
        """Whether each row lies outside the training distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of bool of shape (n_samples,)
            True where :meth:`score_samples` exceeds 1; rows with NaN
            (skipped images) are not flagged.
        """
        return self.score_samples(X) > 1  # NaN > 1 is False

    def transform(self, X):
        """Return the rows unchanged (as an array); warn when some of them are flagged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = self._validated(X)
        flagged = np.flatnonzero(self._scores(X) > 1)
        if self.warn and len(flagged):
            listed = ", ".join(map(str, flagged[:10])) + (" ..." if len(flagged) > 10 else "")
            warnings.warn(
                f"{len(flagged)} of {len(X)} images lie outside the distribution the model "
                f"was trained on (rows {listed}): their predictions are not to be trusted "
                "(blank, tiny, non-brain or unusual images); DistributionCheck.flag tells which",
                OutOfDistributionWarning,
                stacklevel=2,
            )
        return X

    def fit_transform(self, X, y=None):
        """Fit, and return the rows unchanged without warning (training rows are in range).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        return self.fit(X, y)._validated(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
