"""The per-image feature cache: reuse across calls, clones and folds, never a wrong row."""

import pickle
from numbers import Real

import numpy as np
import pytest
from joblib import Memory
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from braintumor_features import _cache, make_pipeline
from braintumor_features.features import FeatureCache, GLCMFeatures, ImageFeatures
from braintumor_features._cache import parameters_digest
from braintumor_features.features import FeatureExtractor
from braintumor_features.images import MaskedImage
from braintumor_features.preprocessing import Denoise, Resize


class Counting(FeatureExtractor):
    """Mean and masked mean of an image, scaled; counts the images it computes."""

    computed = []
    _parameter_constraints = {**FeatureExtractor._parameter_constraints, "scale": [Real]}

    def __init__(self, scale=1.0, n_jobs=None, batch_size=None, on_error="raise"):
        self.scale = scale
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _features(self, image, mask):
        Counting.computed.append(float(image.mean()))
        inside = image[mask].mean() if mask is not None else -1.0
        return np.array([image.mean() * self.scale, inside])

    def _feature_names(self):
        return ["mean", "inside"]


@pytest.fixture(autouse=True)
def fresh_cache():
    FeatureCache().clear()
    Counting.computed.clear()
    yield
    FeatureCache().clear()


@pytest.fixture
def images(rng):
    return [rng.integers(0, 256, (12, 12), dtype=np.uint8) for _ in range(6)]


def features(cache=True, **params):
    return ImageFeatures([("count", Counting(**params))], cache=cache)


def test_second_call_reads_every_row_from_the_cache(images):
    first = features().fit_transform(images)
    assert len(Counting.computed) == 6
    again = features().fit_transform(images[::-1])
    assert len(Counting.computed) == 6
    np.testing.assert_array_equal(again, first[::-1])
    np.testing.assert_array_equal(first, features(cache=None).fit_transform(images))


def test_only_new_images_are_computed(images, rng):
    features().fit_transform(images[:4])
    rows = features().fit_transform(images)
    assert len(Counting.computed) == 6
    np.testing.assert_array_equal(rows, features(cache=None).fit_transform(images))


def test_other_content_dtype_or_shape_is_another_key(images):
    image = images[0]
    features().fit_transform([image])
    changed = image.copy()
    changed[0, 0] ^= 1
    same_bytes_other_dtype = image.view(np.int8)
    same_bytes_other_shape = image.reshape(6, 24)
    rows = features().fit_transform([changed, same_bytes_other_dtype, same_bytes_other_shape])
    assert len(Counting.computed) == 4
    np.testing.assert_array_equal(
        rows,
        features(cache=None).fit_transform([changed, same_bytes_other_dtype, same_bytes_other_shape]),
    )


def test_a_rewritten_file_is_read_again(tmp_path, images):
    import cv2

    path = tmp_path / "slice.png"
    cv2.imwrite(str(path), images[0])
    assert features().fit_transform([str(path)])[0, 0] == pytest.approx(images[0].mean())
    remembered = len(_cache._FILE_DIGESTS)
    cv2.imwrite(str(path), images[1][:, ::-1])
    assert features().fit_transform([str(path)])[0, 0] == pytest.approx(images[1].mean())
    assert len(_cache._FILE_DIGESTS) == remembered  # the old digest replaced, not kept


def test_masks_are_part_of_the_key(images):
    mask_a = np.zeros((12, 12), bool)
    mask_a[:6] = True
    rows_a = features().fit_transform([MaskedImage(images[0], mask_a)])
    rows_b = features().fit_transform([MaskedImage(images[0], ~mask_a)])
    rows_none = features().fit_transform([images[0]])
    assert len(Counting.computed) == 3
    assert rows_a[0, 1] == pytest.approx(images[0][:6].mean())
    assert rows_b[0, 1] == pytest.approx(images[0][6:].mean())
    assert rows_none[0, 1] == -1.0


def test_feature_and_preprocessing_parameters_are_part_of_the_key(images):
    base = features().fit_transform(images)
    scaled = features(scale=2.0).fit_transform(images)
    np.testing.assert_allclose(scaled[:, 0], 2 * base[:, 0])
    smoothed = Pipeline([("denoise", Denoise("median")), ("features", features())])
    resized = Pipeline([("resize", Resize(6)), ("features", features())])
    smoothed_rows, resized_rows = smoothed.fit_transform(images), resized.fit_transform(images)
    assert len(Counting.computed) == 24
    np.testing.assert_array_equal(
        smoothed_rows, Pipeline([("denoise", Denoise("median")), ("features", features(None))])
        .fit_transform(images),
    )
    assert not np.array_equal(smoothed_rows, base) and not np.array_equal(resized_rows, base)


def test_runtime_parameters_do_not_change_the_key(images):
    features().fit_transform(images)
    ImageFeatures([("count", Counting(n_jobs=1, batch_size=2))], cache=True,
                  n_jobs=1, batch_size=3, on_error="skip").fit_transform(images)
    assert len(Counting.computed) == 6


def test_clones_and_pickles_share_the_in_memory_rows(images):
    original = features(cache=FeatureCache())
    original.fit_transform(images)
    clone(original).fit_transform(images)
    pickle.loads(pickle.dumps(original)).fit_transform(images)
    assert len(Counting.computed) == 6


def test_a_clone_of_the_default_pipeline_has_the_same_key():
    """The default families share parameter values (e.g. ``grid=(1, 2, 4)``); ``clone``
    copies some of them, which changed a pickle-based key, so a grid search (which clones)
    recomputed every row the user's own pipeline had cached."""
    pipe = make_pipeline(memory=True)

    def key(pipeline):
        return parameters_digest(list(pipeline[:5]), pipeline.named_steps["features"]._cache_signature())

    assert key(clone(pipe)) == key(pipe)
    assert key(clone(pipe).set_params(features__lbp__radii=(1,))) != key(pipe)


def test_different_parameter_values_never_share_a_key(rng):
    """Containers keep their kind, keys their type, an estimator its fitted state."""
    from sklearn.preprocessing import StandardScaler

    from braintumor_features._cache import _canonical

    values = [{"a": 1}, [("a", 1)], {1: 2}, {"1": 2}, (1, 2), [1, 2], 1.0, np.float64(1.0), 1,
              StandardScaler(), StandardScaler().fit(rng.normal(size=(5, 2))),
              StandardScaler().fit(rng.normal(size=(5, 2))), StandardScaler, np.zeros(2),
              np.zeros(2, np.float32), {1: "x", "1": "y"}]
    forms = [repr(_canonical(value)) for value in values]
    assert len(set(forms)) == len(values)
    assert forms == [repr(_canonical(value)) for value in values]  # stable


def test_skipped_images_are_not_cached(images):
    bad = np.zeros((0, 5))
    with pytest.warns(UserWarning, match="skipped 1 of 2"):
        ImageFeatures([("count", Counting())], cache=True, on_error="skip").fit_transform(
            [images[0], bad])
    with pytest.warns(UserWarning, match="skipped 1 of 1"):
        ImageFeatures([("count", Counting())], cache=True, on_error="skip").fit_transform([bad])


def stored_calls(location):
    """The rows a joblib.Memory at ``location`` holds: one output file per cached call."""
    return len(list(location.rglob("output.pkl")))


def test_disk_cache_is_shared_between_objects_and_processes(tmp_path, images):
    rows = features(cache=str(tmp_path)).fit_transform(images)
    assert stored_calls(tmp_path) == 6
    again = features(cache=Memory(str(tmp_path), verbose=0)).fit_transform(images)
    np.testing.assert_array_equal(again, rows)
    assert len(Counting.computed) == 6
    FeatureCache(tmp_path).clear()
    features(cache=tmp_path).fit_transform(images)
    assert len(Counting.computed) == 12


def test_a_memory_given_keeps_the_rows_as_its_cached_calls(tmp_path, images):
    memory = Memory(tmp_path, verbose=0)
    features(cache=memory).fit_transform(images)
    memory.reduce_size(items_limit=2)  # the Memory's own bound applies to the rows
    assert stored_calls(tmp_path) == 2
    features(cache=memory).fit_transform(images)
    assert len(Counting.computed) == 6 + 4
    memory.clear(warn=False)
    features(cache=memory).fit_transform(images)
    assert len(Counting.computed) == 16
    features(cache=Memory(None)).fit_transform(images)  # joblib's "no caching"
    assert len(Counting.computed) == 22


def test_rows_in_memory_beyond_max_bytes_drop_the_least_recently_used(images):
    row_bytes = 2 * 8  # Counting's two float64 values
    cache = FeatureCache(max_bytes=4 * row_bytes)
    rows = features(cache=cache).fit_transform(images[:4])
    features(cache=cache).fit_transform(images[:1])  # read: now the most recently used
    features(cache=cache).fit_transform(images[4:])  # two more: two others make room
    assert len(Counting.computed) == 6
    again = features(cache=cache).fit_transform(images[:4])
    assert len(Counting.computed) == 6 + 2  # images 1 and 2 were dropped, not 0 or 3
    np.testing.assert_array_equal(again, rows)
    nothing = features(cache=FeatureCache(max_bytes=0))
    nothing.fit_transform(images[4:])
    nothing.fit_transform(images[4:])
    assert len(Counting.computed) == 8 + 4


@pytest.mark.parametrize("max_bytes", [-1, 1.5, "1GB", True])
def test_max_bytes_must_be_a_whole_number_of_bytes(max_bytes):
    with pytest.raises(ValueError, match="max_bytes must be a whole number"):
        FeatureCache(max_bytes=max_bytes)


def test_grid_search_over_the_classifier_extracts_each_image_once(images):
    target = np.array([0, 1] * 3)
    pipe = Pipeline([("features", features()), ("svm", SVC())])
    search = GridSearchCV(pipe, {"svm__C": [0.1, 1.0, 10.0]}, cv=3).fit(images, target)
    assert len(Counting.computed) == 6
    assert search.best_estimator_.predict(images).shape == (6,)


def test_grid_search_with_workers_shares_the_disk_cache(tmp_path, demo):
    pipe = make_pipeline(SVC(), features=[("glcm", GLCMFeatures(distances=[1], levels=8))],
                         image_size=32, memory=tmp_path)
    search = GridSearchCV(pipe, {"classifier__C": [1.0, 10.0]}, cv=2, n_jobs=2)
    search.fit(demo.images[:16], demo.target[:16])
    assert stored_calls(tmp_path) == 16
    uncached = make_pipeline(features=[("glcm", GLCMFeatures(distances=[1], levels=8))],
                             image_size=32)[:-3].fit_transform(demo.images[:16])
    cached = search.best_estimator_[:-3].transform(demo.images[:16])
    np.testing.assert_array_equal(cached, uncached)


def test_make_pipeline_memory_reaches_the_features_step(tmp_path):
    assert make_pipeline(memory=True).named_steps["features"].cache is True
    assert make_pipeline(memory=tmp_path).named_steps["features"]._feature_cache().location == tmp_path
    assert make_pipeline().named_steps["features"]._feature_cache() is None
