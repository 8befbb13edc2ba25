"""SVMClassifier against scikit-learn's calibrated SVC, and Platt's sigmoid against a
general-purpose optimiser."""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from braintumor_features.classifiers import (
    SVMClassifier,
    _one_vs_rest,
    _pairwise_svm,
    platt_sigmoid,
)


def _data(rng, n_classes, n=120):
    y = np.array(["glioma", "meningioma", "no_tumor", "pituitary"])[rng.integers(0, n_classes, n)]
    X = rng.normal(size=(n, 12))
    X[:, 0] += np.unique(y, return_inverse=True)[1]
    return X, y


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_probabilities_equal_calibrated_svc(rng, kernel, n_classes, weighted):
    """Precomputed fold kernels and our sigmoid fit give scikit-learn's probabilities (to its
    optimiser's tolerance)."""
    X, y = _data(rng, n_classes)
    weight = rng.random(len(y)) + 0.5 if weighted else None
    ours = SVMClassifier(C=3.0, kernel=kernel, class_weight="balanced", random_state=1)
    ours.fit(X, y, sample_weight=weight)
    folds = StratifiedKFold(5, shuffle=True, random_state=1)
    theirs = CalibratedClassifierCV(SVC(C=3.0, kernel=kernel, class_weight="balanced"),
                                    method="sigmoid", cv=folds, ensemble=False)
    theirs.fit(X, y, sample_weight=weight)
    new = rng.normal(size=(40, 12))
    np.testing.assert_allclose(ours.predict_proba(new), theirs.predict_proba(new), atol=1e-5)
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))
    assert list(ours.classes_) == list(theirs.classes_)


def test_class_weight_dict_uses_the_class_labels(rng):
    X, y = _data(rng, 2)
    weights = {"meningioma": 50.0, "glioma": 2.0}
    model = SVMClassifier(C=0.1, class_weight=weights, random_state=0).fit(X, y)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    # scikit-learn's calibrated SVC takes no dict of string labels: it is given the codes.
    codes = np.unique(y, return_inverse=True)[1]
    theirs = CalibratedClassifierCV(SVC(C=0.1, class_weight={0: 2.0, 1: 50.0}), method="sigmoid",
                                    cv=folds, ensemble=False).fit(X, codes)
    np.testing.assert_allclose(model.predict_proba(X), theirs.predict_proba(X), atol=1e-5)
    unweighted = SVMClassifier(C=0.1, random_state=0).fit(X, y)
    assert not np.allclose(model.decision_function(X), unweighted.decision_function(X))
    with pytest.raises(ValueError, match="pituitary"):
        SVMClassifier(class_weight={"pituitary": 2.0}).fit(X, y)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_pairwise_svm_equals_svc_on_a_precomputed_kernel(rng, n_classes):
    """The direct libsvm call gives SVC's support vectors and decision values."""
    X, y = _data(rng, n_classes)
    labels = np.unique(y, return_inverse=True)[1]
    kernel = np.exp(-0.05 * ((X[:, None] - X[None]) ** 2).sum(-1))
    weight = rng.random(len(y)) + 0.5
    class_weight = np.linspace(1.0, 2.0, n_classes)
    svc = SVC(C=2.0, kernel="precomputed", class_weight=dict(enumerate(class_weight)))
    svc.fit(kernel, labels, sample_weight=weight)
    support, coef, intercept = _pairwise_svm(kernel, labels, 2.0, class_weight, weight)
    np.testing.assert_array_equal(support, svc.support_)
    ours = _one_vs_rest(kernel[:, support] @ coef + intercept, n_classes)
    np.testing.assert_allclose(ours, svc.decision_function(kernel), atol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_platt_sigmoid_minimises_the_regularised_cross_entropy(rng, weighted):
    decision = rng.normal(size=300) * 4
    positive = decision + rng.normal(size=300) * 3 > 1
    weight = rng.random(300) + 0.1 if weighted else np.ones(300)
    n_pos, n_neg = weight[positive].sum(), weight[~positive].sum()
    target = np.where(positive, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(ab):
        p = 1 / (1 + np.exp(ab[0] * decision + ab[1]))
        return -(weight * (target * np.log(p) + (1 - target) * np.log(1 - p))).sum()

    expected = minimize(loss, [0.0, 0.0], method="Nelder-Mead",
                        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10000}).x
    ours = platt_sigmoid(decision, positive, None if not weighted else weight)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-7)
    assert loss(ours) <= loss(expected) + 1e-9


@pytest.mark.parametrize("case", ["constant features", "huge gamma"])
def test_uninformative_scores_are_calibrated_as_scikit_learn_does(rng, case):
    """Out-of-fold scores all equal (no information; the sigmoid's Hessian is singular): no
    failure, and the probabilities of scikit-learn's calibrated SVC (to its optimiser's
    tolerance)."""
    X, y = _data(rng, 2 if case == "constant features" else 4, n=40)
    if case == "constant features":
        X = np.ones_like(X)
    model = SVMClassifier(gamma=1e6 if case == "huge gamma" else "scale", random_state=0).fit(X, y)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    theirs = CalibratedClassifierCV(SVC(C=10.0, gamma=model.gamma), method="sigmoid", cv=folds,
                                    ensemble=False).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), theirs.predict_proba(X), atol=1e-4)


def test_predict_before_fit_raises_not_fitted(rng):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SVMClassifier().predict(rng.normal(size=(2, 3)))


def test_model_pickled_with_calibrated_classifier_still_predicts(rng):
    """Earlier builds kept scikit-learn's CalibratedClassifierCV in ``calibrated_``."""
    import pickle

    X, y = _data(rng, 4)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    old = CalibratedClassifierCV(SVC(C=10.0), method="sigmoid", cv=folds, ensemble=False).fit(X, y)
    model = SVMClassifier(random_state=0)
    model.__dict__.update(calibrated_=old, classes_=old.classes_, n_features_in_=X.shape[1])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(X), old.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(restored.predict(X), old.predict(X))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_model_pickled_with_an_svc_still_predicts(rng, n_classes):
    """The previous build kept its fitted SVC in ``svm_``."""
    import pickle

    X, y = _data(rng, n_classes)
    svm = SVC(C=10.0).fit(X, np.unique(y, return_inverse=True)[1])
    model = SVMClassifier(random_state=0)
    sigmoids = rng.normal(size=(n_classes if n_classes > 2 else 1, 2))
    model.__dict__.update(svm_=svm, sigmoids_=sigmoids, classes_=np.unique(y),
                          n_features_in_=X.shape[1])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.decision_function(X), svm.decision_function(X), atol=1e-10)


def test_samples_weighted_zero_are_left_out_as_svc_leaves_them(rng):
    """libsvm drops them and numbers its support vectors among the rest."""
    X, y = _data(rng, 4)
    weight = rng.random(len(y)) + 0.5
    weight[::3] = 0.0
    ours = SVMClassifier(C=3.0, class_weight="balanced", random_state=0).fit(X, y, sample_weight=weight)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    theirs = CalibratedClassifierCV(SVC(C=3.0, class_weight="balanced"), method="sigmoid",
                                    cv=folds, ensemble=False).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)
    svm = SVC(C=3.0, class_weight="balanced").fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(ours.decision_function(X), svm.decision_function(X), atol=1e-6)
    weight[1] = -1.0
    with pytest.raises(ValueError, match="(?i)negative"):
        ours.fit(X, y, sample_weight=weight)


def test_a_class_without_positive_weight_is_named(rng):
    X, y = _data(rng, 2)
    weight = np.where(y == "meningioma", 0.0, 1.0)
    with pytest.raises(ValueError, match="meningioma"):
        SVMClassifier().fit(X, y, sample_weight=weight)


def test_non_finite_dual_coefficients_raise_as_in_svc(rng):
    X, y = _data(rng, 2)
    with pytest.raises(ValueError, match="not finite"):
        SVMClassifier(kernel="poly", gamma=1e100).fit(X, y)


def test_remembered_calibration_folds_are_the_seeds_folds(rng):
    """An int seed's folds are remembered; a RandomState seeded alike gives the same model."""
    X, y = _data(rng, 4)
    remembered = SVMClassifier(random_state=3).fit(X, y)
    again = SVMClassifier(random_state=3).fit(X, y)
    fresh = SVMClassifier(random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), remembered.predict_proba(X))
    np.testing.assert_allclose(fresh.predict_proba(X), remembered.predict_proba(X), atol=1e-12)
