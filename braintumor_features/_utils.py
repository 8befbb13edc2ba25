"""Small image helpers shared by every layer: 8-bit conversion, the head mask, percentiles."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["to_uint8", "head_mask", "head_box", "percentiles_of_counts", "linear_percentiles"]


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Return an 8-bit version of a grayscale image.

    ``uint8`` images are returned unchanged; other images are scaled from
    their own minimum and maximum to 0..255 (a constant image becomes 0).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import to_uint8
    >>> to_uint8(np.array([[0.0, 0.5], [1.0, 1.0]]))
    array([[  0, 128],
           [255, 255]], dtype=uint8)
    """
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float32, copy=False)
    low, high = float(image.min()), float(image.max())
    if high <= low:
        return np.zeros(image.shape, np.uint8)
    return np.round((image - low) * (255.0 / (high - low))).astype(np.uint8)


#: Structuring element that closes small gaps in the head's outline.
_CLOSING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def _largest_component(image):
    """Outer outline and bounding box of the head's region: the largest candidate region.

    The image is smoothed, thresholded with Otsu's method and closed; the
    candidate regions are its 8-connected components. Returns the largest
    one's outer outline (as ``cv2.findContours`` gives it) and its bounding
    box ``(left, top, width, height)``, or None when the threshold leaves no
    foreground or no background (a constant image). Of equally large
    regions, the first in raster order wins.
    """
    blurred = cv2.GaussianBlur(to_uint8(image), (5, 5), 0)
    _, binary = cv2.threshold(blurred, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if binary.max() == 0 or binary.min() == 1:
        return None
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, _CLOSING)
    # Every region has one outer outline (parent -1 in the two-level hierarchy),
    # which starts at the region's first pixel in raster order. Regions are
    # measured by flood-filling them, largest enclosed area first, until the
    # pixels not yet filled could not make a larger one: usually the head
    # alone, about half the time of labelling every pixel.
    outlines, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer = [o for o, link in zip(outlines, hierarchy[0]) if link[3] < 0]
    outer.sort(key=cv2.contourArea, reverse=True)
    unfilled = cv2.countNonZero(binary)
    best, best_rank = None, None
    for outline in outer:
        if best is not None and best[0] > unfilled:
            break
        column, row = (int(v) for v in outline[0, 0])
        area, _, _, box = cv2.floodFill(binary, None, (column, row), 2, flags=8)
        unfilled -= area
        rank = (area, -(row * binary.shape[1] + column))
        if best_rank is None or rank > best_rank:
            best, best_rank = (area, outline, box), rank
    return best[1], best[2]


def head_mask(image: np.ndarray) -> np.ndarray:
    """Find the head: the largest bright connected region, holes filled.

    The image is smoothed, thresholded with Otsu's method, closed, and the
    largest connected component is kept with its holes filled. Where no
    foreground is found (a constant image), the whole image is the head.

    Parameters
    ----------
    image : ndarray of shape (height, width)

    Returns
    -------
    mask : ndarray of bool, same shape

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import head_mask
    >>> image = np.zeros((40, 40), np.uint8); image[10:30, 5:25] = 200
    >>> image[2:4, 30:32] = 255  # a bright speck outside the head is not part of it
    >>> mask = head_mask(image)
    >>> bool(mask[20, 15]), bool(mask[3, 31])
    (True, False)
    """
    found = _largest_component(image)
    if found is None:
        return np.ones(image.shape, bool)
    # Holes filled: the outer outline drawn filled.
    mask = np.zeros(image.shape, np.uint8)
    cv2.drawContours(mask, [found[0]], -1, 1, thickness=cv2.FILLED)
    return mask.view(bool)


def head_box(image: np.ndarray, locate_size=None) -> tuple:
    """Bounding box ``(top, left, bottom, right)`` of :func:`head_mask`.

    Filling holes does not move a box, so it is read from the largest
    region's flood fill without building the mask.

    Parameters
    ----------
    image : ndarray of shape (height, width)
    locate_size : int or None, default=None
        Find the head on a copy shrunk by the smallest integer factor that
        brings its longer side to at most ``locate_size`` pixels (averaging
        blocks of pixels), and scale the box back; the box is then accurate
        to that factor. None finds it on the image itself.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import head_box
    >>> image = np.zeros((80, 80), np.uint8); image[21:61, 11:51] = 200
    >>> head_box(image)
    (21, 11, 61, 51)
    >>> head_box(image, locate_size=40)  # found on a 40 x 40 copy: to 2 pixels
    (20, 10, 62, 52)
    """
    height, width = image.shape
    # (Never a factor larger than the shorter side, which would leave no pixel.)
    factor = 1 if locate_size is None else min(-(-max(height, width) // locate_size), height, width)
    if factor > 1:
        # Whole blocks only: INTER_AREA then averages each factor x factor block exactly.
        image = to_uint8(image)[: height - height % factor, : width - width % factor]
        image = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    found = _largest_component(image)
    if found is None:
        return 0, 0, height, width
    left, top, box_width, box_height = (int(v) * factor for v in found[1])
    return top, left, min(height, top + box_height), min(width, left + box_width)


def percentiles_of_counts(counts, q) -> np.ndarray:
    """``np.percentile(values, q)`` of integer values 0, 1, 2, ... given by their counts.

    The same numbers as NumPy's default (linear) method on the values
    themselves, without sorting them: an 8-bit image's percentiles from its
    256-bin histogram.

    Parameters
    ----------
    counts : 1-D array
        ``counts[v]`` is how often value ``v`` occurs (exact integers).
    q : float or sequence of float
        Percentiles, 0 to 100.

    Returns
    -------
    ndarray of float64
        One value per percentile (nan when every count is zero).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import percentiles_of_counts
    >>> values = np.array([0, 3, 3, 7, 9])
    >>> percentiles_of_counts(np.bincount(values), [10, 50, 95]).tolist()
    [1.2000000000000002, 3.0, 8.6]
    >>> np.percentile(values, [10, 50, 95]).tolist()
    [1.2000000000000002, 3.0, 8.6]
    """
    cumulative = np.cumsum(np.asarray(counts, dtype=np.int64))
    n = int(cumulative[-1]) if cumulative.size else 0
    if n == 0:
        return np.full(np.shape(np.atleast_1d(q)), np.nan)
    # The value of rank k is the first whose cumulative count exceeds k.
    return linear_percentiles(lambda ranks: np.searchsorted(cumulative, ranks, side="right"), n, q)


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
    >>> from braintumor_features._utils import linear_percentiles
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
