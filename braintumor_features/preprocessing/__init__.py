"""Image-to-image steps: grayscale, crop to the head, resize, denoise, CLAHE, normalise, standardise.

Every step is a scikit-learn transformer. ``transform`` returns an
:class:`~braintumor_features.images.ImageSequence`: the images are computed
when accessed, or by the feature extractors inside their parallel workers,
so a chain of steps runs image by image in one process. Geometric steps
(crop, resize) move the tumour mask with the image. Only
:class:`HistogramStandardizer` learns from data.
"""

from .._utils import head_box, head_mask, percentiles_of_counts, to_uint8
from ._base import ImageStep
from ._geometry import CropHead, Resize
from ._intensity import CLAHE, Denoise, Grayscale, NormalizeIntensity
from ._standardization import HistogramStandardizer

__all__ = [
    "CLAHE",
    "CropHead",
    "Denoise",
    "Grayscale",
    "HistogramStandardizer",
    "ImageStep",
    "NormalizeIntensity",
    "Resize",
    "head_box",
    "head_mask",
    "percentiles_of_counts",
    "to_uint8",
]
