"""A tumour localiser learned from the outlines: do its maps help the default features?

Usage::

    OMP_NUM_THREADS=1 python benchmarks/tumour_localiser.py [--data ../shared/data/brain-mri]
        [--second-source ../shared/data/brain-mri-sartaj]
        [--cache-dir ~/.cache/braintumor-features/tumour_localiser] [--normal-negatives]

About 20 minutes on one core with an empty cache (the 16 localiser fits and their
maps take about 10, the grid features 5, the default features 2), peak memory 2 GB;
about 1.5 minutes when every stage is cached. Set ``OMP_NUM_THREADS=1`` to keep
the gradient boosting on one core.

The localiser is a HistGradientBoosting classifier of cells: every slice's
canonical head (grayscale, cropped to the head, 256 x 256 with the aspect kept,
as the default pipeline makes it) is cut into a 64 x 64 grid of 4 x 4-pixel
cells, each described by 22 head-relative tissue features (robust z-score,
local spread, rank within the head, differences of Gaussians, left-right
asymmetry, position, gradient energy, LBP fractions). It learns tumour cells
(inside the ``tumor_border`` outline) against other head cells of the outlined
slices; ``--normal-negatives`` also takes negative cells from no_tumor heads.
Its probability map of a slice is summarised in 36 image features (peak, top
percentiles, areas, the blob around the peak: size, shape, tissue inside it
and against a ring around it), which are added to the default features
(``make_pipeline()`` up to ``features``) before the default scaler and SVM.

Protocol, leakage-free cross-fitting. The folds F_0..F_4 are
StratifiedGroupKFold(5, shuffle=True, random_state=0) over ``subject`` on
brain-mri, subjects that share near-duplicate images joined (as accuracy.py
joins them), so no copy of a slice is on both sides. A test fold's maps come from
a localiser L_k that never saw the fold; the training rows of fold k get
their maps from localisers L_{k,j} that left out both fold k and their own
fold j, so the classifier trains on maps as imperfect as the ones it is
tested on. For the cross-source score (trained on all of brain-mri, scored on
brain-mri-sartaj) the brain-mri rows use the held-out maps of L_k and the
sartaj maps come from a localiser trained on all of brain-mri (sartaj has no
outlines; no sartaj label is ever used by a localiser).

Printed: the localiser's quality on held-out subjects (cell ROC AUC, Dice of
P > 0.5, how often the map's peak lies inside the outline, per class); for
the default features, default + localiser, the localiser's features alone and
a hierarchical model (tumour or not from the localiser, the type from the
default features): grouped-CV 4-class accuracy on brain-mri, cross-source
4-class accuracy on sartaj and sartaj tumour-vs-none accuracy; the sartaj
confusion matrices of default and default + localiser, with an exact McNemar
test of the two on the same sartaj slices; and sartaj as extra training data
(all of brain-mri + 4/5 of sartaj, scored on the held-out fifth, 5 folds grouped
by near-duplicates).

Every stage's arrays are saved as .npy files in ``--cache-dir`` and reused by
the next run; delete the folder after changing the preprocessing or this script.
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy.stats import binomtest
from skimage.feature import local_binary_pattern
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from braintumor_features import make_pipeline
from braintumor_features.datasets import (
    CLASS_NAMES, find_duplicates, load_folder, merge_duplicate_groups,
)
from braintumor_features.images import ImageSequence, with_masks
from braintumor_features.preprocessing import head_mask, percentiles_of_counts

from accuracy import DEFAULT_DATA, SECOND_SOURCE, split_stateless

DEFAULT_CACHE = Path("~/.cache/braintumor-features/tumour_localiser").expanduser()
LABELS = list(CLASS_NAMES)
GRID = 64  # cells a side of the 256 x 256 canonical image
HEAD_FRACTION = 0.5  # a cell belongs to the head when at least this fraction of it does
TUMOUR_FRACTION = 0.5  # ... and to the tumour when at least this fraction is in the outline
N_FOLDS = 5
VARIANTS = ["default", "default + localiser", "localiser only", "hierarchical"]
#: Tissue features of a cell, in the localiser's column order.
TISSUE_FEATURES = (
    "zmean_s1.5", "zmean_s4", "zmean_s10", "zstd_s2", "zstd_s6", "zmedian_k5", "zmedian_k11",
    "rank_s2", "rank_s8", "dog_1.5_4", "dog_4_10", "dog_10_25", "asym_s4", "absasym_s4",
    "asym_s10", "absasym_s10", "border_dist", "centre_dist", "grad_s1.5", "grad_s4",
    "lbp_nonuniform_s4", "lbp_edge_s4",
)
COLUMN = {name: i for i, name in enumerate(TISSUE_FEATURES)}
#: Tissue features averaged over the map's blob (and, but for positions, against a ring).
BLOB_FEATURES = ("zmean_s1.5", "zstd_s2", "zmedian_k5", "rank_s2", "absasym_s4", "asym_s4",
                 "dog_4_10", "grad_s1.5", "lbp_nonuniform_s4", "border_dist", "centre_dist")
POSITIONS = ("border_dist", "centre_dist")
#: Tissue features averaged with the map as weights.
WEIGHTED_FEATURES = ("zmean_s1.5", "rank_s2", "absasym_s4")


def cached(directory, stage, names, compute):
    """Arrays of one stage, computed once and then read from ``directory``.

    Parameters
    ----------
    directory : Path
        The cache folder.
    stage : str
        Prefix of the stage's files, ``<stage>.<name>.npy``.
    names : sequence of str
        The arrays' names, in the order ``compute`` returns them.
    compute : callable
        ``compute()`` returns a tuple of arrays, one per name.

    Returns
    -------
    tuple of ndarray
    """
    paths = [directory / f"{stage}.{name}.npy" for name in names]
    if all(path.exists() for path in paths):
        return tuple(np.load(path) for path in paths)
    start = time.perf_counter()
    arrays = compute()
    for path, array in zip(paths, arrays):
        np.save(path, array)
    print(f"[{stage}: {time.perf_counter() - start:.0f} s]", flush=True)
    return arrays


def canonical_images(data):
    """Canonical heads with their outline masks and head masks.

    Parameters
    ----------
    data : Bunch
        A data set from ``load_folder`` (paths and outlines).

    Returns
    -------
    image : ndarray of uint8, shape (n, 256, 256)
        Grayscale, cropped to the head, resized keeping the aspect (before CLAHE).
    equalised : ndarray of uint8, shape (n, 256, 256)
        ``image`` after the default CLAHE, for the LBP features.
    tumour : ndarray of bool, shape (n, 256, 256)
        The filled outline, all False where a slice has none.
    head : ndarray of bool, shape (n, 256, 256)
        ``head_mask`` of ``image``.
    """
    # The default pipeline's own steps up to (not including) CLAHE, and its CLAHE.
    pipe = make_pipeline()
    clahe_at = list(pipe.named_steps).index("clahe")
    images = ImageSequence(with_masks(data.paths, data.masks),
                           tuple(step for _, step in pipe.steps[:clahe_at]))
    clahe = pipe.named_steps["clahe"]
    n = len(images)
    image, equalised = np.zeros((n, 256, 256), np.uint8), np.zeros((n, 256, 256), np.uint8)
    tumour, head = np.zeros((n, 256, 256), bool), np.zeros((n, 256, 256), bool)
    for i in range(n):
        image[i], mask = images.load(i)
        equalised[i] = clahe.apply(image[i], None)[0]
        if mask is not None:
            tumour[i] = mask
        head[i] = head_mask(image[i])
    return image, equalised, tumour, head


def default_matrix(data):
    """The default pipeline's features (``make_pipeline()`` up to ``features``), one core.

    Parameters
    ----------
    data : Bunch
        A data set from ``load_folder``.

    Returns
    -------
    ndarray of float32, shape (n, 995)
    """
    stateless, _ = split_stateless(make_pipeline(n_jobs=1))
    return np.asarray(stateless.transform(data.paths), np.float32)


def source_features(source, key, cache):
    """The default features and the grid features of one source, through the cache.

    Parameters
    ----------
    source : Bunch
        A data set from ``load_folder``.
    key : str
        Prefix of its cache files (the data folder's name).
    cache : Path

    Returns
    -------
    default : ndarray, shape (n, 995)
    grid : tuple of ndarray
        (cells, head_fraction, tumour_fraction) from :func:`grid_features`.
    """
    default = cached(cache, f"{key}.default", ["features"],
                     lambda: (default_matrix(source),))[0]

    def grid():
        canonical = cached(cache, f"{key}.canonical", ["image", "equalised", "tumour", "head"],
                           lambda: canonical_images(source))
        return grid_features(*canonical)

    return default, cached(cache, f"{key}.grid", ["cells", "head_fraction", "tumour_fraction"],
                           grid)


def smooth(values, head, sigma):
    """Gaussian mean of ``values`` inside the head (the background does not bleed in)."""
    size = int(2 * round(3 * sigma) + 1)
    weighted = cv2.GaussianBlur(values * head, (size, size), sigma)
    weight = cv2.GaussianBlur(head, (size, size), sigma)
    return weighted / np.maximum(weight, 1e-3)


def to_cells(values):
    """Mean of ``values`` over each cell of the 64 x 64 grid."""
    return cv2.resize(values.astype(np.float32), (GRID, GRID), interpolation=cv2.INTER_AREA)


def tissue_maps(image, equalised, head):
    """Per-pixel tissue features of one canonical head, all relative to the head itself.

    Parameters
    ----------
    image : ndarray of uint8, shape (256, 256)
        The canonical image before CLAHE.
    equalised : ndarray of uint8, shape (256, 256)
        The same after CLAHE.
    head : ndarray of bool, shape (256, 256)

    Returns
    -------
    dict
        One (256, 256) array per name of ``TISSUE_FEATURES``.
    """
    if head.sum() < 100:  # no usable head: the whole image stands for it
        head = np.ones_like(head)
    weight = head.astype(np.float32)
    counts = np.bincount(image[head], minlength=256)
    q1, median, q3 = (np.float32(v) for v in percentiles_of_counts(counts, (25, 50, 75)))
    spread = max(q3 - q1, 1.0)
    z = np.clip((image.astype(np.float32) - median) / spread, -6, 6).astype(np.float32)
    rank = (np.cumsum(counts) / counts.sum())[image].astype(np.float32)
    out = {}
    mean = {s: smooth(z, weight, s) for s in (1.5, 4, 10, 25)}
    for s in (1.5, 4, 10):
        out[f"zmean_s{s}"] = mean[s]
    for s in (2, 6):
        first, second = smooth(z, weight, s), smooth(z * z, weight, s)
        out[f"zstd_s{s}"] = np.sqrt(np.maximum(second - first * first, 0))
    for size in (5, 11):
        filtered = cv2.medianBlur(image, size).astype(np.float32)
        out[f"zmedian_k{size}"] = (filtered - np.float32(median)) / np.float32(spread)
    for s in (2, 8):
        out[f"rank_s{s}"] = smooth(rank, weight, s)
    for fine, coarse in ((1.5, 4), (4, 10), (10, 25)):
        out[f"dog_{fine}_{coarse}"] = mean[fine] - mean[coarse]
    # Left-right asymmetry: the mean against its mirror about the head's centroid column.
    rows, columns = np.nonzero(head)
    centre_x, centre_y = columns.mean(), rows.mean()
    height, width = image.shape
    shift = int(round(2 * centre_x - (width - 1)))
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
    out["centre_dist"] = np.sqrt((x - centre_x) ** 2 + (y - centre_y) ** 2) / radius
    for s in (1.5, 4):
        dx = cv2.Sobel(mean[s], cv2.CV_32F, 1, 0)
        dy = cv2.Sobel(mean[s], cv2.CV_32F, 0, 1)
        out[f"grad_s{s}"] = smooth(np.sqrt(dx * dx + dy * dy), weight, 4)
    codes = local_binary_pattern(equalised, 8, 1, "uniform")
    out["lbp_nonuniform_s4"] = smooth((codes == 9).astype(np.float32), weight, 4)
    out["lbp_edge_s4"] = smooth(((codes >= 3) & (codes <= 5)).astype(np.float32), weight, 4)
    return out


def grid_features(image, equalised, tumour, head):
    """Tissue features of every cell of the 64 x 64 grid, and the cells' head and tumour fractions.

    Parameters
    ----------
    image, equalised, tumour, head : ndarray, shape (n, 256, 256)
        From :func:`canonical_images`.

    Returns
    -------
    cells : ndarray of float16, shape (n, 64, 64, 22)
        Cell means of ``TISSUE_FEATURES`` (float16 halves the 1.3 GB of brain-mri).
    head_fraction, tumour_fraction : ndarray of float32, shape (n, 64, 64)
    """
    cells = np.zeros((len(image), GRID, GRID, len(TISSUE_FEATURES)), np.float16)
    for i in range(len(image)):
        maps = tissue_maps(image[i], equalised[i], head[i])
        cells[i] = np.stack([to_cells(maps[name]) for name in TISSUE_FEATURES], -1)
    return (cells, np.stack([to_cells(m) for m in head]),
            np.stack([to_cells(m) for m in tumour]))


def training_cells(cells, head_fraction, tumour_fraction, slices, n_tumour=40, n_other=80):
    """Sample the localiser's training cells: tumour cells and other head cells of each slice.

    Parameters
    ----------
    cells : ndarray, shape (n, 64, 64, 22)
    head_fraction, tumour_fraction : ndarray, shape (n, 64, 64)
    slices : ndarray of int
        The slices to sample; each draws with its own seed (its index).
    n_tumour, n_other : int
        Cells drawn per slice: at most ``n_tumour`` at least half inside the outline and
        ``n_other`` in the head entirely outside it.

    Returns
    -------
    X : ndarray of float32, shape (n_cells, 22)
    y : ndarray of int
        1 for tumour cells.
    """
    X, y = [], []
    for i in slices:
        rng = np.random.default_rng(int(i))
        in_head = head_fraction[i] >= HEAD_FRACTION
        tumour = np.flatnonzero((tumour_fraction[i] >= TUMOUR_FRACTION) & in_head)
        other = np.flatnonzero((tumour_fraction[i] == 0) & in_head)
        if tumour.size:
            tumour = rng.choice(tumour, min(n_tumour, tumour.size), replace=False)
        other = rng.choice(other, min(n_other, other.size), replace=False)
        rows = cells[i].reshape(-1, cells.shape[-1])
        X += [rows[tumour], rows[other]]
        y += [1] * tumour.size + [0] * other.size
    return np.vstack(X).astype(np.float32), np.array(y)


def fit_localiser(cells, head_fraction, tumour_fraction, slices):
    """A HistGradientBoosting cell classifier trained on ``slices``.

    Parameters
    ----------
    cells, head_fraction, tumour_fraction : ndarray
        From :func:`grid_features`.
    slices : ndarray of int

    Returns
    -------
    HistGradientBoostingClassifier
    """
    X, y = training_cells(cells, head_fraction, tumour_fraction, slices)
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_leaf_nodes=31,
                                           min_samples_leaf=40, early_stopping=False,
                                           random_state=0)
    return model.fit(X, y)


def predict_maps(localiser, cells, head_fraction, batch=200):
    """Tumour probability of every head cell (0 outside the head).

    Parameters
    ----------
    localiser : fitted classifier
    cells, head_fraction : ndarray
        Of the slices to map, from :func:`grid_features`.
    batch : int
        Slices per call to ``predict_proba``.

    Returns
    -------
    ndarray of float16, shape (n, 64, 64)
    """
    maps = np.zeros(head_fraction.shape, np.float16)
    for start in range(0, len(maps), batch):
        part = slice(start, start + batch)
        in_head = head_fraction[part] >= HEAD_FRACTION
        probability = np.zeros(in_head.shape, np.float32)
        probability[in_head] = localiser.predict_proba(
            cells[part][in_head].astype(np.float32))[:, 1]
        maps[part] = probability
    return maps


def cross_fitted_maps(cells, head_fraction, tumour_fraction, training, folds, other_cells,
                      other_head_fraction):
    """Localiser maps that no localiser made of a slice it trained on.

    Parameters
    ----------
    cells, head_fraction, tumour_fraction : ndarray
        Grid features of brain-mri.
    training : ndarray of bool
        Slices a localiser may learn from (outlined, and with ``--normal-negatives``
        the no_tumor slices).
    folds : ndarray of int
        Outer fold of each brain-mri slice.
    other_cells, other_head_fraction : ndarray
        Grid features of the second source.

    Returns
    -------
    held_out : ndarray, shape (n, 64, 64)
        Maps of fold k by L_k, trained outside fold k.
    inner : ndarray, shape (5, n, 64, 64)
        ``inner[k]``: maps of fold j != k by L_{k,j}, trained outside folds k and j
        (the training rows of outer fold k); zero on fold k.
    other : ndarray, shape (n_other, 64, 64)
        Maps of the second source by a localiser trained on all of brain-mri.
    """
    def maps_by(left_out, mapped):
        localiser = fit_localiser(cells, head_fraction, tumour_fraction,
                                  np.flatnonzero(training & ~np.isin(folds, left_out)))
        return predict_maps(localiser, cells[mapped], head_fraction[mapped])

    held_out = np.zeros(head_fraction.shape, np.float16)
    inner = np.zeros((N_FOLDS, *head_fraction.shape), np.float16)
    for k in range(N_FOLDS):
        held_out[folds == k] = maps_by([k], folds == k)
    # L_{k,j} and L_{j,k} learn from the same slices: one fit maps both folds.
    for k, j in combinations(range(N_FOLDS), 2):
        both = np.isin(folds, [k, j])
        inner_maps = maps_by([k, j], both)
        inner[k, folds == j] = inner_maps[folds[both] == j]
        inner[j, folds == k] = inner_maps[folds[both] == k]
    localiser = fit_localiser(cells, head_fraction, tumour_fraction, np.flatnonzero(training))
    return held_out, inner, predict_maps(localiser, other_cells, other_head_fraction)


def map_summary(probability, head_fraction, cells):
    """Image-level features of one slice's localiser map.

    Parameters
    ----------
    probability : ndarray, shape (64, 64)
    head_fraction : ndarray, shape (64, 64)
    cells : ndarray, shape (64, 64, 22)

    Returns
    -------
    dict
        36 named features: the map's peak, top 1 % and 5 %, mean and areas above 0.5 and 0.8;
        its components above 0.5; the blob (the component of P >= half the peak holding the
        peak): area, mean P, solidity, compactness, elongation, tissue features inside it and
        against a 3-cell ring around it; tissue features weighted by P.
    """
    head = head_fraction >= HEAD_FRACTION
    probability = probability.astype(np.float32)  # 0 outside the head (predict_maps)
    in_head = probability[head] if head.any() else np.zeros(1, np.float32)
    n_head = in_head.size
    ranked = np.sort(in_head)[::-1]
    f = {"p_max": ranked[0], "p_top1": ranked[:max(1, n_head // 100)].mean(),
         "p_top5": ranked[:max(1, n_head // 20)].mean(), "p_mean": in_head.mean(),
         "area_05": (in_head > 0.5).mean(), "area_08": (in_head > 0.8).mean()}
    n_components, _, stats, _ = cv2.connectedComponentsWithStats(
        (probability > 0.5).astype(np.uint8), connectivity=8)
    f["n_comp_05"] = n_components - 1
    f["largest_05"] = stats[1:, cv2.CC_STAT_AREA].max() / n_head if n_components > 1 else 0.0
    peak = np.unravel_index(np.argmax(probability), probability.shape)
    threshold = max(0.5 * probability[peak], 0.05)
    _, labels, _, _ = cv2.connectedComponentsWithStats(
        (probability >= threshold).astype(np.uint8), connectivity=8)
    # The peak's component; a peak under 0.05 is in none (label 0): the peak cell alone.
    blob = labels == labels[peak] if labels[peak] else np.zeros(labels.shape, bool)
    blob[peak] = True
    area = blob.sum()
    f["blob_area"] = area / n_head
    f["blob_pmean"] = probability[blob].mean()
    contours, _ = cv2.findContours(blob.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.contourArea(cv2.convexHull(contour))
    f["blob_solidity"] = area / max(hull, 1.0) if area > 2 else 1.0
    f["blob_compact"] = 4 * np.pi * area / max(cv2.arcLength(contour, True), 1.0) ** 2
    if area > 2:
        rows, columns = np.nonzero(blob)
        low, high = np.sort(np.linalg.eigvalsh(np.cov(np.vstack([columns, rows]))))
        f["blob_elong"] = np.sqrt(low / max(high, 1e-6))
    else:
        f["blob_elong"] = 1.0
    ring = cv2.dilate(blob.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    ring &= ~blob & head
    for name in BLOB_FEATURES:
        values = cells[..., COLUMN[name]].astype(np.float32)
        f[f"blob_{name}"] = values[blob].mean()
        if name not in POSITIONS:
            f[f"blobring_{name}"] = values[blob].mean() - (values[ring].mean() if ring.any()
                                                           else 0.0)
    weights = probability / max(probability.sum(), 1e-6)
    for name in WEIGHTED_FEATURES:
        f[f"pw_{name}"] = (weights * cells[..., COLUMN[name]].astype(np.float32)).sum()
    return f


def map_features(maps, cells, head_fraction):
    """:func:`map_summary` of each slice, as a float32 matrix (n, 36)."""
    return np.array([list(map_summary(*item).values())
                     for item in zip(maps, head_fraction, cells)], np.float32)


def cross_fitted_map_features(held_out, inner, other, folds, grid, other_grid):
    """Map features of the held-out, inner and second-source maps.

    Parameters
    ----------
    held_out, inner, other : ndarray
        From :func:`cross_fitted_maps`.
    folds : ndarray of int
    grid, other_grid : tuple
        (cells, head_fraction) of brain-mri and of the second source.

    Returns
    -------
    held_out : ndarray, shape (n, 36)
    inner : ndarray, shape (5, n, 36)
        ``inner[k]`` on the training rows of outer fold k, zero on fold k.
    other : ndarray, shape (n_other, 36)
    """
    cells, head_fraction = grid
    features = map_features(held_out, cells, head_fraction)
    inner_features = np.zeros((N_FOLDS, *features.shape), np.float32)
    for k in range(N_FOLDS):
        train = folds != k
        inner_features[k, train] = map_features(inner[k, train], cells[train],
                                                head_fraction[train])
    return features, inner_features, map_features(other, *other_grid)


def localiser_quality(maps, head_fraction, tumour_fraction, y):
    """Held-out quality of the maps on the outlined slices, overall and per class.

    Parameters
    ----------
    maps, head_fraction, tumour_fraction : ndarray, shape (n, 64, 64)
    y : ndarray of str

    Returns
    -------
    pandas.DataFrame
        Slices, cell ROC AUC (tumour cells against other head cells), mean and median
        Dice of P > 0.5 with the outline, and the fraction of slices whose peak cell
        lies inside the outline.
    """
    rows = []
    for i in range(len(maps)):
        head = head_fraction[i] >= HEAD_FRACTION
        truth = (tumour_fraction[i] >= TUMOUR_FRACTION) & head
        if not truth.any():
            continue
        probability = maps[i].astype(np.float32)  # 0 outside the head (predict_maps)
        found = probability > 0.5
        rows.append({"class": y[i], "truth": truth[head], "probability": probability[head],
                     "dice": 2 * (found & truth).sum() / max(found.sum() + truth.sum(), 1),
                     "peak inside": truth.flat[np.argmax(probability)]})
    slices = pd.DataFrame(rows)

    def summary(part):
        return {"slices": len(part),
                "cell AUC": roc_auc_score(np.concatenate(part.truth.tolist()),
                                          np.concatenate(part.probability.tolist())),
                "Dice mean": part.dice.mean(), "Dice median": part.dice.median(),
                "peak inside outline": part["peak inside"].mean()}

    table = {"all": summary(slices)}
    table.update({label: summary(part) for label, part in slices.groupby("class")})
    return pd.DataFrame(table).T


def classifier():
    """The default pipeline's learned steps: StandardScaler and the balanced SVM."""
    return split_stateless(make_pipeline(random_state=0))[1]


def fit_predict(variant, train, y_train, test):
    """Train one variant and predict.

    Parameters
    ----------
    variant : str
        One of ``VARIANTS``.
    train, test : tuple of ndarray
        (default features, localiser features) of the rows.
    y_train : ndarray of str

    Returns
    -------
    ndarray of str
    """
    (default_train, localiser_train), (default_test, localiser_test) = train, test
    if variant == "default":
        return classifier().fit(default_train, y_train).predict(default_test)
    if variant == "default + localiser":
        return classifier().fit(np.hstack(train), y_train).predict(np.hstack(test))
    if variant == "localiser only":
        return classifier().fit(localiser_train, y_train).predict(localiser_test)
    # hierarchical: tumour or not from the localiser, the tumour type from the default features
    is_tumour = y_train != "no_tumor"
    found = classifier().fit(localiser_train, is_tumour).predict(localiser_test)
    kind = classifier().fit(default_train[is_tumour], y_train[is_tumour]).predict(default_test)
    return np.where(found, kind, "no_tumor")


def grouped_cv_predictions(variant, default, localiser, localiser_inner, y, folds):
    """Out-of-fold predictions on brain-mri: training rows with inner maps, test rows held out."""
    predicted = np.empty(len(y), object)
    for k in range(N_FOLDS):
        train, test = folds != k, folds == k
        predicted[test] = fit_predict(variant, (default[train], localiser_inner[k, train]),
                                      y[train], (default[test], localiser[test]))
    return predicted


def second_source_cv_predictions(variant, first, y, second, y_second, groups_second):
    """Each fifth of the second source predicted by a model of brain-mri + the other 4/5.

    Parameters
    ----------
    variant : str
    first, second : tuple of ndarray
        (default features, localiser features) of brain-mri (held-out maps) and of the
        second source.
    y, y_second : ndarray of str
    groups_second : ndarray
        Groups of the second source (near-duplicates joined): no group on both sides.

    Returns
    -------
    ndarray of str
    """
    predicted = np.empty(len(y_second), object)
    folds = group_folds(y_second, groups_second)
    for k in range(N_FOLDS):
        train, test = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        rows = tuple(np.vstack([a, b[train]]) for a, b in zip(first, second))
        predicted[test] = fit_predict(variant, rows, np.concatenate([y, y_second[train]]),
                                      tuple(b[test] for b in second))
    return predicted


def tumour_vs_none(y, predicted):
    """Accuracy of the tumour / no tumour decision implied by 4-class predictions."""
    return np.mean((y == "no_tumor") == (predicted == "no_tumor"))


def confusion(y, predicted):
    """Confusion matrix (rows: true classes present, columns: predicted) as a table."""
    table = pd.DataFrame(confusion_matrix(y, predicted, labels=LABELS), LABELS, LABELS)
    return table.loc[[label for label in LABELS if label in set(y)]]


def mcnemar(y, baseline, candidate):
    """Exact McNemar test of two predictions of the same slices.

    Returns
    -------
    only_candidate, only_baseline : int
        Slices only one of the two gets right.
    p : float
        Two-sided exact binomial p-value of the discordant counts.
    """
    right, right_candidate = baseline == y, candidate == y
    only_candidate = int((right_candidate & ~right).sum())
    only_baseline = int((right & ~right_candidate).sum())
    discordant = only_candidate + only_baseline
    p = binomtest(only_candidate, discordant).pvalue if discordant else 1.0
    return only_candidate, only_baseline, p


def print_paired(title, y, predictions):
    """Print the McNemar comparison of default and default + localiser."""
    only_new, only_default, p = mcnemar(y, predictions["default"],
                                        predictions["default + localiser"])
    print(f"{title}: only default + localiser right {only_new}, only default right "
          f"{only_default}, exact McNemar p = {p:.4f}")


def group_folds(y, groups):
    """Outer fold of each slice: StratifiedGroupKFold(5, shuffle=True, random_state=0)."""
    folds = np.zeros(len(y), int)
    cv = StratifiedGroupKFold(N_FOLDS, shuffle=True, random_state=0)
    for k, (_, test) in enumerate(cv.split(np.zeros(len(y)), y, groups)):
        folds[test] = k
    return folds


def compare_variants(first, y, folds, second, y_second, names):
    """Print the accuracy table, the second source's confusions and the paired test.

    Parameters
    ----------
    first : tuple of ndarray
        (default features, held-out map features, inner map features) of brain-mri.
    y : ndarray of str
    folds : ndarray of int
    second : tuple of ndarray
        (default features, map features) of the second source.
    y_second : ndarray of str
    names : tuple of str
        The two data folders' names, for the titles.
    """
    default, localiser, localiser_inner = first
    rows, predictions = [], {}
    for variant in VARIANTS:
        grouped = grouped_cv_predictions(variant, default, localiser, localiser_inner, y, folds)
        predictions[variant] = fit_predict(variant, (default, localiser), y, second)
        rows.append({"variant": variant,
                     "grouped CV 4-class": accuracy_score(y, grouped),
                     "cross-source 4-class": accuracy_score(y_second, predictions[variant]),
                     "cross-source tumour-vs-none": tumour_vs_none(y_second,
                                                                   predictions[variant])})
    print(f"\naccuracy: grouped CV on {names[0]}; trained on all of it, scored on {names[1]}:")
    print(pd.DataFrame(rows).set_index("variant").to_string(float_format="{:.3f}".format))
    for variant in ["default", "default + localiser"]:
        print(f"\n{names[1]} confusion, {variant} (rows true, columns predicted):")
        print(confusion(y_second, predictions[variant]).to_string())
    print()
    print_paired(f"paired on {names[1]}", y_second, predictions)


def second_source_as_training(first, y, second, y_second, groups_second, names):
    """Print accuracy on each held-out fifth of the second source, the rest added to training.

    Parameters
    ----------
    first, second : tuple of ndarray
        (default features, map features) of brain-mri (held-out maps) and of the second source.
    y, y_second : ndarray of str
    groups_second : ndarray
        Groups of the second source (near-duplicates joined).
    names : tuple of str
        The two data folders' names, for the titles.
    """
    print(f"\n{names[1]} as extra training data: all of {names[0]} + 4/5 of {names[1]}, "
          f"scored on the held-out fifth (5 folds):")
    predictions = {}
    for variant in ["default", "default + localiser"]:
        predictions[variant] = second_source_cv_predictions(variant, first, y, second, y_second,
                                                            groups_second)
        print(f"{variant}: 4-class {accuracy_score(y_second, predictions[variant]):.3f}, "
              f"tumour-vs-none {tumour_vs_none(y_second, predictions[variant]):.3f}")
        print(confusion(y_second, predictions[variant]).to_string())
    print_paired("paired", y_second, predictions)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--second-source", type=Path, default=SECOND_SOURCE)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help="where each stage's .npy arrays are kept between runs")
    parser.add_argument("--normal-negatives", action="store_true",
                        help="also train the localiser on cells of no_tumor heads (v2)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    cache = args.cache_dir.expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    data, other = load_folder(args.data), load_folder(args.second_source)
    names = (args.data.name, args.second_source.name)
    y, y_other = data.target, other.target
    # Subjects joined where they share near-duplicate images, as in accuracy.py, so that no
    # copy of a slice is on both sides of a split (or in a localiser's and its maps' folds).
    groups, groups_other = (merge_duplicate_groups(source.groups, find_duplicates(source.paths))
                            for source in (data, other))
    folds = group_folds(y, groups)

    default, grid = source_features(data, names[0], cache)
    default_other, grid_other = source_features(other, names[1], cache)
    cells, head_fraction, tumour_fraction = grid
    training = tumour_fraction.reshape(len(y), -1).max(1) >= TUMOUR_FRACTION
    if args.normal_negatives:  # no_tumor slices have no tumour cells: only negatives
        training |= y == "no_tumor"
    localiser_key = "localiser_v2" if args.normal_negatives else "localiser"
    maps = cached(cache, f"{localiser_key}.maps", ["held_out", "inner", "other"],
                  lambda: cross_fitted_maps(cells, head_fraction, tumour_fraction, training,
                                            folds, *grid_other[:2]))
    localiser, localiser_inner, localiser_other = cached(
        cache, f"{localiser_key}.map_features", ["held_out", "inner", "other"],
        lambda: cross_fitted_map_features(*maps, folds, grid[:2], grid_other[:2]))
    print(f"{len(y)} + {len(y_other)} slices, {default.shape[1]} default and "
          f"{localiser.shape[1]} localiser features, {training.sum()} slices train a localiser")

    pd.set_option("display.width", 200)
    print(f"\nlocaliser on held-out subjects (outlined {names[0]} slices, maps of L_k):")
    print(localiser_quality(maps[0], head_fraction, tumour_fraction, y).to_string(
        float_format="{:.3f}".format, formatters={"slices": "{:.0f}".format}))
    compare_variants((default, localiser, localiser_inner), y, folds,
                     (default_other, localiser_other), y_other, names)
    second_source_as_training((default, localiser), y, (default_other, localiser_other),
                              y_other, groups_other, names)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
