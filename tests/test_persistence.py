import hashlib
import pickle
from pathlib import Path
import warnings

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier

import braintumor_features
from braintumor_features import make_pipeline
from braintumor_features.persistence import (
    ModelFileError,
    ModelVersionWarning,
    UntrustedModelError,
    load_model,
    save_model,
)

pytest.importorskip("skops")


@pytest.fixture(scope="module")
def fitted(demo):
    pipe = make_pipeline("svm", features=["intensity", "glcm"], image_size=32, random_state=0)
    return pipe.fit(demo.images[::2], demo.target[::2])


@pytest.mark.parametrize("suffix", [".joblib", ".skops"])
def test_round_trip_keeps_predictions_and_metadata(fitted, demo, tmp_path, suffix):
    path = save_model(fitted, tmp_path / f"model{suffix}", training={"n_images": 24})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same versions: no warning at all
        model, meta = load_model(path, return_metadata=True)
    np.testing.assert_array_equal(model.predict_proba(demo.images[1::2]),
                                  fitted.predict_proba(demo.images[1::2]))
    assert meta["versions"]["braintumor-features"] == braintumor_features.__version__
    assert meta["versions"]["scikit-learn"] == sklearn.__version__
    assert meta["versions"]["numpy"] == np.__version__
    assert meta["classes"] == ["glioma", "meningioma", "no_tumor", "pituitary"]
    names = fitted.named_steps["features"].get_feature_names_out().tolist()
    assert meta["feature_names"] == names and meta["training"] == {"n_images": 24}
    assert meta["created"].endswith("+00:00")
    assert pickle.loads(pickle.dumps(model)).predict(demo.images[:2]).tolist() == \
        fitted.predict(demo.images[:2]).tolist()


def test_plain_joblib_and_pickle_files_still_load(fitted, demo, tmp_path):
    joblib.dump(fitted, tmp_path / "plain.joblib")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(fitted))
    for name in ("plain.joblib", "plain.pkl"):
        model, meta = load_model(tmp_path / name, return_metadata=True)
        assert meta is None
        assert model.predict(demo.images[:3]).tolist() == fitted.predict(demo.images[:3]).tolist()


def test_other_library_version_warns_clearly(tmp_path):
    path = save_model(DummyClassifier().fit([[0], [1]], ["a", "b"]), tmp_path / "old.joblib")
    payload = joblib.load(path)
    payload["metadata"]["versions"]["braintumor-features"] = "0.0.1"
    payload["metadata"]["versions"]["numpy"] = "1.0.0"
    joblib.dump(payload, path)
    with pytest.warns(ModelVersionWarning,
                      match=r"old\.joblib was saved with braintumor-features 0\.0\.1 \(now .*"
                            r"numpy 1\.0\.0.*Retrain"):
        load_model(path)


def test_newer_file_format_is_refused(tmp_path):
    path = save_model(DummyClassifier().fit([[0], [1]], ["a", "b"]), tmp_path / "new.joblib")
    payload = joblib.load(path)
    payload["format_version"] = 99
    joblib.dump(payload, path)
    with pytest.raises(ModelFileError, match="new.joblib.*upgrade"):
        load_model(path)


@pytest.mark.parametrize("make", [
    lambda p: p.write_text("file,label\na.png,glioma\n"),
    lambda p: p.write_bytes(b""),
    lambda p: joblib.dump({"weights": [1, 2, 3]}, p),
    lambda p: p.write_bytes(pickle.dumps(DummyClassifier())[:20]),
], ids=["csv", "empty", "dict", "truncated-pickle"])
def test_a_file_that_is_not_a_model_names_the_file(tmp_path, make):
    path = tmp_path / "model.joblib"
    make(path)
    with pytest.raises(ModelFileError, match=r"model\.joblib.*(not a model|save_model)"):
        load_model(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nope.skops")


class HomeMadeClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.repeat(self.classes_[:1], len(X))


def test_skops_refuses_unknown_types_unless_trusted(tmp_path):
    path = save_model(HomeMadeClassifier().fit([[0], [1]], ["a", "b"]), tmp_path / "m.skops")
    name = f"{__name__}.HomeMadeClassifier"
    with pytest.raises(UntrustedModelError, match=rf"m\.skops.*{name}.*trusted"):
        load_model(path)
    assert load_model(path, trusted=[name]).predict([[5]]).tolist() == ["a"]


def test_skops_accepts_the_library_and_sklearn_classes_but_not_their_functions(tmp_path):
    from braintumor_features.persistence import _is_library_class

    assert _is_library_class("braintumor_features.preprocessing.CLAHE")
    assert _is_library_class("sklearn.model_selection._split.StratifiedKFold")
    assert not _is_library_class("braintumor_features.io.read_image")  # a function
    assert not _is_library_class("braintumor_features.io.np")  # a module re-exported
    assert not _is_library_class("os.system") and not _is_library_class("builtins.eval")


def test_corrupt_skops_file_names_the_file(tmp_path):
    import zipfile

    path = tmp_path / "broken.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", "{not json")
    with pytest.raises(ModelFileError, match="broken.skops"):
        load_model(path)


class _RunsCodeWhenUnpickled:
    def __reduce__(self):  # what a malicious pickle does: call a function on load
        return (Path.touch, (Path(self.marker),))


def test_a_pickle_named_skops_is_refused_unread(tmp_path):
    marker = tmp_path / "code-ran"
    payload = _RunsCodeWhenUnpickled()
    payload.marker = str(marker)
    path = tmp_path / "shared.skops"
    joblib.dump(payload, path)
    with pytest.raises(ModelFileError, match=r"shared\.skops: not a \.skops file"):
        load_model(path)
    assert not marker.exists()


def test_image_digests_read_a_volume_once_for_all_its_slices(tmp_path, monkeypatch):
    from braintumor_features import persistence
    from braintumor_features.io import VolumeSlice

    volume, single = tmp_path / "patient7.nii.gz", tmp_path / "slice.png"
    volume.write_bytes(b"volume bytes")
    single.write_bytes(b"image bytes")
    read = []
    monkeypatch.setattr(persistence.Path, "read_bytes",
                        lambda self: read.append(self.name) or Path.open(self, "rb").read())
    found = persistence.image_digests([VolumeSlice(volume, 0), single, VolumeSlice(volume, 1)])
    assert found["files"] == [str(volume.resolve()), str(single.resolve()), str(volume.resolve())]
    assert found["sha256"][0] == found["sha256"][2] != found["sha256"][1]
    assert found["sha256"][1] == hashlib.sha256(b"image bytes").hexdigest()
    assert sorted(read) == ["patient7.nii.gz", "slice.png"]
