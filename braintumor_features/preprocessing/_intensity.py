"""Steps that change grey levels: grayscale, denoise, CLAHE, normalise."""

from __future__ import annotations

from numbers import Integral, Real

import cv2
import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._utils import head_mask, percentiles_of_counts, to_uint8
from ._base import ImageStep

__all__ = ["Grayscale", "Denoise", "CLAHE", "NormalizeIntensity"]


class Grayscale(ImageStep):
    """Bring every image to one 2-D grayscale form.

    Colour images were already converted when read; this step also maps
    16-bit and float images to 8-bit (min-max) when ``dtype="uint8"``.

    Parameters
    ----------
    dtype : {"uint8", "keep"}, default="uint8"
        ``"uint8"`` rescales every image to 0..255 (8-bit images are kept
        as they are); ``"keep"`` leaves the bit depth alone.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import Grayscale
    >>> Grayscale().fit_transform([np.full((3, 3, 3), 4000, np.uint16)])[0].dtype
    dtype('uint8')
    """

    _parameter_constraints = {"dtype": [StrOptions({"uint8", "keep"})]}

    def __init__(self, dtype="uint8"):
        self.dtype = dtype

    def _apply(self, image, mask):
        return (to_uint8(image) if self.dtype == "uint8" else image), mask


class Denoise(ImageStep):
    """Reduce noise with a median, Gaussian, bilateral or non-local-means filter.

    Parameters
    ----------
    method : {"median", "gaussian", "bilateral", "nlmeans"}, default="median"
    size : int, default=3
        Odd kernel size of the median and Gaussian filters, diameter of the
        bilateral filter's neighbourhood.
    sigma : float, default=1.0
        Spatial standard deviation (pixels) of the Gaussian and bilateral filters.
    h : float, default=10.0
        Filter strength in grey levels of non-local means, and the
        bilateral filter's intensity standard deviation.

    Notes
    -----
    The bilateral and non-local-means filters work on 8-bit images: other
    images are rescaled to 0..255 first. The median filter of 16-bit and
    float images is limited to ``size`` 3 or 5 (an OpenCV limit).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import Denoise
    >>> image = np.zeros((9, 9), np.uint8); image[4, 4] = 255
    >>> int(Denoise("median").fit_transform([image])[0].max())
    0
    """

    _parameter_constraints = {
        "method": [StrOptions({"median", "gaussian", "bilateral", "nlmeans"})],
        "size": [Interval(Integral, 1, None, closed="left")],
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "h": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, method="median", size=3, sigma=1.0, h=10.0):
        self.method = method
        self.size = size
        self.sigma = sigma
        self.h = h

    def _check_parameters(self):
        if self.method in ("median", "gaussian") and self.size % 2 == 0:
            raise ValueError(f"size must be odd for the {self.method} filter, got {self.size}")

    def _apply(self, image, mask):
        if self.method == "median":
            if image.dtype != np.uint8 and self.size > 5:
                image = to_uint8(image)
            return cv2.medianBlur(np.ascontiguousarray(image), self.size), mask
        if self.method == "gaussian":
            size = (self.size, self.size)
            return cv2.GaussianBlur(image, size, self.sigma), mask
        image = to_uint8(image)
        if self.method == "bilateral":
            return cv2.bilateralFilter(image, self.size, self.h, self.sigma), mask
        return cv2.fastNlMeansDenoising(image, None, h=self.h), mask


class CLAHE(ImageStep):
    """Contrast-limited adaptive histogram equalisation (OpenCV).

    Parameters
    ----------
    clip_limit : float, default=2.0
        Contrast limit per tile (OpenCV's ``clipLimit``).
    tile_grid_size : int, default=8
        The image is divided into ``tile_grid_size`` x ``tile_grid_size`` tiles.

    Notes
    -----
    8- and 16-bit images are equalised at their depth; float images are
    rescaled to 8-bit first.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import CLAHE
    >>> image = np.tile(np.arange(100, 140, dtype=np.uint8), (40, 1))
    >>> out = CLAHE().fit_transform([image])[0]
    >>> int(np.ptp(out)) > int(np.ptp(image))
    True
    """

    _parameter_constraints = {
        "clip_limit": [Interval(Real, 0, None, closed="neither")],
        "tile_grid_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, clip_limit=2.0, tile_grid_size=8):
        self.clip_limit = clip_limit
        self.tile_grid_size = tile_grid_size

    def _apply(self, image, mask):
        if image.dtype not in (np.uint8, np.uint16):
            image = to_uint8(image)
        grid = (self.tile_grid_size, self.tile_grid_size)
        return cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=grid).apply(image), mask


def _mid_ranks(values, counts):
    """The map of grey values to their mid-rank among ``values`` (or 8-bit ``counts``), 0..1."""
    if counts is not None:
        below = np.cumsum(counts) - counts
        table = ((below + counts / 2) / max(counts.sum(), 1)).astype(np.float32)
        return lambda grey: table[grey.astype(np.intp)]
    ordered = np.sort(values)

    def rank(grey):
        low = np.searchsorted(ordered, grey, side="left")
        high = np.searchsorted(ordered, grey, side="right")
        return ((low + high) / (2 * max(ordered.size, 1))).astype(np.float32)

    return rank


class NormalizeIntensity(ImageStep):
    """Normalise intensities, using statistics of the head only by default.

    Parameters
    ----------
    method : {"percentile", "minmax", "zscore", "robust", "rank"}, default="percentile"
        ``"percentile"`` maps the ``percentiles`` to 0 and 1 and clips;
        ``"minmax"`` maps minimum and maximum to 0 and 1; ``"zscore"``
        subtracts the mean and divides by the standard deviation;
        ``"robust"`` subtracts the median and divides by the interquartile
        range, so a bright tumour or a few hot pixels barely move the scale;
        ``"rank"`` maps every grey level to the share of the head's pixels
        below it (half of those equal to it counted), 0 to 1: a histogram
        equalisation within the head, which any increasing change of the
        grey levels (a gamma, another contrast curve) leaves unchanged.
        For a standard scale learned from training images see
        :class:`~braintumor_features.preprocessing.HistogramStandardizer`.
    percentiles : (float, float), default=(1.0, 99.0)
        Lower and upper percentile for ``method="percentile"``.
    within_head : bool, default=True
        Compute the statistics over the head (:func:`head_mask`) only, so the
        amount of black background does not change the result.

    Returns images as ``float32``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import NormalizeIntensity
    >>> out = NormalizeIntensity("minmax", within_head=False).fit_transform(
    ...     [np.array([[10, 20], [30, 50]], np.uint8)])[0]
    >>> out.min(), out.max()
    (np.float32(0.0), np.float32(1.0))
    """

    _parameter_constraints = {
        "method": [StrOptions({"percentile", "minmax", "zscore", "robust", "rank"})],
        "percentiles": [tuple, list],
        "within_head": ["boolean"],
    }

    def __init__(self, method="percentile", percentiles=(1.0, 99.0), within_head=True):
        self.method = method
        self.percentiles = percentiles
        self.within_head = within_head

    def _check_parameters(self):
        low, high = self.percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(f"percentiles must be 0 <= low < high <= 100, got {self.percentiles!r}")

    def _apply(self, image, mask):
        head = head_mask(image) if self.within_head else None
        if image.dtype == np.uint8 and self.method in ("percentile", "robust", "rank"):
            values = None
            counts = cv2.calcHist([image], [0], None if head is None else head.view(np.uint8),
                                  [256], [0, 256]).ravel()
        else:
            values = image[head] if head is not None else image.ravel()
            values, counts = values.astype(np.float32, copy=False), None
        rescale = self._rescaling(values, counts)
        if image.dtype == np.uint8:
            # The same float32 arithmetic on the 256 grey levels, then looked up.
            return cv2.LUT(image, rescale(np.arange(256, dtype=np.float32))), mask
        return rescale(image.astype(np.float32, copy=False)), mask

    def _rescaling(self, values, counts):
        """The map of float32 grey values, from the head's ``values`` (or 8-bit ``counts``)."""
        if self.method == "rank":
            return _mid_ranks(values, counts)
        if self.method == "zscore":
            mean, std = float(values.mean()), float(values.std())
            return lambda grey: (grey - mean) / (std if std > 0 else 1.0)
        if self.method == "minmax":
            low, high = float(values.min()), float(values.max())
        else:
            quantiles = (25, 50, 75) if self.method == "robust" else self.percentiles
            found = (np.percentile(values, quantiles) if counts is None
                     else percentiles_of_counts(counts, quantiles))
            if self.method == "robust":
                low, median, high = (float(v) for v in found)
                return lambda grey: (grey - median) / (high - low if high > low else 1.0)
            low, high = (float(v) for v in found)
        scale = 1.0 / (high - low) if high > low else 0.0
        return lambda grey: np.clip((grey - low) * scale, 0.0, 1.0)
