"""PNG, JPEG, TIFF, BMP and the other raster formats: header through Pillow, pixels through OpenCV.

Pillow opens a file lazily: its size, mode and page count come from the
header without decoding a pixel, which is how :data:`MAX_PIXELS` is enforced
before decoding. OpenCV decodes (slightly faster than Pillow on PNG and
JPEG, and able to decode a JPEG directly at 1/2, 1/4 or 1/8 scale).
"""

from __future__ import annotations

import math
import threading
import warnings
from io import BytesIO
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from ..exceptions import ImageReadError, LargeImageWarning
from ._files import unsupported_format

#: Largest number of pixels decoded. The size is read from the file header
#: before decoding: a larger JPEG is decoded at a reduced scale (1/2, 1/4 or
#: 1/8, with a :class:`LargeImageWarning`), any other larger file is refused,
#: so a huge file cannot exhaust memory.
MAX_PIXELS = 64_000_000


class _Header(NamedTuple):
    height: int
    width: int
    pages: int
    format: str


# Pillow refuses to open, even lazily, a file over twice its own limit
# (Image.MAX_IMAGE_PIXELS, about 179 million pixels) without saying its size.
# This library decodes at most MAX_PIXELS, which is lower, and must know the
# size of such a file (to refuse it naming the size, or to decode a JPEG at a
# reduced scale): for that lazy open only, Pillow's check is switched off
# (its documented setting), one thread at a time.
_PILLOW_LIMIT = threading.Lock()


def _open(data: np.ndarray) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(BytesIO(data))
        except Image.DecompressionBombError:
            with _PILLOW_LIMIT:
                limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
                try:
                    return Image.open(BytesIO(data))
                finally:
                    Image.MAX_IMAGE_PIXELS = limit


def _header(data: np.ndarray) -> _Header | None:
    """Size, page count and format from the header, or None when Pillow cannot read it."""
    try:
        with _open(data) as image:
            return _Header(image.height, image.width, getattr(image, "n_frames", 1),
                           image.format)
    except (OSError, EOFError, ValueError, SyntaxError):  # unknown format, damaged header
        return None


def image_size(data: np.ndarray) -> tuple[int, int] | None:
    """Read (height, width) from the header of an encoded image (PNG, JPEG, BMP, TIFF, ...).

    Nothing is decoded (Pillow opens the file lazily), so the size of a huge
    file costs nothing to learn.

    Parameters
    ----------
    data : ndarray of uint8
        The file's bytes.

    Returns
    -------
    (height, width) or None
        None when Pillow does not know the format or the header is damaged.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> from braintumor_features.io import image_size
    >>> image_size(cv2.imencode(".png", np.zeros((30, 50), np.uint8))[1])
    (30, 50)
    """
    header = _header(data)
    return None if header is None else (header.height, header.width)


def check_size(height: int, width: int, path: Path, *, reduce: bool = False) -> int:
    """The JPEG decoding scale (1, 2, 4 or 8) a slice of this size needs, or a refusal.

    Without ``reduce``, any slice over :data:`MAX_PIXELS` is refused.
    """
    if height * width <= MAX_PIXELS:
        return 1
    factors = (2, 4, 8) if reduce else ()
    factor = next((f for f in factors
                   if math.ceil(height / f) * math.ceil(width / f) <= MAX_PIXELS), None)
    if factor is None:
        raise ImageReadError(
            f"{path}: {width}x{height} pixels is larger than the {MAX_PIXELS} pixels "
            "this library decodes; downscale the file first (MRI slices rarely need more "
            "than 1024x1024)"
        )
    warnings.warn(
        f"{path}: {width}x{height} pixels is larger than {MAX_PIXELS} pixels; "
        f"decoded at 1/{factor} scale to save memory",
        LargeImageWarning, stacklevel=5,
    )
    return factor


_REDUCED = {1: cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
            4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


def decode(data: np.ndarray, path: Path) -> np.ndarray:
    """Decode a raster file's bytes as stored: colour in OpenCV's BGR(A) order, depth kept."""
    header = _header(data)
    factor = 1
    if header is not None:
        factor = check_size(header.height, header.width, path, reduce=header.format == "JPEG")
        if header.pages > 1:
            raise ImageReadError(
                f"{path}: a {header.format} of {header.pages} pages (a volume or a stack), "
                "where one 2-D slice is expected; save each slice you want to classify as its "
                "own file"
            )
        if header.format == "JPEG" and b"\xff\xd9" not in data[-4096:].tobytes():
            raise ImageReadError(
                f"{path}: the JPEG file is truncated (no end-of-image marker); "
                "copy or export it again"
            )
    try:
        image = cv2.imdecode(data, _REDUCED[factor])
    except cv2.error:
        image = None
    if image is None:
        raise ImageReadError(
            unsupported_format(path)
            or f"{path}: not a readable image (unknown format, or the file is truncated or "
            "corrupt); check that it opens in an image viewer"
        )
    if header is None:  # a format whose header Pillow does not read: only now is its size known
        check_size(*image.shape[:2], path)
    return image
