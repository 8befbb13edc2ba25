"""SVMClassifier is scikit-learn's calibrated SVC: same probabilities, labels of any type,
reproducible by default, fitted on one precomputed kernel matrix."""

import ast
import inspect
import pickle

import numpy as np
import pytest
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_sample_weight

from braintumor_features import classifiers
from braintumor_features.classifiers import SVMClassifier
from braintumor_features.exceptions import ModelFileError


def _data(rng, n_classes, n=120):
    y = np.array(["glioma", "meningioma", "no_tumor", "pituitary"])[rng.integers(0, n_classes, n)]
    X = rng.normal(size=(n, 12))
    X[:, 0] += np.unique(y, return_inverse=True)[1]
    return X, y


def _calibrated_svc(folds, **svm):
    return CalibratedClassifierCV(SVC(**svm), method="sigmoid", cv=folds, ensemble=False)


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_probabilities_are_those_of_scikit_learns_calibrated_svc(rng, kernel, n_classes, weighted):
    """The precomputed kernel (BLAS) against libsvm's own, with the gamma resolved on all
    the training rows: equal to rounding. The sigmoid kernel is not positive semi-definite
    and libsvm's solver carries last-bit kernel differences further (1e-6 measured)."""
    X, y = _data(rng, n_classes)
    weight = rng.random(len(y)) + 0.5 if weighted else None
    if weighted:
        weight[:3] = 0.0  # left out before the kernel is computed (libsvm would drop them)
    ours = SVMClassifier(C=3.0, kernel=kernel, class_weight="balanced", random_state=1)
    ours.fit(X, y, sample_weight=weight)
    if weighted:  # rows of weight 0 count as absent
        X, y, weight = X[3:], y[3:], weight[3:]
        np.testing.assert_array_equal(
            SVMClassifier(C=3.0, kernel=kernel, class_weight="balanced", random_state=1)
            .fit(X, y, sample_weight=weight).decision_function(X), ours.decision_function(X))
    # class weights are sample weights, computed on all the training rows, so that they
    # reach the sigmoids too
    weight = compute_sample_weight("balanced", y) * (1.0 if weight is None else weight)
    theirs = _calibrated_svc(StratifiedKFold(5, shuffle=True, random_state=1), C=3.0,
                             kernel=kernel, gamma=ours.gamma_)
    theirs.fit(X, y, sample_weight=weight)
    new = rng.normal(size=(40, 12))
    tolerance = 1e-5 if kernel == "sigmoid" else 1e-12
    np.testing.assert_allclose(ours.predict_proba(new), theirs.predict_proba(new), rtol=0,
                               atol=tolerance)
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))
    assert list(ours.classes_) == list(theirs.classes_)
    svm = SVC(C=3.0, kernel=kernel).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(ours.decision_function(new), svm.decision_function(new), rtol=0,
                               atol=10 * tolerance)


@pytest.mark.parametrize("gamma", ["scale", "auto", 0.05])
def test_the_precomputed_rbf_kernel_is_svcs_with_gamma_resolved_once(rng, gamma):
    """One kernel matrix for all the calibration folds: the folds share the gamma resolved on
    all the training rows, where scikit-learn's SVC(gamma="scale") would resolve it per fold."""
    X, y = _data(rng, 4, n=200)
    X[:, 1] *= 3.0
    ours = SVMClassifier(gamma=gamma).fit(X, y)
    resolved = {"scale": 1 / (X.shape[1] * X.var()), "auto": 1 / X.shape[1]}.get(gamma, gamma)
    assert ours.gamma_ == pytest.approx(resolved, rel=1e-15)
    theirs = _calibrated_svc(StratifiedKFold(5), C=10.0, kernel="rbf", gamma=ours.gamma_).fit(X, y)
    new = rng.normal(size=(60, 12))
    # libsvm evaluates exp(-gamma |x - y|^2) itself, pairwise_kernels through dot products:
    # kernels equal to ~1e-16, which the solver's stopping rule (tol=1e-3) can carry to a few
    # 1e-9 in the probabilities (3.8e-9 for gamma=0.05 with scikit-learn 1.9.1, NumPy 2.4.6).
    np.testing.assert_allclose(ours.predict_proba(new), theirs.predict_proba(new), rtol=0,
                               atol=1e-7)
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))
    # Only the support vectors are kept, and the fitted SVC holds no copy of them.
    svm = ours.calibrated_.calibrated_classifiers_[0].estimator
    np.testing.assert_array_equal(ours.support_vectors_, X[svm.support_])
    assert len(ours.support_vectors_) < len(X) and svm.support_vectors_.size == 0


def test_sparse_input_gives_the_dense_model(rng):
    X, y = _data(rng, 3)
    X[np.abs(X) < 0.5] = 0.0
    dense = SVMClassifier().fit(X, y)
    from_sparse = SVMClassifier().fit(sparse.csr_matrix(X), y)
    assert from_sparse.gamma_ == pytest.approx(dense.gamma_, rel=1e-12)
    np.testing.assert_allclose(from_sparse.predict_proba(sparse.csr_matrix(X)),
                               dense.predict_proba(X), rtol=0, atol=1e-10)


def test_two_fits_without_a_seed_give_the_same_model(rng):
    """The calibration folds draw no randomness by default: StratifiedKFold unshuffled."""
    X, y = _data(rng, 4)
    first = SVMClassifier().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(SVMClassifier().fit(X, y).predict_proba(X), first)
    gamma = SVMClassifier().fit(X, y).gamma_
    unshuffled = _calibrated_svc(StratifiedKFold(5), C=10.0, gamma=gamma).fit(X, y)
    np.testing.assert_allclose(first, unshuffled.predict_proba(X), rtol=0, atol=1e-12)


def test_a_seed_shuffles_the_calibration_folds(rng):
    X, y = _data(rng, 4)
    seeded = SVMClassifier(random_state=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(SVMClassifier(random_state=3).fit(X, y).predict_proba(X), seeded)
    assert not np.allclose(SVMClassifier().fit(X, y).predict_proba(X), seeded)


def test_class_weight_dict_is_keyed_by_the_class_labels(rng):
    """A dict of string labels; each class's weight is every sample's weight of that class."""
    X, y = _data(rng, 2)
    model = SVMClassifier(C=0.1, class_weight={"meningioma": 50.0, "glioma": 2.0}).fit(X, y)
    codes = np.unique(y, return_inverse=True)[1]
    theirs = _calibrated_svc(StratifiedKFold(5), C=0.1, gamma=model.gamma_)
    theirs.fit(X, codes, sample_weight=np.where(codes == 1, 50.0, 2.0))
    np.testing.assert_allclose(model.predict_proba(X), theirs.predict_proba(X), rtol=0, atol=1e-12)
    unweighted = SVMClassifier(C=0.1).fit(X, y)
    assert not np.allclose(model.decision_function(X), unweighted.decision_function(X))
    with pytest.raises(ValueError, match="class_weight.*pituitary"):
        SVMClassifier(class_weight={"pituitary": 2.0}).fit(X, y)


def test_small_classes_are_calibrated_with_fewer_folds(rng):
    X, y = _data(rng, 3, n=40)
    y[:2] = "pituitary"
    assert SVMClassifier(calibration_cv=5).fit(X, y).predict_proba(X).shape == (40, 4)
    assert len(SVMClassifier().fit(X, y).calibrated_.cv.split(X, y).__next__()) == 2
    y[1] = "glioma"
    with pytest.raises(ValueError, match="'pituitary' has a single training sample"):
        SVMClassifier().fit(X, y)


def test_sample_weights_that_cannot_be_calibrated_are_refused(rng):
    X, y = _data(rng, 2)
    weight = np.ones(len(y))
    weight[1] = -1.0
    with pytest.raises(ValueError, match="sample_weight has negative"):
        SVMClassifier().fit(X, y, sample_weight=weight)
    with pytest.raises(ValueError, match="meningioma"):
        SVMClassifier().fit(X, y, sample_weight=np.where(y == "meningioma", 0.0, 1.0))


@pytest.mark.parametrize("name", ["C", "kernel", "gamma", "class_weight", "calibration_cv",
                                  "random_state"])
def test_an_invalid_parameter_is_named(rng, name):
    X, y = _data(rng, 2, n=40)
    with pytest.raises((ValueError, TypeError), match=name):
        SVMClassifier(**{name: object()}).fit(X, y)


def test_predict_before_fit_raises_not_fitted(rng):
    with pytest.raises(NotFittedError):
        SVMClassifier().predict(rng.normal(size=(2, 3)))


def test_pickle_round_trip_and_models_of_earlier_builds(rng):
    X, y = _data(rng, 4)
    model = SVMClassifier().fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    # The build before kept its own SVM (support_vectors_, sigmoids_): refit, it says.
    stale = SVMClassifier()
    stale.__dict__.update(classes_=model.classes_, sigmoids_=np.zeros((4, 2)))
    with pytest.raises(ModelFileError, match="fit the model again"):
        pickle.loads(pickle.dumps(stale))


def test_no_private_scikit_learn_api():
    tree = ast.parse(inspect.getsource(classifiers))
    imported = [(node.module, alias.name) for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) for alias in node.names]
    private = [(module, name) for module, name in imported if module and module.startswith("sklearn")
               and any(part.startswith("_") for part in [*module.split("."), name])]
    assert private == []


def test_class_weight_reaches_the_probabilities_predict_takes_the_largest_of(rng):
    """Given to the SVM alone, as SVC(class_weight=...) inside CalibratedClassifierCV, the
    sigmoids fitted without it undo it; given as sample weights it shifts predictions."""
    y = np.where(rng.random(300) < 0.15, "glioma", "meningioma")
    X = rng.normal(size=(300, 6))
    X[:, 0] += 0.8 * (y == "glioma")
    plain = SVMClassifier(random_state=0).fit(X, y).predict(X)
    weighted = SVMClassifier(class_weight={"glioma": 20.0, "meningioma": 1.0},
                             random_state=0).fit(X, y).predict(X)
    assert (weighted == "glioma").sum() > 2 * max((plain == "glioma").sum(), 1)
