"""NumPy's default percentiles from order statistics, without calling np.percentile."""

from __future__ import annotations

import numpy as np

__all__ = ["linear_percentiles"]


def linear_percentiles(kth_smallest, n, q) -> np.ndarray:
    """``np.percentile(values, q)`` (its default, linear method) of ``n`` values.

    Parameters
    ----------
    kth_smallest : callable
        Given an array of ranks ``0 .. n - 1``, returns the values of those
        ranks in sorted order (e.g. indexing a sorted copy, or reading a
        histogram's cumulative counts).
    n : int
        Number of values, at least 1.
    q : float or sequence of float
        Percentiles, 0 to 100.

    Returns
    -------
    ndarray of float64
        The same numbers as ``np.percentile``: NumPy's rank ``(n - 1) q / 100``
        and its interpolation (``_lerp``, from the nearer of the two values).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features._percentiles import linear_percentiles
    >>> values = np.array([9.0, 0.0, 3.0, 7.0, 3.0])
    >>> ordered = np.sort(values)
    >>> linear_percentiles(ordered.__getitem__, 5, [10, 50, 95]).tolist()
    [1.2000000000000002, 3.0, 8.6]
    >>> np.percentile(values, [10, 50, 95]).tolist()
    [1.2000000000000002, 3.0, 8.6]
    """
    position = (n - 1) * np.true_divide(np.atleast_1d(q), 100)
    below = np.floor(position)
    weight = position - below
    low = np.asarray(kth_smallest(below.astype(np.intp)), dtype=np.float64)
    high = np.asarray(kth_smallest(np.minimum(below + 1, n - 1).astype(np.intp)), dtype=np.float64)
    step = high - low
    return np.where(weight >= 0.5, high - step * (1 - weight), low + step * weight)
