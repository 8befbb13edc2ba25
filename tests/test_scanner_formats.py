"""DICOM slices and NIfTI volumes as scanners write them, written here with pydicom and nibabel."""

import sys
import warnings

import numpy as np
import pytest

from braintumor_features import ImageReadError, read_image
from braintumor_features.datasets import load_folder
from braintumor_features.exceptions import SkippedImagesWarning
from braintumor_features.io import (
    PERCENTILE_WINDOW,
    VolumeSlice,
    is_dicom,
    read_images,
    read_stored,
    volume_slices,
)

pydicom = pytest.importorskip("pydicom")
nibabel = pytest.importorskip("nibabel")
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    MRImageStorage,
    generate_uid,
)

RNG = np.random.default_rng(0)


def _dicom(path, pixels, *, photometric="MONOCHROME2", **elements):
    """Write ``pixels`` (rows, columns) or (frames, rows, columns) as a DICOM MR file."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    dataset.Modality = "MR"
    dataset.set_pixel_data(pixels, photometric, 12)
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path, enforce_file_format=True)
    return path


def _linear_window(values, center, width):
    """DICOM PS3.3 C.11.2.1.2.1 (the LINEAR window) onto 0..255, computed by hand."""
    mapped = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.round(np.clip(mapped, 0, 255)).astype(np.uint8)


def _percentile_window(values):
    low, high = np.percentile(values, PERCENTILE_WINDOW)
    return np.round(np.clip((values - low) / (high - low) * 255, 0, 255)).astype(np.uint8)


STORED = RNG.integers(0, 4096, (24, 20)).astype(np.uint16)


def test_dicom_rescale_and_stored_window_match_a_hand_computation(tmp_path):
    path = _dicom(tmp_path / "slice.dcm", STORED, RescaleSlope=2, RescaleIntercept=-100,
                  WindowCenter=3000, WindowWidth=4001)
    expected = _linear_window(STORED * 2.0 - 100, 3000, 4001)
    image = read_image(path)
    assert image.dtype == np.uint8 and 0 < (image == 0).sum() < image.size  # some clipped
    np.testing.assert_array_equal(image, expected)
    np.testing.assert_array_equal(read_stored(path), STORED)  # as stored: no rescale or window


def test_dicom_without_a_window_uses_the_documented_percentiles(tmp_path):
    path = _dicom(tmp_path / "slice.dcm", STORED, RescaleSlope=0.5, RescaleIntercept=10)
    np.testing.assert_array_equal(read_image(path), _percentile_window(STORED * 0.5 + 10))


def test_monochrome1_is_inverted_so_high_values_are_bright(tmp_path):
    path = _dicom(tmp_path / "slice.dcm", STORED, photometric="MONOCHROME1",
                  WindowCenter=2048, WindowWidth=4096)
    np.testing.assert_array_equal(read_image(path), 255 - _linear_window(STORED, 2048, 4096))


def test_a_dicom_file_without_an_extension_is_recognised_by_its_preamble(tmp_path):
    path = _dicom(tmp_path / "IM0001", STORED, WindowCenter=2048, WindowWidth=4096)
    assert is_dicom(path) and not is_dicom(__file__)
    np.testing.assert_array_equal(read_image(path), _linear_window(STORED, 2048, 4096))


FRAMES = np.stack([np.full((6, 8), 400 * (k + 1), np.uint16) for k in range(5)])
FRAMES[:, 0, 0] = 0  # each frame has a dark corner, so its percentile window has a width


def test_a_multi_frame_dicom_is_read_as_a_volume(tmp_path, monkeypatch):
    path = _dicom(tmp_path / "series.dcm", FRAMES, WindowCenter=1200.5, WindowWidth=2400)
    parsed, dcmread = [], pydicom.dcmread  # whether each parse stopped before the pixels
    monkeypatch.setattr(pydicom, "dcmread", lambda *args, **kwargs: parsed.append(
        kwargs["stop_before_pixels"]) or dcmread(*args, **kwargs))

    def expected(k):
        return _linear_window(FRAMES[k].astype(float), 1200.5, 2400)

    np.testing.assert_array_equal(read_image(path), expected(2))  # the middle frame
    items = volume_slices(path)
    assert [(item.index, item.subject) for item in items] == [(k, "series") for k in range(5)]
    for k, item in enumerate(items):
        np.testing.assert_array_equal(read_image(item), expected(k))
    assert parsed == [False, True]  # the file parsed once for its five frames, then its header
    with pytest.raises(ImageReadError, match=r"series\.dcm: slice 5 asked for.*\(0 to 4\)"):
        read_image(VolumeSlice(path, 5))


def test_a_compressed_transfer_syntax_that_cannot_be_decoded_names_file_and_syntax(tmp_path):
    path = _dicom(tmp_path / "j2k.dcm", STORED)
    dataset = pydicom.dcmread(path)
    dataset.file_meta.TransferSyntaxUID = JPEG2000Lossless
    dataset.PixelData = encapsulate([b"not a JPEG 2000 codestream" * 8])
    dataset["PixelData"].VR = "OB"
    dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(ImageReadError,
                       match=r"j2k\.dcm: cannot decode its pixel data, stored as JPEG 2000 Image "
                             r"Compression \(Lossless Only\) \(1\.2\.840\.10008\.1\.2\.4\.90\)"):
        read_image(path)


VOLUME = RNG.integers(0, 1000, (10, 12, 7)).astype(np.int16)


def _nifti(path, volume=VOLUME, **header):
    image = nibabel.Nifti1Image(volume, np.eye(4))
    image.header.set_slope_inter(header.pop("slope", None), header.pop("inter", None))
    for key, value in header.items():
        image.header[key] = value
    nibabel.save(image, path)
    return path


def test_a_nifti_volume_reads_the_middle_slice_an_index_or_every_slice(tmp_path):
    path = _nifti(tmp_path / "patient7.nii.gz", slope=2.0, inter=5.0)

    def expected(k):  # scaled, the second voxel axis up the image, percentile window
        return _percentile_window(np.rot90(VOLUME[:, :, k] * 2.0 + 5.0))

    middle = read_image(path)
    assert middle.shape == (12, 10) and middle.dtype == np.uint8
    np.testing.assert_array_equal(middle, expected(3))
    np.testing.assert_array_equal(read_image(VolumeSlice(path, 6)), expected(6))
    items = volume_slices(path)
    assert [str(item) for item in items] == [f"{path}[{k}]" for k in range(7)]
    assert {item.subject for item in items} == {"patient7"}
    for k, image in enumerate(read_images(items)[0]):
        np.testing.assert_array_equal(image, expected(k))


def test_a_compressed_volume_is_decompressed_once_for_all_its_slices(tmp_path, monkeypatch):
    from nibabel.arrayproxy import ArrayProxy

    path = _nifti(tmp_path / "patient7.nii.gz")
    reads = []
    for name in ("__array__", "__getitem__"):
        original = getattr(ArrayProxy, name)
        monkeypatch.setattr(ArrayProxy, name,
                            lambda self, *args, _original=original, **kwargs:
                            reads.append(1) or _original(self, *args, **kwargs))
    stored = [read_stored(item) for item in volume_slices(path)]
    assert len(reads) == 1
    for k, values in enumerate(stored):
        np.testing.assert_array_equal(values, np.rot90(VOLUME[:, :, k]))
    stored[0][:] = 0  # a slice read is the caller's own array, not a view of the volume kept
    np.testing.assert_array_equal(read_stored(VolumeSlice(path, 0)), np.rot90(VOLUME[:, :, 0]))
    _nifti(path, VOLUME[:, :, :0:-1])  # the file rewritten: its new values are read
    np.testing.assert_array_equal(read_stored(VolumeSlice(path, 0)), np.rot90(VOLUME[:, :, 6]))
    assert len(reads) == 2


def test_a_nifti_display_range_is_its_stored_window(tmp_path):
    path = _nifti(tmp_path / "brain.nii", cal_min=200, cal_max=700)
    expected = np.rot90(VOLUME[:, :, 3].astype(float))
    expected = np.round(np.clip((expected - 200) / 500 * 255, 0, 255)).astype(np.uint8)
    np.testing.assert_array_equal(read_image(path), expected)


def test_a_4d_nifti_is_refused_saying_what_to_do(tmp_path):
    path = _nifti(tmp_path / "fmri.nii.gz", np.zeros((4, 4, 3, 2), np.int16))
    with pytest.raises(ImageReadError, match=r"fmri\.nii\.gz: a NIfTI image of shape.*split"):
        read_image(path)


@pytest.mark.parametrize("module,name", [("pydicom", "slice.dcm"), ("nibabel", "brain.nii.gz")])
def test_without_the_medical_extra_one_line_says_how_to_install_it(tmp_path, monkeypatch,
                                                                   module, name):
    path = _nifti(tmp_path / name) if module == "nibabel" else _dicom(tmp_path / name, STORED)
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r'^reading .* needs ' + module
                       + r': pip install "braintumor-features\[medical\]"$'):
        read_image(path)


def test_read_images_skips_the_undecodable_and_keeps_the_others(tmp_path):
    good = _dicom(tmp_path / "good.dcm", STORED)
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    volume = _nifti(tmp_path / "volume.nii.gz")
    with pytest.warns(SkippedImagesWarning, match=r"skipped 1 of 3.*broken\.nii\.gz"):
        images, skipped = read_images([good, broken, VolumeSlice(volume, 1)], on_error="skip")
    assert images[1] is None and [entry["index"] for entry in skipped] == [1]
    np.testing.assert_array_equal(images[0], read_image(good))
    np.testing.assert_array_equal(images[2], read_image(VolumeSlice(volume, 1)))


def test_load_folder_expands_volumes_into_slices_with_the_volume_as_subject(tmp_path):
    (tmp_path / "glioma").mkdir()
    (tmp_path / "no_tumor").mkdir()
    _nifti(tmp_path / "glioma" / "patient7.nii.gz")
    _dicom(tmp_path / "glioma" / "series.dcm", FRAMES)
    _dicom(tmp_path / "no_tumor" / "IM0001", STORED)  # a slice without an extension
    (tmp_path / "no_tumor" / "notes.txt").write_text("not an image")
    data = load_folder(tmp_path)
    assert len(data.paths) == 7 + 5 + 1
    assert data.groups.tolist() == ["patient7"] * 7 + ["series"] * 5 + ["file:no_tumor/IM0001"]
    assert data.frame["slice"].tolist()[:8] == list(range(7)) + [0]
    assert data.paths[3] == VolumeSlice(tmp_path / "glioma" / "patient7.nii.gz", 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, _ = read_images(data.paths)
    assert [image.shape for image in images] == [(12, 10)] * 7 + [(6, 8)] * 5 + [STORED.shape]


def test_the_feature_cache_tells_the_slices_of_one_volume_apart(tmp_path):
    from braintumor_features.features import ImageFeatures, IntensityFeatures

    items = volume_slices(_nifti(tmp_path / "patient7.nii.gz"))[:2]
    uncached = ImageFeatures([("intensity", IntensityFeatures(bins=8))])
    cached = ImageFeatures([("intensity", IntensityFeatures(bins=8))], cache=True)
    one_by_one = np.vstack([cached.fit_transform([item]) for item in items])
    np.testing.assert_array_equal(one_by_one, uncached.fit_transform(items))


def test_a_slice_column_in_metadata_picks_one_slice_of_a_volume(tmp_path):
    _nifti(tmp_path / "patient7.nii.gz")
    outline = "[[1, 1], [8, 1], [8, 8]]"
    (tmp_path / "metadata.csv").write_text(
        f'file,label,slice,tumor_border\npatient7.nii.gz,glioma,2,"{outline}"\n')
    data = load_folder(tmp_path)
    assert data.paths == [VolumeSlice(tmp_path / "patient7.nii.gz", 2)]
    assert data.groups.tolist() == ["patient7"] and data.masks[0] is not None
    (tmp_path / "metadata.csv").write_text(
        f'file,label,tumor_border\npatient7.nii.gz,glioma,"{outline}"\n')
    with pytest.raises(ValueError, match=r"patient7\.nii\.gz: a tumor_border for a whole volume"):
        load_folder(tmp_path)
