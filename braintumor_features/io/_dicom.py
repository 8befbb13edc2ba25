"""DICOM slices and multi-frame files, through pydicom (the ``medical`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import ImageReadError
from ._files import import_optional, pick_slice, reuse_last
from ._raster import check_size
from ._window import to_canonical


def _damaged() -> tuple:
    """What pydicom raises for a damaged file, often lazily when an element is first used."""
    errors = import_optional("pydicom.errors", "DICOM")
    return (errors.InvalidDicomError, errors.BytesLengthException, OSError, EOFError,
            ValueError, KeyError, TypeError, NotImplementedError)


def _read(source, path: Path, *, header_only: bool):
    """The dataset (without its pixel data for ``header_only``) and its number of frames."""
    pydicom = import_optional("pydicom", "DICOM")
    try:
        # force: a .dcm file written without the preamble is still read
        dataset = pydicom.dcmread(source, stop_before_pixels=header_only, force=True)
        if "Rows" not in dataset or "Columns" not in dataset:
            raise ImageReadError(
                f"{path}: a DICOM file without an image (no Rows/Columns: a report, a "
                "DICOMDIR or a damaged file); pass the image files of the series"
            )
        check_size(int(dataset.Rows), int(dataset.Columns), path)
        return dataset, int(dataset.get("NumberOfFrames") or 1)
    except ImageReadError:
        raise
    except _damaged() as exc:
        raise ImageReadError(
            f"{path}: not a readable DICOM file ({exc}); check that it opens in a DICOM viewer"
        ) from None


def count_frames(path: Path) -> int:
    """How many frames (slices) a DICOM file holds, from its header."""
    return _read(path, path, header_only=True)[1]


def _decode(dataset, index: int, path: Path) -> np.ndarray:
    """One frame's stored values, or an error naming the file (and its compression)."""
    pixels = import_optional("pydicom.pixels", "DICOM")
    try:
        return pixels.pixel_array(dataset, index=index)
    except (RuntimeError, AttributeError, *_damaged()) as exc:
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        if syntax is not None and syntax.is_transfer_syntax and not syntax.is_compressed:
            raise ImageReadError(
                f"{path}: the DICOM pixel data is truncated or damaged ({exc}); "
                "copy or export the file again"
            ) from None
        named = f"{syntax.name} ({syntax})" if syntax else "an unknown transfer syntax"
        raise ImageReadError(
            f"{path}: cannot decode its pixel data, stored as {named}, with the installed "
            "decoders; install a pydicom decoder for it (e.g. pip install pylibjpeg "
            "pylibjpeg-openjpeg pylibjpeg-libjpeg) or convert the file to an uncompressed "
            "transfer syntax (e.g. gdcmconv --raw), then check the file opens in a DICOM viewer"
        ) from exc


def _rescale_and_window(frame: np.ndarray, dataset, path: Path):
    """The frame's rescaled (and windowed) values, and the window to map onto 0..255."""
    pixels = import_optional("pydicom.pixels", "DICOM")
    try:
        values = pixels.apply_modality_lut(frame, dataset)  # rescale slope and intercept
        if "WindowCenter" not in dataset or "WindowWidth" not in dataset:
            return values, None
        # pydicom maps the window onto the range the stored values can take
        # (PS3.3 C.11.2.1.2); the ends of that range, windowing -inf and
        # +inf, become 0 and 255.
        return (pixels.apply_windowing(values, dataset),
                tuple(pixels.apply_windowing(np.array([-np.inf, np.inf]), dataset)))
    except _damaged() as exc:
        raise ImageReadError(
            f"{path}: cannot apply its rescale or window ({exc}); check that it opens in a "
            "DICOM viewer"
        ) from None


def read_dicom(path: Path, index: int | None, *, stored: bool) -> np.ndarray:
    """One frame of a DICOM file: as stored, or rescaled and windowed to ``uint8``.

    Colour frames (RGB, YBR converted to RGB by pydicom) are returned as they
    are, for :func:`to_gray` to convert. The file is parsed once for all its
    frames read one after the other (:func:`reuse_last`).
    """
    dataset, frames = reuse_last(path, lambda: _read(path, path, header_only=False))
    frame = _decode(dataset, pick_slice(index, frames, path), path)
    if stored or frame.ndim == 3:
        return frame
    image = to_canonical(*_rescale_and_window(frame, dataset, path), path)
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":  # low values shown white
        image = 255 - image
    return image
