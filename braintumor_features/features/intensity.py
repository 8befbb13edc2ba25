"""First-order intensity statistics and the intensity histogram.

The statistics follow pyradiomics' first-order set (van Griethuysen et al.,
"Computational radiomics system to decode the radiographic phenotype",
Cancer Research 77(21), 2017), computed in 2-D over a region of the image.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._utils import linear_percentiles
from ._base import REGIONS, FeatureExtractor, region_mask
from ._grid import SIDES, cell_histograms, cell_names, check_grid
from ._joint import code_type

__all__ = ["IntensityFeatures", "first_order"]

#: Column names, in order, of :func:`first_order`'s output.
FIRST_ORDER_NAMES = (
    "mean", "std", "variance", "skewness", "kurtosis", "minimum", "maximum", "range", "median",
    "p10", "p25", "p75", "p90", "iqr", "mad", "robust_mad", "rms", "energy", "entropy",
    "uniformity",
)


def first_order(values: np.ndarray, bins: int, value_range) -> np.ndarray:
    """First-order statistics of a set of grey values.

    Parameters
    ----------
    values : 1-D array
    bins : int
        Histogram bins used by ``entropy`` and ``uniformity``.
    value_range : (float, float)
        Range of that histogram.

    Returns
    -------
    ndarray of shape (20,)
        Named by ``FIRST_ORDER_NAMES``. ``kurtosis`` is Pearson's (3 for a
        normal distribution), as pyradiomics reports it; ``energy`` is the
        mean of squared values (so it does not grow with region size);
        ``mad`` is the mean absolute deviation from the mean and
        ``robust_mad`` the same over values between the 10th and 90th
        percentiles (0 when no value lies between them, as in two values
        far apart); ``entropy`` (bits) and ``uniformity`` are computed from
        the histogram. A constant region has skewness 0 and kurtosis 0.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.intensity import first_order, FIRST_ORDER_NAMES
    >>> stats = dict(zip(FIRST_ORDER_NAMES, first_order(np.arange(11.0), 11, (0, 11))))
    >>> float(stats["median"]), float(stats["range"]), round(float(stats["entropy"]), 4)
    (5.0, 10.0, 3.4594)
    """
    values = values.astype(np.float64, copy=False).ravel()
    return _first_order(values, np.histogram(values, bins=bins, range=value_range)[0])


#: The percentiles :func:`first_order` reports.
_PERCENTILES = (10, 25, 50, 75, 90)


def _first_order(values, counts):
    """:func:`first_order` of float64 ``values`` given their histogram ``counts``."""
    n = values.size
    mean = values.mean()
    centred = values - mean
    squared = centred * centred
    # Sums of products as dot products: no temporary array for each product.
    variance = np.dot(centred, centred) / n
    std = np.sqrt(variance)
    skewness = np.dot(squared, centred) / n / std**3 if std > 0 else 0.0
    kurtosis = np.dot(squared, squared) / n / variance**2 if variance > 0 else 0.0
    # One sort (faster than np.percentile's partition around ten order
    # statistics) gives the extremes, the percentiles and the inner values.
    ordered = np.sort(values)
    p10, p25, median, p75, p90 = linear_percentiles(ordered.__getitem__, n, _PERCENTILES)
    # The values between the 10th and 90th percentiles: a slice of the sorted ones.
    inner = ordered[np.searchsorted(ordered, p10, "left") : np.searchsorted(ordered, p90, "right")]
    # No value strictly inside a wide gap between the percentiles: no spread there.
    robust_mad = np.abs(inner - inner.mean()).mean() if inner.size else 0.0
    p = counts / max(n, 1)
    nonzero = p[p > 0]
    low, high = ordered[0], ordered[-1]
    mean_square = np.dot(values, values) / n
    return np.array([
        mean, std, variance, skewness, kurtosis, low, high, high - low, median, p10, p25, p75,
        p90, p75 - p25, np.abs(centred).mean(), robust_mad, np.sqrt(mean_square), mean_square,
        -(nonzero * np.log2(nonzero)).sum(), (p**2).sum(),
    ])


def _bin_indices(values, bins, value_range):
    """Bin index of every value, exactly as ``np.histogram(values, bins, value_range)``
    bins them (equal-width bins, the last one closed); every value must lie in the range."""
    low, high = value_range
    edges = np.linspace(low, high, bins + 1)
    indices = ((values - low) / (high - low) * bins).astype(np.intp)
    indices[indices == bins] -= 1
    # Correct rounding at the edges, as NumPy does.
    indices[values < edges[indices]] -= 1
    indices[(values >= edges[indices + 1]) & (indices != bins - 1)] += 1
    return indices


def _value_range(image, values):
    if image.dtype == np.uint8:
        return 0.0, 256.0
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (low, low + 1.0)


class IntensityFeatures(FeatureExtractor):
    """Intensity histogram and first-order statistics over a region.

    Parameters
    ----------
    bins : int, default=32
        Number of histogram bins (the normalised histogram is part of the
        output and is used for entropy and uniformity). 8-bit images are
        binned over 0..255; others over the region's own minimum..maximum.
    region : {"head", "image", "mask"}, default="head"
        The pixels described: the head, the whole image, or the tumour mask.
    histogram : bool, default=True
        Include the histogram bins as features.
    grid : sequence of int, default=(1,)
        Spatial layout of the histogram: for each ``n`` a histogram per cell
        of an ``n`` x ``n`` grid (1: the whole region), binned as above.
    sides : {"kept", "pooled"}, default="kept"
        ``"pooled"`` gives each grid cell and its left-right mirror cell as
        their sum and absolute difference, so a mirror image has the same
        features (an asymmetry still shows, its side does not).
    {extraction parameters}

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import IntensityFeatures
    >>> images = [np.arange(64, dtype=np.uint8).reshape(8, 8)]
    >>> features = IntensityFeatures(bins=4, region="image").set_output(transform="pandas")
    >>> table = features.fit_transform(images)
    >>> float(table.loc[0, "intensity_mean"]), float(table.loc[0, "intensity_hist_bin00"])
    (31.5, 1.0)
    """

    _parameter_constraints = {
        **FeatureExtractor._parameter_constraints,
        "bins": [Interval(Integral, 1, None, closed="left")],
        "region": [REGIONS],
        "histogram": ["boolean"],
        "grid": ["array-like"],
        "sides": [StrOptions(set(SIDES))],
    }

    def _check_parameters(self):
        check_grid(self.grid)

    def __init__(
        self, bins=32, region="head", histogram=True, grid=(1,), sides="kept", n_jobs=None,
        batch_size=None, on_error="raise",
    ):
        self.bins = bins
        self.region = region
        self.histogram = histogram
        self.grid = grid
        self.sides = sides
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _features(self, image, mask):
        region = region_mask(image, mask, self.region)
        values = image[region] if region is not None else image.ravel()
        values = values.astype(np.float64, copy=False)
        value_range = _value_range(image, values)
        indices = _bin_indices(values, self.bins, value_range)
        counts = np.bincount(indices, minlength=self.bins)
        stats = _first_order(values, counts)
        if not self.histogram:
            return stats
        if tuple(self.grid) == (1,):
            return np.concatenate([stats, counts / values.size])
        if region is None:
            levels = indices.reshape(image.shape)
        else:
            levels = np.zeros(image.shape, code_type(self.bins))
            levels[region] = indices
        return np.concatenate([stats, cell_histograms(levels, region, self.bins, self.grid,
                                                         self.sides)])

    def _feature_names(self):
        names = [f"intensity_{name}" for name in FIRST_ORDER_NAMES]
        if self.histogram:
            names += cell_names("intensity_hist", self.bins, self.grid, self.sides)
        return names
