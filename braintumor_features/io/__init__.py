"""Reading images from disk into 2-D arrays, with errors that name the file.

Raster files (PNG, JPEG, TIFF, BMP, ...) are read through Pillow's header and
OpenCV's decoder; DICOM slices and NIfTI volumes through pydicom and nibabel
(the ``medical`` extra).
"""

from ..exceptions import ImageReadError, LargeImageWarning, SkippedImagesWarning  # noqa: F401
from ._files import is_dicom
from ._gray import to_gray
from ._raster import MAX_PIXELS, image_size
from ._read import VolumeSlice, read_image, read_images, read_stored, volume_slices
from ._window import PERCENTILE_WINDOW

__all__ = [
    "MAX_PIXELS",
    "PERCENTILE_WINDOW",
    "VolumeSlice",
    "image_size",
    "is_dicom",
    "read_image",
    "read_images",
    "read_stored",
    "to_gray",
    "volume_slices",
]
