"""Learned histogram standardisation and the robust z-score, on images remapped by known functions."""

import pickle

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from braintumor_features import HistogramStandardizer, ImageSequence, NormalizeIntensity
from braintumor_features.preprocessing import head_mask

REMAPS = {  # monotone changes of grey scale, as between scanners or exports
    "gamma 0.5": lambda x: 255 * (x / 255.0) ** 0.5,
    "3x+20 then sqrt": lambda x: np.sqrt(3 * x.astype(float) + 20),
    "gamma 2": lambda x: 255 * (x / 255.0) ** 2,
}


@pytest.fixture(scope="module")
def split(demo):
    images = list(demo.images)
    return images[:20], images[20:]


@pytest.mark.parametrize("name", REMAPS)
def test_remapped_images_map_back_to_the_standardised_original(split, name):
    train, test = split
    remap = REMAPS[name]
    step = HistogramStandardizer().fit(train)
    original = step.transform(test)
    remapped = step.transform([remap(image) for image in test])
    # Baseline: per-image percentile scaling only undoes affine changes.
    plain = NormalizeIntensity().fit_transform(test)
    plain_remapped = NormalizeIntensity().fit_transform([remap(image) for image in test])
    errors, baseline = [], []
    for index, image in enumerate(test):
        head = head_mask(image)
        errors.append(np.abs(original[index] - remapped[index])[head].mean())
        baseline.append(np.abs(plain[index] - plain_remapped[index])[head].mean())
    # On a standard scale of 0..1 the mean error inside the head is under 0.02 for every image
    # (measured: about 0.007 on average), against 0.12-0.19 for percentile scaling.
    assert max(errors) < 0.03
    assert np.mean(errors) < 0.2 * np.mean(baseline)


def test_standard_landmarks_are_the_mean_of_each_image_mapped_onto_the_scale(rng):
    images = [rng.gamma(2.0 + k, 20.0, size=(30, 30)) for k in range(3)]
    percentiles = (2, 25, 50, 75, 98)
    step = HistogramStandardizer(percentiles, scale=(10, 110), within_head=False).fit(images)
    expected = []
    for image in images:
        marks = np.percentile(image, percentiles)
        expected.append(10 + 100 * (marks - marks[0]) / (marks[-1] - marks[0]))
    np.testing.assert_allclose(step.standard_landmarks_, np.mean(expected, axis=0))
    assert step.n_images_ == 3
    # Each image's own landmarks land exactly on the standard ones.
    out = step.transform(images)[1]
    np.testing.assert_allclose(np.percentile(out, percentiles), step.standard_landmarks_,
                               atol=0.01)  # on a scale of 100; float32 output


def test_intensities_beyond_the_end_landmarks_follow_the_end_slopes():
    image = np.arange(100, dtype=float).reshape(10, 10)
    step = HistogramStandardizer((10, 90), within_head=False).fit([image])
    out = step.transform([image])[0]
    low, high = np.percentile(image, (10, 90))
    np.testing.assert_allclose(out, (image - low) / (high - low), atol=1e-6)
    assert out.dtype == np.float32 and out.min() < 0 and out.max() > 1


def test_transform_needs_fit_and_keeps_masks(demo):
    step = HistogramStandardizer()
    with pytest.raises(NotFittedError):
        step.transform(demo.images[:2])
    fitted = clone(step).fit(demo.images[:10])
    out = fitted.transform(ImageSequence(demo.images[:2]))
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(demo.images[:2])[0], out[0])
    assert not hasattr(clone(fitted), "standard_landmarks_")
    # The chain holds a copy: refitting the step does not change images already transformed.
    before = out[0].copy()
    fitted.fit([image // 4 + 100 for image in demo.images[:10]])
    np.testing.assert_array_equal(out[0], before)


@pytest.mark.parametrize("params, match", [
    ({"percentiles": (50, 10)}, "percentiles"),
    ({"percentiles": (1, 101)}, "percentiles"),
    ({"scale": (1.0, 0.0)}, "scale"),
])
def test_bad_parameters_are_named(demo, params, match):
    with pytest.raises(ValueError, match=match):
        HistogramStandardizer(**params).fit(demo.images[:2])


def test_constant_images_teach_nothing():
    constant, ramp = np.full((8, 8), 7, np.uint8), np.arange(64.0).reshape(8, 8) ** 2
    step = HistogramStandardizer((0, 50, 100), within_head=False).fit([constant])
    assert step.n_images_ == 0 and step.standard_landmarks_.tolist() == [0.0, 0.5, 1.0]
    assert step.transform([constant])[0].tolist() == np.zeros((8, 8)).tolist()
    learned = HistogramStandardizer((0, 50, 100), within_head=False).fit([constant, ramp])
    assert learned.n_images_ == 1
    np.testing.assert_allclose(learned.standard_landmarks_, [0, np.median(ramp) / 63**2, 1])


def test_robust_zscore_is_median_and_iqr_inside_the_head_and_ignores_affine_changes(demo):
    image = demo.images[3]
    out = NormalizeIntensity("robust").fit_transform([image, 3.0 * image + 20])
    head = head_mask(image)
    values = image[head].astype(float)
    expected = (image - np.median(values)) / stats.iqr(values)
    np.testing.assert_allclose(out[0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[1], out[0], atol=1e-4)


def test_feature_cache_tells_apart_standardizers_fitted_on_different_images(demo):
    from braintumor_features.features import FeatureCache, ImageFeatures, IntensityFeatures

    images, cache = demo.images[:6], FeatureCache()
    features = ImageFeatures([("intensity", IntensityFeatures(bins=8))], cache=cache)
    rows = []
    for train in (demo.images[:10], [image // 3 for image in demo.images[:10]]):
        standardised = HistogramStandardizer().fit(train).transform(images)
        rows.append(features.fit_transform(standardised))
        uncached = ImageFeatures([("intensity", IntensityFeatures(bins=8))]).fit_transform(
            standardised)
        np.testing.assert_array_equal(rows[-1], uncached)
    assert not np.array_equal(rows[0], rows[1])


def test_matches_intensity_normalization_nyul(demo):
    # The reference implementation of Nyúl–Udupa (skipped without it).
    reference = pytest.importorskip("intensity_normalization")
    images = [image.astype(float) for image in demo.images[:12]]
    masks = [head_mask(image) for image in images]
    nyul = reference.NyulNormalizer(output_min_value=0.0, output_max_value=1.0)
    nyul.fit_population([reference.create_image(i) for i in images[:8]],
                        [reference.create_image(m) for m in masks[:8]])
    ours = HistogramStandardizer(tuple(nyul.percentiles)).fit(images[:8])
    np.testing.assert_allclose(ours.standard_landmarks_, nyul.standard_scale)
    for image, mask, out in zip(images[8:], masks[8:], ours.transform(images[8:])):
        expected = nyul.transform(reference.create_image(image),
                                  reference.create_image(mask)).get_data()
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_landmarks_identical_for_any_n_jobs_and_bad_files_named(demo, tmp_path):
    one = HistogramStandardizer(n_jobs=1).fit(demo.images)
    two = HistogramStandardizer(n_jobs=2).fit(demo.images)
    np.testing.assert_array_equal(one.standard_landmarks_, two.standard_landmarks_)
    with pytest.raises(ValueError, match="missing.png"):
        HistogramStandardizer().fit([demo.images[0], tmp_path / "missing.png"])
