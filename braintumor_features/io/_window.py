"""Mapping scanner values (any range, any dtype) onto the 8-bit range of an exported slice."""

from __future__ import annotations

import numpy as np
from skimage.exposure import rescale_intensity

from ..exceptions import ImageReadError

#: Percentiles of a slice's own values that bound its window when the file
#: stores none: the darkest and brightest 0.5 % are clipped.
PERCENTILE_WINDOW = (0.5, 99.5)


def to_canonical(values: np.ndarray, window: tuple[float, float] | None, path) -> np.ndarray:
    """Map a window of a slice's values linearly onto 0..255 as ``uint8``, clipping beyond it.

    ``window`` is ``(low, high)``; None takes :data:`PERCENTILE_WINDOW` of
    the slice's own values. A window of no width (a constant slice) gives
    zeros.
    """
    if not np.isfinite(values).all():
        raise ImageReadError(f"{path}: the slice holds NaN or infinite values; replace them first")
    low, high = window if window is not None else np.percentile(values, PERCENTILE_WINDOW)
    if not high > low:
        return np.zeros(values.shape, np.uint8)
    scaled = rescale_intensity(values.astype(np.float64), in_range=(low, high), out_range=(0, 255))
    return np.round(scaled).astype(np.uint8)
