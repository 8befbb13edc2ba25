"""Reading images from disk into 2-D arrays, with errors that name the file."""

from __future__ import annotations

import math
import os
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np

from .exceptions import ImageReadError, LargeImageWarning, SkippedImagesWarning

__all__ = ["MAX_PIXELS", "read_image", "read_images", "image_size", "to_gray"]

#: Largest number of pixels decoded. The size is read from the file header
#: before decoding: a larger JPEG is decoded at a reduced scale (1/2, 1/4 or
#: 1/8, with a :class:`LargeImageWarning`), any other larger file is refused,
#: so a huge file cannot exhaust memory.
MAX_PIXELS = 64_000_000


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
        If the file is missing, empty, not an image, a truncated JPEG, in a
        volume format (DICOM, NIfTI), cannot be decoded, or is larger than
        ``MAX_PIXELS`` (read from its header, before decoding: a larger
        JPEG is decoded at 1/2, 1/4 or 1/8 scale with a
        :class:`LargeImageWarning` instead). The message names the file.

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
    image = _decode(_read_bytes(path), path)
    return to_gray(image, name=str(path), bgr=True)


def _read_bytes(path: Path) -> np.ndarray:
    """The file's bytes, or an :class:`ImageReadError` naming it."""
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
    return data


def read_images(paths, *, on_error="raise") -> tuple[list, list]:
    """Read many image files, optionally skipping the ones that fail.

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files.
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"`` stops at the first file that cannot be read;
        ``"skip"`` reads every other file, puts None in place of a failed
        one, lists it in ``skipped`` and warns with
        :class:`~braintumor_features.features.SkippedImagesWarning`.

    Returns
    -------
    images : list of ndarray or None
        One per path, as :func:`read_image` returns it; None where skipped.
    skipped : list of dict
        One ``{"index", "image", "reason"}`` per file that was skipped.

    Examples
    --------
    >>> import cv2, numpy as np, os, tempfile, warnings
    >>> from braintumor_features.io import read_images
    >>> folder = tempfile.mkdtemp()
    >>> good, bad = os.path.join(folder, "good.png"), os.path.join(folder, "bad.png")
    >>> _ = cv2.imwrite(good, np.zeros((4, 4), np.uint8))
    >>> _ = open(bad, "wb").write(b"not a png")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     images, skipped = read_images([good, bad], on_error="skip")
    >>> images[0].shape, images[1], skipped[0]["index"]
    ((4, 4), None, 1)
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    images, skipped = [], []
    for index, path in enumerate(paths):
        try:
            images.append(read_image(path))
        except (ImageReadError, ValueError) as exc:
            if on_error == "raise":
                raise
            images.append(None)
            skipped.append({"index": index, "image": str(path), "reason": str(exc)})
    if skipped:
        listed = "; ".join(f"{entry['reason']}" for entry in skipped[:5])
        warnings.warn(f"skipped {len(skipped)} of {len(images)} images: {listed}",
                      SkippedImagesWarning, stacklevel=2)
    return images, skipped


#: Formats people try that are not 2-D image files, with what to do instead.
_UNSUPPORTED = {
    ".dcm": "DICOM",
    ".nii": "NIfTI volume",
    ".nii.gz": "NIfTI volume",
    ".mha": "MetaImage volume",
    ".mhd": "MetaImage volume",
    ".nrrd": "NRRD volume",
    ".npy": "NumPy array",
}


def _unsupported_format(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, kind in _UNSUPPORTED.items():
        if name.endswith(suffix):
            return (
                f"{path}: {kind} files are not read by this library; export each slice to "
                "PNG, JPEG or TIFF first, or pass the slices as 2-D arrays"
            )
    return None


#: The first four bytes of a TIFF file (little- and big-endian).
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*")


def image_size(data: np.ndarray) -> tuple[int, int] | None:
    """Read (height, width) from the header of an encoded PNG, JPEG, BMP or TIFF.

    Nothing is decoded, so the size of a huge file costs nothing to learn.

    Parameters
    ----------
    data : ndarray of uint8
        The file's bytes.

    Returns
    -------
    (height, width) or None
        None when the format is not one of these or the header is damaged.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> from braintumor_features.io import image_size
    >>> image_size(cv2.imencode(".png", np.zeros((30, 50), np.uint8))[1])
    (30, 50)
    """
    head = data[:32].tobytes()
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            width, height = struct.unpack(">II", head[16:24])
            return height, width
        if head.startswith(b"BM"):
            width, height = struct.unpack("<ii", head[18:26])
            return abs(height), width
        if head.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
        if head[:4] in _TIFF_SIGNATURES:
            return _tiff_size(data.tobytes())
    except struct.error:
        return None
    return None


def _jpeg_size(data: np.ndarray) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame marker."""
    start_of_frame = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
    position = 2
    while position + 9 <= data.size:
        if data[position] != 0xFF:
            return None
        marker = int(data[position + 1])
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in start_of_frame:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9].tobytes())
            return height, width
        position += 2 + (int(data[position + 2]) << 8 | int(data[position + 3]))
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """ImageWidth and ImageLength of the first TIFF directory."""
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[offset : offset + 2])
    size = {}
    for entry in range(count):
        start = offset + 2 + 12 * entry
        tag, kind = struct.unpack(order + "HH", data[start : start + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT (3) or LONG (4)
            fmt = order + ("H" if kind == 3 else "I")
            size[tag] = struct.unpack(fmt, data[start + 8 : start + 8 + struct.calcsize(fmt)])[0]
    return (size[257], size[256]) if len(size) == 2 else None


def _tiff_pages(data: bytes, most: int = 10_000) -> int:
    """Number of directories (pages) in a TIFF's chain, 1 when it cannot be read."""
    order = "<" if data[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack(order + "I", data[4:8])
        pages, seen = 0, set()
        while offset and offset not in seen and pages < most:
            seen.add(offset)
            (count,) = struct.unpack(order + "H", data[offset : offset + 2])
            end = offset + 2 + 12 * count
            (offset,) = struct.unpack(order + "I", data[end : end + 4])
            pages += 1
    except struct.error:
        return 1
    return max(pages, 1)


def _reduction(height: int, width: int) -> int | None:
    """The smallest JPEG decoding scale (2, 4 or 8) that fits MAX_PIXELS, if any."""
    for factor in (2, 4, 8):
        if math.ceil(height / factor) * math.ceil(width / factor) <= MAX_PIXELS:
            return factor
    return None


_REDUCED = {2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
            8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


def _decode(data: np.ndarray, path: Path) -> np.ndarray:
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    size = image_size(data)
    is_jpeg = data[:2].tobytes() == b"\xff\xd8"
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        factor = _reduction(*size) if is_jpeg else None
        if factor is None:
            raise ImageReadError(
                f"{path}: {size[1]}x{size[0]} pixels is larger than the {MAX_PIXELS} pixels "
                "this library decodes; downscale the file first (MRI slices rarely need more "
                "than 1024x1024)"
            )
        warnings.warn(
            f"{path}: {size[1]}x{size[0]} pixels is larger than {MAX_PIXELS} pixels; "
            f"decoded at 1/{factor} scale to save memory",
            LargeImageWarning, stacklevel=3,
        )
        flags = _REDUCED[factor]
    if data[:4].tobytes() in _TIFF_SIGNATURES:
        pages = _tiff_pages(data.tobytes())
        if pages > 1:
            raise ImageReadError(
                f"{path}: a TIFF of {pages} pages (a volume or a stack), where one 2-D slice is "
                "expected; save each slice you want to classify as its own file"
            )
    if is_jpeg and b"\xff\xd9" not in data[-4096:].tobytes():
        raise ImageReadError(
            f"{path}: the JPEG file is truncated (no end-of-image marker); "
            "copy or export it again"
        )
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error:
        image = None
    if image is None:
        raise ImageReadError(
            _unsupported_format(path)
            or f"{path}: not a readable image (unknown format, or the file is truncated or "
            "corrupt); check that it opens in an image viewer"
        )
    if image.shape[0] * image.shape[1] > MAX_PIXELS:  # a format whose header we do not read
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
