"""Grey-level co-occurrence matrix (GLCM) texture: the Haralick features.

References
----------
Haralick, Shanmugam and Dinstein, "Textural features for image
classification", IEEE Trans. Systems, Man and Cybernetics 3(6), 1973.
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral, Real

import cv2
import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import REGIONS, FeatureExtractor, region_mask
from ._joint import code_type, joint_counts

__all__ = ["GLCMFeatures", "cooccurrence", "quantize", "haralick"]

#: Column names, in order, of :func:`haralick`'s output.
HARALICK_NAMES = (
    "asm",  # angular second moment (Haralick f1)
    "contrast",  # f2
    "correlation",  # f3
    "sum_squares",  # sum of squares: variance, f4
    "homogeneity",  # inverse difference moment, f5
    "sum_average",  # f6
    "sum_variance",  # f7
    "sum_entropy",  # f8
    "entropy",  # f9
    "difference_variance",  # f10
    "difference_entropy",  # f11
    "imc1",  # information measure of correlation 1, f12
    "imc2",  # information measure of correlation 2, f13
    "dissimilarity",  # sum |i - j| P (scikit-image)
    "energy",  # sqrt(asm) (scikit-image)
    "mean",  # sum i P (scikit-image)
    "std",  # sqrt(sum (i - mean)^2 P) (scikit-image)
)


def quantize(image: np.ndarray, levels: int) -> np.ndarray:
    """Map grey values to integers from 0 to ``levels - 1``, in equal-width bins.

    8-bit images use the fixed range 0..255; other images use their own
    minimum and maximum (a constant image maps to 0).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.glcm import quantize
    >>> quantize(np.array([[0, 127, 128, 255]], np.uint8), 2)
    array([[0, 0, 1, 1]], dtype=uint16)
    """
    if image.dtype == np.uint8:
        return ((image.astype(np.uint16) * levels) >> 8).astype(np.uint16)
    # OpenCV finds the extremes of float32 (what preprocessing makes) as they are;
    # other types go through float64, which holds their values exactly too.
    image = np.ascontiguousarray(image, dtype=None if image.dtype == np.float32 else np.float64)
    low, high, _, _ = cv2.minMaxLoc(image)
    if high <= low:
        return np.zeros(image.shape, np.uint16)
    scaled = np.subtract(image, low, dtype=np.float64)
    scaled *= levels / (high - low)
    # Non-negative, so truncating to an integer is the floor. The maximum maps
    # to ``levels``: put it in the last level (OpenCV's minimum is the faster).
    return cv2.min(scaled.astype(np.uint16), levels - 1)


def _offset(distance, angle):
    # scikit-image's convention: angle 0 looks right, pi/2 looks down.
    return int(round(np.sin(angle) * distance)), int(round(np.cos(angle) * distance))


def cooccurrence(levels_image, distances, angles, levels, *, symmetric=True, mask=None):
    """Grey-level co-occurrence counts for every distance and angle.

    Parameters
    ----------
    levels_image : ndarray of int, shape (height, width)
        Quantised image with values in ``0 .. levels - 1`` (see :func:`quantize`).
    distances : sequence of int
    angles : sequence of float
        In radians, scikit-image's convention (0 right, pi/2 down).
    levels : int
    symmetric : bool, default=True
        Count each pair in both orders.
    mask : ndarray of bool or None
        Count only pairs whose two pixels are both inside the mask.

    Returns
    -------
    counts : ndarray of shape (len(distances), len(angles), levels, levels)
        Equal to ``skimage.feature.graycomatrix(...)`` moved to this axis order.

    Notes
    -----
    Pixels outside the mask and outside the image get the extra grey level
    ``levels``; the pairs of each offset are counted with one joint
    histogram (``cv2.calcHist``) and the extra level's row and column are
    dropped, so no pair is masked or shifted separately.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.glcm import cooccurrence
    >>> cooccurrence(np.array([[0, 1], [1, 1]]), [1], [0], 2, symmetric=False)[0, 0]
    array([[0, 1],
           [0, 1]])
    """
    image = np.asarray(levels_image)
    low, high = (int(v) for v in (image.min(), image.max())) if image.size else (0, 0)
    if low < 0 or high >= levels:
        raise ValueError(f"levels_image has values {low}..{high}; they must lie in 0..{levels - 1}")
    offsets = [[_offset(distance, angle) for angle in angles] for distance in distances]
    reach = max([abs(v) for row in offsets for offset in row for v in offset], default=0)
    marked = image.astype(code_type(levels + 1))  # the levels and the extra one
    if mask is not None:
        # Pixels outside the mask's bounding box take part in no counted pair: leave them out.
        mask = mask.astype(np.uint8)
        left, top, width, height = cv2.boundingRect(mask)
        box = np.s_[top : top + height, left : left + width]
        marked = cv2.copyTo(marked[box], mask[box], np.full((height, width), levels, marked.dtype))
    height, width = marked.shape
    padded = cv2.copyMakeBorder(marked, reach, reach, reach, reach, cv2.BORDER_CONSTANT, value=levels)
    centre = padded[reach : reach + height, reach : reach + width]
    pairs = [
        joint_counts(
            centre, padded[reach + dr : reach + dr + height, reach + dc : reach + dc + width],
            (levels + 1, levels + 1),
        )
        for row in offsets for dr, dc in row
    ]
    # One conversion of all the offsets' counts (the extra level dropped).
    counts = np.reshape(pairs, (-1, levels + 1, levels + 1))[:, :levels, :levels].astype(np.int64)
    if symmetric:
        counts = counts + counts.transpose(0, 2, 1)
    return counts.reshape(len(distances), len(angles), levels, levels)


@lru_cache(maxsize=8)
def _grid(levels):
    """Constants of :func:`haralick` for one number of grey levels (read-only)."""
    k = np.arange(levels, dtype=np.float64)
    ks = np.arange(2 * levels - 1, dtype=np.float64)
    i, j = np.meshgrid(k, k, indexing="ij")
    # For each entry of a flattened matrix: its bin in the sum (i + j) and
    # difference (|i - j|) distributions.
    sum_bin = (i + j).astype(np.intp).ravel()
    diff_bin = np.abs(i - j).astype(np.intp).ravel()
    product = (i * j).ravel()
    closeness = (1.0 / (1.0 + (i - j) ** 2)).ravel()
    constants = (k, ks, sum_bin, diff_bin, product, closeness)
    for array in constants:
        array.flags.writeable = False
    return constants


def _entropy(p):
    logs = np.log2(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis=-1)


def _binned_sums(p, bins, n_bins):
    """Sum each row of ``p`` into ``n_bins`` bins: ``bins[c]`` is column c's bin."""
    # One weighted bincount for all rows: row r uses bins r * n_bins onwards.
    codes = np.arange(len(p))[:, None] * n_bins + bins
    sums = np.bincount(codes.ravel(), weights=p.ravel(), minlength=len(p) * n_bins)
    return sums.reshape(len(p), n_bins)


def haralick(counts: np.ndarray) -> np.ndarray:
    """The Haralick features of a stack of co-occurrence matrices.

    Parameters
    ----------
    counts : ndarray of shape (..., levels, levels)
        Co-occurrence counts (or probabilities).

    Returns
    -------
    features : ndarray of shape (..., 17)
        Columns named by ``HARALICK_NAMES``: the 13 features of Haralick
        (1973), as ``mahotas.features.haralick`` computes them with
        ``use_x_minus_y_variance=True`` (the variance of ``|i - j|``), then
        dissimilarity, energy, mean and standard deviation as
        ``skimage.feature.graycoprops`` computes them. Entropies are in bits.
        An empty matrix gives zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.glcm import haralick
    >>> features = haralick(np.eye(4))
    >>> round(float(features[1]), 6), round(float(features[2]), 6)  # no contrast, full correlation
    (0.0, 1.0)
    """
    counts = np.asarray(counts, dtype=np.float64)
    levels = counts.shape[-1]
    # One row per matrix: every statistic below is over the last axis.
    flat = counts.reshape(-1, levels * levels)
    total = flat.sum(axis=-1, keepdims=True)
    p = flat / np.where(total > 0, total, 1.0)
    k, ks, sum_bin, diff_bin, product, closeness = _grid(levels)
    # Marginals: px over rows (i), py over columns (j); sums and differences of i and j.
    square = p.reshape(-1, levels, levels)
    px, py = square.sum(axis=-1), square.sum(axis=-2)
    p_sum = _binned_sums(p, sum_bin, 2 * levels - 1)
    p_diff = _binned_sums(p, diff_bin, levels)

    mean_x, mean_y = px @ k, py @ k
    var_x, var_y = px @ k**2 - mean_x**2, py @ k**2 - mean_y**2
    std_x, std_y = np.sqrt(np.maximum(var_x, 0)), np.sqrt(np.maximum(var_y, 0))
    asm = (p * p).sum(axis=-1)
    contrast = p_diff @ k**2
    cross = p @ product - mean_x * mean_y
    flat_std = std_x * std_y
    correlation = np.where(flat_std > 0, cross / np.where(flat_std > 0, flat_std, 1.0), 1.0)
    homogeneity = p @ closeness
    sum_average = p_sum @ ks
    sum_variance = p_sum @ ks**2 - sum_average**2
    sum_entropy = _entropy(p_sum)
    entropy = _entropy(p)
    diff_mean = p_diff @ k
    difference_variance = p_diff @ k**2 - diff_mean**2
    difference_entropy = _entropy(p_diff)
    hx, hy = _entropy(px), _entropy(py)
    # Haralick's HXY1 = -sum p log(px py) and HXY2 = -sum px py log(px py)
    # both reduce to hx + hy (the sums of p, px and py are 1).
    hxy = hx + hy
    h_max = np.maximum(hx, hy)
    imc1 = (entropy - hxy) / np.where(h_max > 0, h_max, 1.0)
    imc2 = np.sqrt(np.maximum(0.0, 1.0 - np.exp(-2.0 * (hxy - entropy))))
    dissimilarity = diff_mean
    energy = np.sqrt(asm)
    features = np.stack(
        [asm, contrast, correlation, var_x, homogeneity, sum_average, sum_variance, sum_entropy,
         entropy, difference_variance, difference_entropy, imc1, imc2, dissimilarity, energy,
         mean_x, std_x],
        axis=-1,
    )
    features = np.where(total > 0, features, 0.0)
    return features.reshape(counts.shape[:-2] + (len(HARALICK_NAMES),))


class GLCMFeatures(FeatureExtractor):
    """Haralick texture features from grey-level co-occurrence matrices.

    The image is quantised to ``levels`` grey levels (:func:`quantize`), a
    symmetric co-occurrence matrix is counted for every distance and angle
    (:func:`cooccurrence`), and 17 features are computed from each
    (:func:`haralick`): the 13 of Haralick (1973) plus scikit-image's
    dissimilarity, energy, mean and standard deviation.

    Parameters
    ----------
    distances : sequence of int, default=(1, 2, 4)
        Pixel distances between the two pixels of a pair.
    angles : sequence of float, default=(0, pi/4, pi/2, 3pi/4)
        Directions in radians (scikit-image's convention).
    levels : int, default=32
        Number of grey levels.
    average_angles : bool, default=True
        Average each feature over the angles (rotation-invariant texture);
        otherwise one column per angle.
    region : {"head", "image", "mask"}, default="head"
        Count only pairs inside the head (:func:`~braintumor_features.preprocessing.head_mask`),
        over the whole image, or inside the tumour mask the images carry.
    {extraction parameters}

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import GLCMFeatures
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(3)]
    >>> glcm = GLCMFeatures(distances=[1], levels=8)
    >>> glcm.fit_transform(images).shape
    (3, 17)
    >>> glcm.get_feature_names_out()[:2].tolist()
    ['glcm_asm_d1', 'glcm_contrast_d1']
    """

    _parameter_constraints = {
        **FeatureExtractor._parameter_constraints,
        "distances": ["array-like"],
        "angles": ["array-like"],
        "levels": [Interval(Integral, 2, 256, closed="both")],
        "average_angles": ["boolean"],
        "region": [REGIONS],
    }

    def __init__(
        self,
        distances=(1, 2, 4),
        angles=(0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4),
        levels=32,
        average_angles=True,
        region="head",
        n_jobs=None,
        batch_size=None,
        on_error="raise",
    ):
        self.distances = distances
        self.angles = angles
        self.levels = levels
        self.average_angles = average_angles
        self.region = region
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _check_parameters(self):
        if len(self.distances) == 0 or any(
            not isinstance(d, Integral) or d < 1 for d in self.distances
        ):
            raise ValueError(f"distances must be positive integers, got {self.distances!r}")
        if len(self.angles) == 0 or any(not isinstance(a, Real) for a in self.angles):
            raise ValueError(f"angles must be numbers (radians), got {self.angles!r}")

    def _features(self, image, mask):
        counts = cooccurrence(
            quantize(image, self.levels),
            self.distances,
            self.angles,
            self.levels,
            mask=region_mask(image, mask, self.region),
        )
        values = haralick(counts)  # (distances, angles, features)
        if self.average_angles:
            values = values.mean(axis=1)
        return values.ravel()

    def _feature_names(self):
        names = []
        for distance in self.distances:
            if self.average_angles:
                names += [f"glcm_{name}_d{distance}" for name in HARALICK_NAMES]
            else:
                for angle in self.angles:
                    degrees = int(round(np.degrees(angle)))
                    names += [f"glcm_{name}_d{distance}_a{degrees}" for name in HARALICK_NAMES]
        return names
