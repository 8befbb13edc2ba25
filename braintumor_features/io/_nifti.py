"""NIfTI volumes (``.nii``, ``.nii.gz``), through nibabel (the ``medical`` extra)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from ..exceptions import ImageReadError
from ._files import check_file, import_optional, pick_slice, reuse_last
from ._raster import check_size
from ._window import to_canonical


def _damaged() -> tuple:
    """What nibabel raises, or lets through, for a damaged or truncated (gzip) file."""
    nibabel = import_optional("nibabel", "NIfTI")
    return (nibabel.filebasedimages.ImageFileError, nibabel.spatialimages.HeaderDataError,
            OSError, EOFError, ValueError, zlib.error)


def _load(path: Path):
    """The lazily loaded image and its shape as (x, y[, z]), or an error naming the file."""
    nibabel = import_optional("nibabel", "NIfTI")
    check_file(path)
    try:
        image = nibabel.load(path)
    except _damaged() as exc:
        raise ImageReadError(
            f"{path}: not a readable NIfTI file ({exc}); check that it opens in a NIfTI viewer"
        ) from None
    shape = image.shape
    while len(shape) > 3 and shape[-1] == 1:  # e.g. (x, y, z, 1): one volume
        shape = shape[:-1]
    if len(shape) not in (2, 3):
        raise ImageReadError(
            f"{path}: a NIfTI image of shape {image.shape}, where one 3-D volume or 2-D slice "
            "is expected; split a 4-D series (e.g. fslsplit) and pass each volume"
        )
    return image, shape


def count_slices(path: Path) -> int:
    """How many slices (along the third voxel axis) a NIfTI file holds, from its header."""
    _, shape = _load(path)
    return shape[2] if len(shape) == 3 else 1


def _volume(image, path: Path):
    """The image's values to slice: the whole volume of a ``.gz`` file (kept for its next
    slice, see :func:`reuse_last`), else nibabel's proxy, which reads only the slice asked for."""
    if not path.name.lower().endswith(".gz"):
        return image.dataobj
    return reuse_last(path, lambda: np.asanyarray(image.dataobj))


def read_nifti(path: Path, index: int | None, *, stored: bool) -> np.ndarray:
    """One slice of a NIfTI file: as nibabel scales it, or windowed to ``uint8``.

    The slice is taken along the third voxel axis and rotated a quarter turn
    so the second axis runs up the image (an axial slice of an RAS or LAS
    volume shows anterior at the top).
    """
    image, shape = _load(path)
    index = pick_slice(index, shape[2] if len(shape) == 3 else 1, path)
    check_size(shape[1], shape[0], path)
    where = (slice(None), slice(None)) + (index,) * (len(shape) == 3)
    where += (0,) * (len(image.shape) - len(where))
    try:
        values = np.array(_volume(image, path)[where])  # scl_slope and scl_inter applied
    except _damaged() as exc:
        raise ImageReadError(
            f"{path}: the NIfTI file is truncated or damaged ({exc}); copy or export it again"
        ) from None
    values = np.rot90(values)
    if stored:
        return values
    low, high = (float(image.header[key]) for key in ("cal_min", "cal_max"))
    return to_canonical(values, (low, high) if high > low else None, path)
