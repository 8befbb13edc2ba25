"""Histograms over a spatial grid: where in the head a pattern occurs.

On the canonical head image (cropped to the head, one size) a grid cell
covers the same part of every head, so per-cell histograms of LBP codes or
grey levels keep the layout that one global histogram throws away.
"""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral

import numpy as np

from ._joint import code_type, joint_counts

__all__ = ["SIDES", "cell_histograms", "cell_names", "check_grid"]

#: How left and right cells are given: ``"kept"`` as they are, ``"pooled"`` as
#: the sum and the absolute difference of each cell and its mirror cell.
SIDES = ("kept", "pooled")


def check_grid(grid):
    """Raise a ValueError naming ``grid`` unless it is a non-empty sequence of positive ints."""
    if len(grid) == 0 or any(not isinstance(n, Integral) or n < 1 for n in grid):
        raise ValueError(f"grid must be positive integers such as (1, 2, 4), got {grid!r}")


@lru_cache(maxsize=32)
def _atoms(shape, grid):
    """The pieces every grid's cells are made of, for an image of ``shape``.

    The cut lines of all grids together split the image into atoms. Returns
    the atom number of every pixel (read-only) and a 0/1 matrix of shape
    ``(cells of all grids, atoms)`` saying which atoms form each cell, so
    counts per atom give counts per cell by one matrix product.
    """
    cuts = [[np.linspace(0, size, n + 1).astype(int) for n in grid] for size in shape]
    lines = [np.unique(np.concatenate(per_grid)) for per_grid in cuts]
    # Atom row (column) of every pixel row (column); atoms numbered row-major.
    along = [np.repeat(np.arange(len(edge) - 1), np.diff(edge)) for edge in lines]
    n_cols = len(lines[1]) - 1
    numbers = along[0][:, None] * n_cols + along[1][None, :]
    numbers = numbers.astype(code_type(numbers.max(initial=0) + 1))
    numbers.flags.writeable = False
    members = []
    for level, n in enumerate(grid):
        # For each cell row (column) of this grid, which atom rows (columns) it covers.
        inside = [np.searchsorted(cut[level], edge[:-1], side="right") - 1
                  for edge, cut in zip(lines, cuts)]
        members += [np.outer(inside[0] == i, inside[1] == j).ravel()
                    for i in range(n) for j in range(n)]
    members = np.array(members, dtype=np.int64)
    members.flags.writeable = False
    return numbers, members


def _pool_sides(histograms, n_bins, grid):
    """Each cell and its mirror cell (same row, column ``n - 1 - j``) as their sum (in
    the left cell's place) and absolute difference (in the right cell's place)."""
    pooled, start = histograms.copy(), 0
    for n in grid:
        cells = pooled[start : start + n * n * n_bins].reshape(n, n, n_bins)
        left, right = cells[:, : n // 2], cells[:, ::-1][:, : n // 2]
        total, difference = left + right, np.abs(left - right)
        cells[:, : n // 2] = total
        cells[:, ::-1][:, : n // 2] = difference
        start += n * n * n_bins
    return pooled


def cell_histograms(codes, region, n_bins, grid, sides="kept"):
    """Normalised histograms of integer codes in every cell of every grid.

    Parameters
    ----------
    codes : ndarray of int, shape (height, width)
        Bin index of every pixel, in ``0 .. n_bins - 1``.
    region : ndarray of bool or None
        Pixels counted (None: all).
    n_bins : int
    grid : sequence of int
        For each ``n``, the image is cut into ``n`` x ``n`` equal cells
        (1 is the whole image).
    sides : {"kept", "pooled"}, default="kept"
        ``"pooled"``: each cell left of the middle holds the sum of its
        histogram and its mirror cell's, the mirror cell holds their absolute
        difference, so a left-right mirror image gives the same values (an
        asymmetry is kept, its side is not).

    Returns
    -------
    ndarray of shape (n_bins * sum(n * n for n in grid),)
        Each cell's counts divided by the number of counted pixels in it (a
        cell with none gives zeros); cells in row-major order.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features._grid import cell_histograms
    >>> codes = np.array([[0, 0], [1, 1]])
    >>> cell_histograms(codes, None, 2, [1, 2]).tolist()
    [0.5, 0.5, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    >>> codes = np.array([[0, 1], [1, 1]])
    >>> cell_histograms(codes, None, 2, [2], sides="pooled").tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0, 2.0, 0.0, 0.0]
    """
    numbers, members = _atoms(codes.shape, tuple(grid))
    atoms = joint_counts(numbers, codes, (members.shape[1], n_bins), region)
    counts = members @ atoms.astype(np.int64)
    histograms = (counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)).ravel()
    return _pool_sides(histograms, n_bins, grid) if sides == "pooled" else histograms


def cell_names(prefix, n_bins, grid, sides="kept"):
    """Column names matching :func:`cell_histograms`: ``<prefix>_bin03`` for the
    whole image, ``<prefix>_g2c1_bin03`` for cell 1 of the 2 x 2 grid; with
    ``sides="pooled"`` ``<prefix>_g2c0+1_bin03`` for the sum of cells 0 and 1
    and ``<prefix>_g2c0-1_bin03`` for their absolute difference.

    Examples
    --------
    >>> from braintumor_features.features._grid import cell_names
    >>> cell_names("lbp_r1_p8", 2, [1, 2])[:3]
    ['lbp_r1_p8_bin00', 'lbp_r1_p8_bin01', 'lbp_r1_p8_g2c0_bin00']
    >>> cell_names("lbp", 1, [2], sides="pooled")
    ['lbp_g2c0+1_bin00', 'lbp_g2c0-1_bin00', 'lbp_g2c2+3_bin00', 'lbp_g2c2-3_bin00']
    """
    return list(_cell_names(prefix, n_bins, tuple(grid), sides))


def _cell_label(n, cell, sides):
    row, column = divmod(cell, n)
    mirror = row * n + n - 1 - column
    if sides == "kept" or mirror == cell:
        return f"c{cell}"
    return f"c{cell}+{mirror}" if column < n // 2 else f"c{mirror}-{cell}"


@lru_cache(maxsize=64)
def _cell_names(prefix, n_bins, grid, sides):
    # Remembered: every transform counts its columns by their names (hundreds per family).
    names = []
    for n in grid:
        for cell in range(n * n):
            where = prefix if n == 1 else f"{prefix}_g{n}{_cell_label(n, cell, sides)}"
            names += [f"{where}_bin{b:02d}" for b in range(n_bins)]
    return tuple(names)
