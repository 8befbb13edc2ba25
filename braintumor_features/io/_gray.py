"""Arrays to 2-D grayscale images, refusing what cannot be one."""

from __future__ import annotations

import cv2
import numpy as np


def to_gray(image, *, name: str = "image", bgr: bool = False) -> np.ndarray:
    """Convert an array to a 2-D grayscale image, checking it is usable.

    Parameters
    ----------
    image : array-like of shape (height, width) or (height, width, channels)
        Grayscale, RGB or RGBA (channels last), any real dtype.
    name : str, default="image"
        How the image is named in error messages (a file name or sample index).
    bgr : bool, default=False
        Whether colour channels are in OpenCV's blue-green-red order.

    Returns
    -------
    gray : ndarray of shape (height, width)
        ``uint8`` and ``uint16`` images keep their dtype, other integer
        types become ``float32``, floats become ``float32``.

    Raises
    ------
    ValueError
        If the array is not 2-D or a 3-D colour image, is empty, holds
        non-finite values, or values too large for ``float32``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.io import to_gray
    >>> to_gray(np.zeros((5, 7, 3), np.uint8)).shape
    (5, 7)
    """
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.floating):
        _check_float_values(image, name)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        if image.dtype not in (np.uint8, np.uint16, np.float32):
            image = image.astype(np.float32)
        if image.shape[2] == 4:
            code = cv2.COLOR_BGRA2GRAY if bgr else cv2.COLOR_RGBA2GRAY
        else:
            code = cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY
        image = cv2.cvtColor(np.ascontiguousarray(image), code)
    if image.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D slice (height, width) or a colour image "
            f"(height, width, 3|4), got an array of shape {image.shape}; "
            "pass one slice of a volume at a time"
        )
    if image.size == 0:
        raise ValueError(f"{name}: the image is empty (shape {image.shape})")
    if image.dtype == bool or not np.issubdtype(image.dtype, np.number):
        if image.dtype == bool:
            return image.astype(np.uint8)
        raise ValueError(f"{name}: expected numbers, got dtype {image.dtype}")
    if image.dtype in (np.uint8, np.uint16):
        return image
    return image.astype(np.float32, copy=False)


def _check_float_values(image: np.ndarray, name: str) -> None:
    """Refuse NaN, infinity and values that overflow ``float32``, before any conversion."""
    if not np.isfinite(image).all():
        raise ValueError(f"{name}: the image contains NaN or infinite values; replace them first")
    if image.size and np.abs(image).max() > np.finfo(np.float32).max:
        raise ValueError(
            f"{name}: values beyond the float32 range (about 3.4e38); rescale the image first"
        )
