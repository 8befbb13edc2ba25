"""SVMClassifier against scikit-learn's calibrated SVC, and Platt's sigmoid against a
general-purpose optimiser."""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from braintumor_features.classifiers import SVMClassifier, platt_sigmoid


def _data(rng, n_classes, n=120):
    y = np.array(["glioma", "meningioma", "no_tumor", "pituitary"])[rng.integers(0, n_classes, n)]
    X = rng.normal(size=(n, 12))
    X[:, 0] += np.unique(y, return_inverse=True)[1]
    return X, y


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_probabilities_equal_calibrated_svc(rng, kernel, n_classes, weighted):
    """Precomputed fold kernels and our sigmoid fit give scikit-learn's probabilities."""
    X, y = _data(rng, n_classes)
    weight = rng.random(len(y)) + 0.5 if weighted else None
    ours = SVMClassifier(C=3.0, kernel=kernel, class_weight="balanced", random_state=1)
    ours.fit(X, y, sample_weight=weight)
    folds = StratifiedKFold(5, shuffle=True, random_state=1)
    theirs = CalibratedClassifierCV(SVC(C=3.0, kernel=kernel, class_weight="balanced"),
                                    method="sigmoid", cv=folds, ensemble=False)
    theirs.fit(X, y, sample_weight=weight)
    new = rng.normal(size=(40, 12))
    np.testing.assert_allclose(ours.predict_proba(new), theirs.predict_proba(new), atol=1e-6)
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))
    assert list(ours.classes_) == list(theirs.classes_)


def test_class_weight_dict_uses_the_class_labels(rng):
    X, y = _data(rng, 2)
    model = SVMClassifier(class_weight={"meningioma": 50.0, "glioma": 2.0}, random_state=0).fit(X, y)
    assert model.svm_.class_weight_.tolist() == [2.0, 50.0]  # in the order of classes_
    with pytest.raises(ValueError, match="pituitary"):
        SVMClassifier(class_weight={"pituitary": 2.0}).fit(X, y)


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
