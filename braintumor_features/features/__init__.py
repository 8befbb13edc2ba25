"""Feature families: images in, one row of numbers per image out.

Each family is a scikit-learn transformer with ``get_feature_names_out`` and
``set_output`` support; :class:`ImageFeatures` combines several in one
parallel pass.
"""

from .._cache import FeatureCache
from ..exceptions import SkippedImagesWarning
from ._base import FeatureExtractor
from .acquisition import AcquisitionFeatures
from .cnn import CNNFeatures
from .combined import ImageFeatures
from .glcm import GLCMFeatures
from .hog import HOGFeatures
from .intensity import IntensityFeatures
from .lbp import LBPFeatures
from .region import RegionFeatures
from .tumor_map import TumorMapFeatures

__all__ = [
    "AcquisitionFeatures",
    "CNNFeatures",
    "FeatureCache",
    "FeatureExtractor",
    "GLCMFeatures",
    "HOGFeatures",
    "ImageFeatures",
    "IntensityFeatures",
    "LBPFeatures",
    "RegionFeatures",
    "SkippedImagesWarning",
    "TumorMapFeatures",
]
