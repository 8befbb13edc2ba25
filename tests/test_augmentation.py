"""The benign changes against independent implementations (PIL, scikit-image, NumPy)."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from braintumor_features import MaskedImage
from braintumor_features.preprocessing import (
    BENIGN_CHANGES,
    BENIGN_RANGES,
    augment,
    benign_change,
)


def _slice(rng, shape=(96, 80)):
    """A smooth head-like image: a bright ellipse with texture, on black."""
    rows, columns = np.mgrid[: shape[0], : shape[1]]
    inside = ((rows - shape[0] / 2) / (0.4 * shape[0])) ** 2 + (
        (columns - shape[1] / 2) / (0.4 * shape[1])
    ) ** 2 < 1
    texture = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 2)
    return np.where(inside, 60 + 150 * (texture - texture.min()) / np.ptp(texture), 0)


def test_mirror_is_opencv_flip(rng):
    image = _slice(rng).astype(np.uint8)
    np.testing.assert_array_equal(benign_change(image, "mirror"), cv2.flip(image, 1))


def test_downscale_is_the_block_mean_for_an_integer_factor(rng):
    from skimage.transform import downscale_local_mean

    image = _slice(rng, (128, 96)).astype(np.float32)
    low = benign_change(image, "downscale", strength=0.25)
    assert low.shape == (32, 24) and low.dtype == np.float32
    np.testing.assert_allclose(low, downscale_local_mean(image, (4, 4)), atol=1e-3)
    eight_bit = benign_change(image.astype(np.uint8), "downscale", strength=0.5)
    assert eight_bit.shape == (64, 48) and eight_bit.dtype == np.uint8


def test_gamma_is_scikit_image_adjust_gamma(rng):
    from skimage.exposure import adjust_gamma

    image = _slice(rng).astype(np.uint8)
    for exponent in (0.8, 1.25):
        changed = benign_change(image, "gamma", strength=exponent)
        assert changed.dtype == np.uint8
        # scikit-image truncates its lookup table where this rounds it
        difference = changed.astype(int) - adjust_gamma(image, exponent).astype(int)
        assert difference.min() >= 0 and difference.max() <= 1
    values = np.linspace(2.0, 6.0, 20).reshape(4, 5)
    expected = 2.0 + 4.0 * ((values - 2.0) / 4.0) ** 0.8
    np.testing.assert_allclose(benign_change(values, "gamma", strength=0.8), expected)


def test_rotate_is_scikit_image_rotate(rng):
    from skimage.transform import rotate

    image = _slice(rng).astype(np.float64)
    changed = benign_change(image, "rotate", strength=10)
    expected = rotate(image, 10, order=1, mode="constant", cval=0, preserve_range=True)
    assert changed.shape == image.shape and changed.dtype == image.dtype
    # OpenCV places samples to 1/32 pixel: the interior agrees to a fraction of a grey level,
    # a few grey levels on the head's sharp edge
    inner = (slice(10, -10), slice(10, -10))
    assert np.abs(changed - expected)[inner].max() < 6.0
    assert np.abs(changed - expected)[inner].mean() < 0.1


def test_jpeg_matches_pil_at_the_same_quality(rng):
    image = cv2.normalize(_slice(rng), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=30)
    expected = np.asarray(Image.open(buffer))
    changed = benign_change(image, "jpeg", strength=30)
    assert changed.dtype == np.uint8 and changed.shape == image.shape
    assert np.abs(changed.astype(int) - expected).max() <= 2
    assert np.abs(changed.astype(int) - image).mean() > 0.2  # it did compress
    floats = image / 255.0
    assert np.abs(benign_change(floats, "jpeg", strength=30) - expected / 255.0).max() <= 2 / 255


def test_pad_is_opencv_border(rng):
    image = _slice(rng).astype(np.uint8)
    expected = cv2.copyMakeBorder(image, 10, 10, 8, 8, cv2.BORDER_CONSTANT, value=0)
    np.testing.assert_array_equal(benign_change(image, "pad", strength=0.1), expected)


@pytest.mark.parametrize("change", BENIGN_CHANGES)
def test_random_strength_is_deterministic_and_in_range(change, rng):
    image = _slice(rng).astype(np.uint8)
    first = benign_change(image, change, random_state=3)
    np.testing.assert_array_equal(first, benign_change(image, change, random_state=3))
    assert first.dtype == np.uint8
    if change in ("mirror", "gamma", "rotate", "jpeg"):
        assert first.shape == image.shape
    draws = {benign_change(image, change, random_state=seed).tobytes() for seed in range(6)}
    assert len(draws) == 1 if change == "mirror" else len(draws) >= 4  # sizes are rounded


def test_unknown_change_and_bad_strength_are_refused():
    image = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="unknown change"):
        benign_change(image, "blur")
    with pytest.raises(ValueError, match="downscale factor"):
        benign_change(image, "downscale", strength=2)
    with pytest.raises(ValueError, match="2-D"):
        benign_change(np.zeros((4, 4, 3)), "mirror")
    assert set(BENIGN_RANGES) == set(BENIGN_CHANGES)


def test_augment_keeps_labels_and_groups_and_reads_paths(rng, tmp_path):
    images = [_slice(rng).astype(np.uint8) for _ in range(4)]
    cv2.imwrite(str(tmp_path / "a.png"), images[0])
    X = [str(tmp_path / "a.png")] + images[1:]
    X_aug, y_aug, groups_aug = augment(X, [0, 1, 2, 3], ["p", "q", "q", "r"], n_copies=3,
                                       random_state=0)
    assert len(X_aug) == 16 and X_aug[:4] == X
    assert y_aug.tolist() == [0, 1, 2, 3] * 4
    assert groups_aug.tolist() == ["p", "q", "q", "r"] * 4
    assert all(isinstance(copy, np.ndarray) and copy.ndim == 2 for copy in X_aug[4:])
    again = augment(X, [0, 1, 2, 3], n_copies=3, random_state=0)
    assert again[2] is None
    for first, second in zip(X_aug[4:], again[0][4:]):
        np.testing.assert_array_equal(first, second)
    only_mirror = augment(X, [0, 1, 2, 3], changes=("mirror",), random_state=1)[0]
    np.testing.assert_array_equal(only_mirror[4], images[0][:, ::-1])


def test_augment_refuses_masks_and_bad_arguments():
    image = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="masks"):
        augment([MaskedImage(image, image > 0)], [0])
    with pytest.raises(ValueError, match="changes"):
        augment([image], [0], changes=("blur",))
    with pytest.raises(ValueError, match="one entry per image"):
        augment([image], [0, 1])
