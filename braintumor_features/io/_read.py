"""Reading image files, slices of volumes among them, into arrays."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..exceptions import ImageReadError, SkippedImagesWarning
from ._dicom import count_frames, read_dicom
from ._files import (
    NIFTI_SUFFIXES,
    check_file,
    is_dicom,
    is_nifti,
    pick_slice,
    read_bytes,
)
from ._gray import to_gray
from ._nifti import count_slices, read_nifti
from ._raster import decode


@dataclass(frozen=True)
class VolumeSlice(os.PathLike):
    """One slice of a NIfTI volume or one frame of a multi-frame DICOM, used as a path.

    Wherever a file path is accepted (:func:`read_image`, the ``X`` of
    every step), a ``VolumeSlice`` reads that one slice. :func:`volume_slices`
    lists every slice of a file.

    Parameters
    ----------
    path : str or path-like
        The volume file.
    index : int
        The slice, counted from 0: along the third voxel axis of a NIfTI
        volume, the frame number of a DICOM file.

    Attributes
    ----------
    subject : str
        The volume's file name without its extension (``.nii``, ``.nii.gz``,
        ``.dcm``): the subject its slices share.

    Examples
    --------
    >>> from braintumor_features.io import VolumeSlice
    >>> item = VolumeSlice("scans/patient7.nii.gz", 12)
    >>> str(item), item.subject
    ('scans/patient7.nii.gz[12]', 'patient7')
    """

    path: str
    index: int

    def __post_init__(self):
        object.__setattr__(self, "path", os.fspath(self.path))
        if isinstance(self.index, bool) or not isinstance(self.index, (int, np.integer)):
            raise TypeError(f"{self.path}: the slice index must be an integer, got {self.index!r}")
        if self.index < 0:
            raise ValueError(f"{self.path}: the slice index must be 0 or more, got {self.index}")
        object.__setattr__(self, "index", int(self.index))

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return f"{self.path}[{self.index}]"

    @property
    def subject(self) -> str:
        name = Path(self.path).name
        for suffix in (*NIFTI_SUFFIXES, ".dcm"):
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name


def _load(item, *, stored: bool) -> tuple[np.ndarray, bool]:
    """A file's (or a slice's) pixels, and whether colour is in OpenCV's BGR order."""
    path, index = ((Path(item.path), item.index) if isinstance(item, VolumeSlice)
                   else (Path(item), None))
    if is_nifti(path):
        return read_nifti(path, index, stored=stored), False
    check_file(path)
    if is_dicom(path) or path.suffix.lower() == ".dcm":
        return read_dicom(path, index, stored=stored), False
    pick_slice(index, 1, path)
    return decode(read_bytes(path), path), True


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file, or one slice of a volume, into a 2-D grayscale array.

    JPEG, PNG, TIFF, BMP and the other formats OpenCV decodes are read
    8- or 16-bit, grayscale, RGB or RGBA: colour is converted to grayscale,
    the bit depth is kept (``uint8`` or ``uint16``).

    DICOM files (recognised by their ``DICM`` preamble, with or without the
    ``.dcm`` extension) and NIfTI volumes (``.nii``, ``.nii.gz``) are read
    through pydicom and nibabel (``pip install "braintumor-features[medical]"``)
    as ``uint8``: the rescale slope and intercept are applied, then the
    window the file stores (DICOM ``WindowCenter``/``WindowWidth``, the
    first of several; NIfTI ``cal_min``/``cal_max``) is mapped linearly onto
    0..255. Where the file stores no window, the 0.5th to 99.5th percentiles
    of the slice's own values are (``PERCENTILE_WINDOW``). Of a volume or a
    multi-frame DICOM, the middle slice is read (index ``n // 2``); pass a
    :class:`VolumeSlice` for another one, or the items of
    :func:`volume_slices` for every one. A NIfTI slice is taken along the
    third voxel axis, with the second axis running up the image.

    Paths with spaces or non-ASCII characters work.

    Parameters
    ----------
    path : str, path-like or VolumeSlice
        The image file, or one slice of a volume.

    Returns
    -------
    image : ndarray of shape (height, width)
        The grayscale image, ``uint8`` or ``uint16``.

    Raises
    ------
    ImageReadError
        If the file is missing, empty, not an image, a truncated JPEG, a
        multi-page TIFF, DICOM pixel data compressed in a way the installed
        decoders cannot decode (the message names the transfer syntax),
        cannot be decoded, or is larger than ``MAX_PIXELS`` (read from its
        header, before decoding: a larger JPEG is decoded at 1/2, 1/4 or 1/8
        scale with a :class:`LargeImageWarning` instead). The message names
        the file.
    ImportError
        If a DICOM or NIfTI file is read without pydicom or nibabel installed.

    See Also
    --------
    read_stored : the pixels as the file stores them, colour and range kept.

    Examples
    --------
    >>> import cv2, numpy as np, tempfile, os
    >>> from braintumor_features.io import read_image
    >>> path = os.path.join(tempfile.mkdtemp(), "slice.png")
    >>> _ = cv2.imwrite(path, np.full((4, 6, 3), 200, np.uint8))
    >>> read_image(path).shape
    (4, 6)
    """
    image, bgr = _load(path, stored=False)
    return to_gray(image, name=str(path), bgr=bgr)


def read_stored(path: str | os.PathLike) -> np.ndarray:
    """Read an image file's pixels as it stores them, before any conversion.

    What a file says besides its anatomy (colour mode, bit depth, value
    range) is kept, as a shortcut audit needs it: colour images keep three
    channels in RGB order (an alpha channel is dropped), the dtype is the
    file's; a DICOM frame
    holds its stored values (no rescale, no window), a NIfTI slice the
    values nibabel gives (scaled when the header gives a slope or intercept).
    Slices are chosen, and sizes checked, as by :func:`read_image`.

    Parameters
    ----------
    path : str, path-like or VolumeSlice
        The image file, or one slice of a volume.

    Returns
    -------
    image : ndarray of shape (height, width) or (height, width, channels)

    Raises
    ------
    ImageReadError
        As :func:`read_image`.

    Examples
    --------
    >>> import cv2, numpy as np, tempfile, os
    >>> from braintumor_features.io import read_stored
    >>> path = os.path.join(tempfile.mkdtemp(), "red.png")
    >>> _ = cv2.imwrite(path, np.dstack([np.zeros((2, 3, 2), np.uint8),
    ...                                  np.full((2, 3), 255, np.uint8)]))  # BGR: red
    >>> image = read_stored(path)
    >>> image.shape, image.dtype.name, image[0, 0].tolist()
    ((2, 3, 3), 'uint8', [255, 0, 0])
    """
    image, bgr = _load(path, stored=True)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if bgr and image.ndim == 3 else image


def volume_slices(path: str | os.PathLike) -> list[VolumeSlice]:
    """List every slice of a file as a separate item, the volume as their subject.

    Read from the header alone: a NIfTI volume gives one item per slice
    along its third voxel axis, a multi-frame DICOM one per frame, any other
    image file one item.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    list of VolumeSlice
        Usable as ``X`` (or as ``paths``) wherever file paths are; each
        item's ``subject`` is the volume's file name without its extension,
        to pass as ``groups`` so slices of one volume stay in one fold.

    Raises
    ------
    ImageReadError
        If the file is missing, empty, or its header cannot be read.

    Examples
    --------
    >>> import numpy as np, nibabel, os, tempfile
    >>> from braintumor_features.io import read_image, volume_slices
    >>> path = os.path.join(tempfile.mkdtemp(), "patient7.nii.gz")
    >>> volume = np.arange(8 * 8 * 5, dtype=np.int16).reshape(8, 8, 5)
    >>> nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), path)
    >>> items = volume_slices(path)
    >>> len(items), items[0].index, items[0].subject
    (5, 0, 'patient7')
    >>> read_image(items[4]).shape
    (8, 8)
    """
    path = Path(path)
    if is_nifti(path):
        count = count_slices(path)
    else:
        check_file(path)
        count = count_frames(path) if is_dicom(path) or path.suffix.lower() == ".dcm" else 1
    return [VolumeSlice(path, index) for index in range(count)]


def read_images(paths, *, on_error="raise") -> tuple[list, list]:
    """Read many image files, optionally skipping the ones that fail.

    Parameters
    ----------
    paths : sequence of str, path-like or VolumeSlice
        The image files (or slices of volumes), each read by :func:`read_image`.
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"`` stops at the first file that cannot be read;
        ``"skip"`` reads every other file, puts None in place of a failed
        one, lists it in ``skipped`` and warns with
        :class:`~braintumor_features.exceptions.SkippedImagesWarning`.

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
