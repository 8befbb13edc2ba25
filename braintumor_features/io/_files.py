"""What kind of file a path holds, its bytes, and errors that name it."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import numpy as np

from ..exceptions import ImageReadError

#: Endings of NIfTI volumes, read through nibabel.
NIFTI_SUFFIXES = (".nii", ".nii.gz")

#: Where every DICOM file written to the standard carries its magic word:
#: after a 128-byte preamble.
_DICOM_MAGIC = (128, b"DICM")

#: Per thread, the last file read by :func:`reuse_last`: its key (path, modification
#: time, size) and what was read.
_last = threading.local()

#: Formats people try that this library does not read, with what to do instead.
_UNSUPPORTED = {
    ".mha": "MetaImage volume",
    ".mhd": "MetaImage volume",
    ".nrrd": "NRRD volume",
    ".npy": "NumPy array",
}


def is_dicom(path) -> bool:
    """Whether a file is DICOM: its ``DICM`` magic word after the 128-byte preamble.

    The file name does not matter (scanners often write files without an
    extension); a ``.dcm`` file without the preamble is also read as DICOM
    by :func:`read_image`.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    bool
        False also when the file cannot be opened.

    Examples
    --------
    >>> import os, tempfile
    >>> from braintumor_features.io import is_dicom
    >>> path = os.path.join(tempfile.mkdtemp(), "IM0001")
    >>> _ = open(path, "wb").write(bytes(128) + b"DICM" + bytes(8))
    >>> is_dicom(path)
    True
    """
    offset, magic = _DICOM_MAGIC
    try:
        with open(path, "rb") as file:
            return file.read(offset + len(magic))[offset:] == magic
    except OSError:
        return False


def is_nifti(path: Path) -> bool:
    """Whether a file's name says NIfTI (``.nii`` or ``.nii.gz``)."""
    return path.name.lower().endswith(NIFTI_SUFFIXES)


def check_file(path: Path) -> None:
    """Refuse, naming it, a path that is missing, a folder or an empty file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, expected an image file")
    if size == 0:
        raise ImageReadError(f"{path}: the file is empty (0 bytes)")


def read_bytes(path: Path) -> np.ndarray:
    """The bytes of a file :func:`check_file` passed, or an :class:`ImageReadError` naming it."""
    try:
        return np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def reuse_last(path: Path, read):
    """``read()``, which reads ``path``, kept for the next call on that file while it is unchanged.

    The slices of a volume are read one after the other (the items of
    ``volume_slices``), each on its own: a compressed NIfTI volume cannot be
    read from the middle, and a multi-frame DICOM file is parsed whole, so
    without this every slice would decompress or parse the whole file again
    (reading every slice of a 155-slice ``.nii.gz`` 15 times slower). One
    file is kept per thread.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if getattr(_last, "key", None) != key:
        _last.key = _last.value = None  # the last file freed before the next is read
        _last.value, _last.key = read(), key
    return _last.value


def unsupported_format(path: Path) -> str | None:
    """The message for a file in a format this library does not read, if it is one."""
    name = path.name.lower()
    for suffix, kind in _UNSUPPORTED.items():
        if name.endswith(suffix):
            return (
                f"{path}: {kind} files are not read by this library; export each slice to "
                "PNG, JPEG, TIFF, DICOM or NIfTI first, or pass the slices as 2-D arrays"
            )
    return None


def import_optional(module: str, kind: str):
    """Import a library of the ``medical`` extra, or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"reading {kind} files needs {module.split('.')[0]}: "
            'pip install "braintumor-features[medical]"'
        ) from None


def pick_slice(index: int | None, count: int, path) -> int:
    """The slice to read of a file holding ``count``: ``index``, or the middle one for None."""
    if index is None:
        return count // 2
    if not 0 <= index < count:
        held = "one 2-D image" if count == 1 else f"{count} slices (0 to {count - 1})"
        raise ImageReadError(f"{path}: slice {index} asked for, but the file holds {held}")
    return index
