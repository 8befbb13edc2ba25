"""Several feature families extracted together, in one parallel pass."""

from __future__ import annotations

import os

import numpy as np
from joblib import Memory
from sklearn.base import _fit_context, clone
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted

from .._cache import FeatureCache
from ..images import ImageSequence
from ._base import FeatureExtractor

__all__ = ["ImageFeatures"]


class ImageFeatures(_BaseComposition, FeatureExtractor):
    """Concatenate feature families, computing all of them per image at once.

    Unlike :class:`sklearn.pipeline.FeatureUnion`, which runs each
    transformer over all images in turn, this computes every family on an
    image while it is in memory, so each image is read and preprocessed once
    per ``transform`` (fitting a family that learns reads them again), and
    parallelises over images.

    Parameters
    ----------
    families : list of (str, FeatureExtractor)
        Named feature families. Their own ``n_jobs`` is ignored here; their
        parameters are reachable as ``<name>__<param>`` (e.g.
        ``glcm__distances``), also from a grid search. Columns keep the
        families' own names (``glcm_contrast_d1``); where two families would
        give the same name (one family class used twice), every column is
        prefixed with its family's name (``tumor_glcm__glcm_contrast_d1``).
        A family that learns from data (such as
        :class:`~braintumor_features.features.TumorMapFeatures`) is fitted
        in ``fit``, on a copy kept in ``families_``; ``fit_transform`` gives
        its cross-fitted rows (see that family).
    {extraction parameters}
    cache : FeatureCache, bool, str, path or joblib.Memory, default=None
        Keep each image's row and reuse it when the same image comes again
        with the same preprocessing and family parameters (a grid search
        over the classifier's parameters then extracts each image once).
        ``True``: in this process's memory (``FeatureCache()``: at most
        256 MiB, the least recently used rows dropped first); a directory
        or :class:`joblib.Memory`: the Memory's cached calls on disk, shared
        by worker processes; or a
        :class:`~braintumor_features.features.FeatureCache`. See
        :class:`~braintumor_features.features.FeatureCache` for the keys.

    Attributes
    ----------
    families_ : list of (str, FeatureExtractor)
        After ``fit``: the families, those that learn replaced by their
        fitted copies (which run with this object's ``n_jobs``,
        ``batch_size`` and ``on_error``).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import GLCMFeatures, ImageFeatures, LBPFeatures
    >>> features = ImageFeatures([("glcm", GLCMFeatures(distances=[1])),
    ...                           ("lbp", LBPFeatures(radii=[1]))])
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(4)]
    >>> features.fit_transform(images).shape
    (4, 27)
    >>> features.set_params(glcm__levels=16).get_params()["glcm__levels"]
    16
    """

    _parameter_constraints = {
        **FeatureExtractor._parameter_constraints,
        "families": [list],
        "cache": [FeatureCache, "boolean", str, os.PathLike, Memory, None],
    }

    def __init__(self, families, *, n_jobs=None, batch_size=None, on_error="raise", cache=None):
        self.families = families
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error
        self.cache = cache

    def get_params(self, deep=True):
        """Parameters of this estimator and, with ``deep``, of every family."""
        return self._get_params("families", deep=deep)

    def set_params(self, **params):
        """Set parameters, including ``<family>__<param>``; returns self."""
        self._set_params("families", **params)
        return self

    def _check_parameters(self):
        names = [name for name, _ in self.families]
        self._validate_names(names)
        if not names:
            raise ValueError("families is empty: give at least one (name, extractor) pair")
        for name, family in self.families:
            if not isinstance(family, FeatureExtractor):
                raise TypeError(
                    f"family {name!r} is a {type(family).__name__}, not a FeatureExtractor "
                    "such as GLCMFeatures or LBPFeatures"
                )
            family._validate_params()
            family._check_parameters()

    def _feature_cache(self):
        if isinstance(self.cache, FeatureCache):
            return self.cache
        if self.cache is True:
            return FeatureCache()
        return None if self.cache is None or self.cache is False else FeatureCache(self.cache)

    def _cache_signature(self):
        return [(name, family._cache_signature()) for name, family in self._in_use()]

    def _learning(self):
        """Names of the families that learn from data."""
        return [name for name, family in self.families
                if isinstance(family, FeatureExtractor) and family.__sklearn_tags__().requires_fit]

    def _check_fitted(self):
        self._in_use()

    def _in_use(self):
        """The families ``transform`` computes: the fitted ones where a family learns."""
        if not self._learning():
            return self.families
        check_is_fitted(self, "families_")
        return self.families_

    def _runtime_copy(self, family):
        return clone(family).set_params(n_jobs=self.n_jobs, batch_size=self.batch_size,
                                        on_error=self.on_error)

    def _fit(self, X, y=None, groups=None):
        """Fit the families that learn from data; ``groups`` (the patient of each image,
        ``features__groups`` in a pipeline) gives their cross-fitting folds."""
        learning = self._learning()
        self.families_ = [
            (name, self._runtime_copy(family).fit(X, y, groups=groups) if name in learning
             else family) for name, family in self.families]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, groups=None):
        """Fit, then the rows of ``X``: those of the families that learn cross-fitted.

        Without such a family this equals ``fit(X).transform(X)``.

        Parameters
        ----------
        X : sequence of images
        y : array-like of shape (n_images,), default=None
        groups : array-like of shape (n_images,), default=None
            Patient of each image, for the cross-fitting folds.

        Returns
        -------
        ndarray of shape (n_images, n_features_out)
        """
        self._check_parameters()
        learning = self._learning()
        X = ImageSequence(X)  # read twice below: a generator would be used up
        if not learning:
            self._fit(X, y)
            self._is_fitted = True
            return self.transform(X)
        fitted, parts = {}, {}
        for name, family in self.families:
            if name in learning:
                fitted[name] = self._runtime_copy(family)
                parts[name] = fitted[name].fit_transform(X, y, groups=groups)
        self.families_ = [(name, fitted.get(name, family)) for name, family in self.families]
        fixed = [(name, family) for name, family in self.families if name not in learning]
        skipped = [entry for family in fitted.values() for entry in family.skipped_]
        if fixed:
            others = clone(self).set_params(families=fixed)
            rows = others._transform(X)  # validated above, and none of them learns
            skipped += others.skipped_
            for name, family in fixed:
                parts[name], rows = np.hsplit(rows, [len(family._feature_names())])
        self.skipped_ = sorted({entry["index"]: entry for entry in skipped}.values(),
                               key=lambda entry: entry["index"])
        self._is_fitted = True
        return np.hstack([parts[name] for name, _ in self.families])

    def _uses_scale(self):
        return any(family._uses_scale() for _, family in self.families)

    def _features(self, image, mask, scale=None):
        return np.concatenate([
            family._features(image, mask, scale) if family._uses_scale()
            else family._features(image, mask) for _, family in self._in_use()])

    def _feature_names(self):
        names = [name for _, family in self.families for name in family._feature_names()]
        if len(set(names)) < len(names):  # e.g. one family class twice: say which is which
            names = [f"{family_name}__{name}" for family_name, family in self.families
                     for name in family._feature_names()]
        return names

    def _column_families(self):
        return [name for name, family in self.families for _ in family._feature_names()]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = bool(self._learning())
        return tags
