"""Shape and intensity of the head and of the tumour, and left/right asymmetry."""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.utils._param_validation import StrOptions

from .._parallel import image_head_mask
from ._base import FeatureExtractor

__all__ = ["RegionFeatures", "shape_descriptors"]

#: Column names, in order, of :func:`shape_descriptors`'s output.
SHAPE_NAMES = (
    "area_fraction", "perimeter_ratio", "eccentricity", "solidity", "extent",
    "major_axis", "minor_axis", "centroid_row", "centroid_col",
    "hu1", "hu2", "hu3", "hu4", "hu5", "hu6", "hu7",
    "mean_inside", "mean_outside", "contrast",
)

ASYMMETRY_NAMES = ("asymmetry_absdiff", "asymmetry_correlation")


def _signed_log(values):
    return np.sign(values) * np.log10(np.abs(values) + 1e-30)


def shape_descriptors(region: np.ndarray, image: np.ndarray, around=None) -> np.ndarray:
    """Shape and intensity descriptors of a binary region.

    Parameters
    ----------
    region : ndarray of bool, shape (height, width)
        A non-empty region.
    image : ndarray, same shape
        Grey values for the inside/outside intensities.
    around : ndarray of bool or None
        Where "outside" is measured (default: everywhere outside the region).

    Returns
    -------
    ndarray of shape (19,)
        Named by ``SHAPE_NAMES``. Lengths are relative to the image
        diagonal and positions to the image size, so they do not depend on
        the image's resolution; ``perimeter_ratio`` is perimeter over the
        square root of the area. ``eccentricity``, the axis lengths and the
        centroid follow ``skimage.measure.regionprops``; the Hu moments are
        ``skimage.measure.moments_hu``'s, as ``sign(h) * log10(|h|)``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.region import shape_descriptors, SHAPE_NAMES
    >>> square = np.zeros((20, 20), bool); square[5:15, 5:15] = True
    >>> stats = dict(zip(SHAPE_NAMES, shape_descriptors(square, square * 1.0)))
    >>> float(stats["area_fraction"]), float(stats["extent"]), float(stats["eccentricity"])
    (0.25, 1.0, 0.0)
    """
    height, width = region.shape
    binary = region.astype(np.uint8)
    moments = cv2.moments(binary, binaryImage=True)
    area = moments["m00"]
    row, col = moments["m01"] / area, moments["m10"] / area
    # Inertia tensor eigenvalues from central moments, as regionprops.
    mu20, mu02, mu11 = moments["mu20"] / area, moments["mu02"] / area, moments["mu11"] / area
    spread = np.sqrt(((mu20 - mu02) / 2) ** 2 + mu11**2)
    large, small = (mu20 + mu02) / 2 + spread, max((mu20 + mu02) / 2 - spread, 0.0)
    eccentricity = np.sqrt(1 - small / large) if large > 0 else 0.0
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    hull = np.zeros_like(binary)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.vstack(contours)), 1)
    hull_area = int(hull.sum())  # pixels, like regionprops' convex image
    rows, cols = np.nonzero(region)
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    diagonal = np.hypot(height, width)
    hu = cv2.HuMoments(moments).ravel()
    hu[6] = -hu[6]  # OpenCV's (x, y) axes are scikit-image's (row, col) mirrored
    hu = _signed_log(hu)
    outside = ~region if around is None else (around & ~region)
    inside_mean = float(image[region].mean())
    outside_mean = float(image[outside].mean()) if outside.any() else 0.0
    return np.array([
        area / (height * width),
        perimeter / np.sqrt(area),
        eccentricity,
        min(1.0, area / hull_area) if hull_area > 0 else 1.0,
        area / box,
        4 * np.sqrt(large) / diagonal,
        4 * np.sqrt(small) / diagonal,
        row / height,
        col / width,
        *hu,
        inside_mean,
        outside_mean,
        inside_mean - outside_mean,
    ])


def _asymmetry(image, head):
    """Difference between the head and its mirror image about its centre column."""
    cols = np.nonzero(head.any(axis=0))[0]
    left, right = cols.min(), cols.max() + 1
    part, inside = image[:, left:right].astype(np.float64), head[:, left:right]
    mirrored, mirrored_inside = part[:, ::-1], inside[:, ::-1]
    both = inside & mirrored_inside
    if not both.any():
        return np.zeros(len(ASYMMETRY_NAMES))
    a, b = part[both], mirrored[both]
    scale = np.abs(a).mean()
    absdiff = np.abs(a - b).mean() / scale if scale > 0 else 0.0
    correlation = np.corrcoef(a, b)[0, 1] if a.std() > 0 and b.std() > 0 else 1.0
    return np.array([absdiff, correlation])


class RegionFeatures(FeatureExtractor):
    """Shape and intensity of the head and the tumour; head asymmetry.

    Parameters
    ----------
    regions : {"head", "tumor", "both"}, default="head"
        Which regions to describe. The head is found in the image
        (:func:`~braintumor_features.preprocessing.head_mask`); the tumour
        is the mask the images carry. An image without a tumour mask (or with
        an empty one) gets zeros for the tumour columns and
        ``tumor_present = 0``.
    asymmetry : bool, default=True
        Add the left/right asymmetry of the head: mean absolute difference
        between the head and its mirror image (relative to the mean grey
        value) and their correlation.
    {extraction parameters}

    Examples
    --------
    >>> import cv2, numpy as np
    >>> from braintumor_features.features import RegionFeatures
    >>> image = np.zeros((64, 64), np.uint8)
    >>> _ = cv2.circle(image, (32, 32), 20, 150, -1)
    >>> table = RegionFeatures().set_output(transform="pandas").fit_transform([image])
    >>> round(float(table.loc[0, "head_eccentricity"]), 2)
    0.0
    """

    _parameter_constraints = {
        **FeatureExtractor._parameter_constraints,
        "regions": [StrOptions({"head", "tumor", "both"})],
        "asymmetry": ["boolean"],
    }

    def __init__(
        self, regions="head", asymmetry=True, n_jobs=None, batch_size=None, on_error="raise"
    ):
        self.regions = regions
        self.asymmetry = asymmetry
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _features(self, image, mask):
        head = image_head_mask(image)
        parts = []
        if self.regions in ("head", "both"):
            parts.append(shape_descriptors(head, image))
        if self.regions in ("tumor", "both"):
            if mask is None or not mask.any():
                parts.append(np.zeros(len(SHAPE_NAMES) + 1))
            else:
                parts.append(np.append(shape_descriptors(mask, image, around=head), 1.0))
        if self.asymmetry:
            parts.append(_asymmetry(image, head))
        return np.concatenate(parts)

    def _column_families(self):
        return ["region"] * len(self._feature_names())

    def _feature_names(self):
        names = []
        if self.regions in ("head", "both"):
            names += [f"head_{name}" for name in SHAPE_NAMES]
        if self.regions in ("tumor", "both"):
            names += [f"tumor_{name}" for name in SHAPE_NAMES] + ["tumor_present"]
        if self.asymmetry:
            names += [f"head_{name}" for name in ASYMMETRY_NAMES]
        return names
