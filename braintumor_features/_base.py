"""The base of the per-image steps: public ``fit``/``transform`` here, one private hook per step.

sktime's transformer template, as scikit-learn estimators: :class:`ImageTransformer` holds
the public methods and the parameter checks; the two kinds of step below it say what
``transform`` returns (:class:`~braintumor_features.preprocessing.ImageStep`: images,
:class:`~braintumor_features.features.FeatureExtractor`: a feature matrix), and each
concrete step writes its parameters and one private per-image hook (``_apply`` or
``_features``).
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

__all__ = ["ImageTransformer"]


class ImageTransformer(TransformerMixin, BaseEstimator):
    """Base class of the steps that take a sequence of images.

    ``fit`` validates the parameters once, with scikit-learn's
    ``_fit_context`` (``_parameter_constraints``), then ``_check_parameters``
    (what constraints cannot say), then learns in ``_fit`` (by default
    nothing). A step learns only if it writes ``_fit`` (that sets the tag
    ``requires_fit``); the others may be used without ``fit``: ``transform``
    then validates the parameters itself, and only then. A step that learns
    is checked to be fitted before it transforms.

    Subclasses write ``_transform(X)`` (what ``transform`` returns) and, if
    they learn, ``_fit(X, y, **fit_params)``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features._base import ImageTransformer
    >>> class Sizes(ImageTransformer):
    ...     _parameter_constraints = {"scale": [int]}
    ...     def __init__(self, scale=1):
    ...         self.scale = scale
    ...     def _transform(self, X):
    ...         return np.array([[image.size * self.scale] for image in X])
    >>> Sizes(scale=2).transform([np.zeros((2, 3))]).tolist()
    [[12]]
    >>> Sizes(scale="2").fit([np.zeros((2, 3))])
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'scale' parameter of Sizes must be an instance of 'int'. Got '2' instead.
    """

    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, **fit_params):
        """Check the parameters and learn from the images (most steps learn nothing).

        Parameters
        ----------
        X : sequence of images
            Paths, arrays, :class:`~braintumor_features.images.MaskedImage`
            pairs or an :class:`~braintumor_features.images.ImageSequence`.
        y : array-like of shape (n_images,), default=None
            Used only by the steps that learn from labels.
        **fit_params : dict
            Passed to the steps that learn.

        Returns
        -------
        self
        """
        self._check_parameters()
        self._fit(X, y, **fit_params)
        self._is_fitted = True
        return self

    def transform(self, X):
        """Transform every image (see the subclass for what comes out).

        Parameters
        ----------
        X : sequence of images
            Paths, arrays, :class:`~braintumor_features.images.MaskedImage`
            pairs or an :class:`~braintumor_features.images.ImageSequence`.

        Returns
        -------
        ImageSequence or ndarray of shape (n_images, n_features_out)
        """
        self._validate_unless_fitted()
        self._check_fitted()
        return self._transform(X)

    def set_params(self, **params):
        """Set parameters (scikit-learn's); ``transform`` validates them until the next ``fit``.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self
        """
        super().set_params(**params)
        self._is_fitted = False
        return self

    def _validate_unless_fitted(self):
        """Validate the parameters of a step used without ``fit`` (``fit`` has, otherwise)."""
        if not getattr(self, "_is_fitted", False):
            self._validate_params()
            self._check_parameters()

    def _check_parameters(self):
        """Checks that go beyond ``_parameter_constraints``; subclasses extend."""

    def _check_fitted(self):
        """Raise NotFittedError before ``transform`` if the step learns and is not fitted
        (inside a feature extraction, ``on_error="skip"`` would turn it into rows of NaN)."""
        check_is_fitted(self)

    def _fit(self, X, y=None):
        """Learn from the training images: nothing, unless a subclass says so."""

    def _transform(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = type(self)._fit is not ImageTransformer._fit  # a step that learns
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
