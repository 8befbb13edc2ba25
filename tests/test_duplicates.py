"""find_duplicates, shared_duplicates, merge_duplicate_groups."""

import cv2
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from braintumor_features.datasets import find_duplicates, merge_duplicate_groups, shared_duplicates
from braintumor_features.evaluation import SharedDuplicatesWarning, evaluate


@pytest.fixture
def images(demo):
    return [image for image in demo.images[:12]]


def test_exact_and_near_copies_are_grouped(tmp_path, images):
    original = images[0]
    path = tmp_path / "copy.jpg"
    cv2.imwrite(str(path), cv2.resize(original, (96, 96)), [cv2.IMWRITE_JPEG_QUALITY, 80])
    items = images + [original.copy(), str(path)]
    found = find_duplicates(items)
    assert [g.tolist() for g in found.groups] == [[0, 12, 13]]
    assert found.kinds.tolist() == ["near"]
    exact = found.pairs.query("exact")
    assert exact[["first", "second"]].values.tolist() == [[0, 12]]
    assert found.labels[[0, 12, 13]].tolist() == [0, 0, 0] and (found.labels[1:12] == -1).all()


def test_correlations_match_an_independent_computation(images):
    found = find_duplicates(images, threshold=0.5)
    assert len(found.pairs)  # distinct slices of one synthetic design correlate
    thumbs = [cv2.resize(i.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA).ravel()
              for i in images]
    for row in found.pairs.itertuples():
        expected = np.corrcoef(thumbs[row.first], thumbs[row.second])[0, 1]
        assert row.correlation == pytest.approx(expected, abs=1e-6)
    every = np.corrcoef(np.array(thumbs))
    assert len(found.pairs) == int((np.triu(every, 1) >= 0.5).sum())


def test_exact_group_and_constant_images():
    flat = np.full((16, 16), 7, np.uint8)
    found = find_duplicates([flat, flat.copy(), np.zeros((16, 16), np.uint8)])
    assert [g.tolist() for g in found.groups] == [[0, 1]] and found.kinds.tolist() == ["exact"]


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates([np.zeros((4, 4))], threshold=1.5)
    with pytest.raises(ValueError, match="thumbnail_size"):
        find_duplicates([np.zeros((4, 4))], thumbnail_size=1)


def test_shared_and_merged_groups_and_the_evaluation_warning(images):
    items = images + [images[0].copy(), images[5].copy()]
    found = find_duplicates(items)
    assert [g.tolist() for g in shared_duplicates(found, train=range(12), test=[12, 13])] == \
        [[0, 12], [5, 13]]
    assert shared_duplicates(found, train=[0, 12], test=[1, 2]) == []
    groups = np.array([f"g{i}" for i in range(14)])
    merged = merge_duplicate_groups(groups, found)
    assert merged[12] == merged[0] == "g0" and merged[13] == merged[5] == "g13"
    assert len(set(merged)) == 12
    X = np.array([i.ravel()[:50] for i in items], float)
    y = np.array([0, 1] * 7)
    first, second = np.arange(7), np.arange(7, 14)
    split = [(first, second), (second, first)]  # fold 0: images 0 and 5 train, their copies test
    with pytest.warns(SharedDuplicatesWarning, match="fold [01]: 2 duplicate groups"):
        evaluate(DummyClassifier(), X, y, groups=groups, cv=split, duplicates=found)
