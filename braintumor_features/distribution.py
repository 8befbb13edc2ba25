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

import hashlib
import threading
import warnings
from collections import OrderedDict
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from .exceptions import OutOfDistributionWarning

__all__ = ["DistributionCheck"]

#: Training rows whose held-out distance exceeds this many times the median
#: held-out distance are gross outliers, left out of the model.
_GROSS = 10.0

#: How many of a row's largest absolute standardised values its extremes average.
_EXTREMES = 10

#: Acquisition values are flagged beyond the training range by more than this factor: a head
#: spanning 10 % fewer pixels than every training head, or 10 % taller or wider in shape.
_ACQUISITION_SLACK = 1.1


#: Fitted states by the rows and parameters they were learnt from: a grid search over the
#: classifier fits the check on each fold's same rows once per setting; the fit is computed
#: once per fold (about as long as 10 to 50 % of the SVM's fit on a few hundred rows), then
#: reused. Bounded, least recently used dropped.
_FITTED = OrderedDict()
_FITTED_KEPT = 16
_FITTED_LOCK = threading.Lock()
_LEARNT = ("center_", "scale_", "mean_", "components_", "explained_variance_",
           "noise_variance_", "thresholds_", "n_training_outliers_", "acquisition_range_")


def _top_eigenpairs(matrix, k, n_iter=5, oversample=10, start=None):
    """The ``k`` largest eigenvalues (descending) and their eigenvectors of a symmetric
    positive semi-definite matrix, by subspace iteration from a fixed random start (or from
    ``start``, columns near the eigenvectors, and fewer iterations): a few products with
    ``k + oversample`` columns instead of a full decomposition (a dense one of a 300 x 300
    matrix costs ten times more); exact for small matrices."""
    size = len(matrix)
    if size <= 2 * (k + oversample):
        values, vectors = np.linalg.eigh(matrix)
    else:
        basis = np.random.default_rng(0).standard_normal((size, k + oversample))
        if start is not None:
            basis[:, :start.shape[1]] = start
        for _ in range(n_iter):
            basis, _ = np.linalg.qr(matrix @ basis)
        values, small = np.linalg.eigh(basis.T @ matrix @ basis)
        vectors = basis @ small
    return values[::-1][:k], vectors[:, ::-1][:, :k]


def _quartiles(X):
    """First quartile, median and third quartile of each column (as ``np.percentile``'s
    linear interpolation), from one sort of the columns."""
    ordered = np.sort(X, axis=0)
    found = []
    for share in (0.25, 0.5, 0.75):
        position = share * (len(X) - 1)
        low = int(position)
        high = min(low + 1, len(X) - 1)
        found.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return found


def _distance(norms, projected, variance, noise, n_features):
    """Root mean square of a row's whitened coordinates along the axes and of what they
    leave out (in units of the training residual's spread per direction), from the squared
    norm of the centred row and its coordinates (unwhitened) along the axes."""
    k = len(variance)
    residual = np.maximum(norms - (projected**2).sum(axis=1), 0.0)
    whitened = (projected**2 / variance).sum(axis=1) if k else 0.0
    squares = whitened + residual / max(float(noise), 1e-12)
    return np.sqrt(squares / (k + max(n_features - k, 1)))


def _extremes(Z):
    """Mean of each standardised row's largest absolute values."""
    top = min(_EXTREMES, Z.shape[1])
    return np.partition(np.abs(Z), Z.shape[1] - top, axis=1)[:, -top:].mean(axis=1)


class DistributionCheck(TransformerMixin, BaseEstimator):
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

    Columns that describe how the image was acquired rather than what it
    shows (``acquisition``: those of
    :class:`~braintumor_features.features.AcquisitionFeatures`, which
    :func:`~braintumor_features.make_pipeline` computes for this step) are
    checked against the range of the training images and not passed on, so
    the classifier after this step cannot learn them: a row is also flagged
    when its head spans 10% fewer of the file's pixels than every training
    image's (a slice brought down to 128 px when the training heads spanned
    at least 137 px) or has a shape 10% beyond theirs (a slice stretched to
    700 x 100).

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
    max_samples : int, default=4000
        Training rows the spread is learnt from: a fixed random sample of
        them when there are more (fewer rows give lower thresholds:
        fitted on 1000 of brain-mri's 3637 rows, the check flags 3.8% of
        sartaj's slices instead of 2.5%). The components of every fold come from
        one product of these rows with themselves (the Gram matrix), so a
        fit costs a few milliseconds on hundreds of rows, not six SVDs (a
        grid search fits the check once per fold and setting).
    acquisition : str or None, default="acquisition\\_"
        Columns whose names (of a DataFrame given to ``fit``) start with
        this are acquisition columns: checked against the training range
        (:attr:`acquisition_range_`) and dropped from the output. None:
        every column is a feature.

    Attributes
    ----------
    center_, scale_ : ndarray of shape (n_features,)
        Median and interquartile range (1 where it is 0) of the training columns.
    mean_ : ndarray of shape (n_features,)
        Mean of the standardised training rows.
    components_ : ndarray of shape (n_kept, n_features)
        Principal axes of the standardised training rows (at most
        ``n_components``; directions of no variance are left out).
    explained_variance_ : ndarray of shape (n_kept,)
        Variance along each axis.
    noise_variance_ : float
        Mean variance of the directions the axes leave out (as
        :class:`~sklearn.decomposition.PCA`'s).
    thresholds_ : ndarray of shape (2,)
        The thresholds of the distance and of the extremes.
    n_training_outliers_ : int
        Training rows left out of the model and the threshold: their held-out
        distance or extremes were more than ten times the median (a corrupt
        or foreign image among the training images).
    acquisition_range_ : ndarray of shape (2, n_acquisition_columns)
        Lowest and highest value of each acquisition column among the
        training rows (the gross outliers left out).
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of those columns, when ``fit`` was given a DataFrame.

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
        "max_samples": [Interval(Integral, 3, None, closed="left")],
        "acquisition": [str, None],
    }

    def __init__(self, n_components=20, quantile=0.995, margin=1.5, cv=5, warn=True,
                 max_samples=4000, acquisition="acquisition_"):
        self.n_components = n_components
        self.quantile = quantile
        self.margin = margin
        self.cv = cv
        self.warn = warn
        self.max_samples = max_samples
        self.acquisition = acquisition

    def _acquired(self):
        """Which columns are acquisition columns (boolean, one per input column)."""
        names = getattr(self, "feature_names_in_", None)
        if names is None or self.acquisition is None:
            return np.zeros(self.n_features_in_, bool)
        return np.char.startswith(names.astype(str), self.acquisition)

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
        self._fit(self._validated(X, reset=True))
        return self

    def _fit(self, X):
        """Fit on the validated rows ``X``, or take the fit of the same rows from the memo."""
        X = X[np.isfinite(X).all(axis=1)]
        if len(X) < 3:
            raise ValueError(
                "DistributionCheck needs at least 3 training rows without NaN, got "
                f"{len(X)} sample(s)"
            )
        if len(X) > self.max_samples:  # the spread is learnt as well from a sample of rows
            chosen = np.random.default_rng(0).choice(len(X), self.max_samples, replace=False)
            X = X[np.sort(chosen)]
        key = self._key(X)
        with _FITTED_LOCK:
            known = _FITTED.get(key)
            if known is not None:  # the same rows again: a grid search's next setting
                _FITTED.move_to_end(key)
        if known is not None:
            self.__dict__.update(known)
            return
        acquired = self._acquired()
        inliers = self._fit_rows(X[:, ~acquired])
        values = X[inliers][:, acquired]
        self.acquisition_range_ = np.vstack([values.min(axis=0), values.max(axis=0)])
        learnt = {name: getattr(self, name) for name in _LEARNT}
        for value in learnt.values():  # shared with the next fit on these rows: unchangeable
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
        with _FITTED_LOCK:
            _FITTED[key] = learnt
            while len(_FITTED) > _FITTED_KEPT:
                _FITTED.popitem(last=False)

    def _key(self, X):
        """The rows' bytes and shape and the parameters a fit depends on, hashed."""
        digest = hashlib.blake2b(np.ascontiguousarray(X).tobytes(), digest_size=20)
        parameters = (self.n_components, self.quantile, self.margin, self.cv,
                      tuple(np.flatnonzero(self._acquired())))
        return digest.hexdigest(), X.shape, parameters

    def _fit_rows(self, X):
        """Fit on the finite (sampled) rows; returns which of them are inliers."""
        q25, self.center_, q75 = _quartiles(X)
        self.scale_ = np.where(q75 > q25, q75 - q25, 1.0)
        Z = (X - self.center_) / self.scale_
        n, d = Z.shape
        # One product of the rows (or of the columns) with themselves; every fold's
        # components and held-out distances come from its blocks: no SVD, no copy of the
        # rows per fold (a grid search fits this check once per fold and setting).
        wide = n <= d
        product = Z @ Z.T if wide else Z.T @ Z
        folds = KFold(min(self.cv, n), shuffle=True, random_state=0)
        everything = np.arange(n)
        whole = (self._gram_spectrum(product, everything, d) if wide else
                 self._covariance_spectrum(Z, product, everything))
        distance, extremes = np.empty(n), np.empty(n)
        for train, test in folds.split(Z):
            # the extremes of held-out rows in the units of the other rows' quartiles: a few
            # dozen rows' own quartiles would shrink them (and the threshold)
            q25, center, q75 = _quartiles(X[train])
            extremes[test] = _extremes((X[test] - center) / np.where(q75 > q25, q75 - q25, 1.0))
            # each fold's axes are near those of all rows: they start its iteration
            start = whole[1][train] if wide else whole[1]
            distance[test] = (self._gram_distances(product, train, test, d, start) if wide else
                              self._covariance_distances(Z, product, train, test, start))
        held_out = np.column_stack([distance, extremes])
        # Gross outliers among the training rows (a corrupt or foreign image) would
        # stretch the components and the threshold: they are left out of both.
        inliers = (held_out <= _GROSS * np.median(held_out, axis=0)).all(axis=1)
        rows = np.flatnonzero(inliers)
        if len(rows) == n:
            spectrum = whole
        else:
            spectrum = (self._gram_spectrum(product, rows, d) if wide else
                        self._covariance_spectrum(Z, product, rows))
        if wide:
            values, vectors, noise, means = spectrum
            mean = Z[rows].mean(axis=0)
            axes = (vectors.T @ (Z[rows] - mean)) / np.sqrt(values)[:, None]
        else:
            values, axes, noise, mean = spectrum
            axes = axes.T
        self.mean_, self.components_ = mean, axes
        self.explained_variance_ = values / (len(rows) - 1)
        self.noise_variance_ = noise
        # (above 0: training rows all alike measure 0, and a new row like them is not out)
        self.thresholds_ = np.maximum(
            self.margin * np.quantile(held_out[inliers], self.quantile, axis=0), 1e-9)
        self.n_training_outliers_ = int((~inliers).sum())
        return inliers

    def _spectrum(self, inner, n, d, start=None):
        """Top eigenvalues and eigenvectors of a scatter matrix of ``n`` rows of ``d``
        columns (n x n Gram or d x d covariance, centred), and the variance per direction
        left out (:class:`~sklearn.decomposition.PCA`'s ``noise_variance_``)."""
        k = min(self.n_components, n - 1, d)
        values, vectors = (_top_eigenpairs(inner, k) if start is None else
                           _top_eigenpairs(inner, k, n_iter=4, start=start))
        total = float(np.trace(inner))
        # directions of (numerically) no variance are no components: dividing by them
        # gave the NumPy warnings of a PCA on a few alike rows
        keep = values > 1e-10 * max(total, 1e-300)
        values, vectors = values[keep], vectors[:, keep]
        left = min(n, d) - len(values)
        noise = max(total - values.sum(), 0.0) / (n - 1) / left if left > 0 else 0.0
        return values, vectors, noise

    def _gram_spectrum(self, gram, train, d, start=None):
        """The spectrum of the rows ``train``, centred, from the Gram matrix of all rows;
        and every row's mean product with them."""
        means = gram[:, train].mean(axis=1)
        grand = means[train].mean()
        inner = gram[np.ix_(train, train)] - means[train, None] - means[None, train] + grand
        return (*self._spectrum(inner, len(train), d, start), means)

    def _gram_distances(self, gram, train, test, d, start=None):
        """Distances of the rows ``test`` from the components of the rows ``train``, all
        from the Gram matrix (the axes are never formed: each is a combination of rows)."""
        values, vectors, noise, means = self._gram_spectrum(gram, train, d, start)
        grand = means[train].mean()
        cross = gram[np.ix_(test, train)] - means[test, None] - means[None, train] + grand
        projected = cross @ (vectors / np.sqrt(values))
        norms = gram[test, test] - 2 * means[test] + grand
        return _distance(norms, projected, values / (len(train) - 1), noise, d)

    def _covariance_spectrum(self, Z, cross, train, start=None):
        """The spectrum of the rows ``train`` from the columns' products over all rows."""
        rest = np.setdiff1d(np.arange(len(Z)), train, assume_unique=True)
        mean = Z[train].mean(axis=0)
        inner = cross - Z[rest].T @ Z[rest] - len(train) * np.outer(mean, mean)
        return (*self._spectrum(inner, len(train), Z.shape[1], start), mean)

    def _covariance_distances(self, Z, cross, train, test, start=None):
        values, axes, noise, mean = self._covariance_spectrum(Z, cross, train, start)
        centered = Z[test] - mean
        return _distance((centered**2).sum(axis=1), centered @ axes,
                         values / (len(train) - 1), noise, Z.shape[1])

    def _measures(self, Z):
        """Distance and extremes of each standardised row (columns of the result)."""
        centered = Z - self.mean_
        distance = _distance((centered**2).sum(axis=1), centered @ self.components_.T,
                             self.explained_variance_, self.noise_variance_, Z.shape[1])
        return np.column_stack([distance, _extremes(Z)])

    def __setstate__(self, state):
        # checks fitted before the components were kept as arrays held a PCA
        pca = state.pop("pca_", None)
        if pca is not None:
            state.update(mean_=pca.mean_, components_=pca.components_,
                         explained_variance_=pca.explained_variance_,
                         noise_variance_=float(pca.noise_variance_))
        if "thresholds_" in state and "acquisition_range_" not in state:  # fitted before them
            state.update(acquisition=None, acquisition_range_=np.empty((2, 0)))
        super().__setstate__(state)

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

    def _validated(self, X, reset=False):
        """``X`` as a float64 array, its columns checked against ``fit``'s (or, with
        ``reset``, learnt): about 8 ms for a DataFrame of 1,000 columns, once per call."""
        return validate_data(self, X, reset=reset, ensure_all_finite="allow-nan",
                             dtype=np.float64)

    def _scores(self, X):
        scores = np.full(len(X), np.nan)
        finite = np.isfinite(X).all(axis=1)
        if finite.any():
            acquired = self._acquired()
            Z = (X[finite][:, ~acquired] - self.center_) / self.scale_
            scores[finite] = np.maximum((self._measures(Z) / self.thresholds_).max(axis=1),
                                        self._acquisition_scores(X[finite][:, acquired]))
        return scores

    def _acquisition_scores(self, values):
        """How far a row's acquisition values (logarithms) lie outside the training range:
        the factor by which its head has fewer pixels, or a taller or wider shape, than
        every training image's, over the slack (above 1 is flagged); 0 inside the range."""
        low, high = self.acquisition_range_
        outside = np.maximum(np.maximum(low - values, values - high), 0).max(axis=1, initial=0)
        return np.where(outside > 0, np.exp(outside) / _ACQUISITION_SLACK, 0.0)

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
        """Return the rows unchanged (without acquisition columns); warn when some of them
        are flagged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
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
        return X[:, ~self._acquired()]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, and return the rows unchanged without warning (training rows are in range).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
        """
        X = self._validated(X, reset=True)  # once: fit and the output share it
        self._fit(X)
        return X[:, ~self._acquired()]

    def get_feature_names_out(self, input_features=None):
        """Names of the columns passed on: the input's, less the acquisition columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        return _check_feature_names_in(self, input_features)[~self._acquired()]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
