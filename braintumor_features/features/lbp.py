"""Local binary patterns (LBP): histograms of micro-texture at several scales.

References
----------
Ojala, Pietikainen and Maenpaa, "Multiresolution gray-scale and rotation
invariant texture classification with local binary patterns", IEEE PAMI
24(7), 2002.
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral, Real

import cv2
import numpy as np
from sklearn.utils._param_validation import StrOptions

from ._base import REGIONS, FeatureExtractor, region_mask
from ._grid import SIDES, cell_histograms, cell_names, check_grid
from ._joint import code_type

__all__ = ["LBPFeatures", "lbp_codes", "lbp_bins"]

#: Largest number of sampling points for ``method="ror"`` (its bins are
#: enumerated from all 2**points patterns).
MAX_ROR_POINTS = 16


@lru_cache(maxsize=None)
def _neighbours(points: int, radius: float):
    """Where each sampling point lies: ``(row, col, row_fraction, col_fraction)``.

    Points lie on a circle, as in scikit-image: point p sits at row offset
    ``-radius sin(2 pi p / points)`` and column offset
    ``radius cos(2 pi p / points)``, rounded to 5 decimals; ``row`` and
    ``col`` are the integer offset of the pixel above and to the left of it,
    the fractions how far the point lies beyond that pixel (0 on the grid).
    """
    angles = 2 * np.pi * np.arange(points) / points
    rows = np.round(-radius * np.sin(angles), 5)
    cols = np.round(radius * np.cos(angles), 5)
    return tuple(
        (int(np.floor(r)), int(np.floor(c)), float(r - np.floor(r)), float(c - np.floor(c)))
        for r, c in zip(rows, cols)
    )


#: An interpolated difference within this fraction of the image's largest
#: magnitude counts as a tie (many times the rounding error of interpolation).
TIE_TOLERANCE = 2.0**-44


def _bits(image: np.ndarray, points: int, radius: float, scale: float) -> np.ndarray:
    """Array of bool (points, height, width): neighbour p >= centre.

    ``image`` is float64 and C-contiguous; an interpolated neighbour below
    the centre by at most ``TIE_TOLERANCE * scale`` is a tie. A neighbour
    between pixels is interpolated bilinearly in two steps: between the two
    pixel columns around it, on every row, then between the two rows; points
    in the same columns (mirror images across the horizontal axis) share the
    first step.
    """
    pad = _margin(radius)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    height, width = image.shape
    # An interpolated neighbour at least this is >= the centre, ties included.
    lowest = image - TIE_TOLERANCE * scale
    bits = np.empty((points, height, width), dtype=bool)
    neighbour = np.empty_like(image)
    where = _neighbours(points, radius)
    # Points in the same columns one after the other, so that only one image of
    # interpolated columns is alive at a time (the working set stays in the cache).
    columns_of = None
    for p in sorted(range(points), key=lambda p: (where[p][1], where[p][3])):
        row, col, row_fraction, col_fraction = where[p]
        if columns_of != (col, col_fraction):
            columns_of = col, col_fraction
            left = padded[:, pad + col : pad + col + width]
            columns = left if col_fraction == 0 else cv2.addWeighted(
                left, 1 - col_fraction, padded[:, pad + col + 1 : pad + col + 1 + width],
                col_fraction, 0.0)
        above = columns[pad + row : pad + row + height]
        if row_fraction == 0 and col_fraction == 0:  # on the grid: compared exactly
            np.greater_equal(above, image, out=bits[p])
            continue
        if row_fraction != 0:
            cv2.addWeighted(above, 1 - row_fraction, columns[pad + row + 1 : pad + row + 1 + height],
                            row_fraction, 0.0, dst=neighbour)
            above = neighbour
        np.greater_equal(above, lowest, out=bits[p])
    return bits


def _margin(radius: float) -> int:
    """Pixels around a pixel that its sampling points' interpolation reads."""
    return int(np.ceil(radius)) + 1


def _box(region, shape):
    """``(top, left, bottom, right)`` of the region's pixels (the whole image for None)."""
    if region is None:
        return 0, 0, shape[0], shape[1]
    left, top, width, height = cv2.boundingRect(np.ascontiguousarray(region).view(np.uint8))
    return top, left, top + height, left + width


@lru_cache(maxsize=None)
def _ror_table(points: int):
    """Map every pattern to its rotation-invariant bin index."""
    codes = np.arange(2**points, dtype=np.int64)
    smallest = codes.copy()
    mask = 2**points - 1
    for shift in range(1, points):
        rotated = ((codes >> shift) | (codes << (points - shift))) & mask
        np.minimum(smallest, rotated, out=smallest)
    _, index = np.unique(smallest, return_inverse=True)
    return index.astype(np.int32)


def _transitions(bits, dtype):
    """Number of 0/1 changes around the circle of each pixel's pattern."""
    changes = np.bitwise_xor(bits[1:], bits[:-1]).sum(axis=0, dtype=dtype)
    changes += bits[0] ^ bits[-1]
    return changes


def _nri_uniform(bits, points):
    """Codes of uniform patterns by number of ones and where the run of ones
    starts (scikit-image's numbering); every other pattern is the last code."""
    ones = bits.sum(axis=0, dtype=np.int32)
    changes = _transitions(bits, np.int32)
    first_one, first_zero = bits.argmax(axis=0), (bits == 0).argmax(axis=0)
    rotation = np.where(first_one == 0, ones - first_zero, points - first_one)
    codes = 1 + (ones - 1) * points + rotation
    codes[ones == 0] = 0
    codes[ones == points] = points * (points - 1) + 1
    codes[changes > 2] = points * (points - 1) + 2
    return codes


def lbp_bins(points: int, method: str) -> int:
    """Number of histogram bins of an LBP method.

    Examples
    --------
    >>> from braintumor_features.features.lbp import lbp_bins
    >>> lbp_bins(8, "uniform"), lbp_bins(8, "nri_uniform"), lbp_bins(8, "ror")
    (10, 59, 36)
    """
    if method == "uniform":
        return points + 2
    if method == "nri_uniform":
        return points * (points - 1) + 3
    return int(_ror_table(points).max()) + 1


def lbp_codes(image: np.ndarray, points: int, radius: float, method: str = "uniform"):
    """The LBP code of every pixel.

    Parameters
    ----------
    image : ndarray of shape (height, width)
    points : int
        Number of sampling points on the circle.
    radius : float
        Radius of the circle in pixels.
    method : {"uniform", "nri_uniform", "ror"}, default="uniform"
        ``"uniform"``: rotation-invariant uniform patterns, codes
        ``0 .. points + 1`` (scikit-image's ``"uniform"``);
        ``"nri_uniform"``: uniform patterns keeping their orientation, codes
        ``0 .. points * (points - 1) + 2`` (scikit-image's ``"nri_uniform"``);
        ``"ror"``: rotation-invariant patterns numbered ``0 .. n_bins - 1`` in
        the order of scikit-image's ``"ror"`` values.

    Returns
    -------
    codes : ndarray of int, shape (height, width)

    Notes
    -----
    Neighbours are interpolated bilinearly and pixels outside the image are
    0, as in ``skimage.feature.local_binary_pattern``. A neighbour equal to
    the centre sets its bit (the definition ``s(x) = 1 if x >= 0``). The
    interpolated neighbours are computed in double precision, and a
    neighbour below the centre by at most ``TIE_TOLERANCE`` (2**-44) of
    the image's largest magnitude counts as a tie, so exact ties set the bit
    whatever the rounding. On integer images the codes equal scikit-image's
    except at such ties, which scikit-image decides by its rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.lbp import lbp_codes
    >>> int(lbp_codes(np.full((5, 5), 7.0), 8, 1)[2, 2])  # flat: all bits set
    8
    """
    image = np.ascontiguousarray(image, dtype=np.float64)
    return _codes(image, points, radius, method, _largest_magnitude(image))


def _largest_magnitude(image):
    """The largest absolute value in ``image`` (0 if empty), which ties are relative to."""
    return max(abs(float(image.min(initial=0))), abs(float(image.max(initial=0))))


def _codes(image, points, radius, method, scale):
    """:func:`lbp_codes` of a float64 C-contiguous ``image``, ties relative to ``scale``."""
    bits = _bits(image, points, radius, scale).view(np.uint8)
    if method == "uniform":
        count = code_type(lbp_bins(points, method))
        ones = bits.sum(axis=0, dtype=count)
        # Non-uniform patterns (more than two changes) get points + 1, above any count of
        # ones (a maximum: several times faster than np.where here).
        non_uniform = (_transitions(bits, count) > 2).view(np.uint8)
        return np.maximum(ones, non_uniform * count(points + 1))
    if method == "nri_uniform":
        return _nri_uniform(bits, points)
    codes = np.zeros(image.shape, dtype=np.int32)
    for p in range(points):
        codes |= bits[p].astype(np.int32) << p
    return _ror_table(points)[codes]


class LBPFeatures(FeatureExtractor):
    """Normalised histograms of local binary patterns at several scales.

    Parameters
    ----------
    radii : sequence of float, default=(1, 2, 3)
        Radii of the sampling circles.
    points : sequence of int or None, default=None
        Sampling points per radius; None means ``8 * radius``.
    method : {"uniform", "nri_uniform", "ror"}, default="uniform"
        Rotation-invariant uniform patterns (``points + 2`` bins per scale),
        uniform patterns that keep their orientation (``points * (points - 1)
        + 3`` bins), or all rotation-invariant patterns (at most 16 points per
        scale).
    region : {"head", "image", "mask"}, default="head"
        Count only pixels inside the head (:func:`~braintumor_features.preprocessing.head_mask`),
        over the whole image, or inside the tumour mask the images carry.
    grid : sequence of int, default=(1,)
        Spatial layout: for each ``n`` a histogram per cell of an ``n`` x ``n``
        grid (1: one histogram of the whole region). On canonical head images
        ``(1, 2, 4)`` records where in the head each pattern occurs.
    sides : {"kept", "pooled"}, default="kept"
        ``"pooled"`` gives each grid cell and its left-right mirror cell as
        their sum and absolute difference: the features of a mirror image
        are the same (the patterns themselves are mirror-invariant), an
        asymmetry still shows, its side does not.
    {extraction parameters}

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import LBPFeatures
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.random((24, 24)) for _ in range(2)]
    >>> lbp = LBPFeatures(radii=[1], points=[8])
    >>> lbp.fit_transform(images).sum(axis=1)  # each histogram sums to 1
    array([1., 1.])
    >>> lbp.get_feature_names_out()[:2].tolist()
    ['lbp_r1_p8_bin00', 'lbp_r1_p8_bin01']
    """

    _parameter_constraints = {
        **FeatureExtractor._parameter_constraints,
        "radii": ["array-like"],
        "points": ["array-like", None],
        "method": [StrOptions({"uniform", "nri_uniform", "ror"})],
        "region": [REGIONS],
        "grid": ["array-like"],
        "sides": [StrOptions(set(SIDES))],
    }

    def __init__(
        self, radii=(1, 2, 3), points=None, method="uniform", region="head", grid=(1,),
        sides="kept", n_jobs=None, batch_size=None, on_error="raise",
    ):
        self.radii = radii
        self.points = points
        self.method = method
        self.region = region
        self.grid = grid
        self.sides = sides
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _scales(self):
        points = self.points if self.points is not None else [int(round(8 * r)) for r in self.radii]
        return list(zip(self.radii, points))

    def _check_parameters(self):
        check_grid(self.grid)
        if len(self.radii) == 0 or any(not isinstance(r, Real) or r <= 0 for r in self.radii):
            raise ValueError(f"radii must be positive numbers, got {self.radii!r}")
        if self.points is not None and len(self.points) != len(self.radii):
            raise ValueError(
                f"points must give one number per radius: {len(self.radii)} radii, "
                f"{len(self.points)} points"
            )
        for _, p in self._scales():
            if not isinstance(p, Integral) or p < 1:
                raise ValueError(f"points must be positive integers, got {self.points!r}")
            if self.method == "ror" and p > MAX_ROR_POINTS:
                raise ValueError(
                    f"method='ror' supports at most {MAX_ROR_POINTS} points per scale, got {p}; "
                    "use method='uniform' for larger neighbourhoods"
                )

    def _features(self, image, mask):
        region = region_mask(image, mask, self.region)
        scales = self._scales()
        # Only the region's codes are counted: compute them in its bounding box, from the box
        # and the margin its sampling points read (the whole image's pixels there, 0 beyond
        # the image as for the whole image; ties relative to the whole image's largest value).
        height, width = image.shape
        top, left, bottom, right = _box(region, image.shape)
        pad = max(_margin(radius) for radius, _ in scales)
        first_row, first_col = max(top - pad, 0), max(left - pad, 0)
        window = np.ascontiguousarray(
            image[first_row : min(bottom + pad, height), first_col : min(right + pad, width)],
            dtype=np.float64,
        )
        inner = np.s_[top - first_row : bottom - first_row, left - first_col : right - first_col]
        scale = _largest_magnitude(image)
        histograms = []
        for radius, points in scales:
            in_box = _codes(window, points, radius, self.method, scale)[inner]
            codes = np.zeros(image.shape, in_box.dtype)
            codes[top:bottom, left:right] = in_box
            histograms.append(
                cell_histograms(codes, region, lbp_bins(points, self.method), self.grid,
                                self.sides))
        return np.concatenate(histograms)

    def _feature_names(self):
        names = []
        for radius, points in self._scales():
            names += cell_names(f"lbp_r{radius:g}_p{points}", lbp_bins(points, self.method),
                                self.grid, self.sides)
        return names
