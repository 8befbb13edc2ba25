"""Real-world bad files: each is refused or skipped with a message naming it (see also test_io)."""

import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pandas as pd
import pytest

from braintumor_features import ImageReadError, make_pipeline, read_image
from braintumor_features import io as bt_io
from braintumor_features.cli import main
from braintumor_features.exceptions import SkippedImagesWarning
from braintumor_features.features import FeatureExtractor, IntensityFeatures
from braintumor_features.io import LargeImageWarning, image_size, read_images


def _jpeg(shape=(96, 128), seed=0):
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_truncated_jpeg_is_refused_not_decoded_half_grey(tmp_path):
    data = _jpeg((256, 256))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(ImageReadError, match=r"cut\.jpg.*truncated.*export it again"):
        read_image(path)


def test_jpeg_with_a_damaged_header_names_the_file(tmp_path):
    data = bytearray(_jpeg())
    start = data.index(b"\xff\xc0")  # start of frame: zero its component count
    data[start + 9] = 0
    path = tmp_path / "damaged.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=r"damaged\.jpg.*not a readable image"):
        read_image(path)


@pytest.mark.parametrize("name,kind", [("brain.mha", "MetaImage"), ("brain.nrrd", "NRRD")])
def test_unsupported_volume_formats_say_what_to_do(tmp_path, name, kind):
    path = tmp_path / name
    path.write_bytes(b"\1" * 200)
    with pytest.raises(ImageReadError, match=rf"{name}: {kind}.*export each slice to PNG"):
        read_image(path)


@pytest.mark.parametrize("name,reason", [
    ("scan.dcm", "DICOM file without an image"),
    ("IM0001", "DICOM file without an image"),  # recognised by its preamble, not its name
    ("brain.nii.gz", "not a readable NIfTI file"),
])
def test_damaged_scanner_files_name_the_file(tmp_path, name, reason):
    pytest.importorskip("pydicom")
    pytest.importorskip("nibabel")
    path = tmp_path / name
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\1" * 200)
    with pytest.raises(ImageReadError, match=rf"{name}: .*{reason}"):
        read_image(path)


def test_16_bit_png_gives_the_features_of_its_full_range(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), ramp)
    front = make_pipeline(features="intensity", image_size=32)[:-3]
    from_file = front.fit_transform([str(tmp_path / "deep.png")])
    # Independent 8-bit version of the same ramp: the 16-bit range is used, not clipped to 255.
    eight_bit = np.round(ramp / 65535 * 255).astype(np.uint8)
    np.testing.assert_allclose(from_file, front.fit_transform([eight_bit]), atol=1e-6)


@pytest.mark.parametrize("image", [np.full((1, 1), 7, np.uint8), np.full((50, 40), 128, np.uint8)],
                         ids=["1x1", "constant"])
def test_tiny_and_constant_files_give_finite_features(tmp_path, image):
    path = tmp_path / "odd.png"
    cv2.imwrite(str(path), image)
    assert np.isfinite(make_pipeline(image_size=32)[:-3].fit_transform([str(path)]).to_numpy()).all()


def test_image_file_with_nans_is_refused_naming_it(tmp_path):
    image = np.ones((8, 8), np.float32)
    image[2, 3] = np.nan
    path = tmp_path / "nan.tiff"
    assert cv2.imwrite(str(path), image)
    with pytest.raises(ValueError, match=r"nan\.tiff.*NaN"):
        read_image(path)


def test_a_volume_where_a_slice_is_expected_is_skipped_with_its_reason(demo):
    volume = np.zeros((12, 32, 32), np.uint8)
    extractor = IntensityFeatures(bins=8, on_error="skip", batch_size=1)
    with pytest.warns(SkippedImagesWarning, match=r"X\[1\].*2-D slice"):
        rows = extractor.fit_transform([demo.images[0], volume, demo.images[1]])
    assert np.isnan(rows[1]).all() and np.isfinite(rows[[0, 2]]).all()
    with pytest.raises(ValueError, match=r"X\[1\].*one slice of a volume at a time"):
        IntensityFeatures(bins=8, batch_size=1).fit_transform([demo.images[0], volume])


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _black_png(path, side):
    """A valid side x side 8-bit black PNG, written without ever holding its pixels.

    One block of 100 rows is deflated with a full flush (no back-references
    across it) and repeated; the Adler-32 of n zero bytes is n << 16 | 1.
    """
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = squeeze.compress(bytes((side + 1) * 100)) + squeeze.flush(zlib.Z_FULL_FLUSH)
    n = (side + 1) * side
    idat = (b"\x78\x01" + block * (side // 100) + squeeze.flush()
            + struct.pack(">I", (n % 65521) << 16 | 1))
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def test_the_cheap_png_writer_writes_valid_files(tmp_path):
    _black_png(tmp_path / "small.png", 300)
    np.testing.assert_array_equal(read_image(tmp_path / "small.png"), np.zeros((300, 300)))


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_huge_png_is_refused_before_it_is_decoded(tmp_path):
    path = tmp_path / "huge.png"
    _black_png(path, 20000)  # 400 MB of pixels in 0.4 MB
    assert image_size(np.fromfile(path, np.uint8)) == (20000, 20000)
    script = (
        "import resource, sys\n"
        "from braintumor_features.io import ImageReadError, read_image\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    read_image(sys.argv[1])\n"
        "except ImageReadError as exc:\n"
        "    print(exc)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                            text=True, check=True)
    message, grown_kib = result.stdout.strip().rsplit("\n", 1)
    assert "huge.png: 20000x20000 pixels is larger than" in message and "downscale" in message
    assert int(grown_kib) < 100_000  # a full decode would need 400 MB


def test_jpeg_over_the_limit_is_decoded_at_a_reduced_scale(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg((300, 200)))
    monkeypatch.setattr(bt_io._raster, "MAX_PIXELS", 300 * 200 // 5)  # 1/2 too big, 1/4 fits
    with pytest.warns(LargeImageWarning, match=r"big\.jpg: 200x300 pixels.*1/4 scale"):
        image = read_image(path)
    assert image.shape == (75, 50)
    monkeypatch.setattr(bt_io._raster, "MAX_PIXELS", 10)  # even 1/8 is too big: refused
    with pytest.raises(ImageReadError, match=r"big\.jpg: 200x300 pixels is larger"):
        read_image(path)


def test_read_images_skips_the_bad_and_keeps_the_order(tmp_path):
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(paths[-1]), np.full((3, 3), i, np.uint8))
    paths[2].write_bytes(b"GIF89a broken")
    with pytest.warns(SkippedImagesWarning, match="skipped 1 of 4"):
        images, skipped = read_images(paths, on_error="skip")
    assert [None if im is None else int(im[0, 0]) for im in images] == [0, 1, None, 3]
    assert skipped == [{"index": 2, "image": str(paths[2]), "reason": skipped[0]["reason"]}]
    assert "2.png" in skipped[0]["reason"]
    with pytest.raises(ImageReadError, match="2.png"):
        read_images(paths)


def test_batch_of_200_with_5_corrupt_keeps_the_195_under_two_workers(tmp_path, capsys):
    rng = np.random.default_rng(0)
    bad = {13, 50, 99, 150, 187}
    for i in range(200):
        folder = tmp_path / "data" / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:03d}.png"
        if i in bad:
            path.write_bytes(b"" if i % 2 else b"corrupt bytes")
        else:
            cv2.imwrite(str(path), rng.integers(0, 256, (24, 24), dtype=np.uint8))
    out = tmp_path / "features.csv"
    args = ["extract", str(tmp_path / "data"), "-o", str(out), "--features", "intensity",
            "--image-size", "16", "--n-jobs", "2"]
    assert main(args) == 0
    table = pd.read_csv(out)
    expected_files = sorted(f"{'a' if i % 2 else 'b'}/{i:03d}.png" for i in range(200)
                            if i not in bad)
    assert sorted(table["file"]) == expected_files
    assert np.isfinite(table.drop(columns=["file", "label", "subject"]).to_numpy()).all()
    err = capsys.readouterr().err
    assert "skipped 5 of 200" in err
    assert all(f"{i:03d}.png" in err for i in bad)
    # The 195 rows are the features of the good files computed on their own (without the
    # acquisition columns, which only a model's distribution check reads).
    front = make_pipeline(features="intensity", image_size=16)[:-3]
    good = [str(tmp_path / "data" / f) for f in table["file"][:20]]
    rows = front.fit_transform(good)
    assert not table.columns.str.startswith("acquisition_").any()
    np.testing.assert_allclose(table.iloc[:20, 3:].to_numpy(),
                               rows.drop(columns=rows.filter(like="acquisition_").columns))


def test_a_multi_page_tiff_is_refused_not_read_as_its_first_page(tmp_path):
    path = tmp_path / "volume.tif"
    pages = [np.full((16, 16), value, np.uint8) for value in (10, 20, 30, 40, 50)]
    assert cv2.imwritemulti(str(path), pages)
    with pytest.raises(ImageReadError, match=r"volume\.tif: a TIFF of 5 pages.*one 2-D slice"):
        read_image(path)
    one = tmp_path / "slice.tif"
    assert cv2.imwrite(str(one), pages[2])
    np.testing.assert_array_equal(read_image(one), pages[2])


class _FailsOnDarkImages(FeatureExtractor):
    """A family whose computation fails, with an error of its own kind, on some images."""

    def __init__(self, error=TypeError, n_jobs=None, batch_size=None, on_error="raise"):
        self.error, self.n_jobs, self.batch_size, self.on_error = error, n_jobs, batch_size, on_error

    def _features(self, image, mask):
        if image.max() < 10:
            raise self.error("cannot handle this")
        return np.array([float(image.mean())])

    def _feature_names(self):
        return ["mean"]


@pytest.mark.parametrize("error", [TypeError, cv2.error, ZeroDivisionError])
def test_any_error_while_computing_names_the_image_and_keeps_its_type(error):
    images = [np.full((8, 8), 100, np.uint8), np.zeros((8, 8), np.uint8)]
    with pytest.raises(error, match=r"^X\[1\]: .*cannot handle this"):
        _FailsOnDarkImages(error, batch_size=1).fit_transform(images)
    with pytest.warns(SkippedImagesWarning, match=r"X\[1\] \(.*cannot handle this"):
        rows = _FailsOnDarkImages(error, on_error="skip").fit_transform(images)
    assert rows[0, 0] == 100 and np.isnan(rows[1, 0])
