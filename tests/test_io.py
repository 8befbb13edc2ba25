import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from braintumor_features import ImageReadError, read_image
from braintumor_features.io import image_size, read_stored, to_gray


def test_reads_rgb_as_gray_and_keeps_16_bit(tmp_path):
    rgb = np.zeros((5, 6, 3), np.uint8)
    rgb[..., 2] = 255  # red in OpenCV's BGR order
    cv2.imwrite(str(tmp_path / "red.png"), rgb)
    gray = read_image(tmp_path / "red.png")
    assert gray.shape == (5, 6) and gray.dtype == np.uint8
    assert gray[0, 0] == round(0.299 * 255)  # ITU-R 601 luma of pure red
    deep = (np.arange(30, dtype=np.uint16).reshape(5, 6) * 2000)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    np.testing.assert_array_equal(read_image(tmp_path / "deep.png"), deep)


def test_non_ascii_path_with_spaces(tmp_path):
    folder = tmp_path / "méningiome données"
    folder.mkdir()
    _, encoded = cv2.imencode(".png", np.full((4, 4), 9, np.uint8))
    (folder / "coupe 1.png").write_bytes(encoded.tobytes())
    assert read_image(folder / "coupe 1.png").max() == 9


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "empty"), (b"this is text, not a picture", "not a readable image")],
)
def test_bad_files_name_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=rf"bad\.png.*{reason}"):
        read_image(path)


def test_truncated_jpeg_names_the_file(tmp_path):
    _, encoded = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8))
    path = tmp_path / "cut.jpg"
    path.write_bytes(encoded.tobytes()[:200])
    with pytest.raises(ImageReadError, match="cut.jpg"):
        read_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.png")


@pytest.mark.parametrize(
    "array,message",
    [
        (np.zeros((3, 4, 5)), "2-D slice"),
        (np.zeros((0, 4)), "empty"),
        (np.array([[1.0, np.nan]]), "NaN"),
    ],
)
def test_unusable_arrays_raise_clear_errors(array, message):
    with pytest.raises(ValueError, match=message):
        to_gray(array, name="X[3]")


def test_float64_becomes_float32():
    assert to_gray(np.zeros((2, 2))).dtype == np.float32


def test_read_stored_keeps_colour_in_rgb_order_and_the_bit_depth(tmp_path):
    bgr = np.zeros((3, 4, 3), np.uint16)
    bgr[..., 0] = 60000  # blue in OpenCV's order
    cv2.imwrite(str(tmp_path / "blue.png"), bgr)
    stored = read_stored(tmp_path / "blue.png")
    assert stored.dtype == np.uint16 and stored[0, 0].tolist() == [0, 0, 60000]


def test_sizes_beyond_pillows_own_limit_are_read_without_changing_it():
    """Pillow refuses to open a file over twice Image.MAX_IMAGE_PIXELS, even lazily;
    the header is still read (this library has a lower limit of its own)."""
    data = bytearray(cv2.imencode(".jpg", np.zeros((16, 16), np.uint8))[1].tobytes())
    start = data.index(b"\xff\xc0")  # start of frame: height and width at +5
    data[start + 5 : start + 9] = (30000).to_bytes(2, "big") + (20000).to_bytes(2, "big")
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        assert image_size(np.frombuffer(bytes(data), np.uint8)) == (30000, 20000)
    assert Image.MAX_IMAGE_PIXELS == limit
    assert image_size(np.frombuffer(b"GIF89a broken", np.uint8)) is None
