"""Image-to-image steps: grayscale, crop to the head, resize, denoise, CLAHE, normalise, standardise;
and benign changes of a slice (mirror, lower resolution, gamma, rotation, JPEG, padding) and
random training views (contrast curves, bias field, noise, blur, small affine moves).

Every step is a scikit-learn transformer. ``transform`` returns an
:class:`~braintumor_features.images.ImageSequence`: the images are computed
when accessed, or by the feature extractors inside their parallel workers,
so a chain of steps runs image by image in one process. Geometric steps
(crop, resize) move the tumour mask with the image. Only
:class:`HistogramStandardizer` learns from data.
"""

from .._utils import head_box, head_mask, percentiles_of_counts, to_uint8
from ._augmentation import (
    BENIGN_CHANGES,
    BENIGN_RANGES,
    TRAINING_TRANSFORMS,
    augment,
    benign_change,
    training_transform,
)
from ._base import ImageStep
from ._geometry import CropHead, Resize
from ._intensity import CLAHE, Denoise, Grayscale, NormalizeIntensity
from ._standardization import HistogramStandardizer

__all__ = [
    "BENIGN_CHANGES",
    "BENIGN_RANGES",
    "CLAHE",
    "CropHead",
    "Denoise",
    "Grayscale",
    "HistogramStandardizer",
    "ImageStep",
    "augment",
    "benign_change",
    "NormalizeIntensity",
    "Resize",
    "head_box",
    "head_mask",
    "percentiles_of_counts",
    "to_uint8",
    "TRAINING_TRANSFORMS",
    "training_transform",
]
