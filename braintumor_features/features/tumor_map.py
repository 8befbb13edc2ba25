"""A tumour map learned from tumour outlines, summarised as image features.

The head of each canonical image is cut into a grid of cells, each described by
tissue features relative to the head itself (robust z-scores, local spread,
rank within the head, differences of Gaussians, left/right asymmetry, position,
gradient energy, LBP fractions). A gradient-boosting classifier learns tumour
cells from the outlines of training images; its probability map of any image
is summarised by the map's peak, its high-probability areas and the blob around
the peak (size, shape, tissue inside it against a ring around it).
"""

from __future__ import annotations

import copy
import zlib
from functools import partial
from numbers import Integral

import cv2
import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from .._parallel import extract, image_head_mask
from .._utils import percentiles_of_counts, to_uint8
from ..images import ImageSequence
from ._base import FeatureExtractor
from .lbp import lbp_codes

__all__ = ["TumorMapFeatures", "tissue_cells", "map_summary", "TISSUE_NAMES", "MAP_NAMES"]

#: Tissue features of a cell, in column order (sigmas and kernel sizes in pixels).
TISSUE_NAMES = (
    "zmean_s1.5", "zmean_s4", "zmean_s10", "zstd_s2", "zstd_s6", "zmedian_k5", "zmedian_k11",
    "rank_s2", "rank_s8", "dog_1.5_4", "dog_4_10", "dog_10_25", "asym_s4", "absasym_s4",
    "asym_s10", "absasym_s10", "border_dist", "center_dist", "grad_s1.5", "grad_s4",
    "lbp_nonuniform_s4", "lbp_edge_s4",
)
_COLUMN = {name: i for i, name in enumerate(TISSUE_NAMES)}
#: Tissue features averaged over the map's blob and, but for positions, against a ring,
#: with the names they have in ``MAP_NAMES`` (the z-score is the robust one, from the
#: head's median and interquartile range; LBP fractions are of 8 neighbors at radius 1).
_BLOB = {
    "zmean_s1.5": "mean_zscore_sigma1.5",
    "zstd_s2": "std_zscore_sigma2",
    "zmedian_k5": "median_zscore_kernel5",
    "rank_s2": "intensity_rank_sigma2",
    "absasym_s4": "abs_left_right_asymmetry_sigma4",
    "asym_s4": "left_right_asymmetry_sigma4",
    "dog_4_10": "difference_of_gaussians_sigma4_10",
    "grad_s1.5": "gradient_sigma1.5",
    "lbp_nonuniform_s4": "lbp_nonuniform_fraction_sigma4",
    "border_dist": "border_distance",
    "center_dist": "center_distance",
}
_POSITIONS = ("border_dist", "center_dist")
#: Tissue features averaged with the map as weights.
_WEIGHTED = ("zmean_s1.5", "rank_s2", "absasym_s4")
#: Names of :func:`map_summary`'s values, in order: P is the tumor probability of a cell,
#: ``blob_minus_ring_*`` a tissue feature's mean in the blob less its mean in a ring
#: around it, ``probability_weighted_*`` its mean weighted by P.
MAP_NAMES = (
    ("probability_max", "probability_mean_top1pct", "probability_mean_top5pct",
     "probability_mean", "area_above_0.5", "area_above_0.8", "n_components_above_0.5",
     "largest_component_above_0.5", "blob_area", "blob_mean_probability", "blob_solidity",
     "blob_compactness", "blob_elongation")
    + tuple(name for key, blob in _BLOB.items() for name in
            ((f"blob_{blob}",) if key in _POSITIONS
             else (f"blob_{blob}", f"blob_minus_ring_{blob}")))
    + tuple(f"probability_weighted_{_BLOB[key]}" for key in _WEIGHTED)
)
#: A cell is in the head when at least this fraction of it is ...
_HEAD_FRACTION = 0.5
#: ... and in the tumour when at least this fraction is inside the outline.
_TUMOR_FRACTION = 0.5


def _smooth(values, head, sigma):
    """Gaussian mean of ``values`` inside the head (the background does not bleed in)."""
    size = int(2 * round(3 * sigma) + 1)
    weighted = cv2.GaussianBlur(values * head, (size, size), sigma)
    weight = cv2.GaussianBlur(head, (size, size), sigma)
    return weighted / np.maximum(weight, 1e-3)


def _to_cells(values, grid):
    """Mean of ``values`` over each cell of a ``grid`` x ``grid`` grid."""
    return cv2.resize(values.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA)


def _tissue_maps(gray, head):
    """Per-pixel tissue features (``TISSUE_NAMES``) of an 8-bit image and its head."""
    weight = head.astype(np.float32)
    counts = np.bincount(gray[head], minlength=256)
    q1, median, q3 = (np.float32(v) for v in percentiles_of_counts(counts, (25, 50, 75)))
    spread = max(q3 - q1, np.float32(1.0))
    z = np.clip((gray.astype(np.float32) - median) / spread, -6, 6).astype(np.float32)
    rank = (np.cumsum(counts) / counts.sum())[gray].astype(np.float32)
    out = {}
    mean = {s: _smooth(z, weight, s) for s in (1.5, 4, 10, 25)}
    for s in (1.5, 4, 10):
        out[f"zmean_s{s}"] = mean[s]
    for s in (2, 6):
        first, second = _smooth(z, weight, s), _smooth(z * z, weight, s)
        out[f"zstd_s{s}"] = np.sqrt(np.maximum(second - first * first, 0))
    for size in (5, 11):
        out[f"zmedian_k{size}"] = (cv2.medianBlur(gray, size).astype(np.float32) - median) / spread
    for s in (2, 8):
        out[f"rank_s{s}"] = _smooth(rank, weight, s)
    for fine, coarse in ((1.5, 4), (4, 10), (10, 25)):
        out[f"dog_{fine}_{coarse}"] = mean[fine] - mean[coarse]
    # Left/right asymmetry: the mean against its mirror about the head's centroid column.
    rows, columns = np.nonzero(head)
    center_x, center_y = columns.mean(), rows.mean()
    height, width = gray.shape
    shift = int(round(2 * center_x - (width - 1)))
    mirror = np.float32([[-1, 0, width - 1 + shift], [0, 1, 0]])
    mirrored_head = cv2.warpAffine(weight, mirror, (width, height), flags=cv2.INTER_NEAREST)
    for s in (4, 10):
        mirrored = cv2.warpAffine(mean[s], mirror, (width, height), flags=cv2.INTER_LINEAR)
        out[f"asym_s{s}"] = np.where(mirrored_head > 0, mean[s] - mirrored, 0)
        out[f"absasym_s{s}"] = np.abs(out[f"asym_s{s}"])
    # Position, in radii of the disc of the head's area. A head that fills the frame has no
    # border (OpenCV's distance is then FLT_MAX): its distance is capped at 1.5 radii.
    radius = np.sqrt(head.sum() / np.pi)
    border = cv2.distanceTransform(head.astype(np.uint8), cv2.DIST_L2, 5)
    out["border_dist"] = np.minimum(border / radius, 1.5)
    y, x = np.mgrid[:height, :width]
    out["center_dist"] = np.sqrt((x - center_x) ** 2 + (y - center_y) ** 2) / radius
    for s in (1.5, 4):
        dx = cv2.Sobel(mean[s], cv2.CV_32F, 1, 0)
        dy = cv2.Sobel(mean[s], cv2.CV_32F, 0, 1)
        out[f"grad_s{s}"] = _smooth(np.sqrt(dx * dx + dy * dy), weight, 4)
    codes = lbp_codes(gray, 8, 1, "uniform")
    out["lbp_nonuniform_s4"] = _smooth((codes == 9).astype(np.float32), weight, 4)
    out["lbp_edge_s4"] = _smooth(((codes >= 3) & (codes <= 5)).astype(np.float32), weight, 4)
    return out


def tissue_cells(image, head=None, grid=64):
    """Tissue features of every cell of an image's grid, and each cell's head fraction.

    Parameters
    ----------
    image : ndarray of shape (height, width)
        A canonical head image (gray values are rescaled to 8 bits).
        Smoothing scales are in pixels, chosen for 256 x 256 images.
    head : ndarray of bool or None, default=None
        The head (:func:`~braintumor_features.preprocessing.head_mask` when
        None). A head of fewer than 100 pixels stands for no head: the whole
        image is used.
    grid : int, default=64
        Cells a side.

    Returns
    -------
    cells : ndarray of float32, shape (grid, grid, len(TISSUE_NAMES))
    head_fraction : ndarray of float32, shape (grid, grid)

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.tumor_map import TISSUE_NAMES, tissue_cells
    >>> image = np.zeros((64, 64), np.uint8); image[8:56, 8:56] = 100; image[20:30, 12:22] = 220
    >>> cells, head = tissue_cells(image, grid=16)
    >>> cells.shape, float(head[0, 0]), float(head[8, 8])
    ((16, 16, 22), 0.0, 1.0)
    >>> zmean = cells[..., TISSUE_NAMES.index("zmean_s1.5")]
    >>> bool(zmean[6, 4] > zmean[10, 10])  # the bright spot against the rest of the head
    True
    """
    gray = to_uint8(np.asarray(image))
    head = image_head_mask(image) if head is None else np.asarray(head, bool)
    if head.sum() < 100:
        head = np.ones(gray.shape, bool)
    maps = _tissue_maps(gray, head)
    cells = np.stack([_to_cells(maps[name], grid) for name in TISSUE_NAMES], axis=-1)
    return cells, _to_cells(head, grid)


def map_summary(probability, head_fraction, cells):
    """Image features of one tumour-probability map (named by ``MAP_NAMES``).

    Parameters
    ----------
    probability : ndarray of shape (grid, grid)
        Tumour probability of each cell, 0 outside the head.
    head_fraction : ndarray of shape (grid, grid)
    cells : ndarray of shape (grid, grid, len(TISSUE_NAMES))
        From :func:`tissue_cells`.

    Returns
    -------
    ndarray of float64, shape (len(MAP_NAMES),)
        The map's peak, mean of its top 1 % and 5 %, mean, areas above 0.5
        and 0.8; its components above 0.5 (number, largest); the blob (the
        component of P >= half the peak holding the peak): area, mean P,
        solidity, compactness, elongation, tissue features inside it and
        against a 3-cell ring around it; tissue features weighted by P.
        Areas are fractions of the head's cells.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.tumor_map import MAP_NAMES, map_summary
    >>> head = np.ones((16, 16), np.float32)
    >>> probability = np.zeros((16, 16), np.float32); probability[4:8, 4:8] = 0.9
    >>> summary = dict(zip(MAP_NAMES, map_summary(probability, head, np.zeros((16, 16, 22)))))
    >>> float(summary["blob_area"]), int(summary["n_components_above_0.5"])
    (0.0625, 1)
    """
    head = head_fraction >= _HEAD_FRACTION
    probability = np.asarray(probability, np.float32)
    in_head = probability[head] if head.any() else np.zeros(1, np.float32)
    n_head = in_head.size
    ranked = np.sort(in_head)[::-1]
    f = [ranked[0], ranked[:max(1, n_head // 100)].mean(), ranked[:max(1, n_head // 20)].mean(),
         in_head.mean(), (in_head > 0.5).mean(), (in_head > 0.8).mean()]
    n_components, _, stats, _ = cv2.connectedComponentsWithStats(
        (probability > 0.5).astype(np.uint8), connectivity=8)
    f += [n_components - 1,
          stats[1:, cv2.CC_STAT_AREA].max() / n_head if n_components > 1 else 0.0]
    peak = np.unravel_index(np.argmax(probability), probability.shape)
    _, labels, _, _ = cv2.connectedComponentsWithStats(
        (probability >= max(0.5 * probability[peak], 0.05)).astype(np.uint8), connectivity=8)
    # The peak's component; a peak under 0.05 is in none (label 0): the peak cell alone.
    blob = labels == labels[peak] if labels[peak] else np.zeros(labels.shape, bool)
    blob[peak] = True
    area = blob.sum()
    # Shape of the cells as squares: their area against the convex hull of their corners
    # (solidity), and against their outer edges' length (compactness 4 pi A / P**2: pi / 4
    # for a square of cells, less for a line).
    rows, columns = np.nonzero(blob)
    corners = np.concatenate([np.stack([columns + dx, rows + dy], axis=1)
                              for dx in (0, 1) for dy in (0, 1)]).astype(np.float32)
    hull = cv2.contourArea(cv2.convexHull(corners))
    padded = np.pad(blob, 1)
    perimeter = (np.count_nonzero(padded[1:] != padded[:-1])
                 + np.count_nonzero(padded[:, 1:] != padded[:, :-1]))
    elongation = 1.0
    if area > 2:
        low, high = np.sort(np.linalg.eigvalsh(np.cov(np.vstack([columns, rows]))))
        elongation = np.sqrt(low / max(high, 1e-6))
    f += [area / n_head, probability[blob].mean(), area / hull,
          4 * np.pi * area / perimeter**2, elongation]
    ring = cv2.dilate(blob.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & ~blob & head
    for name in _BLOB:
        values = cells[..., _COLUMN[name]].astype(np.float32)
        f.append(values[blob].mean())
        if name not in _POSITIONS:
            f.append(values[blob].mean() - (values[ring].mean() if ring.any() else 0.0))
    weights = probability / max(probability.sum(), 1e-6)
    f += [(weights * cells[..., _COLUMN[name]]).sum() for name in _WEIGHTED]
    return np.array(f, dtype=np.float64)


class TumorMapFeatures(FeatureExtractor):
    """Features of a tumour-probability map learned from tumour outlines.

    A gradient-boosting classifier of grid cells learns, in ``fit``, tumour
    cells (at least half inside the outline) against head cells entirely
    outside it, drawn from the training images whose tumour mask
    (:class:`~braintumor_features.images.MaskedImage`; see
    :func:`~braintumor_features.images.with_masks` and the ``masks`` of
    :func:`~braintumor_features.datasets.load_folder`) covers at least half
    of some head cell; other images teach it nothing. The map of any image,
    outlined or not, is summarised in ``len(MAP_NAMES)`` features
    (:func:`map_summary`).

    This family learns from data, unlike the others. ``fit_transform``
    returns cross-fitted rows, as :class:`sklearn.preprocessing.TargetEncoder`
    does: each image's map comes from a classifier fitted without the
    images of its fold, so a model trained on the rows sees maps as
    imperfect as those of new images. Pass the patient of each image as
    ``groups`` (in a pipeline: ``fit(X, y, features__groups=groups)``) so
    that no patient's slices are on both sides of a fold. ``transform``
    uses the classifier fitted on every training image. Its rows are
    computed again at every fit, even with a feature cache.

    Parameters
    ----------
    grid : int, default=64
        Cells a side (4 x 4 pixels on the default 256 x 256 images).
    tumor_cells, other_cells : int, default=40, 80
        Training cells drawn per masked image, at most, inside the tumour
        and elsewhere in the head.
    max_iter : int, default=150
        Boosting iterations of the cell classifier.
    cv : int or cross-validation splitter, default=5
        Folds of ``fit_transform``'s cross-fitting: an int gives
        ``StratifiedGroupKFold(cv, shuffle=True)`` over ``groups`` (or
        ``StratifiedKFold`` without them), stratified on whether an image has
        tumour cells to teach; a splitter's ``split(X, outlined, groups)``
        is used as it is.
    random_state : int, RandomState or None, default=None
        Seeds the cells drawn, the folds (without groups) and the classifier.
    {extraction parameters}

    Attributes
    ----------
    classifier_ : HistGradientBoostingClassifier
        The cell classifier fitted on every training image.
    classifier_digest_ : str
        Digest of ``classifier_``, part of the feature cache's keys.
    n_training_images_ : int
        Images whose outline taught it.
    skipped_ : list of dict
        Images that could not be processed (``on_error="skip"``).

    Examples
    --------
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.features import TumorMapFeatures
    >>> from braintumor_features.images import with_masks
    >>> demo = make_demo(40, image_size=64, random_state=0)
    >>> tumor_map = TumorMapFeatures(grid=16, max_iter=20, random_state=0)
    >>> rows = tumor_map.fit_transform(with_masks(demo.images, demo.masks), demo.target)
    >>> rows.shape, tumor_map.transform(demo.images[:2]).shape
    ((40, 36), (2, 36))
    """

    _parameter_constraints = {
        **FeatureExtractor._parameter_constraints,
        "grid": [Interval(Integral, 4, None, closed="left")],
        "tumor_cells": [Interval(Integral, 1, None, closed="left")],
        "other_cells": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left"), HasMethods(["split"])],
        "random_state": ["random_state"],
    }

    def __init__(self, grid=64, tumor_cells=40, other_cells=80, max_iter=150, cv=5,
                 random_state=None, *, n_jobs=None, batch_size=None, on_error="raise"):
        self.grid = grid
        self.tumor_cells = tumor_cells
        self.other_cells = other_cells
        self.max_iter = max_iter
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _feature_names(self):
        return [f"tumor_map_{name}" for name in MAP_NAMES]

    def _seed(self):
        """One seed for a fit: the cells drawn, the folds and the cell classifiers."""
        return check_random_state(self.random_state).randint(np.iinfo(np.int32).max)

    def _cells(self, image):
        return tissue_cells(image, image_head_mask(image), self.grid)

    def _training_row(self, image, mask, seed):
        """Drawn training cells of one image, as one fixed-length row: per cell its tissue
        features and label (1 tumour, 0 other), NaN where fewer cells were drawn."""
        width = len(TISSUE_NAMES) + 1
        row = np.full((self.tumor_cells + self.other_cells, width), np.nan)
        if mask is None:
            return row.ravel()
        cells, head_fraction = self._cells(image)
        tumor_fraction = _to_cells(mask, self.grid)
        in_head = head_fraction >= _HEAD_FRACTION
        tumour = np.flatnonzero((tumor_fraction >= _TUMOR_FRACTION) & in_head)
        if tumour.size == 0:
            return row.ravel()
        other = np.flatnonzero((tumor_fraction == 0) & in_head)
        # Each image draws with its own seed, from its content: the same cells whatever
        # the order of the images or the number of workers.
        rng = np.random.default_rng([seed, zlib.crc32(np.ascontiguousarray(image).tobytes())])
        tumour = rng.choice(tumour, min(self.tumor_cells, tumour.size), replace=False)
        other = rng.choice(other, min(self.other_cells, other.size), replace=False)
        flat = cells.reshape(-1, len(TISSUE_NAMES))
        row[:tumour.size, :-1], row[:tumour.size, -1] = flat[tumour], 1
        start = self.tumor_cells
        row[start:start + other.size, :-1], row[start:start + other.size, -1] = flat[other], 0
        return row.ravel()

    def _training_cells(self, images, seed):
        """The drawn training cells of every image: (features, labels, image of each cell,
        skipped images)."""
        rows, skipped = extract(images, partial(self._training_row, seed=seed),
                                n_features=(self.tumor_cells + self.other_cells)
                                * (len(TISSUE_NAMES) + 1),
                                n_jobs=self.n_jobs, batch_size=self.batch_size,
                                on_error=self.on_error)
        cells = rows.reshape(len(images), self.tumor_cells + self.other_cells, -1)
        drawn = ~np.isnan(cells[..., -1])
        owner = np.nonzero(drawn)[0]
        return (cells[drawn][:, :-1].astype(np.float32), cells[drawn][:, -1].astype(int), owner,
                skipped)

    def _fitted_classifier(self, X, y, seed, kept, where="the training images"):
        """A cell classifier fitted on the cells ``kept`` selects."""
        if not y[kept].any():
            raise ValueError(
                f"{type(self).__name__}: no image among {where} has a tumour mask covering at "
                f"least half of a {self.grid} x {self.grid} grid cell inside the head; pass "
                "MaskedImage items with tumour masks (braintumor_features.images.with_masks)"
            )
        classifier = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=40,
            early_stopping=False, random_state=seed)
        return classifier.fit(X[kept], y[kept])

    def _fit_final(self, cells, labels, owner, seed):
        self.classifier_ = self._fitted_classifier(cells, labels, seed,
                                                   np.ones(len(labels), bool))
        # The cache key of transform's rows: computed once, so that it survives pickling.
        self.classifier_digest_ = joblib.hash(self.classifier_)
        self.n_training_images_ = len(np.unique(owner[labels == 1]))

    def _folds(self, n_images, outlined, groups, seed):
        """Cross-fitting folds, stratified on whether an image has tumour cells to teach."""
        if not isinstance(self.cv, Integral):  # a splitter
            return list(self.cv.split(np.zeros(n_images), outlined, groups))
        if groups is None:
            if n_images < self.cv:
                raise ValueError(f"{type(self).__name__}: cv={self.cv} folds need at least "
                                 f"{self.cv} images, got {n_images}")
            splitter = StratifiedKFold(self.cv, shuffle=True, random_state=seed)
            return list(splitter.split(np.zeros(n_images), outlined))
        groups = np.asarray(groups)
        if len(groups) != n_images:
            raise ValueError(f"groups has {len(groups)} entries for {n_images} images")
        if len(np.unique(groups)) < self.cv:
            raise ValueError(
                f"{type(self).__name__}: cv={self.cv} folds need at least {self.cv} groups "
                f"(patients), got {len(np.unique(groups))}; lower cv")
        splitter = StratifiedGroupKFold(self.cv, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(n_images), outlined, groups))

    def _fit(self, X, y=None, groups=None):
        """Learn tumour cells from the images that carry a tumour mask (``y`` and
        ``groups`` are accepted for pipelines and ``fit_transform``'s signature)."""
        seed = self._seed()
        cells, labels, owner, self.skipped_ = self._training_cells(ImageSequence(X), seed)
        self._fit_final(cells, labels, owner, seed)

    def fit_transform(self, X, y=None, groups=None):
        """Fit, and return cross-fitted rows: no image's map comes from a classifier that
        learned from its fold.

        Parameters
        ----------
        X : sequence of images
        y : ignored
        groups : array-like of shape (n_images,), default=None
            Patient of each image; folds keep each patient on one side. Without
            groups the folds are random over images. Folds are stratified on
            whether an image has tumour cells to teach.

        Returns
        -------
        ndarray of shape (n_images, len(MAP_NAMES))
        """
        self._validate_params()
        images = ImageSequence(X)
        seed = self._seed()
        cells, labels, owner, skipped = self._training_cells(images, seed)
        outlined = np.isin(np.arange(len(images)), owner[labels == 1])
        rows = np.empty((len(images), len(MAP_NAMES)))
        failed = {entry["index"] for entry in skipped}
        for number, (train, test) in enumerate(self._folds(len(images), outlined, groups, seed)):
            fold = copy.copy(self)
            fold.__dict__.pop("classifier_digest_", None)  # an earlier fit's, if any
            fold.classifier_ = self._fitted_classifier(
                cells, labels, seed, np.isin(owner, train),
                where=f"the training part of cross-fitting fold {number} (the outlined "
                      f"images are in too few patients for cv={self.cv}: lower cv)")
            rows[test] = fold.transform(images[test])
            skipped += [{**entry, "index": int(test[entry["index"]])} for entry in fold.skipped_
                        if int(test[entry["index"]]) not in failed]
        self._fit_final(cells, labels, owner, seed)
        self.skipped_ = sorted(skipped, key=lambda entry: entry["index"])
        self._is_fitted = True
        return rows

    def _check_fitted(self):
        check_is_fitted(self, "classifier_")

    def _features(self, image, mask):
        cells, head_fraction = self._cells(image)
        in_head = head_fraction >= _HEAD_FRACTION
        probability = np.zeros(in_head.shape, np.float32)
        if in_head.any():
            probability[in_head] = self.classifier_.predict_proba(cells[in_head])[:, 1]
        return map_summary(probability, head_fraction, cells)

    def _cache_signature(self):
        return (*super()._cache_signature(), getattr(self, "classifier_digest_", None))
