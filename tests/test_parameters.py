"""Parameters are validated once, in ``fit`` (scikit-learn's ``_fit_context``), or in
``transform`` by a step used without ``fit``; and ``fit`` hands learning to ``_fit``."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from braintumor_features._base import ImageTransformer
from braintumor_features.features import ImageFeatures, LBPFeatures
from braintumor_features.preprocessing import ImageStep, Resize

from .estimators import FEATURES, PREPROCESSING, ids

# The steps that keep the base's fit and learn nothing from these unmasked images (the
# tumor map needs outlines: tests/test_tumor_map.py fits it).
BASE_FIT = [e for e in PREPROCESSING + FEATURES if type(e).fit is ImageTransformer.fit
            and not e.__sklearn_tags__().requires_fit]


@pytest.fixture
def validations(monkeypatch):
    """The classes whose parameters are validated, one entry per validation."""
    calls, validate = [], BaseEstimator._validate_params

    def counted(self):
        calls.append(type(self).__name__)
        validate(self)

    monkeypatch.setattr(BaseEstimator, "_validate_params", counted)
    return calls


@pytest.mark.parametrize("estimator", BASE_FIT, ids=ids(BASE_FIT))
def test_fit_validates_once_and_a_fitted_step_not_again(estimator, demo, validations):
    X = list(demo.images[:3])
    step = clone(estimator).fit(X)
    # ImageFeatures validates its families within its own fit, once each
    expected = [type(step).__name__] + [type(family).__name__
                                        for _, family in getattr(step, "families", [])]
    assert validations == expected
    out = step.transform(X)
    step.get_feature_names_out()
    if isinstance(step, ImageStep):
        out[0]  # the chain runs here
    assert validations == expected


def test_image_features_fit_transform_validates_once(demo, validations):
    step = ImageFeatures([("lbp", LBPFeatures()), ("other", LBPFeatures(radii=[2]))])
    rows = step.fit_transform(list(demo.images[:3]))
    assert validations == ["ImageFeatures", "LBPFeatures", "LBPFeatures"]
    np.testing.assert_array_equal(step.transform(list(demo.images[:3])), rows)
    assert validations == ["ImageFeatures", "LBPFeatures", "LBPFeatures"]


def test_every_plain_step_keeps_the_base_fit():
    assert {type(e) for e in BASE_FIT} >= {Resize, LBPFeatures}


def test_a_step_used_without_fit_is_validated_by_transform(demo):
    X = list(demo.images[:2])
    with pytest.raises(ValueError, match="'size' parameter of Resize"):
        Resize(size=0).transform(X)
    with pytest.raises(ValueError, match="radii"):
        LBPFeatures(radii=[0]).get_feature_names_out()
    assert Resize(size=8).transform(X)[0].shape == (8, 8)


def test_fit_hands_learning_and_fit_params_to_the_hook():
    class Brightest(ImageStep):
        def _fit(self, X, y=None, scale=1.0):
            self.brightest_ = scale * max(float(image.max()) for image in X)

        def _apply(self, image, mask):
            return image / self.brightest_, mask

    images = [np.full((2, 2), 2.0), np.full((2, 2), 4.0)]
    step = Brightest().fit(images, scale=2.0)
    assert step.brightest_ == 8.0
    assert step.transform(images)[1].tolist() == [[0.5, 0.5], [0.5, 0.5]]
    with pytest.raises(NotFittedError):
        Brightest().transform(images)
    with pytest.raises(TypeError, match="shift"):
        Brightest().fit(images, shift=1.0)
