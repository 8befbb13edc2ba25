"""braintumor-features: classical machine learning for brain-tumour MRI slices.

Preprocessing steps and feature families are scikit-learn transformers;
:func:`make_pipeline` assembles them with an SVM or a random forest.
"""

from ._version import __version__
from .features import (
    CNNFeatures,
    GLCMFeatures,
    HOGFeatures,
    ImageFeatures,
    IntensityFeatures,
    LBPFeatures,
    RegionFeatures,
    TumorMapFeatures,
)
from .images import ImageSequence, MaskedImage, Outline, with_masks
from .io import ImageReadError, read_image, read_images
from .persistence import load_model, save_model
from .pipeline import make_pipeline
from .preprocessing import (
    CLAHE,
    CropHead,
    Denoise,
    Grayscale,
    HistogramStandardizer,
    NormalizeIntensity,
    Resize,
)

__all__ = [
    "CNNFeatures",
    "CLAHE",
    "CropHead",
    "Denoise",
    "GLCMFeatures",
    "HOGFeatures",
    "Grayscale",
    "HistogramStandardizer",
    "ImageFeatures",
    "ImageReadError",
    "ImageSequence",
    "IntensityFeatures",
    "LBPFeatures",
    "MaskedImage",
    "NormalizeIntensity",
    "Outline",
    "RegionFeatures",
    "Resize",
    "TumorMapFeatures",
    "load_model",
    "make_pipeline",
    "read_image",
    "read_images",
    "save_model",
    "with_masks",
    "__version__",
]
