"""TumorMapFeatures: tissue cells against SciPy and scikit-image, map summaries of known maps,
what the cell classifier learns, and its cross-fitting."""

import pickle

import numpy as np
import pytest
from scipy import ndimage
from skimage.feature import local_binary_pattern
from sklearn.metrics import roc_auc_score
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GroupKFold

from braintumor_features import make_pipeline
from braintumor_features.features import FeatureCache, GLCMFeatures, ImageFeatures
from braintumor_features.features.tumor_map import (
    MAP_NAMES, TISSUE_NAMES, TumorMapFeatures, map_summary, tissue_cells,
)
from braintumor_features.images import with_masks
from braintumor_features.pipeline import default_features

FAST = {"grid": 16, "max_iter": 20, "cv": 3, "random_state": 0}


@pytest.fixture(scope="module")
def head_image():
    rng = np.random.default_rng(0)
    image = np.zeros((96, 96), np.uint8)
    yy, xx = np.mgrid[:96, :96]
    head = (yy - 48) ** 2 / 40**2 + (xx - 46) ** 2 / 36**2 <= 1
    image[head] = rng.integers(60, 140, head.sum())
    image[30:44, 20:34] = 230  # a bright lesion on the left
    return image, head


def _smooth_reference(values, head, sigma):
    """Normalised Gaussian convolution with SciPy (OpenCV's default border is SciPy's
    'mirror'; the kernel's radius is 3 sigma, rounded, as in the family)."""
    radius = int(round(3 * sigma))
    options = {"sigma": sigma, "mode": "mirror", "truncate": radius / sigma}
    weighted = ndimage.gaussian_filter(values * head, **options)
    return weighted / np.maximum(ndimage.gaussian_filter(head.astype(float), **options), 1e-3)


def _cell_means(values, grid):
    size = values.shape[0] // grid
    return values.reshape(grid, size, grid, size).mean(axis=(1, 3))


def test_tissue_cells_equal_scipy_and_scikit_image_computations(head_image):
    image, head = head_image
    cells, head_fraction = tissue_cells(image, head, grid=24)
    np.testing.assert_allclose(head_fraction, _cell_means(head.astype(float), 24), atol=1e-6)
    # Robust z-score in the head (median and interquartile range of its grey values).
    q1, median, q3 = np.percentile(image[head], [25, 50, 75])
    z = np.clip((image - median) / max(q3 - q1, 1.0), -6, 6)
    for sigma in (1.5, 4, 10):
        expected = _cell_means(_smooth_reference(z, head, sigma), 24)
        np.testing.assert_allclose(cells[..., TISSUE_NAMES.index(f"zmean_s{sigma}")], expected,
                                   atol=2e-4)
    # LBP (8, 1) uniform codes: 9 is every non-uniform pattern.
    codes = local_binary_pattern(image, 8, 1, "uniform")
    expected = _cell_means(_smooth_reference((codes == 9).astype(float), head, 4), 24)
    np.testing.assert_allclose(cells[..., TISSUE_NAMES.index("lbp_nonuniform_s4")], expected,
                               atol=2e-4)
    # Distance to the head's border, in radii of the disc of the head's area, capped at 1.5.
    radius = np.sqrt(head.sum() / np.pi)
    border = np.minimum(ndimage.distance_transform_edt(head) / radius, 1.5)
    np.testing.assert_allclose(cells[..., TISSUE_NAMES.index("border_dist")],
                               _cell_means(border, 24), atol=0.01)  # OpenCV's 5x5 mask


def test_asymmetry_marks_the_lesion_side(head_image):
    image, head = head_image
    cells, _ = tissue_cells(image, head, grid=24)
    asymmetry = cells[..., TISSUE_NAMES.index("asym_s4")]
    assert asymmetry[9, 6] > 1.0  # the lesion (rows 30-44, columns 20-34) against its mirror
    assert asymmetry[9, 17] < -1.0  # the mirror side sees the lesion as missing


def test_map_summary_of_a_known_map():
    head = np.ones((20, 20), np.float32)
    probability = np.zeros((20, 20), np.float32)
    probability[4:8, 10:14] = 0.9  # a 4 x 4 square blob
    probability[15, 2] = 0.6  # and a single cell
    cells = np.zeros((20, 20, len(TISSUE_NAMES)), np.float32)
    cells[4:8, 10:14, TISSUE_NAMES.index("zmean_s1.5")] = 3.0
    summary = dict(zip(MAP_NAMES, map_summary(probability, head, cells)))
    assert summary["probability_max"] == pytest.approx(0.9)
    assert summary["n_components_above_0.5"] == 2
    assert summary["largest_component_above_0.5"] == pytest.approx(16 / 400)
    assert summary["area_above_0.5"] == pytest.approx(17 / 400)
    assert summary["area_above_0.8"] == pytest.approx(16 / 400)
    assert summary["blob_area"] == pytest.approx(16 / 400)
    assert summary["blob_mean_probability"] == pytest.approx(0.9)
    assert summary["blob_solidity"] == pytest.approx(1.0)
    assert summary["blob_elongation"] == pytest.approx(1.0)
    assert summary["blob_compactness"] == pytest.approx(np.pi / 4)  # a square's 4 pi A / P**2
    assert summary["blob_mean_zscore_sigma1.5"] == pytest.approx(3.0)
    # the ring around the blob is at 0
    assert summary["blob_minus_ring_mean_zscore_sigma1.5"] == pytest.approx(3.0)
    assert summary["probability_weighted_mean_zscore_sigma1.5"] == pytest.approx(
        3.0 * 16 * 0.9 / (16 * 0.9 + 0.6))
    assert len(MAP_NAMES) == len(set(MAP_NAMES)) == len(summary)


def test_the_map_finds_tumours_it_never_saw(demo):
    from braintumor_features.datasets import make_demo

    train = make_demo(80, image_size=64, random_state=1)
    family = TumorMapFeatures(**FAST).fit(with_masks(train.images, train.masks))
    assert family.n_training_images_ == 60  # the outlined slices: every tumour
    rows = family.transform(demo.images)
    peak = rows[:, MAP_NAMES.index("probability_max")]
    assert roc_auc_score(demo.target != "no_tumor", peak) > 0.9
    # Where: the map's most probable head cell lies in the held-out outline.
    inside = []
    for image, mask in zip(demo.images, demo.masks):
        if mask is None:
            continue
        cells, head_fraction = tissue_cells(image, grid=16)
        in_head = head_fraction >= 0.5
        probability = np.zeros(in_head.shape)
        probability[in_head] = family.classifier_.predict_proba(cells[in_head])[:, 1]
        peak = np.unravel_index(np.argmax(probability), probability.shape)
        inside.append(mask.reshape(16, 4, 16, 4).any(axis=(1, 3))[peak])
    assert np.mean(inside) > 0.8


def test_fit_transform_rows_come_from_classifiers_that_never_saw_their_fold(demo):
    X = with_masks(demo.images, demo.masks)
    family = TumorMapFeatures(**{**FAST, "cv": GroupKFold(3)})
    rows = family.fit_transform(X, demo.target, groups=demo.groups)
    for train, test in GroupKFold(3).split(X, groups=demo.groups):
        held_out = TumorMapFeatures(**FAST).fit([X[i] for i in train])
        np.testing.assert_array_equal(rows[test], held_out.transform([X[i] for i in test]))
    # transform uses the classifier fitted on every image, which has seen them all.
    np.testing.assert_array_equal(family.transform(X),
                                  TumorMapFeatures(**FAST).fit(X).transform(X))
    assert not np.array_equal(rows, family.transform(X))


def test_a_family_that_learns_inside_image_features_and_a_pipeline(demo):
    X = with_masks(demo.images, demo.masks)
    glcm, tumor_map = GLCMFeatures(distances=[1], levels=8), TumorMapFeatures(**FAST)
    features = ImageFeatures([("glcm", glcm), ("tumor_map", tumor_map)])
    assert features.__sklearn_tags__().requires_fit
    rows = features.fit_transform(X, demo.target, groups=demo.groups)
    n_glcm = len(glcm.get_feature_names_out())
    np.testing.assert_array_equal(rows[:, :n_glcm], glcm.transform(X))
    np.testing.assert_array_equal(
        rows[:, n_glcm:], TumorMapFeatures(**FAST).fit_transform(X, groups=demo.groups))
    assert not hasattr(tumor_map, "classifier_")  # fitted on a copy, in families_
    np.testing.assert_array_equal(
        features.transform(X)[:, n_glcm:], TumorMapFeatures(**FAST).fit(X).transform(X))
    pipe = make_pipeline(features=default_features(("glcm", "tumor_map")), image_size=64,
                         random_state=0).set_params(**{f"features__tumor_map__{k}": v
                                                       for k, v in FAST.items()})
    pipe.fit(X, demo.target, features__groups=demo.groups)
    assert (pipe.predict(demo.images) == demo.target).mean() > 0.9


def test_a_cache_never_returns_rows_of_another_fit(demo, monkeypatch):
    X = with_masks(demo.images, demo.masks)
    cache = FeatureCache()
    cache.clear()
    computed = []
    original = TumorMapFeatures._features
    monkeypatch.setattr(TumorMapFeatures, "_features",
                        lambda self, image, mask: computed.append(1) or original(self, image, mask))
    features = ImageFeatures([("tumor_map", TumorMapFeatures(**FAST))], cache=cache)
    first = features.fit(X[:20]).transform(X[20:])
    assert len(computed) == 20
    again = features.fit(X[:20]).transform(X[20:])  # the same fit: read from the cache
    np.testing.assert_array_equal(first, again)
    assert len(computed) == 20
    restored = pickle.loads(pickle.dumps(features))  # a reloaded model finds its rows too
    np.testing.assert_array_equal(restored.transform(X[20:]), first)
    assert len(computed) == 20
    refitted = features.fit(X[10:30]).transform(X[20:])
    uncached = ImageFeatures([("tumor_map", TumorMapFeatures(**FAST))]).fit(X[10:30])
    np.testing.assert_array_equal(refitted, uncached.transform(X[20:]))
    assert not np.array_equal(first, refitted)
    cache.clear()


def test_without_outlines_the_error_says_what_to_pass(demo):
    with pytest.raises(ValueError, match="with_masks"):
        TumorMapFeatures(**FAST).fit(demo.images)


def test_small_blobs_have_bounded_shape():
    head = np.ones((10, 10), np.float32)
    cells = np.zeros((10, 10, len(TISSUE_NAMES)), np.float32)

    def shape(blob):
        probability = np.where(blob, 0.9, 0.0).astype(np.float32)
        summary = dict(zip(MAP_NAMES, map_summary(probability, head, cells)))
        return summary["blob_solidity"], summary["blob_compactness"]

    one, two, line = (np.zeros((10, 10), bool) for _ in range(3))
    one[3, 3] = True
    two[3, 3:5] = True
    line[3, 1:9] = True
    assert shape(one) == pytest.approx((1.0, np.pi / 4))  # a square cell
    assert shape(two) == pytest.approx((1.0, 4 * np.pi * 2 / 36))
    assert shape(line)[1] < shape(two)[1] < shape(one)[1]
    ell = np.zeros((10, 10), bool)
    ell[2:6, 2] = ell[5, 2:6] = True  # an L: its hull holds the empty corner
    assert shape(ell)[0] < 1.0


def test_cross_fitting_errors_name_the_fold_or_the_groups(demo):
    X = with_masks(demo.images, demo.masks)
    with pytest.raises(ValueError, match="cv=3 folds need at least 3 groups"):
        TumorMapFeatures(**FAST).fit_transform(X, groups=np.repeat(["a", "b"], 20))
    # Every outlined image in one patient: the fold holding it leaves none to learn from.
    groups = np.where([mask is not None for mask in demo.masks], "outlined", demo.groups)
    with pytest.raises(ValueError, match=r"cross-fitting fold 0 \(.*: lower cv\)"):
        TumorMapFeatures(**FAST).fit_transform(X, groups=groups)


def test_transform_before_fit_raises_even_when_skipping(demo):
    for features in (TumorMapFeatures(**FAST, on_error="skip"),
                     ImageFeatures([("tumor_map", TumorMapFeatures(**FAST))], on_error="skip")):
        with pytest.raises(NotFittedError):
            features.transform(demo.images[:2])


def test_make_pipeline_seeds_the_tumor_map(demo):
    X = with_masks(demo.images, demo.masks)

    def rows():
        pipe = make_pipeline(features=["glcm", "tumor_map"], image_size=64, random_state=3)
        pipe.set_params(features__tumor_map__grid=16, features__tumor_map__max_iter=10)
        assert pipe.named_steps["features"].families[1][1].random_state == 3
        return pipe[:-3].fit_transform(X, features__groups=demo.groups)

    np.testing.assert_array_equal(rows(), rows())
