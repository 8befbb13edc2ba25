"""Joint histograms of two integer images: exact counts of value pairs."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["joint_counts", "code_type"]

#: ``cv2.calcHist`` counts in float32, exact up to 2**24 per bin; larger images use bincount.
_EXACT_COUNTS = 2**24


def code_type(n_values):
    """The smallest integer type OpenCV's histogram takes that holds ``0 .. n_values - 1``.

    Examples
    --------
    >>> from braintumor_features.features._joint import code_type
    >>> code_type(256).__name__, code_type(257).__name__
    ('uint8', 'uint16')
    """
    return np.uint8 if n_values <= 256 else np.uint16


def joint_counts(first, second, bins, mask=None):
    """How often each pair of values occurs at the same pixel.

    Parameters
    ----------
    first, second : ndarray of int, same shape (height, width)
        Values in ``0 .. bins[0] - 1`` and ``0 .. bins[1] - 1`` where counted.
    bins : (int, int)
    mask : ndarray of bool or None
        Count only these pixels (None: all); elsewhere the values may be anything.

    Returns
    -------
    counts : ndarray of shape bins
        ``counts[i, j]`` pixels with ``first == i`` and ``second == j``; float32
        (exact) from an image of under 2**24 pixels, else int64.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features._joint import joint_counts
    >>> joint_counts(np.array([[0, 1], [1, 1]]), np.array([[2, 0], [0, 1]]), (2, 3)).tolist()
    [[0.0, 0.0, 1.0], [2.0, 1.0, 0.0]]
    """
    rows, cols = bins
    if first.size < _EXACT_COUNTS:
        # One pass of OpenCV's histogram over both images, in one integer type it takes.
        dtype = code_type(max(rows, cols))
        first, second = (a if a.dtype == dtype else a.astype(dtype) for a in (first, second))
        return cv2.calcHist([first, second], [0, 1],
                            None if mask is None else np.ascontiguousarray(mask).view(np.uint8),
                            [rows, cols], [0, rows, 0, cols])
    codes = first.astype(np.intp) * cols + second
    codes = codes[mask] if mask is not None else codes.ravel()
    return np.bincount(codes, minlength=rows * cols).reshape(rows, cols)
