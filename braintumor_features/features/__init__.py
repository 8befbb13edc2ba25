"""Feature families: images in, one row of numbers per image out.

Each family is a scikit-learn transformer with ``get_feature_names_out`` and
``set_output`` support; :class:`ImageFeatures` combines several in one
parallel pass.
"""

from ._cache import FeatureCache
from ._extraction import FeatureExtractor, SkippedImagesWarning
from .combined import ImageFeatures
from .glcm import GLCMFeatures
from .hog import HOGFeatures
from .intensity import IntensityFeatures
from .lbp import LBPFeatures
from .region import RegionFeatures
from .tumour_map import TumourMapFeatures

__all__ = [
    "FeatureCache",
    "FeatureExtractor",
    "GLCMFeatures",
    "HOGFeatures",
    "ImageFeatures",
    "IntensityFeatures",
    "LBPFeatures",
    "RegionFeatures",
    "SkippedImagesWarning",
    "TumourMapFeatures",
]
