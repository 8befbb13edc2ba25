import pickle

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, cross_validate, train_test_split
from sklearn.pipeline import Pipeline

from braintumor_features import GLCMFeatures, make_pipeline
from braintumor_features.classifiers import SVMClassifier
from braintumor_features.features import ImageFeatures


def test_default_pipeline_is_a_plain_sklearn_pipeline():
    pipe = make_pipeline()
    assert type(pipe) is Pipeline
    assert list(pipe.named_steps) == [
        "grayscale", "crop", "resize", "clahe", "normalize", "features", "check", "scale",
        "classifier",
    ]
    params = pipe.get_params()
    for name in ["classifier__C", "features__glcm__distances", "features__lbp__radii",
                 "resize__size", "clahe__clip_limit"]:
        assert name in params


@pytest.mark.parametrize("classifier", ["svm", "rf"])
def test_fit_predict_proba_and_pickle_round_trip(demo, classifier):
    pipe = make_pipeline(classifier, image_size=64, random_state=0).fit(demo.images, demo.target)
    proba = pipe.predict_proba(demo.images)
    assert proba.shape == (40, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(demo.images), proba)
    np.testing.assert_array_equal(restored.predict(demo.images), pipe.predict(demo.images))


def test_learns_the_demo_classes(demo):
    scores = cross_validate(make_pipeline("rf", image_size=64, random_state=0), demo.images,
                            demo.target, groups=demo.groups, cv=StratifiedGroupKFold(4))
    assert scores["test_score"].mean() > 0.5  # chance is 0.25


def test_grid_search_over_features_and_classifier_with_groups(demo):
    pipe = make_pipeline("svm", features=["glcm", "intensity"], image_size=48, random_state=0)
    grid = {"classifier__C": [1.0, 100.0], "features__glcm__levels": [8, 16]}
    search = GridSearchCV(pipe, grid, cv=StratifiedGroupKFold(3)).fit(
        demo.images, demo.target, groups=demo.groups)
    assert set(search.best_params_) == set(grid)
    assert len(search.cv_results_["params"]) == 4 and search.best_score_ > 0.5
    levels = search.best_estimator_.named_steps["features"].families[0][1].levels
    assert levels == search.best_params_["features__glcm__levels"]


def test_lists_split_by_train_test_split(demo):
    X_train, X_test, y_train, y_test = train_test_split(
        list(demo.images), demo.target, test_size=0.25, random_state=0, stratify=demo.target)
    pipe = make_pipeline("rf", features="intensity", image_size=32, random_state=0)
    predicted = pipe.fit(X_train, y_train).predict(X_test)
    assert len(predicted) == len(X_test) == 10 and set(predicted) <= set(y_train)
    assert pipe.score(X_test, y_test) == np.mean(predicted == y_test)


def test_features_accept_names_pairs_and_a_custom_classifier():
    pipe = make_pipeline(ExtraTreesClassifier(), features=["lbp", ("g", GLCMFeatures(levels=8))])
    assert [name for name, _ in pipe.named_steps["features"].families] == ["lbp", "g",
                                                                           "acquisition"]
    assert isinstance(pipe.named_steps["classifier"], ExtraTreesClassifier)


@pytest.mark.parametrize("kwargs,message", [
    ({"classifier": "knn"}, "classifier must be"),
    ({"features": ["glcm", "wavelets"]}, "unknown feature families"),
])
def test_bad_arguments_say_what_to_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_pipeline(**kwargs)


def test_one_family_class_twice_gets_distinct_column_names():
    features = ImageFeatures([("head_glcm", GLCMFeatures(levels=8)),
                              ("tumor_glcm", GLCMFeatures(levels=8))])
    names = features.get_feature_names_out()
    assert len(set(names)) == len(names) == 2 * len(GLCMFeatures(levels=8).get_feature_names_out())
    assert names[0].startswith("head_glcm__glcm_") and names[-1].startswith("tumor_glcm__glcm_")
    image = np.random.default_rng(0).integers(0, 256, (24, 24), dtype=np.uint8)
    frame = features.set_output(transform="pandas").fit_transform([image])
    assert frame.columns.is_unique
    assert features._column_families() == ["head_glcm"] * (len(names) // 2) + ["tumor_glcm"] * (len(names) // 2)


def test_composite_checks_its_families():
    with pytest.raises(TypeError, match="not a FeatureExtractor"):
        ImageFeatures([("x", object())]).fit([])
    with pytest.raises(ValueError, match="empty"):
        ImageFeatures([]).fit([])


def test_paths_and_arrays_give_the_same_features(demo, tmp_path):
    import cv2

    paths = []
    for i, image in enumerate(demo.images[:4]):
        paths.append(str(tmp_path / f"{i}.png"))
        cv2.imwrite(paths[-1], image)
    pipe = make_pipeline(image_size=48)[:-3]
    np.testing.assert_array_equal(pipe.fit_transform(paths), pipe.fit_transform(demo.images[:4]))


@pytest.mark.parametrize("image", [
    np.zeros((64, 64), np.uint8),                 # constant
    np.full((1, 1), 7, np.uint8),                 # 1x1
    np.array([[0, 255], [255, 0]], np.uint8),      # 2x2
    np.full((5, 3), 0.5, np.float32),              # tiny float
], ids=["constant", "1x1", "2x2", "tiny-float"])
def test_degenerate_images_give_finite_features(image):
    features = make_pipeline(image_size=32)[:-3].fit_transform([image])
    assert np.isfinite(features.to_numpy()).all()


def test_large_image_gives_finite_features():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (3000, 2500), dtype=np.uint8)
    assert np.isfinite(make_pipeline()[:-3].fit_transform([image]).to_numpy()).all()


def test_skip_keeps_every_good_image_and_lists_the_bad(tmp_path, demo):
    import cv2

    from braintumor_features.exceptions import SkippedImagesWarning
    from braintumor_features.features import IntensityFeatures

    paths = []
    for i, image in enumerate(demo.images[:10]):
        paths.append(str(tmp_path / f"{i}.png"))
        cv2.imwrite(paths[-1], image)
    (tmp_path / "3.png").write_bytes(b"")
    (tmp_path / "7.png").write_bytes(b"not a png")
    extractor = IntensityFeatures(bins=8, on_error="skip", n_jobs=2, batch_size=2)
    with pytest.warns(SkippedImagesWarning, match="skipped 2 of 10"):
        rows = extractor.fit_transform(paths)
    assert [e["index"] for e in extractor.skipped_] == [3, 7]
    assert "3.png" in extractor.skipped_[0]["image"] and "empty" in extractor.skipped_[0]["reason"]
    good = [i for i in range(10) if i not in (3, 7)]
    assert np.isnan(rows[[3, 7]]).all() and np.isfinite(rows[good]).all()
    expected = IntensityFeatures(bins=8).fit_transform([paths[i] for i in good])
    np.testing.assert_array_equal(rows[good], expected)
    with pytest.raises(ValueError, match="3.png"):
        IntensityFeatures(bins=8).fit_transform(paths)


def test_svm_calibrates_small_classes_with_fewer_folds():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = np.array(["a"] * 9 + ["b"] * 9 + ["c"] * 2)
    X[y == "b"] += 3
    X[y == "c"] -= 3
    model = SVMClassifier(random_state=0).fit(X, y)  # calibration_cv=5 > 2 samples of "c"
    assert model.predict_proba(X).shape == (20, 3)
    with pytest.raises(ValueError, match="'c' has a single training sample"):
        SVMClassifier().fit(X[:19], y[:19])


def test_extraction_runs_blas_openmp_and_opencv_single_threaded_and_restores_them():
    # Parallelism is over images: while a batch runs, BLAS, OpenMP (scikit-learn's gradient
    # boosting in TumorMapFeatures) and OpenCV use one thread each, and the caller's
    # settings come back afterwards.
    import cv2
    from threadpoolctl import ThreadpoolController

    from braintumor_features.features import FeatureExtractor

    def threads(api):
        return [pool["num_threads"] for pool in ThreadpoolController().select(user_api=api).info()]

    class Threads(FeatureExtractor):
        def __init__(self, n_jobs=None, batch_size=None, on_error="raise"):
            self.n_jobs, self.batch_size, self.on_error = n_jobs, batch_size, on_error

        def _features(self, image, mask):
            return np.array([max(threads("blas"), default=1), max(threads("openmp"), default=1),
                             cv2.getNumThreads()])

        def _feature_names(self):
            return ["threads_blas", "threads_openmp", "threads_opencv"]

    assert threads("openmp"), "scikit-learn's OpenMP runtime should be loaded with the library"
    controller = ThreadpoolController()
    with controller.limit(limits=2):
        before = cv2.getNumThreads()
        cv2.setNumThreads(2)
        try:
            rows = Threads(batch_size=1).fit_transform([np.zeros((4, 4))] * 3)
            after = threads("blas") + threads("openmp")
            opencv_after = cv2.getNumThreads()
        finally:
            cv2.setNumThreads(before)
    assert (rows == 1).all()
    assert after == [2] * len(after) and opencv_after == 2


@pytest.mark.parametrize("classifier", ["svm", "rf"])
def test_set_output_pandas_after_fit_names_the_features_without_warnings(demo, classifier):
    """Issue 29, item 8: the fitted steps learnt the features' names, so a pipeline switched
    to pandas output afterwards gives those names (not x0, x1, ...) and predicts silently."""
    import warnings

    pipe = make_pipeline(classifier, image_size=64, features=["intensity"], random_state=0)
    pipe.fit(demo.images, demo.target)
    expected = pipe.predict_proba(demo.images[:3])
    pipe.set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = pipe[:-1].transform(demo.images[:3])
        proba = pipe.predict_proba(demo.images[:3])
    assert list(rows.columns) == list(pipe[:-1].get_feature_names_out())
    assert rows.columns[0] == "intensity_mean"
    np.testing.assert_allclose(proba, expected)
