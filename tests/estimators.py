"""Every public estimator, with fast parameters for the common tests.

Like sktime's ``get_test_params``: small settings that exercise each
estimator quickly. A new public estimator must be added here; the common
tests check that none is missing.
"""

import importlib.util

from braintumor_features import (
    CLAHE,
    AcquisitionFeatures,
    CNNFeatures,
    CropHead,
    Denoise,
    GLCMFeatures,
    HOGFeatures,
    Grayscale,
    HistogramStandardizer,
    ImageFeatures,
    IntensityFeatures,
    LBPFeatures,
    NormalizeIntensity,
    RegionFeatures,
    Resize,
    TumorMapFeatures,
)
from braintumor_features.classifiers import SVMClassifier

PREPROCESSING = [
    Grayscale(),
    CropHead(margin=0.05),
    Resize(size=32),
    Resize(size=(32, 24), keep_aspect=True),
    Denoise("median"),
    Denoise("gaussian", size=5, sigma=1.5),
    Denoise("bilateral", size=5),
    Denoise("nlmeans", h=5.0),
    CLAHE(clip_limit=3.0, tile_grid_size=4),
    NormalizeIntensity("percentile"),
    NormalizeIntensity("zscore", within_head=False),
    NormalizeIntensity("robust"),
    HistogramStandardizer(percentiles=(1, 50, 99), n_jobs=2),
    HistogramStandardizer(scale=(-1.0, 1.0), within_head=False),
]

FEATURES = [
    AcquisitionFeatures(),
    GLCMFeatures(distances=[1, 2], levels=16),
    GLCMFeatures(distances=[1], levels=8, average_angles=False, region="image"),
    LBPFeatures(radii=[1, 2], grid=(1, 2)),
    LBPFeatures(radii=[1], points=[8], method="ror", region="image"),
    LBPFeatures(radii=[1], points=[8], method="nri_uniform"),
    IntensityFeatures(bins=8, grid=(1, 2)),
    HOGFeatures(size=32, cell_size=8),
    RegionFeatures(),
    RegionFeatures(regions="both", asymmetry=False),
    ImageFeatures([("glcm", GLCMFeatures(distances=[1], levels=8)), ("lbp", LBPFeatures(radii=[1]))]),
    ImageFeatures([("lbp", LBPFeatures(radii=[1]))], cache=True),
    TumorMapFeatures(grid=16, max_iter=10, cv=3, random_state=0),
    ImageFeatures([("glcm", GLCMFeatures(distances=[1], levels=8)),
                   ("tumor_map", TumorMapFeatures(grid=16, max_iter=10, cv=3, random_state=0))]),
]
if importlib.util.find_spec("onnxruntime"):  # the [cnn] extra
    FEATURES.append(CNNFeatures(layers=["stage7"], flip=False))

CLASSIFIERS = [SVMClassifier(random_state=0)]

ALL = PREPROCESSING + FEATURES + CLASSIFIERS


def cross_fitted(estimator):
    """Whether ``fit_transform`` gives cross-fitted rows: a feature family that learns."""
    from braintumor_features.features import FeatureExtractor

    return isinstance(estimator, FeatureExtractor) and estimator.__sklearn_tags__().requires_fit


def ids(estimators):
    return [repr(e).replace("\n", "").replace(" ", "") for e in estimators]
