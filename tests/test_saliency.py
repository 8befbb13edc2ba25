"""Saliency maps (occlusion and the class activation map hook) and their scores."""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from braintumor_features import CropHead, Grayscale, Resize
from braintumor_features.evaluation import (
    outline_scores,
    saliency_map,
    saliency_maps,
    saliency_scores,
)
from braintumor_features.exceptions import SkippedImagesWarning
from braintumor_features.features import FeatureExtractor
from braintumor_features.images import Outline


class CornerBrightness(FeatureExtractor):
    """One feature: the mean of the image's top-left quarter."""

    def __init__(self, n_jobs=None, batch_size=None, on_error="raise", cache=None):
        self.n_jobs, self.batch_size, self.on_error, self.cache = n_jobs, batch_size, on_error, cache

    def _features(self, image, mask):
        height, width = image.shape
        return np.array([image[: height // 2, : width // 2].mean()])

    def _feature_names(self):
        return ["corner"]


class ImageCAM(ClassifierMixin, BaseEstimator):
    """Takes canonical images; its class activation map is the image itself (times the
    class's number), so where it lands in the original image tells the geometry."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        brightness = np.array([np.mean(image) for image in X]) / 255
        return np.column_stack([1 - brightness, brightness])

    def class_activation_map(self, image, target):
        self.last_target_ = target
        return np.asarray(image, float) * (1 + list(self.classes_).index(target))


def corner_images(rng, n=20, size=40):
    images, labels = [], []
    for index in range(n):
        image = rng.uniform(40, 60, (size, size))
        if index % 2:
            image[: size // 2, : size // 2] += 120
        images.append(image.astype(np.uint8))
        labels.append("bright" if index % 2 else "dark")
    return images, np.array(labels)


@pytest.fixture
def corner_model(rng):
    images, labels = corner_images(rng)
    pipe = Pipeline([("features", CornerBrightness()), ("classifier", LogisticRegression())])
    return pipe.fit(images, labels), images, labels


def test_occlusion_finds_the_evidence_where_the_model_reads_it(corner_model):
    pipe, images, _ = corner_model
    saliency = saliency_map(pipe, images[1], patch=10, stride=5, occluder=0.0)
    assert saliency.shape == images[1].shape
    inside, outside = saliency[:20, :20], saliency[25:, 25:]  # windows reach 5 px beyond
    assert inside.min() > 0  # hiding the bright corner lowers P(bright)
    assert np.abs(outside).max() == 0  # the model never reads it
    # The other class: evidence against "bright" is evidence for "dark" (two classes).
    dark = saliency_map(pipe, images[1], target="dark", patch=10, stride=5, occluder=0.0)
    np.testing.assert_allclose(dark, -saliency, atol=1e-12)


def test_blur_occluder_leaves_flat_regions_unchanged(corner_model):
    pipe, _, _ = corner_model
    flat = np.full((40, 40), 200, np.uint8)
    saliency = saliency_map(pipe, flat, patch=0.25, stride=0.125)
    assert np.abs(saliency).max() == 0  # a blurred flat patch is the same image


def test_map_returns_to_the_original_coordinates(rng):
    image = np.zeros((120, 90), np.uint8)
    rows, columns = np.mgrid[0:60, 0:40]
    image[30:90, 20:60] = 100 + 2 * rows + columns  # the "head", off-centre, a smooth ramp
    pipe = Pipeline([("gray", Grayscale()), ("crop", CropHead(margin=0)),
                     ("resize", Resize(size=64, keep_aspect=True)),
                     ("classifier", ImageCAM())]).fit([image, image], ["a", "b"])
    saliency = saliency_map(pipe, image, target="a")
    assert pipe[-1].last_target_ == "a"
    assert saliency.shape == image.shape
    assert np.abs(saliency[:25]).max() == 0 and np.abs(saliency[:, 65:]).max() == 0
    # resampled to 64 and back: the ramp lands where it was, within a grey level or two
    inner = (slice(32, 88), slice(22, 58))
    assert np.abs(saliency[inner] - image[inner]).max() < 3
    doubled = saliency_map(pipe, image, target="b")
    np.testing.assert_allclose(doubled, 2 * saliency, rtol=1e-5)


def test_auto_uses_the_class_activation_map_and_occlusion_when_asked(rng):
    image = rng.integers(0, 255, (32, 32)).astype(np.uint8)
    model = Pipeline([("classifier", ImageCAM())]).fit([image, image], ["a", "b"])
    predicted = model.classes_[np.argmax(model.predict_proba([image])[0])]
    cam = saliency_map(model, image)
    assert model[-1].last_target_ == predicted
    np.testing.assert_allclose(cam, image.astype(float) * (1 + list(model.classes_).index(predicted)),
                               rtol=1e-5)
    occlusion = saliency_map(model, image, method="occlusion", patch=8, stride=8, occluder=0.0)
    assert not np.allclose(occlusion, cam)
    without_hook = Pipeline([("features", CornerBrightness()),
                             ("classifier", LogisticRegression())])
    images, labels = corner_images(rng)
    without_hook.fit(images, labels)
    with pytest.raises(ValueError, match="class_activation_map"):
        saliency_map(without_hook, images[0], method="cam")


def test_unknown_class_and_options_are_named(corner_model):
    pipe, images, _ = corner_model
    with pytest.raises(ValueError, match=r"target='glioma' is not a class.*'bright', 'dark'"):
        saliency_map(pipe, images[0], target="glioma")
    with pytest.raises(ValueError, match="patch"):
        saliency_map(pipe, images[0], patch=0)
    with pytest.raises(ValueError, match="occluder"):
        saliency_map(pipe, images[0], occluder="black")


def test_batch_form_explains_the_images_it_can(corner_model, tmp_path):
    pipe, images, _ = corner_model
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        maps = saliency_maps(pipe, [images[0], broken, images[1]], patch=10, stride=10,
                             target=["dark", "bright", "tumor"])
    assert maps[0] is not None and maps[1] is None and maps[2] is None
    lines = [str(w.message) for w in caught if issubclass(w.category, SkippedImagesWarning)]
    assert len(lines) == 2
    assert "broken.png" in lines[0] and "\n" not in lines[0]
    assert "X[2]" in lines[1] and "target='tumor'" in lines[1]
    with pytest.raises(ValueError):
        saliency_maps(pipe, [broken], on_error="raise")


def test_scores_on_maps_whose_answer_is_known():
    head = np.zeros((64, 64), bool)
    head[8:56, 8:56] = True  # 48 x 48 = 2304 pixels
    tumor = np.zeros((64, 64), bool)
    tumor[20:28, 20:28] = True  # 64 pixels
    saliency = np.zeros((64, 64))
    saliency[20:28, 20:28] = 1.0  # 64 inside
    saliency[0:4, 0:4] = 2.0  # 32 outside the head, and the peak
    saliency[40, 40] = -5  # negative: evidence against, not counted
    scores = saliency_scores(saliency, tumor, head, tolerance=0)
    assert scores["energy_inside"] == pytest.approx(64 / 96)
    assert scores["outside_head"] == pytest.approx(32 / 96)
    assert scores["pointing_hit"] is False
    assert scores["outline_share"] == pytest.approx(64 / 2304)
    assert scores["times_outline_share"] == pytest.approx((64 / 96) / (64 / 2304))
    # A peak 3 pixels beyond the outline: a hit with a tolerance of 3 pixels, not of 2.
    near = np.zeros((64, 64))
    near[20, 30] = 1.0
    assert saliency_scores(near, tumor, head, tolerance=3)["pointing_hit"] is True
    assert saliency_scores(near, tumor, head, tolerance=2)["pointing_hit"] is False
    # tolerance as a fraction of the head's side: 1/16 of 48 pixels = 3 pixels
    assert saliency_scores(near, tumor, head, tolerance=1 / 16)["pointing_hit"] is True
    empty = saliency_scores(np.zeros((64, 64)), tumor, head)
    assert empty["pointing_hit"] is False and np.isnan(empty["energy_inside"])
    with pytest.raises(ValueError, match="tumor_mask is empty"):
        saliency_scores(saliency, np.zeros((64, 64), bool), head)
    with pytest.raises(ValueError, match="head_mask has shape"):
        saliency_scores(saliency, tumor, head[:10])


def test_outline_scores_name_an_outline_outside_the_image():
    image = np.zeros((50, 60), np.uint8)
    image[10:40, 10:50] = 200
    saliency = np.zeros((50, 60))
    saliency[15:20, 15:20] = 1
    scores = outline_scores(saliency, image, Outline([(14, 14), (21, 14), (21, 21), (14, 21)]))
    assert scores["energy_inside"] == 1 and scores["pointing_hit"]
    assert outline_scores(saliency, image)["outside_head"] == 0
    with pytest.raises(ValueError, match=r"scan\.png: the tumour outline reaches outside the "
                                         r"60 x 50 image \(point \[300, 14\]\)"):
        outline_scores(saliency, image, Outline([(14, 14), (300, 14), (21, 21)]), name="scan.png")


def test_coordinate_maps_follow_the_pixels():
    image = np.zeros((100, 80), np.uint8)
    image[20:60, 10:70] = 200
    crop = CropHead(margin=0)
    matrix = crop._coordinate_map(image)
    assert matrix @ [10, 20, 1] == pytest.approx([0, 0, 1])
    resize = Resize(size=30, keep_aspect=True)
    cropped = crop._apply(image, None)[0]  # 40 x 60 -> 20 x 30, padded 5 rows on top
    matrix = resize._coordinate_map(cropped)
    assert matrix @ [-0.5, -0.5, 1] == pytest.approx([-0.5, 4.5, 1])  # image corners
    assert matrix @ [59.5, 39.5, 1] == pytest.approx([29.5, 24.5, 1])
