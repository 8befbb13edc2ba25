"""Reading images from disk into 2-D arrays, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

__all__ = ["ImageReadError", "read_image", "to_gray"]

#: Largest number of pixels decoded at full resolution; larger files are
#: decoded at a reduced scale (1/2, 1/4 or 1/8) so they cannot exhaust memory.
MAX_PIXELS = 64_000_000


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file and the reason."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file into a 2-D grayscale array.

    JPEG, PNG, TIFF, BMP and the other formats OpenCV decodes are accepted,
    8- and 16-bit, grayscale, RGB or RGBA. Colour images are converted to
    grayscale; the bit depth is kept (``uint8`` or ``uint16``). Paths with
    spaces or non-ASCII characters work.

    Parameters
    ----------
    path : str or path-like
        The image file.

    Returns
    -------
    image : ndarray of shape (height, width)
        The grayscale image, ``uint8`` or ``uint16``.

    Raises
    ------
    ImageReadError
        If the file is missing, empty, not an image, or cannot be decoded.
        The message names the file.

    Examples
    --------
    >>> import cv2, numpy as np, tempfile, os
    >>> from braintumor_features.io import read_image
    >>> path = os.path.join(tempfile.mkdtemp(), "slice.png")
    >>> _ = cv2.imwrite(path, np.full((4, 6, 3), 200, np.uint8))
    >>> read_image(path).shape
    (4, 6)
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, expected an image file") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if data.size == 0:
        raise ImageReadError(f"{path}: the file is empty (0 bytes)")
    image = _decode(data, path)
    return to_gray(image, name=str(path), bgr=True)


def _decode(data: np.ndarray, path: Path) -> np.ndarray:
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error:
        image = None
    if image is None:
        raise ImageReadError(
            f"{path}: not a readable image (unknown format, or the file is truncated or corrupt)"
        )
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ImageReadError(
            f"{path}: {image.shape[1]}x{image.shape[0]} pixels is larger than the "
            f"{MAX_PIXELS} pixels this library reads; downscale the file first"
        )
    return image


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
        If the array is not 2-D or a 3-D colour image, is empty, or holds
        non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.io import to_gray
    >>> to_gray(np.zeros((5, 7, 3), np.uint8)).shape
    (5, 7)
    """
    image = np.asarray(image)
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
    image = image.astype(np.float32, copy=False)
    if not np.isfinite(image).all():
        raise ValueError(f"{name}: the image contains NaN or infinite values; replace them first")
    return image
