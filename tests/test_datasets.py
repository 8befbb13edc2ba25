import cv2
import numpy as np
import pytest

from braintumor_features.datasets import CLASS_NAMES, load_folder, make_demo
from braintumor_features.images import ImageSequence, Outline, with_masks


def test_load_folder_without_metadata(tmp_path):
    for label, count in [("glioma", 2), ("no_tumor", 3)]:
        (tmp_path / label).mkdir()
        for i in range(count):
            cv2.imwrite(str(tmp_path / label / f"{i}.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "glioma" / "notes.txt").write_text("not an image")
    data = load_folder(tmp_path)
    assert len(data.paths) == 5 and data.target.tolist().count("no_tumor") == 3
    assert len(set(data.groups)) == 5  # one group per file when subjects are unknown
    assert data.masks == [None] * 5


def test_load_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such data folder"):
        load_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no images found"):
        load_folder(tmp_path)


def test_load_folder_real_data(brain_mri):
    data = load_folder(brain_mri)
    assert len(data.paths) == 3637
    assert data.target_names.tolist() == ["glioma", "meningioma", "no_tumor", "pituitary"]
    assert len(set(data.groups[data.target == "glioma"])) == 30
    first = data.masks[0]
    assert isinstance(first, Outline)
    image, mask = ImageSequence(with_masks(data.paths[:1], data.masks[:1])).load(0)
    assert mask.shape == image.shape and 100 < mask.sum() < image.size / 4
    assert all(m is None for m, t in zip(data.masks, data.target) if t == "no_tumor")


def test_make_demo_is_reproducible_and_balanced():
    a, b = make_demo(20, random_state=3), make_demo(20, random_state=3)
    for x, y in zip(a.images, b.images):
        np.testing.assert_array_equal(x, y)
    assert sorted(set(a.target)) == list(CLASS_NAMES)
    assert all((m is None) == (t == "no_tumor") for m, t in zip(a.masks, a.target))
    # subjects never span two classes
    for group in set(a.groups):
        assert len(set(a.target[a.groups == group])) == 1
