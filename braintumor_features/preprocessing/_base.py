"""The base class of the image-to-image steps."""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin, clone

from .._parameters import ParameterNamesOnce
from ..images import ImageSequence

__all__ = ["ImageStep"]


class ImageStep(ParameterNamesOnce, TransformerMixin, BaseEstimator):
    """Base class of the preprocessing steps.

    A subclass defines its parameters, ``_parameter_constraints`` and
    ``apply(image, mask) -> (image, mask)`` for one image. ``transform``
    returns the input sequence with this step appended to its chain.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import ImageStep
    >>> class Invert(ImageStep):
    ...     def apply(self, image, mask):
    ...         return 255 - image, mask
    >>> images = Invert().fit_transform([np.zeros((2, 2), np.uint8)])
    >>> images[0].tolist()
    [[255, 255], [255, 255]]
    """

    _parameter_constraints: dict = {}

    def fit(self, X, y=None):
        """Check the parameters; nothing is learned.

        Parameters
        ----------
        X : sequence of images
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        self._check_parameters()
        return self

    def transform(self, X):
        """Append this step to the images' chain.

        Parameters
        ----------
        X : sequence of images
            Paths, arrays, :class:`~braintumor_features.images.MaskedImage`
            pairs or an :class:`~braintumor_features.images.ImageSequence`.

        Returns
        -------
        ImageSequence
            The images, computed when accessed.
        """
        self._validate_params()
        self._check_parameters()
        return ImageSequence(X).then(clone(self))

    def _check_parameters(self):
        """Checks that go beyond ``_parameter_constraints``; subclasses extend."""

    def set_output(self, *, transform=None):
        """Accept and ignore an output container: images are not tables.

        Present so that ``Pipeline.set_output(transform="pandas")`` works on a
        pipeline that starts with image steps.
        """
        return self

    def apply(self, image, mask):  # pragma: no cover - abstract
        """Process one image (and its mask, or None)."""
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
