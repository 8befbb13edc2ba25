"""Property-based tests: random images of random shapes and dtypes through every transformer."""

from functools import lru_cache

import cv2
import numpy as np
import pytest
from sklearn.base import clone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from braintumor_features.io import image_size
from braintumor_features.preprocessing import CropHead, Resize

from .estimators import FEATURES, PREPROCESSING, cross_fitted, ids

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

INTEGER_TYPES = [np.uint8, np.uint16, np.int16, np.int32]
FLOAT_TYPES = [np.float32, np.float64]


@st.composite
def images(draw):
    """2-D or colour arrays, 1 to 40 pixels a side, of integer, float or bool dtype."""
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    shape = draw(st.sampled_from([(height, width), (height, width, 3), (height, width, 4)]))
    kind = draw(st.sampled_from(["int", "float", "bool"]))
    if kind == "bool":
        return draw(hnp.arrays(bool, shape))
    if kind == "int":
        dtype = np.dtype(draw(st.sampled_from(INTEGER_TYPES)))
        info = np.iinfo(dtype)
        return draw(hnp.arrays(dtype, shape, elements=st.integers(info.min, info.max)))
    dtype = np.dtype(draw(st.sampled_from(FLOAT_TYPES)))
    elements = st.floats(-1e6, 1e6, width=dtype.itemsize * 8) | st.floats(
        width=dtype.itemsize * 8, allow_nan=True, allow_infinity=True)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _expected_error(image):
    """The documented ValueError message for an unusable image, or None."""
    if not np.issubdtype(image.dtype, np.floating):
        return None
    if not np.isfinite(image).all():
        return r"X\[0\]: the image contains NaN or infinite"
    if np.abs(image).max() > np.finfo(np.float32).max:
        return r"X\[0\]: values beyond the float32 range"
    return None


@pytest.mark.parametrize("step", PREPROCESSING, ids=ids(PREPROCESSING))
@SETTINGS
@given(image=images())
def test_preprocessing_gives_a_finite_2d_image_or_the_documented_error(step, image):
    error = _expected_error(image)
    if error:
        with pytest.raises(ValueError, match=error):
            step.fit_transform([image])[0]
        return
    out = np.asarray(step.fit_transform([image])[0])
    assert out.ndim == 2 and out.size > 0
    assert np.isfinite(out.astype(np.float64)).all()
    height, width = image.shape[:2]
    if isinstance(step, Resize):
        size = step.size if isinstance(step.size, tuple) else (step.size, step.size)
        assert out.shape == size
    elif isinstance(step, CropHead):  # the head's box plus a margin, inside the image
        assert out.shape[0] <= height and out.shape[1] <= width
    else:  # every other step keeps the image's size
        assert out.shape == (height, width)


@lru_cache(maxsize=None)
def _fitted_on_outlines(index):
    """``FEATURES[index]``, a family that learns, fitted on outlined synthetic slices."""
    from braintumor_features.datasets import make_demo
    from braintumor_features.images import with_masks

    demo = make_demo(40, image_size=64, random_state=0)
    return clone(FEATURES[index]).fit(with_masks(demo.images, demo.masks))


@pytest.mark.parametrize("extractor", FEATURES, ids=ids(FEATURES))
@SETTINGS
@given(image=images())
def test_features_are_finite_rows_of_the_documented_width_or_the_documented_error(
        extractor, image):
    n_features = len(extractor.get_feature_names_out())
    # A family that learns needs outlined images to fit: any image goes through transform.
    compute = (_fitted_on_outlines(FEATURES.index(extractor)).transform
               if cross_fitted(extractor) else extractor.fit_transform)
    error = _expected_error(image)
    if error:
        with pytest.raises(ValueError, match=error):
            compute([image])
        return
    rows = compute([image, image])
    assert rows.shape == (2, n_features) and rows.dtype == np.float64
    assert np.isfinite(rows).all()


@st.composite
def encoded(draw):
    """A random image encoded as PNG, JPEG, BMP or TIFF (8- or 16-bit where allowed)."""
    suffix = draw(st.sampled_from([".png", ".jpg", ".bmp", ".tiff"]))
    deep = suffix in (".png", ".tiff") and draw(st.booleans())
    shape = (draw(st.integers(1, 300)), draw(st.integers(1, 300)))
    if draw(st.booleans()):
        shape += (3,)
    dtype = np.uint16 if deep else np.uint8
    image = np.random.default_rng(draw(st.integers(0, 2**16))).integers(
        0, np.iinfo(dtype).max, shape, dtype=dtype)
    return cv2.imencode(suffix, image)[1]


@SETTINGS
@given(data=encoded())
def test_header_size_matches_the_decoded_image(data):
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    assert image_size(data) == decoded.shape[:2]
