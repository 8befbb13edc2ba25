import cv2
import numpy as np
import pandas as pd
import pytest

from braintumor_features.datasets import CLASS_NAMES, load_folder, load_folders, make_demo
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


def _write_folder(root, rows, source=None):
    """Write one blank image per ``(label, subject)`` row, listed in a metadata.csv."""
    for i, (label, _) in enumerate(rows):
        (root / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / label / f"{i}.png"), np.zeros((8, 8), np.uint8))
    frame = pd.DataFrame({"file": [f"{label}/{i}.png" for i, (label, _) in enumerate(rows)],
                          "label": [label for label, _ in rows],
                          "subject": [subject for _, subject in rows]})
    if source is not None:
        frame["source"] = source
    frame.to_csv(root / "metadata.csv", index=False)
    return root


def test_load_folders_concatenates_and_prefixes_groups_with_the_source(tmp_path):
    first = _write_folder(tmp_path / "site_a", [("glioma", "p1"), ("glioma", "p1")])
    second = _write_folder(tmp_path / "other", [("no_tumor", "p1"), ("pituitary", "p2")],
                           source="sartaj")
    data = load_folders([first, second])
    assert data.paths == load_folder(first).paths + load_folder(second).paths
    assert data.target.tolist() == ["glioma", "glioma", "no_tumor", "pituitary"]
    assert data.target_names.tolist() == ["glioma", "no_tumor", "pituitary"]
    assert data.sources.tolist() == ["site_a", "site_a", "sartaj", "sartaj"]  # else the folder name
    # the same subject name in two sources is two patients
    assert data.groups.tolist() == ["site_a:p1", "site_a:p1", "sartaj:p1", "sartaj:p2"]
    assert data.frame["source"].tolist() == data.sources.tolist() and len(data.masks) == 4


def test_load_folders_without_metadata_uses_folder_names(tmp_path):
    for site in ("a", "b"):
        (tmp_path / site / "glioma").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / site / "glioma" / "0.png"), np.zeros((8, 8), np.uint8))
    data = load_folders([tmp_path / "a", tmp_path / "b"])
    assert data.groups.tolist() == ["a:file:glioma/0.png", "b:file:glioma/0.png"]
    assert load_folders(str(tmp_path / "a")).sources.tolist() == ["a"]  # one path: one folder


def test_load_folders_shares_a_source_only_when_metadata_names_it(tmp_path):
    one = _write_folder(tmp_path / "x" / "part", [("glioma", "p1")], source="hospital")
    two = _write_folder(tmp_path / "y" / "part", [("no_tumor", "p1")], source="hospital")
    assert load_folders([one, two]).groups.tolist() == ["hospital:p1", "hospital:p1"]
    unnamed = _write_folder(tmp_path / "z" / "part", [("glioma", "p1")])
    with pytest.raises(ValueError, match="both give source 'part'.*rename one folder"):
        load_folders([unnamed, _write_folder(tmp_path / "w" / "part", [("glioma", "p1")])])
    with pytest.raises(ValueError, match="both give source 'hospital'"):
        load_folders([one, _write_folder(tmp_path / "hospital", [("glioma", "p1")])])


def test_load_folders_errors(tmp_path):
    folder = _write_folder(tmp_path / "a", [("glioma", "p1")])
    with pytest.raises(ValueError, match="at least one data folder"):
        load_folders([])
    with pytest.raises(ValueError, match="given twice"):
        load_folders([folder, tmp_path / "." / "a"])
    with pytest.raises(FileNotFoundError, match="missing: no such data folder"):
        load_folders([folder, tmp_path / "missing"])


def test_load_folders_real_sources(brain_mri):
    sartaj = brain_mri.parent / "brain-mri-sartaj"
    if not (sartaj / "metadata.csv").exists():
        pytest.skip(f"second source not found at {sartaj}")
    data = load_folders([brain_mri, sartaj])
    counts = dict(zip(*np.unique(data.sources, return_counts=True)))
    assert counts["sartaj"] == 315 and sum(counts.values()) == len(data.paths) == 3637 + 315
    alone = load_folder(brain_mri)
    assert len(np.unique(data.groups)) == len(np.unique(alone.groups)) + len(
        np.unique(load_folder(sartaj).groups))


def test_sequence_column_is_read_where_present(tmp_path):
    rows = [("glioma", "p1"), ("glioma", "p2"), ("no_tumor", "p3")]
    given = _write_folder(tmp_path / "radiology", rows, source="teaching")
    frame = pd.read_csv(given / "metadata.csv")
    frame["sequence"] = ["T1", None, "T2"]
    frame["tumour_type"] = ["astrocytoma", "glioblastoma", "normal"]
    frame.to_csv(given / "metadata.csv", index=False)
    plain = _write_folder(tmp_path / "site", [("glioma", "p1")])
    data = load_folder(given)
    assert data.sequence.tolist() == ["T1", "", "T2"]
    assert data.frame["tumour_type"].tolist() == ["astrocytoma", "glioblastoma", "normal"]
    assert load_folder(plain).sequence is None
    both = load_folders([plain, given])
    assert both.sequence.tolist() == ["", "T1", "", "T2"]
    assert both.frame["tumour_type"].isna().tolist() == [True, False, False, False]
    assert load_folders([plain]).sequence is None


def test_radiopaedia_sequences(brain_mri):
    radiopaedia = brain_mri.parent / "brain-mri-radiopaedia"
    if not (radiopaedia / "metadata.csv").exists():
        pytest.skip(f"third source not found at {radiopaedia}")
    data = load_folders([brain_mri, radiopaedia])
    part = data.sources == "radiopaedia"
    assert dict(zip(*np.unique(data.sequence[part], return_counts=True))) == {
        "T1": 336, "T1C": 394, "T2": 380}  # the counts of its README (a file once: 1110)
    assert (data.sequence[~part] == "").all()


def test_make_demo_is_reproducible_and_balanced():
    a, b = make_demo(20, random_state=3), make_demo(20, random_state=3)
    for x, y in zip(a.images, b.images):
        np.testing.assert_array_equal(x, y)
    assert sorted(set(a.target)) == list(CLASS_NAMES)
    assert all((m is None) == (t == "no_tumor") for m, t in zip(a.masks, a.target))
    # subjects never span two classes
    for group in set(a.groups):
        assert len(set(a.target[a.groups == group])) == 1


@pytest.mark.parametrize("border", ['[[1, 1], [4, 1], [4', '{"x": 1}', "12", '[[1, 1], [4], [4, 3]]'])
def test_load_folder_names_a_malformed_tumor_border(tmp_path, border):
    _write_folder(tmp_path, [("glioma", "p1"), ("glioma", "p2")])
    frame = pd.read_csv(tmp_path / "metadata.csv")
    frame["tumor_border"] = ["[[1, 1], [4, 1], [4, 3]]", border]
    frame.to_csv(tmp_path / "metadata.csv", index=False)
    with pytest.raises(ValueError) as error:
        load_folder(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "metadata.csv") in message and "glioma/1.png" in message
    assert "tumor_border" in message and "JSON list of [x, y] points" in message


def test_a_metadata_csv_listing_an_image_twice_is_refused(tmp_path):
    """Issue 29 item 7: a file listed twice was used twice, silently (1122 paths for 1110
    files)."""
    for name in ("a", "b"):
        (tmp_path / "glioma").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "glioma" / f"{name}.png"), np.zeros((8, 8), np.uint8))
    (tmp_path / "metadata.csv").write_text(
        "file,label\nglioma/a.png,glioma\nglioma/b.png,glioma\nglioma/a.png,glioma\n")
    with pytest.raises(ValueError, match=r"metadata.csv: 1 image\(s\) listed more than once, "
                                         r"e.g. glioma/a.png on lines 2, 4; list each image once"):
        load_folder(tmp_path)
