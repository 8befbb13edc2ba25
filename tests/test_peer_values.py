"""Intensity statistics equal pyradiomics' first-order features (when pyradiomics is installed)."""

import logging

import numpy as np
import pytest

from braintumor_features.features import IntensityFeatures
from braintumor_features.features.intensity import FIRST_ORDER_NAMES
from braintumor_features.images import MaskedImage

radiomics = pytest.importorskip("radiomics")
sitk = pytest.importorskip("SimpleITK")

#: Ours -> pyradiomics. ``energy`` is pyradiomics' Energy divided by the number of pixels.
NAMES = {
    "mean": "Mean", "variance": "Variance", "skewness": "Skewness", "kurtosis": "Kurtosis",
    "minimum": "Minimum", "maximum": "Maximum", "range": "Range", "median": "Median",
    "p10": "10Percentile", "p90": "90Percentile", "iqr": "InterquartileRange",
    "mad": "MeanAbsoluteDeviation", "robust_mad": "RobustMeanAbsoluteDeviation",
    "rms": "RootMeanSquared", "entropy": "Entropy", "uniformity": "Uniformity",
}


def test_intensity_features_equal_pyradiomics_firstorder(rng):
    from radiomics import firstorder

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    image = rng.gamma(2.0, 10.0, (40, 50)).astype(np.float32)  # as the images load
    mask = np.zeros(image.shape, bool)
    mask[5:35, 8:45] = True
    theirs = firstorder.RadiomicsFirstOrder(
        sitk.GetImageFromArray(image[None]), sitk.GetImageFromArray(mask[None].astype(np.uint8)),
        binCount=32, force2D=True)
    theirs.enableAllFeatures()
    theirs = {name: float(value) for name, value in theirs.execute().items()}
    row = IntensityFeatures(bins=32, region="mask", histogram=False).fit_transform(
        [MaskedImage(image, mask)])[0]
    ours = dict(zip(FIRST_ORDER_NAMES, row))
    for name, their_name in NAMES.items():
        assert ours[name] == pytest.approx(theirs[their_name], rel=1e-9), name
    assert ours["energy"] * mask.sum() == pytest.approx(theirs["Energy"], rel=1e-9)
