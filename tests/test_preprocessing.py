import cv2
import numpy as np
import pytest

from braintumor_features import (
    CLAHE, CropHead, Denoise, Grayscale, ImageSequence, MaskedImage, NormalizeIntensity, Resize,
)
from braintumor_features.preprocessing import head_box, head_mask


def _head(shape=(100, 120), box=(20, 80, 30, 100), value=150):
    image = np.zeros(shape, np.uint8)
    top, bottom, left, right = box
    image[top:bottom, left:right] = value
    return image


def test_head_mask_is_largest_component_with_holes_filled():
    image = _head()
    image[40:50, 50:60] = 0  # a dark hole inside the head
    image[2:6, 2:6] = 255  # a small bright speck outside
    mask = head_mask(image)
    assert mask[45, 55] and not mask[3, 3]
    assert abs(int(mask.sum()) - 60 * 70) <= 4  # closing may round the four corners


def test_head_mask_equals_scipy_labelling_and_hole_filling(rng):
    """The largest 8-connected component of the closed Otsu foreground with its holes filled,
    against scipy.ndimage on smooth random images with several blobs and holes."""
    from scipy import ndimage

    from braintumor_features._utils import _CLOSING

    for _ in range(50):
        image = (ndimage.gaussian_filter(rng.random((64, 64)), 3) * 765).clip(0, 255)
        image = image.astype(np.uint8)
        blurred = cv2.GaussianBlur(image, (5, 5), 0)
        binary = cv2.threshold(blurred, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
        binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, _CLOSING)
        labels, _ = ndimage.label(binary, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        expected = ndimage.binary_fill_holes(labels == sizes.argmax())
        np.testing.assert_array_equal(head_mask(image), expected)


@pytest.mark.parametrize("case", ["head", "framed", "two blobs", "constant"])
def test_head_box_is_the_bounding_box_of_the_head_mask(case):
    image = _head()
    if case == "framed":  # a bright frame encloses more area than the head but has fewer pixels
        image[0, :] = image[-1, :] = image[:, 0] = image[:, -1] = 255
    elif case == "two blobs":
        image[70:95, 5:25] = 200
    elif case == "constant":
        image[:] = 9
    mask = head_mask(image).view(np.uint8)
    left, top, width, height = cv2.boundingRect(mask)
    assert head_box(image) == (top, left, top + height, left + width)
    if case == "framed":
        assert head_box(image) == (20, 30, 80, 100)


def test_crop_head_moves_the_mask():
    image = _head()
    tumor = np.zeros(image.shape, bool)
    tumor[30:40, 40:50] = True
    out = CropHead(margin=0).fit_transform([MaskedImage(image, tumor)])[0]
    assert out.image.shape == (60, 70)
    assert out.mask.sum() == 100 and out.mask[10:20, 10:20].all()


def test_resize_keep_aspect_pads_and_moves_the_mask():
    image = np.full((50, 100), 7, np.uint8)
    tumor = np.zeros((50, 100), bool)
    tumor[:, :50] = True
    out = Resize(size=40, keep_aspect=True, interpolation="nearest").fit_transform(
        [MaskedImage(image, tumor)])[0]
    assert out.image.shape == (40, 40)
    assert (out.image[:10] == 0).all() and (out.image[10:30] == 7).all()
    assert out.mask[10:30, :20].all() and not out.mask[10:30, 20:].any()


def test_steps_chain_lazily_and_compute_on_access():
    images = [_head(), _head(value=90)]
    chained = Resize(size=32).fit_transform(CropHead().fit_transform(images))
    assert isinstance(chained, ImageSequence)
    assert [type(s).__name__ for s in chained.steps] == ["CropHead", "Resize"]
    assert chained[1].shape == (32, 32) and chained[1].max() == 90
    assert len(chained[[1]]) == 1 and len(chained[:1]) == 1


def test_steps_capture_their_parameters_at_transform_time():
    step = Resize(size=16)
    out = step.fit_transform([_head()])
    step.set_params(size=8)
    assert out[0].shape == (16, 16)


def test_steps_chain_a_copy_without_the_meta_estimators_context():
    # scikit-learn gives a step fitted inside a pipeline or search its parent's callback
    # context; a deep copy of it per transform copied the search's whole task tree
    step = Resize(size=16).fit([_head()])
    step._parent_callback_ctx = object()
    chained = step.transform([_head()]).steps[-1]
    assert chained is not step and not hasattr(chained, "_parent_callback_ctx")
    assert chained.get_params() == step.get_params() and chained._is_fitted


def test_denoise_methods_reduce_noise():
    rng = np.random.default_rng(0)
    clean = np.full((64, 64), 120, np.uint8)
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    for method in ["median", "gaussian", "bilateral", "nlmeans"]:
        out = Denoise(method, size=5, sigma=2.0, h=30.0).fit_transform([noisy])[0]
        assert np.abs(out.astype(float) - 120).mean() < 0.6 * np.abs(noisy.astype(float) - 120).mean(), method


def test_even_median_size_is_refused():
    with pytest.raises(ValueError, match="size must be odd"):
        Denoise("median", size=4).fit([])


def test_clahe_raises_local_contrast_on_16_bit():
    image = (np.tile(np.arange(64), (64, 1)) * 10 + 20000).astype(np.uint16)
    out = CLAHE().fit_transform([image])[0]
    assert out.dtype == np.uint16 and np.ptp(out) > np.ptp(image)


def test_normalize_within_head_ignores_background():
    image = _head()
    image[20:50, 30:100] = 100
    for method in ["minmax", "percentile", "zscore"]:
        assert NormalizeIntensity(method).fit_transform([image])[0].dtype == np.float32
    out = NormalizeIntensity("minmax").fit_transform([image])[0]
    assert out[25, 40] == 0.0 and out[70, 40] == 1.0
    assert out[5, 5] == 0.0  # background clipped
    z = NormalizeIntensity("zscore").fit_transform([image])[0]
    inside = z[head_mask(image)]
    assert abs(inside.mean()) < 1e-5 and abs(inside.std() - 1) < 1e-5


def test_grayscale_makes_8_bit():
    out = Grayscale().fit_transform([np.linspace(0, 1, 12).reshape(3, 4)])[0]
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255


def test_single_2d_array_is_refused_with_advice():
    with pytest.raises(ValueError, match="sequence of images"):
        CropHead().fit_transform(np.zeros((10, 10)))


def test_percentiles_are_checked():
    with pytest.raises(ValueError, match="percentiles"):
        NormalizeIntensity(percentiles=(99, 1)).fit([])


def test_subsequences_name_items_by_their_place_in_x():
    seq = ImageSequence([np.zeros((4, 4)), np.zeros((2, 2, 2)), np.zeros((3, 3))])[1:]
    assert seq.name(0) == "X[1]"
    with pytest.raises(ValueError, match=r"X\[1\]"):
        seq.load(0)
    assert seq[[1]].name(0) == "X[2]"


def test_percentiles_of_counts_equal_numpy(rng):
    from braintumor_features.preprocessing import percentiles_of_counts

    for _ in range(300):
        top = int(rng.integers(1, 256))
        values = rng.integers(0, top, int(rng.integers(1, 2000)))
        q = np.concatenate([rng.uniform(0, 100, 6), [0, 1, 25, 50, 75, 99, 100]])
        np.testing.assert_array_equal(
            percentiles_of_counts(np.bincount(values, minlength=256), q), np.percentile(values, q))
    assert np.isnan(percentiles_of_counts(np.zeros(256), [50])).all()


@pytest.mark.parametrize("method", ["percentile", "robust"])
def test_normalize_8_bit_equals_numpy_percentiles_of_the_head(rng, method):
    """8-bit images take their percentiles from a histogram: the same numbers as np.percentile."""
    for _ in range(20):
        image = _head(value=int(rng.integers(60, 200)))
        image = np.clip(image + rng.normal(0, 25, image.shape) * (image > 0), 0, 255).astype(np.uint8)
        values = image[head_mask(image)].astype(np.float64)
        image32 = image.astype(np.float32)
        if method == "percentile":
            low, high = (float(v) for v in np.percentile(values, (2.5, 97)))
            expected = np.clip((image32 - low) * (1.0 / (high - low)), 0, 1)
            step = NormalizeIntensity(percentiles=(2.5, 97))
        else:
            low, median, high = (float(v) for v in np.percentile(values, (25, 50, 75)))
            expected = (image32 - median) / (high - low)
            step = NormalizeIntensity("robust")
        np.testing.assert_array_equal(step.fit_transform([image])[0], expected)


@pytest.mark.parametrize("shape", [(512, 512), (700, 451), (301, 1200)])
def test_head_box_on_a_reduced_copy_is_within_the_reduction_factor(rng, shape):
    for _ in range(5):
        image = np.zeros(shape, np.uint8)
        top, left = (int(rng.integers(s // 10, s // 4)) for s in shape)
        bottom, right = (int(rng.integers(s * 3 // 4, s * 9 // 10)) for s in shape)
        centre, axes = ((left + right) / 2, (top + bottom) / 2), (right - left, bottom - top)
        cv2.ellipse(image, (centre, axes, 0), 160, -1)
        image[5:9, 5:9] = 255  # a speck in the corner is not the head
        exact = np.array(head_box(image))
        factor = -(-max(shape) // 256)
        reduced = np.array(head_box(image, locate_size=256))
        assert np.abs(reduced - exact).max() <= factor, (exact, reduced)
        assert head_box(image, locate_size=max(shape)) == tuple(exact)


def test_crop_head_locates_on_a_reduced_copy_unless_told_not_to(brain_mri):
    from braintumor_features.datasets import load_folder

    image = cv2.imread(str(load_folder(brain_mri).paths[0]), cv2.IMREAD_GRAYSCALE)
    top, left, bottom, right = head_box(image)
    full = CropHead(margin=0, locate_size=None).fit_transform([image])[0]
    np.testing.assert_array_equal(full, image[top:bottom, left:right])
    reduced = CropHead(margin=0).fit_transform([image])[0]
    factor = -(-max(image.shape) // 256)
    assert np.abs(np.subtract(full.shape, reduced.shape)).max() <= 2 * factor


def test_head_is_the_region_with_most_pixels_even_inside_another_regions_hole():
    """A thin bright ring (a skull) around a larger separate region (a brain): the head mask is
    the inner region, as labelling every pixel finds it, not the ring with the larger outline."""
    image = np.zeros((120, 120), np.uint8)
    cv2.circle(image, (60, 60), 55, 255, 2)
    cv2.circle(image, (60, 60), 40, 180, -1)
    mask = head_mask(image)
    assert mask[60, 60] and not mask[60, 5] and not mask[60, 115]
    assert abs(int(mask.sum()) - np.pi * 40**2) < 0.03 * np.pi * 40**2
    image[:, :] = 0
    cv2.circle(image, (60, 60), 55, 255, 12)  # a thick ring now outweighs the disc inside
    cv2.circle(image, (60, 60), 20, 180, -1)
    assert head_mask(image)[60, 60] and head_mask(image)[60, 5]


def test_head_box_on_a_reduced_copy_of_a_thin_strip():
    """The reduction never exceeds the shorter side (a 3-pixel strip stays at least one row)."""
    image = np.zeros((3, 2000), np.uint8)
    image[:, 500:1500] = 200
    top, left, bottom, right = head_box(image, locate_size=256)
    assert (top, bottom) == (0, 3) and abs(left - 500) <= 3 and abs(right - 1500) <= 3


def test_head_box_locates_the_head_on_a_copy_of_at_most_locate_size(monkeypatch):
    """The reduction really happens: the region search sees the shrunk copy, not the image."""
    from braintumor_features import _utils

    seen = []
    search = _utils._largest_component
    monkeypatch.setattr(_utils, "_largest_component",
                        lambda image: seen.append(image.shape) or search(image))
    image = np.zeros((700, 451), np.uint8)
    image[100:600, 80:400] = 160
    head_box(image, locate_size=256)
    head_box(image)
    assert seen == [(233, 150), (700, 451)]
