"""Images unlike every training image are flagged, never classified silently."""

import warnings

import cv2
import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from braintumor_features import make_pipeline
from braintumor_features.datasets import make_demo
from braintumor_features.distribution import DistributionCheck
from braintumor_features.exceptions import OutOfDistributionWarning


def _chest_like():
    """A synthetic chest film: a wide body, two dark lungs, bright ribs."""
    image = np.zeros((200, 160), np.uint8)
    cv2.ellipse(image, (80, 100), (70, 90), 0, 0, 360, 90, -1)
    for x in (50, 110):
        cv2.ellipse(image, (x, 100), (22, 60), 0, 0, 360, 20, -1)
    for i in range(8):
        cv2.line(image, (10, 40 + 18 * i), (150, 50 + 18 * i), 200, 3)
    return image


ODD_INPUTS = {
    "blank": np.zeros((202, 202), np.uint8),
    "1x1": np.full((1, 1), 128, np.uint8),
    "3x3": np.random.default_rng(1).integers(0, 255, (3, 3)).astype(np.uint8),
    "noise": np.random.default_rng(2).integers(0, 255, (96, 96)).astype(np.uint8),
    "chest": _chest_like(),
}


@pytest.fixture(scope="module")
def fitted():
    demo = make_demo(n_samples=200, image_size=96, random_state=0)
    pipe = make_pipeline(image_size=96, random_state=0).fit(demo.images[:160], demo.target[:160])
    return pipe, demo.images[160:]


@pytest.mark.parametrize("name", list(ODD_INPUTS))
def test_blank_tiny_noise_and_non_brain_images_are_flagged_with_a_warning(fitted, name):
    pipe, _ = fitted
    with pytest.warns(OutOfDistributionWarning, match="1 of 1 images lie outside"):
        pipe.predict([ODD_INPUTS[name]])
    rows = pipe[:-3].transform([ODD_INPUTS[name]])
    assert pipe.named_steps["check"].flag(rows).tolist() == [True]


def test_images_like_the_training_images_are_not_flagged(fitted):
    pipe, held_out = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfDistributionWarning)
        pipe.predict(held_out)
    check = pipe.named_steps["check"]
    distances = check.score_samples(pipe[:-3].transform(held_out))
    assert (distances < 1).all()


def test_the_check_changes_no_prediction(fitted):
    pipe, held_out = fitted
    unchecked = make_pipeline(image_size=96, random_state=0)
    # without the check, and without the acquisition columns that only the check reads
    families = unchecked.named_steps["features"].families
    assert families[-1][0] == "acquisition"
    unchecked.set_params(check="passthrough", features__families=families[:-1])
    demo = make_demo(n_samples=200, image_size=96, random_state=0)
    unchecked.fit(demo.images[:160], demo.target[:160])
    np.testing.assert_allclose(unchecked.predict_proba(held_out), pipe.predict_proba(held_out),
                               rtol=1e-12, atol=1e-15)  # (the dropped columns' copy: last bits)


def test_fitting_does_not_warn_and_rows_pass_through_unchanged():
    X = np.random.default_rng(0).normal(size=(50, 8))
    X[3] = 1e6  # an outlier among the training rows does not warn while fitting
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfDistributionWarning)
        np.testing.assert_array_equal(DistributionCheck().fit_transform(X), X)
    assert DistributionCheck().fit(X).n_training_outliers_ == 1
    far = np.tile([50.0, -50.0], 4)[None, :]
    with pytest.warns(OutOfDistributionWarning, match="1 of 1 images"):
        np.testing.assert_array_equal(DistributionCheck().fit(X).transform(far), far)


def test_rows_of_skipped_images_are_not_flagged_and_not_learned():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    X[0] = np.nan
    check = DistributionCheck(n_components=2).fit(X)
    assert np.isfinite(check.center_).all()
    assert check.flag(np.vstack([np.full(5, np.nan), np.full(5, 40.0)])).tolist() == [False, True]


def test_threshold_is_a_held_out_quantile_of_the_training_rows():
    """About 1 - quantile of new rows from the training distribution are flagged (margin 1)."""
    rng = np.random.default_rng(0)
    check = DistributionCheck(n_components=4, quantile=0.9, margin=1.0).fit(rng.normal(size=(2000, 10)))
    flagged = check.flag(rng.normal(size=(4000, 10))).mean()
    assert 0.06 < flagged < 0.14


def test_too_few_rows_and_bad_parameters_are_named():
    with pytest.raises(ValueError, match="at least 3 training rows"):
        DistributionCheck().fit(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="quantile"):
        DistributionCheck(quantile=1.5).fit(np.zeros((20, 4)))


def test_feature_names_pass_through(fitted):
    pipe, held_out = fitted
    names = pipe.named_steps["features"].get_feature_names_out()
    assert names[-2:].tolist() == ["acquisition_head_pixels", "acquisition_head_aspect"]
    np.testing.assert_array_equal(pipe.named_steps["check"].get_feature_names_out(names),
                                  names[:-2])
    np.testing.assert_array_equal(pipe[:-1].transform(held_out[:2]).columns, names[:-2])


@parametrize_with_checks([DistributionCheck(n_components=2)])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDistributionWarning)  # the checks' random data
        check(estimator)


def test_components_are_those_of_a_pca_of_the_standardized_rows():
    """The Gram-matrix eigenvectors (one product reused by every fold) against scikit-learn's
    exact PCA of the same standardized rows: same variances, same axes up to sign, and the
    same variance left out."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    for n_rows, n_columns in ((80, 300), (300, 40)):  # the Gram and the covariance paths
        X = rng.normal(size=(n_rows, 8)) @ rng.normal(size=(8, n_columns)) * 3
        X += rng.normal(size=X.shape)
        check = DistributionCheck(n_components=5).fit(X)
        pca = PCA(5, svd_solver="full").fit((X - check.center_) / check.scale_)
        np.testing.assert_allclose(check.explained_variance_, pca.explained_variance_, rtol=1e-6)
        np.testing.assert_allclose(np.abs(check.components_ @ pca.components_.T), np.eye(5),
                                   atol=1e-6)
        np.testing.assert_allclose(check.noise_variance_, pca.noise_variance_, rtol=1e-6)


@pytest.mark.parametrize("n_distinct", [1, 2])
def test_a_few_alike_rows_fit_without_numpy_warnings(n_distinct):
    """Issue 29 item 9: copies of one or two slices (six rows) gave the PCA variances of 0,
    and ``braintumor train --cv 2`` on a small tree printed NumPy's ``invalid value
    encountered in divide`` and ``divide by zero``."""
    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(n_distinct, 50)), 6 // n_distinct, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check = DistributionCheck().fit(X)
        scores = check.score_samples(np.vstack([X[:1], np.full((1, 50), 40.0)]))
    assert np.isfinite(scores).all() and scores[-1] > 1 > scores[0]


def test_a_sample_of_many_rows_is_learnt_from():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    check = DistributionCheck(n_components=3, max_samples=100).fit(X)
    assert check.components_.shape == (3, 6)
    assert not check.flag(rng.normal(size=(50, 6))).mean() > 0.1
    assert check.flag(np.full((1, 6), 30.0)).all()


def test_acquisition_columns_are_checked_against_the_training_range_and_dropped():
    """Named acquisition columns: flagged outside their training range (10% slack), never
    passed on; unnamed rows have none."""
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = pd.DataFrame(rng.normal(size=(100, 4)), columns=["a", "b", "c", "d"])
    rows["acquisition_head_pixels"] = np.log(rng.uniform(140, 256, 100))
    check = DistributionCheck().fit(rows)
    np.testing.assert_allclose(np.exp(check.acquisition_range_[:, 0]),
                               np.exp(rows["acquisition_head_pixels"]).agg(["min", "max"]))
    assert check.get_feature_names_out().tolist() == ["a", "b", "c", "d"]
    new = rows.iloc[:3].copy()
    low = np.exp(check.acquisition_range_[0, 0])
    new["acquisition_head_pixels"] = np.log([low / 1.05, low / 1.2, 200.0])
    assert check.flag(new).tolist() == [False, True, False]
    with pytest.warns(OutOfDistributionWarning, match="1 of 3"):
        passed = check.transform(new)
    np.testing.assert_array_equal(passed, new[["a", "b", "c", "d"]].to_numpy())
    assert DistributionCheck(acquisition=None).fit(rows).get_feature_names_out().size == 5


def test_slices_resized_to_another_resolution_or_shape_are_flagged(brain_mri):
    """Issue 29, item 2: a slice resized to 700 x 100, 100 x 700, 40 x 40 or 128 x 128 was
    answered unflagged (the 128 px one changed class); the check now reads how many of the
    file's pixels span the head, and its shape."""
    import csv

    from braintumor_features.io import read_image

    with open(brain_mri / "metadata.csv", newline="") as file:
        table = list(csv.DictReader(file))
    chosen = np.linspace(0, len(table) - 2, 80).astype(int)
    train = [str(brain_mri / table[i]["file"]) for i in chosen]
    pipe = make_pipeline(random_state=0).fit(train, [table[i]["label"] for i in chosen])
    check = pipe.named_steps["check"]
    tumours = [read_image(brain_mri / table[i + 1]["file"]) for i in chosen[::10]
               if table[i + 1]["label"] != "no_tumor"][:3]
    assert tumours and all(image.shape[0] >= 500 for image in tumours)
    shapes = {"700x100": (100, 700), "100x700": (700, 100), "40x40": (40, 40),
              "128x128": (128, 128)}
    changed = [cv2.resize(image, size, interpolation=cv2.INTER_AREA)
               for image in tumours for size in shapes.values()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDistributionWarning)
        assert check.flag(pipe[:-3].transform(changed)).all()
        acquisition = pipe[:-3].transform(tumours).filter(like="acquisition_").to_numpy()
    low, high = check.acquisition_range_
    assert ((acquisition >= low) & (acquisition <= high)).all()  # the slices as given are in
