"""load_figshare and fetch_figshare on small .mat files written in the release's structure."""

import hashlib
import http.server
import io
import threading
import zipfile

import h5py
import numpy as np
import pytest

from braintumor_features import GLCMFeatures, ImageSequence, with_masks
from braintumor_features.datasets import MatArray, _figshare, fetch_figshare, load_figshare

# (label code, patient id) of slices 1.mat .. 6.mat, and their published folds
SLICES = [(1, "100360"), (1, "100360"), (2, "MR040"), (2, "MR040"), (3, "112649"), (3, "112649")]
FOLDS = [1, 1, 2, 2, 3, 3]


def _image(number):
    """A non-square image (rows != columns), so a missed transpose shows."""
    image = np.zeros((20, 30), np.int16)
    image[2:2 + number, 5:12] = 100 * number
    return image


def write_slice(path, label, pid, image):
    """One slice as MATLAB v7.3 writes cjdata: HDF5, arrays column-major (transposed)."""
    mask = (image > 0).astype(np.uint8)
    rows, cols = np.nonzero(mask)
    border = np.column_stack([cols, rows]).ravel().astype(float)  # [x1, y1, x2, y2, ...]
    with h5py.File(path, "w") as f:
        group = f.create_group("cjdata")
        group.create_dataset("label", data=np.array([[float(label)]]))
        group.create_dataset("PID", data=np.array([[ord(c)] for c in pid], np.uint16))
        group.create_dataset("image", data=image.T)
        group.create_dataset("tumorBorder", data=border[:, None])
        group.create_dataset("tumorMask", data=mask.T)


def write_release(folder, folds=FOLDS):
    folder.mkdir(parents=True, exist_ok=True)
    for number, (label, pid) in enumerate(SLICES, start=1):
        write_slice(folder / f"{number}.mat", label, pid, _image(number))
    with h5py.File(folder / "cvind.mat", "w") as f:
        f.create_dataset("cvind", data=np.array([folds], float))
    return folder


@pytest.fixture
def release(tmp_path):
    return write_release(tmp_path / "release")


def test_load_figshare_labels_patients_and_folds(release):
    data = load_figshare(release)
    assert data.target.tolist() == ["meningioma", "meningioma", "glioma", "glioma",
                                    "pituitary", "pituitary"]
    assert data.groups.tolist() == [pid for _, pid in SLICES]
    assert data.folds.tolist() == FOLDS
    splits = list(data.cv.split(data.images, data.target))
    assert len(splits) == 3
    for train, test in splits:
        assert not set(data.groups[train]) & set(data.groups[test])
    assert data.frame.columns.tolist() == ["file", "label", "subject", "fold"]


def test_images_and_masks_are_read_lazily_in_matlab_orientation(release):
    data = load_figshare(release)
    assert all(isinstance(item, MatArray) for item in data.images + data.masks)
    np.testing.assert_array_equal(np.asarray(data.images[3]), _image(4))
    image, mask = ImageSequence(with_masks(data.images, data.masks)).load(3)
    assert image.shape == (20, 30)
    np.testing.assert_array_equal(mask, _image(4) > 0)
    rows = GLCMFeatures(distances=[1], levels=8, region="mask").fit_transform(
        with_masks(data.images, data.masks))
    assert rows.shape == (6, 17) and np.isfinite(rows).all()


def test_slices_sort_numerically_and_folds_follow_the_numbers(release):
    (release / "cvind.mat").unlink()
    write_slice(release / "10.mat", 2, "MR999", _image(1))
    with h5py.File(release / "cvind.mat", "w") as f:
        f.create_dataset("cvind", data=np.array([FOLDS + [4, 4, 4, 5]], float))
    data = load_figshare(release)
    assert [p.rsplit("/", 1)[1] for p in data.paths][-2:] == ["6.mat", "10.mat"]
    assert data.folds.tolist() == FOLDS + [5]


def test_load_figshare_errors(tmp_path, release):
    with pytest.raises(FileNotFoundError, match="no such data folder"):
        load_figshare(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no figshare slice files"):
        (tmp_path / "empty").mkdir()
        load_figshare(tmp_path / "empty")
    with h5py.File(release / "7.mat", "w") as f:
        f.create_dataset("other", data=[1])
    with pytest.raises(ValueError, match=r"7\.mat: no 'cjdata/label'"):
        load_figshare(release)
    (release / "7.mat").unlink()
    with h5py.File(release / "cvind.mat", "w") as f:
        f.create_dataset("cvind", data=np.array([[1, 2]], float))
    with pytest.raises(ValueError, match="2 folds for slices up to 6.mat"):
        load_figshare(release)
    with pytest.raises(ValueError, match="cannot read 'cjdata/nothing'"):
        np.asarray(MatArray(str(release / "1.mat"), "cjdata/nothing"))


class _Server:
    """A local HTTP server for a dict of path -> bytes; counts the requests."""

    def __init__(self, files):
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


ZIP_NAME = "brainTumorDataPublic_1-6.zip"


@pytest.fixture
def published(tmp_path, monkeypatch):
    """The release as a mirror serves it (a zip of slices and cvind.mat), and a registry of
    their SHA256 sums in place of the real release's."""
    source = write_release(tmp_path / "source")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for number in range(1, 7):
            zipped.write(source / f"{number}.mat", f"brainTumorDataPublic/{number}.mat")
    files = {f"/{ZIP_NAME}": archive.getvalue(), "/cvind.mat": (source / "cvind.mat").read_bytes()}
    registry = {path[1:]: "sha256:" + hashlib.sha256(blob).hexdigest()
                for path, blob in files.items()}
    monkeypatch.setattr(_figshare, "FIGSHARE_REGISTRY", registry)
    return files


def test_the_registry_pins_a_checksum_and_an_address_for_every_file():
    assert set(_figshare.FIGSHARE_REGISTRY) == set(_figshare.FIGSHARE_URLS)
    for known in _figshare.FIGSHARE_REGISTRY.values():
        algorithm, digest = known.split(":")
        assert len(digest) == len(hashlib.new(algorithm).hexdigest())


def test_fetch_figshare_downloads_verifies_and_caches(tmp_path, published):
    with _Server(published) as server:
        data = fetch_figshare(tmp_path / "home", base_url=server.url)
        assert sorted(server.requests) == sorted(published)
        again = fetch_figshare(tmp_path / "home", base_url=server.url)
        assert len(server.requests) == 2  # cached: no second download
    expected = load_figshare(tmp_path / "source").target.tolist()
    assert data.target.tolist() == again.target.tolist() == expected
    assert data.folds.tolist() == FOLDS
    folder = tmp_path / "home" / "figshare_brain_tumor"
    assert not (folder / ZIP_NAME).exists()  # unpacked, then deleted
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.mat")) == sorted(
        ["cvind.mat"] + [f"brainTumorDataPublic/{n}.mat" for n in range(1, 7)])


def test_fetch_figshare_refuses_a_corrupt_download(tmp_path, published):
    published[f"/{ZIP_NAME}"] = published[f"/{ZIP_NAME}"][:-1] + b"x"
    with _Server(published) as server:
        with pytest.raises(OSError, match=rf"{ZIP_NAME} from .*: SHA256 hash of downloaded file "
                                          r"\(.*\) does not match the known hash"):
            fetch_figshare(tmp_path / "home", base_url=server.url)
    folder = tmp_path / "home" / "figshare_brain_tumor"
    assert not (folder / ZIP_NAME).exists() and not list(folder.rglob("*.mat"))
    with pytest.raises(OSError, match="not cached and download_if_missing=False"):
        fetch_figshare(tmp_path / "home", download_if_missing=False)


def test_an_interrupted_fetch_downloads_only_what_it_lacks(tmp_path, published):
    cvind = published.pop("/cvind.mat")
    with _Server(published) as server:
        with pytest.raises(OSError, match="404"):
            fetch_figshare(tmp_path / "home", base_url=server.url + "/")
        published["/cvind.mat"] = cvind
        data = fetch_figshare(tmp_path / "home", base_url=server.url + "/")
        assert server.requests == [f"/{ZIP_NAME}", "/cvind.mat", "/cvind.mat"]
    assert data.folds.tolist() == FOLDS


def test_nothing_is_downloaded_when_download_if_missing_is_false(tmp_path, published):
    with _Server(published) as server:
        with pytest.raises(OSError, match="pass download_if_missing=True"):
            fetch_figshare(tmp_path / "home", download_if_missing=False, base_url=server.url)
        assert server.requests == []
    assert not (tmp_path / "home" / "figshare_brain_tumor").exists()
