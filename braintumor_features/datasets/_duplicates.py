"""Identical and near-identical images, so a split that shares them can be caught."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.utils import Bunch

from .._parallel import extract
from .._utils import to_uint8
from ..images import ImageSequence

__all__ = ["find_duplicates", "shared_duplicates", "merge_duplicate_groups"]


class _Thumbnail:
    """Picklable per-image function: a ``side`` x ``side`` thumbnail plus the image shape."""

    def __init__(self, side):
        self.side = side

    def __call__(self, image, mask):
        small = cv2.resize(to_uint8(image).astype(np.float32), (self.side, self.side),
                           interpolation=cv2.INTER_AREA)
        return np.concatenate([small.ravel(), image.shape])


def _exact_pairs(images, thumbnails):
    """Pairs of pixel-identical images: same thumbnail and shape, then compared in full."""
    buckets = {}
    for index, row in enumerate(thumbnails):
        buckets.setdefault(row.tobytes(), []).append(index)
    pairs = []
    for members in buckets.values():
        loaded = {i: images.load(i)[0] for i in members} if len(members) > 1 else {}
        for a, i in enumerate(members):
            pairs += [(i, j) for j in members[a + 1:] if np.array_equal(loaded[i], loaded[j])]
    return pairs


def _similar_pairs(vectors, threshold, block=1024):
    """Pairs ``i < j`` whose unit vectors have a dot product of at least ``threshold``."""
    first, second, score = [], [], []
    for start in range(0, len(vectors), block):
        similarity = vectors[start:start + block] @ vectors.T
        rows, cols = np.nonzero(similarity >= threshold)
        keep = cols > rows + start
        first.append(rows[keep] + start)
        second.append(cols[keep])
        score.append(similarity[rows[keep], cols[keep]])
    return np.concatenate(first), np.concatenate(second), np.concatenate(score)


def find_duplicates(images, *, threshold=0.99, thumbnail_size=32, n_jobs=None) -> Bunch:
    """Find identical and near-identical images.

    Every image is reduced to a ``thumbnail_size`` square thumbnail (grey
    values scaled to 0..255, area-averaged); two images are near-duplicates
    when the Pearson correlation of their thumbnails is at least
    ``threshold``, which survives re-encoding, resizing and brightness or
    contrast changes. Pairs with identical thumbnails are compared pixel by
    pixel to find exact duplicates. Duplicate pairs are joined into groups
    (connected components).

    Parameters
    ----------
    images : sequence
        Paths, arrays or :class:`~braintumor_features.images.MaskedImage`
        items (anything that is a valid ``X``).
    threshold : float, default=0.99
        Smallest thumbnail correlation of a near-duplicate pair. On
        ../shared/data/brain-mri, resized copies correlate above 0.999, while
        neighbouring slices of one patient reach 0.97 to 0.99.
    thumbnail_size : int, default=32
        Side of the thumbnails.
    n_jobs : int, default=None
        Parallel workers for reading the images.

    Returns
    -------
    Bunch with
        groups : list of ndarray of int
            Indices of each group of duplicates (two or more images), largest first.
        kinds : ndarray of str
            ``"exact"`` when every image of the group is pixel-identical, else ``"near"``.
        pairs : pandas.DataFrame
            ``first``, ``second``, ``correlation`` and ``exact`` per duplicate pair.
        labels : ndarray of int
            Group number of every image, -1 for images without a duplicate.

    See Also
    --------
    shared_duplicates : the groups that a train/test split puts on both sides.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.datasets import find_duplicates
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.integers(0, 256, (2, 64, 64)).astype(np.uint8)
    >>> found = find_duplicates([a, b, a.copy(), (a // 2 + 10).astype(np.uint8)])
    >>> [g.tolist() for g in found.groups], found.kinds.tolist()
    ([[0, 2, 3]], ['near'])
    >>> found.pairs.query("exact")[["first", "second"]].values.tolist()
    [[0, 2]]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if thumbnail_size < 2:
        raise ValueError(f"thumbnail_size must be at least 2, got {thumbnail_size!r}")
    sequence = ImageSequence(images)
    rows, _ = extract(sequence, _Thumbnail(thumbnail_size),
                      n_features=thumbnail_size**2 + 2, n_jobs=n_jobs)
    exact = _exact_pairs(sequence, rows)
    vectors = rows[:, :-2] - rows[:, :-2].mean(axis=1, keepdims=True)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    first, second, score = _similar_pairs(vectors, threshold)
    pairs = pd.DataFrame({"first": first, "second": second, "correlation": score})
    exact_frame = pd.DataFrame(exact, columns=["first", "second"], dtype=int)
    pairs = pairs.merge(exact_frame.assign(exact=True), on=["first", "second"], how="outer")
    pairs["exact"] = pairs["exact"].astype("boolean").fillna(False).astype(bool)
    pairs["correlation"] = pairs["correlation"].fillna(1.0)
    n = len(sequence)
    graph = coo_matrix((np.ones(len(pairs)), (pairs["first"], pairs["second"])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    order = sorted((c for c in range(len(sizes)) if sizes[c] > 1), key=lambda c: (-sizes[c], c))
    groups = [np.flatnonzero(component == c) for c in order]
    labels = np.full(n, -1)
    for number, members in enumerate(groups):
        labels[members] = number
    exact_counts = np.bincount(labels[exact_frame["first"]], minlength=len(groups))
    kinds = np.array(["exact" if exact_counts[k] == len(g) - 1 else "near"
                      for k, g in enumerate(groups)], dtype=object).astype(str)
    return Bunch(groups=groups, kinds=kinds, pairs=pairs.reset_index(drop=True), labels=labels)


def shared_duplicates(duplicates, train, test) -> list:
    """The duplicate groups that a split puts on both the train and the test side.

    Parameters
    ----------
    duplicates : Bunch
        The result of :func:`find_duplicates` over the whole data set.
    train, test : array-like of int
        Indices of the two sides (as a cross-validation splitter yields them).

    Returns
    -------
    list of ndarray of int
        The groups with members on both sides; empty when the split is clean.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from braintumor_features.datasets import shared_duplicates
    >>> found = Bunch(labels=np.array([0, -1, 0, 1, 1]), groups=[np.array([0, 2]), np.array([3, 4])])
    >>> [g.tolist() for g in shared_duplicates(found, train=[0, 1, 3, 4], test=[2])]
    [[0, 2]]
    """
    labels = np.asarray(duplicates.labels)
    both = np.intersect1d(labels[np.asarray(train, dtype=int)], labels[np.asarray(test, dtype=int)])
    return [duplicates.groups[k] for k in both if k >= 0]


def merge_duplicate_groups(groups, duplicates) -> np.ndarray:
    """Join the cross-validation groups that duplicates connect.

    Patients whose images duplicate each other (or files, where each file is
    its own group) become one group, so grouped cross-validation keeps all
    copies of an image on one side of every split.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Patient (or file) of each image.
    duplicates : Bunch
        The result of :func:`find_duplicates` over the same images.

    Returns
    -------
    ndarray of str
        The merged group of each image: the first (sorted) original group
        of its merged set.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from braintumor_features.datasets import merge_duplicate_groups
    >>> found = Bunch(labels=np.array([0, -1, -1, 0]))
    >>> merge_duplicate_groups(["a", "b", "c", "d"], found).tolist()
    ['a', 'b', 'c', 'a']
    """
    groups = np.asarray(groups).astype(str)
    names, codes = np.unique(groups, return_inverse=True)
    labels = np.asarray(duplicates.labels)
    linked = labels >= 0
    n = len(names)
    graph = coo_matrix(
        (np.ones(linked.sum()), (codes[linked], n + labels[linked])),
        shape=(n + labels.max() + 1, n + labels.max() + 1),
    )
    _, component = connected_components(graph, directed=False)
    first = {}
    for code in range(n):  # names are sorted: the first seen is the smallest
        first.setdefault(component[code], names[code])
    return np.array([first[component[c]] for c in codes])
