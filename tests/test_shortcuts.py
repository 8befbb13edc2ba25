"""The shortcut audit, on small files whose metadata does or does not give the label away."""

import warnings

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

from braintumor_features import ImageReadError
from braintumor_features.evaluation import ShortcutWarning, shortcut_audit

N = 48


def _write(folder, index, rgb, size, suffix, rng):
    image = rng.integers(30, 220, (*size, 3) if rgb else size, dtype=np.uint8)
    path = folder / f"{index:03d}{suffix}"
    cv2.imwrite(str(path), image)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two sources: A writes 40x40 gray PNGs, B 32x36 colour JPEGs."""
    folder, rng = tmp_path_factory.mktemp("shortcut"), np.random.default_rng(0)
    source = np.array(["A", "B"] * (N // 2))
    paths = [_write(folder, i, s == "B", (40, 40) if s == "A" else (32, 36),
                    ".png" if s == "A" else ".jpg", rng) for i, s in enumerate(source)]
    groups = np.arange(N) // 2  # two images per patient, one from each source
    return paths, source, groups


def _no_shortcut_warning(caught):
    return not any(issubclass(w.category, ShortcutWarning) for w in caught)


def test_label_given_by_the_source_is_flagged(files):
    paths, source, groups = files
    labels = np.where(source == "A", "tumour", "normal")
    with pytest.warns(ShortcutWarning, match="predicts the label"):
        audit = shortcut_audit(paths, labels, groups=groups, cv=4)
    assert audit.label_accuracy == 1.0 and audit.has_shortcut
    chance = DummyClassifier(strategy="most_frequent").fit(paths, labels).score(paths, labels)
    assert audit.label_chance == pytest.approx(chance)
    assert audit.summary().loc["label from metadata", "skill"] == pytest.approx(1.0)


def test_label_independent_of_the_source_is_not_flagged(files):
    paths, source, groups = files
    labels = np.where(np.arange(N) // 2 % 2 == 0, "tumour", "normal")  # both sources, both labels
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        audit = shortcut_audit(paths, labels, groups=groups, cv=4)
    assert _no_shortcut_warning(caught) and not audit.has_shortcut
    assert audit.label_skill <= audit.tolerance


def test_metadata_is_what_pillow_reads_and_accuracy_is_sklearns(files):
    paths, source, groups = files
    labels = np.where(source == "A", "tumour", "normal")
    with pytest.warns(ShortcutWarning):
        audit = shortcut_audit(paths, labels, groups=groups, cv=4, random_state=3)
    table = audit.metadata
    for path in paths[:4]:
        with Image.open(path) as image:
            row = table.loc[path]
            assert (row.width, row.height) == image.size
            assert row.channels == len(image.getbands())
            assert row.format == "." + image.format.lower().replace("jpeg", "jpg")
            values = np.asarray(image)
            assert (row["min"], row["max"]) == (values.min(), values.max())
        assert row.file_size == len(open(path, "rb").read())
        assert row.bit_depth == 8
    assert (table.chroma[source == "A"] == 0).all() and (table.chroma[source == "B"] > 0).all()
    matrix = table.assign(format=pd.factorize(table["format"])[0]).to_numpy(float)
    expected = cross_val_predict(RandomForestClassifier(200, random_state=3), matrix, labels,
                                 groups=groups,
                                 cv=StratifiedGroupKFold(4, shuffle=True, random_state=3))
    np.testing.assert_array_equal(audit.label_report.y_pred, expected)


def test_sixteen_bit_files_report_their_depth_and_raw_range(tmp_path):
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.array([[100, 4000], [60000, 7]], np.uint16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audit = shortcut_audit([path] * 4, ["a", "b"] * 2, groups=[0, 0, 1, 1], cv=2)
    row = audit.metadata.iloc[0]
    assert (row.bit_depth, row["min"], row["max"], row.channels) == (16, 7, 60000, 1)


def test_source_predicted_from_features(files):
    paths, source, groups = files
    labels = np.where(np.arange(N) // 2 % 2 == 0, "tumour", "normal")
    rng = np.random.default_rng(1)
    features = rng.normal(size=(N, 4)) + 3 * (source == "B")[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortcutWarning)
        audit = shortcut_audit(paths, labels, groups=groups, sources=source, features=features,
                               cv=4)
    expected = cross_val_predict(RandomForestClassifier(200, random_state=0), features, source,
                                 groups=groups,
                                 cv=StratifiedGroupKFold(4, shuffle=True, random_state=0))
    np.testing.assert_array_equal(audit.source_report.y_pred, expected)
    assert audit.source_accuracy > 0.9 and audit.source_chance == 0.5
    assert list(audit.summary().index) == ["label from metadata", "source from features"]
    assert "source from features" in repr(audit)


def test_bad_arguments_and_files(files, tmp_path):
    paths, source, groups = files
    labels = source
    with pytest.raises(ValueError, match="tolerance"):
        shortcut_audit(paths, labels, tolerance=1.5)
    with pytest.raises(ValueError, match="both features and sources"):
        shortcut_audit(paths, labels, features=np.zeros((N, 2)))
    with pytest.raises(ValueError, match="one label per file"):
        shortcut_audit(paths, labels[:-1])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="broken.png"):
        shortcut_audit([broken, paths[0]], ["a", "b"], groups=[0, 1])
