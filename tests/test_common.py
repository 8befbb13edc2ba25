"""The conformance suite: run over every public estimator.

scikit-learn's ``check_estimator`` feeds 2-D numeric arrays, which image
steps do not take, so (as imbalanced-learn does) we check the scikit-learn
contract ourselves on image input.
"""

import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import braintumor_features
from braintumor_features import ImageSequence, make_pipeline, with_masks
from braintumor_features.classifiers import SVMClassifier
from braintumor_features.features import FeatureExtractor
from braintumor_features.preprocessing import ImageStep

from .estimators import ALL, FEATURES, PREPROCESSING, cross_fitted, ids


def _images(demo):
    return with_masks(demo.images[:12], demo.masks[:12])


def _as_array(output):
    if isinstance(output, ImageSequence):
        return [np.asarray(item.image if hasattr(item, "image") else item) for item in output]
    return np.asarray(output)


def _assert_same_output(a, b):
    a, b = _as_array(a), _as_array(b)
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_every_public_estimator_is_in_the_suite():
    public = {
        obj for name, obj in vars(braintumor_features).items()
        if inspect.isclass(obj) and issubclass(obj, (ImageStep, FeatureExtractor))
    } | {SVMClassifier}
    covered = {type(e) for e in ALL}
    assert public <= covered, f"add to tests/estimators.py: {public - covered}"


@pytest.mark.parametrize("estimator", ALL, ids=ids(ALL))
def test_clone_and_params_round_trip(estimator):
    params = estimator.get_params()
    cloned = clone(estimator)
    assert cloned is not estimator
    assert repr(cloned.get_params()) == repr(params)
    cloned.set_params(**{k: v for k, v in estimator.get_params(deep=False).items()})
    assert repr(cloned.get_params()) == repr(params)
    # __init__ stores parameters unchanged (scikit-learn's rule).
    for name, value in estimator.get_params(deep=False).items():
        assert getattr(estimator, name) is value


@pytest.mark.parametrize("estimator", PREPROCESSING + FEATURES, ids=ids(PREPROCESSING + FEATURES))
def test_pickle_round_trip_gives_identical_output(estimator, demo):
    X = _images(demo)
    fitted = clone(estimator).fit(X)
    restored = pickle.loads(pickle.dumps(fitted))
    _assert_same_output(fitted.transform(X), restored.transform(X))


@pytest.mark.parametrize("estimator", PREPROCESSING + FEATURES, ids=ids(PREPROCESSING + FEATURES))
def test_fit_transform_equals_fit_then_transform(estimator, demo):
    if cross_fitted(estimator):
        pytest.skip("cross-fitted rows by design: tests/test_tumor_map.py checks them")
    X = _images(demo)
    _assert_same_output(clone(estimator).fit_transform(X), clone(estimator).fit(X).transform(X))


@pytest.mark.parametrize("estimator", PREPROCESSING, ids=ids(PREPROCESSING))
def test_preprocessing_gives_finite_2d_images_with_masks_moved(estimator, demo):
    X = _images(demo)
    out = clone(estimator).fit_transform(X)
    assert isinstance(out, ImageSequence) and len(out) == len(X)
    for item in out:
        assert item.image.ndim == 2 and np.isfinite(item.image).all()
        if item.mask is not None:
            assert item.mask.shape == item.image.shape and item.mask.dtype == bool


@pytest.mark.parametrize("estimator", PREPROCESSING, ids=ids(PREPROCESSING))
def test_preprocessing_passes_feature_names_through(estimator, demo):
    fitted = clone(estimator).fit(_images(demo))
    names = np.array(["glcm_asm_d1", "lbp_r1_bin00"], dtype=object)
    assert fitted.get_feature_names_out(names) is names
    assert fitted.get_feature_names_out() is None
    with config_context(transform_output="pandas"):  # still images, not a table
        assert isinstance(clone(estimator).fit_transform(_images(demo)), ImageSequence)


def test_feature_names_of_a_pipeline_reach_through_its_image_steps(demo):
    pipe = make_pipeline(image_size=32).fit(demo.images, demo.target)
    names = pipe.named_steps["features"].get_feature_names_out()
    assert len(names) > 0
    # less the acquisition columns, which the check reads and drops
    np.testing.assert_array_equal(pipe[:-1].get_feature_names_out(),
                                  [name for name in names if not name.startswith("acquisition_")])


@pytest.mark.parametrize("estimator", FEATURES, ids=ids(FEATURES))
def test_feature_names_and_pandas_output(estimator, demo):
    X = _images(demo)
    fitted = clone(estimator).fit(X)
    matrix = fitted.transform(X)
    names = fitted.get_feature_names_out()
    assert matrix.shape == (len(X), len(names))
    assert len(set(names)) == len(names)
    assert np.isfinite(matrix).all()
    frame = clone(estimator).set_output(transform="pandas")
    frame = frame.fit(X).transform(X) if cross_fitted(estimator) else frame.fit_transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(names)
    np.testing.assert_array_equal(frame.to_numpy(), matrix)


@pytest.mark.parametrize("estimator", FEATURES, ids=ids(FEATURES))
def test_results_identical_for_any_n_jobs(estimator, demo):
    X = _images(demo)
    # A cache would answer the second call from the first: both compute here.
    uncached = {"cache": None} if "cache" in estimator.get_params() else {}
    one = clone(estimator).set_params(n_jobs=1, batch_size=3, **uncached).fit_transform(X)
    two = clone(estimator).set_params(n_jobs=2, batch_size=3, **uncached).fit_transform(X)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("estimator", PREPROCESSING + FEATURES, ids=ids(PREPROCESSING + FEATURES))
def test_works_in_grid_search_with_groups(estimator, demo):
    features = FEATURES[2] if isinstance(estimator, ImageStep) else estimator
    steps = [("step", clone(estimator))] if isinstance(estimator, ImageStep) else []
    pipe = Pipeline(steps + [("features", clone(features)), ("scale", StandardScaler()),
                             ("classifier", SVMClassifier(random_state=0))])
    search = GridSearchCV(pipe, {"classifier__C": [1.0, 10.0]}, cv=StratifiedGroupKFold(3))
    # A family that learns from tumour outlines gets them.
    if cross_fitted(features):  # outlines to learn from, patients for the cross-fitting
        search.fit(with_masks(demo.images, demo.masks), demo.target, groups=demo.groups,
                   features__groups=demo.groups)
    else:
        search.fit(list(demo.images), demo.target, groups=demo.groups)
    assert search.predict(demo.images[:3]).shape == (3,)


@pytest.mark.parametrize("estimator", ALL, ids=ids(ALL))
def test_invalid_parameter_is_named_in_the_error(estimator, demo):
    name = sorted(estimator.get_params(deep=False))[0]
    broken = clone(estimator).set_params(**{name: object()})
    with pytest.raises((ValueError, TypeError), match=name):
        if isinstance(broken, SVMClassifier):
            broken.fit(np.zeros((4, 2)), [0, 1, 0, 1])
        else:
            broken.fit(demo.images[:2])


def test_classifier_probabilities_and_pickle(demo):
    X = np.random.default_rng(0).normal(size=(40, 3)) + (demo.target == "glioma")[:, None]
    model = SVMClassifier(random_state=0).fit(X, demo.target)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(model.classes_) == sorted(set(demo.target))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), proba)
