"""The base class of the image-to-image steps."""

from __future__ import annotations

import copy

import numpy as np

from .._base import ImageTransformer
from ..images import ImageSequence

__all__ = ["ImageStep"]

#: The attribute scikit-learn gives an estimator while a meta-estimator (a pipeline in a
#: grid search) fits it: the meta-estimator's callback context, whose task tree grows with
#: the search. It is no part of the step and stays out of the step's copies.
_PARENT_CONTEXT = "_parent_callback_ctx"


class ImageStep(ImageTransformer, auto_wrap_output_keys=None):
    """Base class of the preprocessing steps.

    A subclass defines its parameters, ``_parameter_constraints`` and the
    per-image hook ``_apply(image, mask) -> (image, mask)``. ``transform``
    returns the input sequence with a copy of this step (fitted, if it
    learns in ``_fit``) appended to its chain; the images are computed when
    accessed (or by a feature extractor, in its workers). Parameters are
    validated by ``fit``, or by ``transform`` when the step is used without
    ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import ImageStep
    >>> class Invert(ImageStep):
    ...     def _apply(self, image, mask):
    ...         return 255 - image, mask
    >>> images = Invert().fit_transform([np.zeros((2, 2), np.uint8)])
    >>> images[0].tolist()
    [[255, 255], [255, 255]]
    """

    def __init_subclass__(cls, **kwargs):
        # Images are not tables: scikit-learn would wrap the output of every transformer
        # with get_feature_names_out in a DataFrame under set_config(transform_output=...).
        super().__init_subclass__(auto_wrap_output_keys=None, **kwargs)

    def _transform(self, X):
        """Append this step to the images' chain.

        Returns
        -------
        ImageSequence
            The images, computed when accessed.
        """
        return ImageSequence(X).then(self._copy())

    def _copy(self):
        """A deep copy of this step, its parameters and what it learned, for a chain.

        Returns
        -------
        ImageStep
            The copy, without the callback context a meta-estimator attached
            while fitting this step: in a grid search a deep copy of it copied
            the search's whole task tree, about 10 ms per step and transform.
        """
        state = {name: value for name, value in vars(self).items() if name != _PARENT_CONTEXT}
        step = object.__new__(type(self))
        step.__dict__.update(copy.deepcopy(state))
        return step

    def get_feature_names_out(self, input_features=None):
        """Pass feature names through: images have none.

        Present so that the names of a pipeline's features reach
        ``Pipeline.get_feature_names_out`` through the image steps before them.

        Parameters
        ----------
        input_features : array-like of str or None, default=None

        Returns
        -------
        array-like of str or None
            ``input_features``, unchanged.

        Examples
        --------
        >>> from braintumor_features import make_pipeline
        >>> from braintumor_features.datasets import make_demo
        >>> demo = make_demo(n_samples=8, random_state=0)
        >>> pipe = make_pipeline(image_size=64).fit(demo.images, demo.target)
        >>> pipe[:-1].get_feature_names_out()[:2].tolist()
        ['glcm_asm_d1', 'glcm_contrast_d1']
        """
        return input_features

    def set_output(self, *, transform=None):
        """Accept and ignore an output container: images are not tables.

        Present so that ``Pipeline.set_output(transform="pandas")`` works on a
        pipeline that starts with image steps.
        """
        return self

    def _coordinate_map(self, image):
        """Where this step moves the pixels of ``image``: a 3 x 3 affine matrix.

        It maps ``(x, y, 1)`` in ``image`` (x = column, y = row, pixel
        centres at integers) to the output image. Steps that move no pixel
        (intensity steps) keep the identity; steps that crop, scale or pad
        override it, so that a map computed on the output (a saliency map)
        can be brought back to the input's coordinates.
        """
        return np.eye(3)

    def _scale(self, shape):
        """Output pixels per input pixel, (rows, columns), for an input of ``shape``.

        Steps that resample override it (:class:`Resize`): the product along
        a chain tells how many of the file's pixels one pixel of the
        canonical image stands for (see
        :class:`~braintumor_features.features.AcquisitionFeatures`).
        Computed from the shape alone, with no pixel work.
        """
        return 1.0, 1.0

    def _apply(self, image, mask):  # pragma: no cover - abstract
        """Process one image (and its mask, or None)."""
        raise NotImplementedError
