"""The base class of the feature families and what they share: regions, documented parameters."""

from __future__ import annotations

import re
import textwrap
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import ImageTransformer
from .._cache import RUNTIME_PARAMETERS
from .._parallel import extract, image_head_mask

__all__ = ["REGIONS", "region_mask", "EXTRACTION_PARAMETERS", "FeatureExtractor"]

#: The regions a feature family can be computed over.
REGIONS = StrOptions({"image", "head", "mask"})


def region_mask(image, mask, region):
    """The pixels a feature family looks at, or None for the whole image.

    Parameters
    ----------
    image : ndarray of shape (height, width)
    mask : ndarray of bool or None
        The tumour mask carried with the image.
    region : {"image", "head", "mask"}
        ``"image"``: every pixel; ``"head"``: the head (:func:`head_mask`);
        ``"mask"``: the tumour mask, which the image must carry.

    Returns
    -------
    ndarray of bool or None
    """
    if region == "image":
        return None
    if region == "head":
        return image_head_mask(image)
    if mask is None:
        raise ValueError(
            "region='mask' needs a tumour mask with every image: pass MaskedImage items "
            "(see braintumor_features.images.with_masks)"
        )
    if not mask.any():
        raise ValueError("region='mask' got an empty tumour mask")
    return mask


#: The parameters every feature family takes, documented once: a class
#: docstring line ``{extraction parameters}`` is replaced by this text.
EXTRACTION_PARAMETERS = """\
n_jobs : int, default=None
    Parallel workers over images (-1: all cores).
batch_size : int, default=None
    Images per parallel task (None: automatic).
on_error : {"raise", "skip"}, default="raise"
    ``"skip"``: an image that cannot be read or processed gets a row of
    NaN and is listed in ``skipped_``; the others are all computed.
"""


def _document_shared_parameters(doc):
    """Put :data:`EXTRACTION_PARAMETERS` where ``doc`` says, at its indentation."""
    return re.sub(
        r"^( *)\{extraction parameters\}\n",
        lambda line: textwrap.indent(EXTRACTION_PARAMETERS, line.group(1)),
        doc,
        flags=re.MULTILINE,
    )


class FeatureExtractor(ImageTransformer):
    """Base class of the feature families: images in, a 2-D float matrix out.

    Subclasses define ``_features(image, mask)`` (one image's numbers, a 1-D
    array) and ``_feature_names()`` (their names), plus their parameters and
    ``_parameter_constraints``. Parameters are validated by ``fit``, or by
    ``transform`` and ``get_feature_names_out`` when the extractor is used
    without ``fit``. Extractors learn nothing from data unless a subclass
    learns (in ``_fit``), and may be used without fitting.

    Every extractor takes ``n_jobs`` (parallel workers over images),
    ``batch_size`` (images per parallel task) and ``on_error`` (``"raise"``
    stops at the first image that cannot be processed, naming it;
    ``"skip"`` gives it a row of NaN, warns with
    :class:`SkippedImagesWarning` and lists it in ``skipped_``).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import FeatureExtractor
    >>> class Brightness(FeatureExtractor):
    ...     def __init__(self, n_jobs=None, batch_size=None, on_error="raise"):
    ...         self.n_jobs, self.batch_size, self.on_error = n_jobs, batch_size, on_error
    ...     def _features(self, image, mask):
    ...         return np.array([image.mean(), image.max()])
    ...     def _feature_names(self):
    ...         return ["brightness_mean", "brightness_max"]
    >>> extractor = Brightness()
    >>> extractor.fit_transform([np.arange(4.0).reshape(2, 2)]).tolist()
    [[1.5, 3.0]]
    >>> extractor.get_feature_names_out().tolist()
    ['brightness_mean', 'brightness_max']
    """

    _parameter_constraints: dict = {
        "n_jobs": [Integral, None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "on_error": [StrOptions({"raise", "skip"})],
    }

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__doc__:
            cls.__doc__ = _document_shared_parameters(cls.__doc__)

    def _transform(self, X):
        """Compute the features of every image.

        Returns
        -------
        ndarray of shape (n_images, n_features_out)
            One row per image, columns named by :meth:`get_feature_names_out`.
            With ``on_error="skip"`` the rows of images that failed are NaN
            and ``skipped_`` lists them with their reasons.
        """
        cache = self._feature_cache()
        rows, self.skipped_ = extract(
            X, self._features, n_features=len(self._feature_names()), n_jobs=self.n_jobs,
            batch_size=self.batch_size, on_error=self.on_error, cache=cache,
            signature=None if cache is None else self._cache_signature(),
            with_scale=self._uses_scale(),
        )
        return rows

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns, e.g. ``glcm_contrast_d1``.

        Parameters
        ----------
        input_features : ignored
            Images have no input feature names.

        Returns
        -------
        ndarray of str
        """
        self._validate_unless_fitted()
        return np.asarray(self._feature_names(), dtype=object)

    def _feature_cache(self):
        """The :class:`FeatureCache` rows are kept in, or None (no caching)."""
        return None

    def _cache_signature(self):
        """What determines a row besides the image: class and parameters."""
        params = {name: value for name, value in self.get_params(deep=False).items()
                  if name not in RUNTIME_PARAMETERS}
        return type(self).__module__, type(self).__qualname__, params

    def _column_families(self):
        """The feature family of each output column (by default the name's prefix)."""
        return [str(name).split("_", 1)[0] for name in self._feature_names()]

    def _uses_scale(self):
        """Whether ``_features`` takes a third argument, the preprocessing's scale (the
        canonical image's pixels per pixel of the file, rows and columns)."""
        return False

    def _features(self, image, mask):  # pragma: no cover - abstract
        raise NotImplementedError

    def _feature_names(self):  # pragma: no cover - abstract
        raise NotImplementedError
