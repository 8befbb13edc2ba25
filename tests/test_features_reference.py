"""Feature values checked against independent implementations on the same input."""

import mahotas.features.texture as mahotas_texture
import numpy as np
import pytest
from scipy import stats
from skimage.feature import graycomatrix, graycoprops, local_binary_pattern
from skimage.measure import moments_central, moments_hu, moments_normalized, regionprops

from braintumor_features import MaskedImage, read_image
from braintumor_features.features import GLCMFeatures, IntensityFeatures, LBPFeatures
from braintumor_features.features.glcm import HARALICK_NAMES, cooccurrence, haralick, quantize
from braintumor_features.features.intensity import FIRST_ORDER_NAMES, first_order
from braintumor_features.features.lbp import lbp_codes
from braintumor_features.features.region import SHAPE_NAMES, shape_descriptors
from braintumor_features.preprocessing import Resize

ANGLES = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]


@pytest.fixture
def levels_image(rng):
    # A smooth, textured image so the features are not those of pure noise.
    base = rng.integers(0, 8, (48, 56))
    return np.minimum(base + np.arange(56)[None, :] // 8, 15)


@pytest.mark.parametrize("symmetric", [True, False])
def test_cooccurrence_equals_skimage(levels_image, symmetric):
    ours = cooccurrence(levels_image, [1, 2, 3], ANGLES, 16, symmetric=symmetric)
    theirs = graycomatrix(levels_image, [1, 2, 3], ANGLES, levels=16, symmetric=symmetric)
    np.testing.assert_array_equal(ours, theirs.transpose(2, 3, 0, 1))


def test_cooccurrence_of_256_levels_equals_skimage(rng):
    # 257 x 257 pairs of levels (with the extra one outside the mask) do not fit 16 bits.
    image = rng.integers(0, 256, (30, 34))
    mask = np.ones(image.shape, bool)
    mask[:3] = False
    ours = cooccurrence(image, [1, 3], ANGLES, 256, mask=mask)
    theirs = graycomatrix(np.where(mask, image, 256), [1, 3], ANGLES, levels=257, symmetric=True)
    np.testing.assert_array_equal(ours, theirs[:256, :256].transpose(2, 3, 0, 1))


@pytest.mark.parametrize("symmetric", [True, False])
def test_masked_cooccurrence_counts_pairs_inside_the_mask(levels_image, symmetric):
    # A mask well inside the image (its bounding box is all that is counted) and one
    # touching the border: compare with skimage on the image where every pixel outside
    # the mask has an extra grey level whose row and column are dropped.
    for rows, cols in [(slice(7, 30), slice(12, 41)), (slice(0, 48), slice(30, 56))]:
        mask = np.zeros(levels_image.shape, bool)
        mask[rows, cols] = True
        mask[20, 35] = False  # a hole
        ours = cooccurrence(levels_image, [1, 2, 4], ANGLES, 16, symmetric=symmetric, mask=mask)
        marked = np.where(mask, levels_image, 16)
        theirs = graycomatrix(marked, [1, 2, 4], ANGLES, levels=17, symmetric=symmetric)
        np.testing.assert_array_equal(ours, theirs[:16, :16].transpose(2, 3, 0, 1))


def test_quantize_equals_floor_of_scaled_float_image(rng):
    image = rng.random((20, 30)).astype(np.float32)
    image[3, 4], image[5, 6] = 0.0, 1.0
    expected = np.minimum(np.floor(image.astype(np.float64) * 32), 31)
    np.testing.assert_array_equal(quantize(image, 32), expected)
    np.testing.assert_array_equal(quantize(image.astype(np.float64), 32), expected)


def test_haralick_equals_mahotas(levels_image):
    counts = cooccurrence(levels_image, [1], ANGLES, 16)[0].astype(float)
    theirs = mahotas_texture.haralick_features(list(counts), use_x_minus_y_variance=True)
    np.testing.assert_allclose(haralick(counts)[:, :13], theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "prop", ["contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation", "mean", "std"]
)
def test_haralick_equals_skimage_graycoprops(levels_image, prop):
    glcm = graycomatrix(levels_image, [1, 2], ANGLES, levels=16, symmetric=True, normed=True)
    ours = haralick(cooccurrence(levels_image, [1, 2], ANGLES, 16))
    column = {"ASM": "asm"}.get(prop, prop)
    np.testing.assert_allclose(
        ours[..., HARALICK_NAMES.index(column)], graycoprops(glcm, prop), rtol=1e-10, atol=1e-12
    )


def test_glcm_features_average_angles_of_mahotas(rng):
    image = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    row = GLCMFeatures(distances=[1], levels=32, region="image").fit_transform([image])[0]
    # mahotas counts its own co-occurrence matrices (4 directions, symmetric).
    theirs = mahotas_texture.haralick(quantize(image, 32), use_x_minus_y_variance=True)
    # mahotas sizes its matrix by the image's maximum: compare where both are defined.
    np.testing.assert_allclose(row[:13][[0, 1, 2, 3, 4, 5, 6, 7, 8, 10]],
                               theirs.mean(axis=0)[[0, 1, 2, 3, 4, 5, 6, 7, 8, 10]], rtol=1e-9)


@pytest.mark.parametrize("points,radius", [(8, 1), (16, 2), (24, 3), (8, 1.5), (12, 2.5)])
def test_lbp_codes_equal_skimage_on_integer_images(rng, points, radius):
    image = rng.integers(0, 256, (40, 44)).astype(np.uint8)
    ours = lbp_codes(image, points, radius, "uniform")
    np.testing.assert_array_equal(ours, local_binary_pattern(image, points, radius, "uniform"))


@pytest.mark.parametrize("points,radius", [(8, 1), (16, 2), (24, 3), (8, 1.5)])
def test_lbp_nri_uniform_codes_equal_skimage(rng, points, radius):
    image = rng.integers(0, 256, (40, 44)).astype(np.uint8)
    ours = lbp_codes(image, points, radius, "nri_uniform")
    np.testing.assert_array_equal(ours, local_binary_pattern(image, points, radius, "nri_uniform"))
    row = LBPFeatures(radii=[radius], points=[points], method="nri_uniform",
                      region="image").fit_transform([image])[0]
    expected = np.bincount(ours.ravel(), minlength=points * (points - 1) + 3) / ours.size
    np.testing.assert_allclose(row, expected)


@pytest.mark.parametrize("points,radius", [(8, 1), (16, 2)])
def test_lbp_ror_bins_follow_skimage_order(rng, points, radius):
    image = rng.integers(0, 256, (30, 30)).astype(np.uint8)
    theirs = local_binary_pattern(image, points, radius, "ror").astype(np.int64)
    _, theirs_rank = np.unique(theirs, return_inverse=True)
    ours = lbp_codes(image, points, radius, "ror")
    # Same partition of pixels and same ordering of pattern values.
    _, ours_rank = np.unique(ours, return_inverse=True)
    np.testing.assert_array_equal(ours_rank.ravel(), theirs_rank.ravel())


@pytest.mark.parametrize("method", ["uniform", "nri_uniform"])
def test_lbp_in_a_region_counts_the_whole_images_codes(rng, method):
    # Codes are computed only around the region (its bounding box and the sampling
    # margin): they must be the codes of the whole image, by scikit-image, for regions
    # inside the image, at its borders, and of one pixel.
    image = rng.integers(0, 256, (40, 44)).astype(np.uint8)
    for rows, cols in [(slice(10, 25), slice(15, 33)), (slice(0, 12), slice(30, 44)),
                       (slice(38, 40), slice(0, 44)), (slice(20, 21), slice(7, 8))]:
        mask = np.zeros(image.shape, bool)
        mask[rows, cols] = True
        if mask.sum() > 1:
            mask[rows.start, cols.start] = False  # a hole in the corner
        row = LBPFeatures(radii=[1, 2.5], points=[8, 12], method=method,
                          region="mask").fit_transform([MaskedImage(image, mask)])[0]
        expected = []
        for points, radius in [(8, 1), (12, 2.5)]:
            codes = local_binary_pattern(image, points, radius, method).astype(int)[mask]
            n_bins = points + 2 if method == "uniform" else points * (points - 1) + 3
            expected.append(np.bincount(codes, minlength=n_bins) / codes.size)
        np.testing.assert_allclose(row, np.concatenate(expected))


def test_lbp_histograms_match_skimage_on_real_slice(brain_mri):
    image = read_image(brain_mri / "glioma" / sorted(p.name for p in (brain_mri / "glioma").iterdir())[0])
    image, _ = Resize(256)._apply(image, None)
    ours = LBPFeatures(radii=[1, 2, 3], region="image").fit_transform([image])[0]
    theirs = np.concatenate([
        np.bincount(local_binary_pattern(image, 8 * r, r, "uniform").astype(int).ravel(),
                    minlength=8 * r + 2) / image.size
        for r in (1, 2, 3)
    ])
    # Exact ties (a neighbour equal to its centre) can flip in scikit-image's
    # floating-point interpolation; they are a handful of 65,536 pixels.
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_lbp_flat_image_sets_every_bit():
    histogram = LBPFeatures(radii=[1], region="image").fit_transform([np.full((9, 9), 3.0)])[0]
    assert histogram.argmax() == 8  # interior pixels: all neighbours equal


def test_first_order_matches_scipy_and_numpy(rng):
    values = rng.gamma(2.0, 10.0, 5000)
    stats_ = dict(zip(FIRST_ORDER_NAMES, first_order(values, 32, (values.min(), values.max()))))
    assert stats_["skewness"] == pytest.approx(stats.skew(values))
    assert stats_["kurtosis"] == pytest.approx(stats.kurtosis(values, fisher=True) + 3)
    assert stats_["variance"] == pytest.approx(np.var(values))
    assert stats_["median"] == pytest.approx(np.median(values))
    assert stats_["iqr"] == pytest.approx(stats.iqr(values))
    assert stats_["mad"] == pytest.approx(np.mean(np.abs(values - values.mean())))
    counts, _ = np.histogram(values, 32, (values.min(), values.max()))
    assert stats_["entropy"] == pytest.approx(stats.entropy(counts, base=2))
    inner = values[(values >= np.percentile(values, 10)) & (values <= np.percentile(values, 90))]
    # pyradiomics' robust MAD: mean absolute deviation within the 10th-90th percentiles.
    assert stats_["robust_mad"] == pytest.approx(np.mean(np.abs(inner - np.mean(inner))))


@pytest.mark.parametrize("size", [1, 3, 10, 11, 101])
def test_first_order_order_statistics_equal_numpy_with_ties(rng, size):
    values = rng.integers(0, 5, size) / 4.0  # many ties, values on the histogram edges
    stats_ = dict(zip(FIRST_ORDER_NAMES, first_order(values, 4, (0.0, 1.0))))
    p10, p25, median, p75, p90 = np.percentile(values, [10, 25, 50, 75, 90])
    assert [stats_["p10"], stats_["p25"], stats_["median"], stats_["p75"], stats_["p90"]] == [
        p10, p25, median, p75, p90]
    assert (stats_["minimum"], stats_["maximum"]) == (values.min(), values.max())
    counts, _ = np.histogram(values, 4, (0.0, 1.0))
    assert stats_["uniformity"] == pytest.approx(((counts / size) ** 2).sum())
    inner = values[(values >= p10) & (values <= p90)]
    if inner.size:
        assert stats_["robust_mad"] == pytest.approx(np.mean(np.abs(inner - inner.mean())))


def test_first_order_robust_mad_is_zero_without_values_between_the_percentiles():
    # Two values: the 10th and 90th percentiles (0.1, 0.9) hold none between them.
    stats_ = dict(zip(FIRST_ORDER_NAMES, first_order(np.array([0.0, 1.0]), 4, (0.0, 1.0))))
    assert stats_["robust_mad"] == 0.0
    assert np.isfinite(list(stats_.values())).all()


def test_intensity_features_use_the_head_only():
    image = np.zeros((60, 60), np.uint8)
    image[10:50, 10:50] = 100
    image[20:30, 20:30] = 200
    row = IntensityFeatures(region="head").set_output(transform="pandas").fit_transform([image])
    assert row.loc[0, "intensity_minimum"] == 100
    # The head mask rounds the square's four corner pixels off.
    assert row.loc[0, "intensity_mean"] == pytest.approx((1500 * 100 + 100 * 200) / 1600, rel=1e-3)


def test_shape_descriptors_match_regionprops():
    region = np.zeros((80, 100), bool)
    rr, cc = np.mgrid[:80, :100]
    region[((rr - 35) / 20.0) ** 2 + ((cc - 55) / 32.0) ** 2 <= 1] = True
    region[30:34, 80:95] = True
    image = region * 120.0 + 10
    ours = dict(zip(SHAPE_NAMES, shape_descriptors(region, image)))
    props = regionprops(region.astype(int))[0]
    diagonal = np.hypot(80, 100)
    assert ours["eccentricity"] == pytest.approx(props.eccentricity, rel=1e-6)
    assert ours["major_axis"] * diagonal == pytest.approx(props.axis_major_length, rel=1e-6)
    assert ours["minor_axis"] * diagonal == pytest.approx(props.axis_minor_length, rel=1e-6)
    assert ours["centroid_row"] * 80 == pytest.approx(props.centroid[0])
    assert ours["centroid_col"] * 100 == pytest.approx(props.centroid[1])
    assert ours["extent"] == pytest.approx(props.extent)
    assert ours["area_fraction"] * 8000 == pytest.approx(props.area)
    assert ours["solidity"] == pytest.approx(props.solidity, rel=0.03)
    assert ours["perimeter_ratio"] * np.sqrt(props.area) == pytest.approx(props.perimeter, rel=0.05)
    nu = moments_normalized(moments_central(region.astype(float)), 3)
    hu = moments_hu(nu)
    np.testing.assert_allclose([ours[f"hu{i}"] for i in range(1, 8)],
                               np.sign(hu) * np.log10(np.abs(hu) + 1e-30), rtol=1e-6, atol=1e-6)
    assert ours["contrast"] == pytest.approx(120.0)


def test_hog_equals_skimage_on_the_resized_image(rng):
    import cv2
    from skimage.feature import hog

    from braintumor_features.features import HOGFeatures

    image = rng.integers(0, 256, (90, 70)).astype(np.uint8)
    ours = HOGFeatures(size=64, cell_size=16, orientations=6).fit_transform([image])[0]
    small = cv2.resize(image.astype(np.float32), (64, 64), interpolation=cv2.INTER_AREA)
    theirs = hog(small, orientations=6, pixels_per_cell=(16, 16), cells_per_block=(2, 2),
                 block_norm="L2-Hys")
    np.testing.assert_allclose(ours, theirs)
    with pytest.raises(ValueError, match="cell_size"):
        HOGFeatures(size=16, cell_size=16).fit([image])


@pytest.mark.parametrize("family", ["lbp", "intensity"])
def test_grid_histograms_count_each_cell(rng, family):
    from braintumor_features.features._grid import cell_histograms

    image = rng.integers(0, 256, (40, 60)).astype(np.uint8)
    if family == "lbp":
        extractor = LBPFeatures(radii=[1], region="image", grid=(1, 2))
        codes = local_binary_pattern(image, 8, 1, "uniform").astype(int)
        bins = 10
    else:
        extractor = IntensityFeatures(bins=8, region="image", grid=(1, 2))
        codes, bins = image // 32, 8
    row = extractor.fit_transform([image])[0][-5 * bins:]
    # Cells of the 2x2 grid, counted by numpy directly.
    cells = [codes[:20, :30], codes[:20, 30:], codes[20:, :30], codes[20:, 30:]]
    whole = np.histogram(codes, bins, (0, bins))[0] / codes.size
    expected = np.concatenate([whole] + [np.histogram(c, bins, (0, bins))[0] / c.size for c in cells])
    np.testing.assert_allclose(row, expected)
    names = extractor.get_feature_names_out()
    assert len(names) == len(extractor.fit_transform([image])[0])
    assert any("_g2c3_" in name for name in names)
    np.testing.assert_allclose(cell_histograms(codes, None, bins, [2])[:bins], expected[bins:2 * bins])


@pytest.mark.parametrize("shape, grid", [((37, 23), (1, 3)), ((50, 41), (2, 3, 5)), ((9, 64), (4,))])
def test_grid_histograms_of_a_region_equal_numpy_cell_by_cell(rng, shape, grid):
    """Uneven cells, grids that do not nest, a region: each cell's histogram of the
    region's pixels, binned over the region's range, is numpy's."""
    image = rng.random(shape).astype(np.float32)
    region = rng.random(shape) < 0.6
    row = IntensityFeatures(bins=6, region="mask", grid=grid).fit_transform(
        [MaskedImage(image, region)])[0]
    values = image[region].astype(np.float64)
    edges = np.histogram_bin_edges(values, 6, (values.min(), values.max()))
    expected = []
    for n in grid:
        rows = np.linspace(0, shape[0], n + 1).astype(int)
        cols = np.linspace(0, shape[1], n + 1).astype(int)
        for i in range(n):
            for j in range(n):
                cell = (slice(rows[i], rows[i + 1]), slice(cols[j], cols[j + 1]))
                inside = image[cell][region[cell]].astype(np.float64)
                expected.append(np.histogram(inside, edges)[0] / max(inside.size, 1))
    np.testing.assert_array_equal(row[-6 * sum(n * n for n in grid):], np.concatenate(expected))


def test_intensity_grid_histogram_of_whole_region_equals_numpy_on_floats(rng):
    image = rng.random((30, 30)).astype(np.float32)
    with_grid = IntensityFeatures(bins=7, region="image", grid=(1, 3)).fit_transform([image])[0]
    plain = IntensityFeatures(bins=7, region="image").fit_transform([image])[0]
    np.testing.assert_allclose(with_grid[:len(plain)], plain)


@pytest.mark.parametrize("bins", [(16, 18), (5, 300)])
def test_joint_counts_of_opencv_and_of_bincount_agree(rng, monkeypatch, bins):
    from braintumor_features.features import _joint

    first = rng.integers(0, bins[0], (30, 40))
    second = rng.integers(0, bins[1], (30, 40))
    mask = rng.random((30, 40)) < 0.6
    expected = np.zeros(bins)
    np.add.at(expected, (first[mask], second[mask]), 1)
    by_opencv = _joint.joint_counts(first, second, bins, mask)
    monkeypatch.setattr(_joint, "_EXACT_COUNTS", 0)  # as for an image of 2**24 pixels or more
    by_bincount = _joint.joint_counts(first, second, bins, mask)
    np.testing.assert_array_equal(by_opencv, expected)
    np.testing.assert_array_equal(by_bincount, expected)


def test_acquisition_features_equal_the_head_crop_in_the_files_pixels(brain_mri):
    """AcquisitionFeatures through the default preprocessing against the head's box cut by
    CropHead from the file (before any resampling), on real slices and the same slices at a
    quarter of their size: the head's pixels (at most the canonical image's) and aspect."""
    import cv2

    from braintumor_features import make_pipeline
    from braintumor_features.features import AcquisitionFeatures
    from braintumor_features.preprocessing import CropHead

    files = sorted(brain_mri.glob("*/*.jpg"))[::400][:6]
    images = [read_image(path) for path in files]
    images += [cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4),
                          interpolation=cv2.INTER_AREA) for image in images]
    canonical = make_pipeline()[:5].fit_transform(images)  # up to the features
    found = np.exp(AcquisitionFeatures().fit_transform(canonical))
    for image, (pixels, aspect) in zip(images, found):
        height, width = CropHead(margin=0).fit_transform([image])[0].shape
        scale = 256 / max(height, width) / (1 + 2 * CropHead().margin)  # keep_aspect Resize
        assert pixels == pytest.approx(np.sqrt(height * width) * min(scale, 1), rel=0.06)
        assert aspect == pytest.approx(height / width, rel=0.06)
