"""The figshare brain-tumour release (Cheng et al.): reading its .mat files and fetching it."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home
from sklearn.model_selection import PredefinedSplit
from sklearn.utils import Bunch

__all__ = ["FIGSHARE_LABELS", "FIGSHARE_ARTICLE", "MatArray", "load_figshare", "fetch_figshare"]

#: The figshare release's ``cjdata.label`` codes.
FIGSHARE_LABELS = {1: "meningioma", 2: "glioma", 3: "pituitary"}


#: The figshare API record of the release (Cheng et al., doi 10.6084/m9.figshare.1512427).
FIGSHARE_ARTICLE = "https://api.figshare.com/v2/articles/1512427"


@dataclass(frozen=True)
class MatArray:
    """One array of a MATLAB v7.3 file, read only when it is used.

    The figshare release keeps each slice in its own ``.mat`` file; a
    ``MatArray`` names the file and the field and reads the array when NumPy
    asks for it (``np.asarray(item)``), so a list of them is a valid ``X``
    (and its masks) without holding thousands of images in memory. MATLAB
    stores arrays column-major, so the HDF5 dataset is transposed back to
    MATLAB's (row, column) orientation.

    Parameters
    ----------
    path : str
        The ``.mat`` file.
    field : str
        Path of the dataset inside the file, e.g. ``"cjdata/image"``.

    Examples
    --------
    >>> import h5py, numpy as np, os, tempfile
    >>> from braintumor_features.datasets import MatArray
    >>> path = os.path.join(tempfile.mkdtemp(), "1.mat")
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("cjdata/image", data=np.arange(6).reshape(3, 2))
    >>> np.asarray(MatArray(path, "cjdata/image")).shape  # MATLAB's 2x3 image
    (2, 3)
    """

    path: str
    field: str

    def __array__(self, dtype=None, copy=None):
        try:
            with h5py.File(self.path, "r") as file:
                array = file[self.field][()].T
        except (OSError, KeyError) as exc:
            raise ValueError(
                f"{self.path}: cannot read {self.field!r} ({exc}); expected a MATLAB v7.3 file "
                "of the figshare brain tumour release"
            ) from None
        return array if dtype is None else array.astype(dtype)

    def __str__(self):
        return f"{self.path}:{self.field}"


def _mat_scalar(file, field, path):
    if field not in file:
        raise ValueError(
            f"{path}: no {field!r}; expected a figshare brain tumour .mat file "
            "with cjdata.label, cjdata.PID, cjdata.image and cjdata.tumorMask"
        )
    return file[field][()]


def _read_cvind(path):
    with h5py.File(path, "r") as file:
        return np.asarray(_mat_scalar(file, "cvind", path)).ravel().astype(int)


def load_figshare(path) -> Bunch:
    """Load the figshare brain tumour release (Cheng et al. 2015).

    The release has one MATLAB v7.3 file per slice (``1.mat`` ...
    ``3064.mat``) holding a struct ``cjdata`` with ``label`` (1 meningioma,
    2 glioma, 3 pituitary), ``PID`` (patient id), ``image``,
    ``tumorBorder`` and ``tumorMask``, and ``cvind.mat``, the five folds of
    the published experiments (patients never span two folds). Only labels
    and patient ids are read here; images and masks are read when used.

    Parameters
    ----------
    path : str or path-like
        Folder holding the ``.mat`` files (in it or in sub-folders), e.g. the
        unpacked zip archives of the release.

    Returns
    -------
    Bunch with
        images : list of MatArray
            The slices, read on use: a valid ``X``.
        masks : list of MatArray
            The tumour masks (``cjdata.tumorMask``), read on use; pair them
            with :func:`~braintumor_features.images.with_masks`.
        paths : list of str
            The ``.mat`` files, in slice-number order.
        target : ndarray of str
            ``"meningioma"``, ``"glioma"`` or ``"pituitary"``.
        target_names : ndarray of str
            Sorted distinct class names.
        groups : ndarray of str
            Patient ids (``cjdata.PID``).
        folds : ndarray of int or None
            The published fold (1 to 5) of each slice, from ``cvind.mat``;
            None when that file is absent.
        cv : sklearn.model_selection.PredefinedSplit or None
            Those folds, to pass as ``cv`` to cross-validation.
        frame : pandas.DataFrame
            ``file``, ``label``, ``subject`` and ``fold`` per slice.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist or holds no ``.mat`` slice files.
    ValueError
        If a file lacks the ``cjdata`` fields, or ``cvind.mat`` does not give
        one fold per slice.

    Examples
    --------
    >>> import h5py, numpy as np, os, tempfile
    >>> from braintumor_features.datasets import load_figshare
    >>> root = tempfile.mkdtemp()
    >>> for number, label in [(1, 1), (2, 3)]:
    ...     with h5py.File(os.path.join(root, f"{number}.mat"), "w") as f:
    ...         _ = f.create_dataset("cjdata/label", data=[[float(label)]])
    ...         _ = f.create_dataset("cjdata/PID", data=np.array([[ord(c)] for c in "P7"], np.uint16))
    ...         _ = f.create_dataset("cjdata/image", data=np.zeros((16, 16), np.int16))
    >>> data = load_figshare(root)
    >>> data.target.tolist(), data.groups.tolist(), data.folds
    (['meningioma', 'pituitary'], ['P7', 'P7'], None)
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such data folder")
    files = sorted(
        (p for p in root.rglob("*.mat") if p.stem.isdigit()), key=lambda p: int(p.stem)
    )
    if not files:
        raise FileNotFoundError(
            f"{root}: no figshare slice files (1.mat, 2.mat, ...); unpack the release's zip "
            "archives into this folder, or use fetch_figshare()"
        )
    labels, subjects = [], []
    for file in files:
        with h5py.File(file, "r") as mat:
            code = int(np.asarray(_mat_scalar(mat, "cjdata/label", file)).ravel()[0])
            pid = np.asarray(_mat_scalar(mat, "cjdata/PID", file)).ravel()
        if code not in FIGSHARE_LABELS:
            raise ValueError(f"{file}: label {code} is not one of {sorted(FIGSHARE_LABELS)}")
        labels.append(FIGSHARE_LABELS[code])
        subjects.append("".join(map(chr, pid)))
    folds = cv = None
    cvind = next(root.rglob("cvind.mat"), None)
    if cvind is not None:
        folds = _read_cvind(cvind)
        numbers = np.array([int(p.stem) for p in files])
        if numbers.max() > len(folds):
            raise ValueError(
                f"{cvind}: {len(folds)} folds for slices up to {numbers.max()}.mat; "
                "use the cvind.mat of the same release"
            )
        folds = folds[numbers - 1]
        cv = PredefinedSplit(folds - 1)
    target = np.asarray(labels)
    paths = [str(p) for p in files]
    return Bunch(
        images=[MatArray(p, "cjdata/image") for p in paths],
        masks=[MatArray(p, "cjdata/tumorMask") for p in paths],
        paths=paths,
        target=target,
        target_names=np.unique(target),
        groups=np.asarray(subjects),
        folds=folds,
        cv=cv,
        frame=pd.DataFrame(
            {"file": [p.relative_to(root).as_posix() for p in files], "label": target,
             "subject": subjects, "fold": folds}
        ),
    )


def _download(url, destination, md5):
    digest = hashlib.md5()
    with urllib.request.urlopen(url) as response, open(destination, "wb") as out:
        for chunk in iter(lambda: response.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != md5:
        raise OSError(
            f"{url}: checksum mismatch (md5 {digest.hexdigest()}, published {md5}); the download "
            "is corrupt or the release changed: delete the partial data and try again"
        )


def fetch_figshare(data_home=None, *, download_if_missing=True, url=FIGSHARE_ARTICLE) -> Bunch:
    """Download (once) and load the figshare brain tumour release.

    The file list, download addresses and MD5 checksums come from the
    release's figshare API record; every file is checked against its
    published checksum, the zip archives are unpacked and the result is
    cached under ``data_home``, so later calls read from disk.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder; None means scikit-learn's data home
        (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``). The release is
        kept in its ``figshare_brain_tumor`` sub-folder (about 880 MB).
    download_if_missing : bool, default=True
        If False, raise :class:`OSError` when the data are not cached.
    url : str, default=FIGSHARE_ARTICLE
        The API record listing the files (for mirrors and tests).

    Returns
    -------
    Bunch
        As :func:`load_figshare`.

    Raises
    ------
    OSError
        When the data are missing and ``download_if_missing`` is False, or a
        download fails or does not match its checksum.

    Examples
    --------
    >>> from braintumor_features.datasets import fetch_figshare
    >>> data = fetch_figshare()  # doctest: +SKIP
    >>> data.target.shape, data.cv.get_n_splits()  # doctest: +SKIP
    ((3064,), 5)
    """
    folder = Path(get_data_home(data_home)) / "figshare_brain_tumor"
    complete = folder / ".complete"
    if not complete.exists():
        if not download_if_missing:
            raise OSError(f"{folder}: the figshare release is not cached and download_if_missing=False")
        folder.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url) as response:
            record = json.load(response)
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            for entry in record["files"]:
                name = Path(entry["name"]).name
                if not entry.get("computed_md5"):
                    raise OSError(
                        f"{url}: the record publishes no checksum for {name}; not downloading "
                        "data that cannot be verified"
                    )
                download = Path(scratch) / name
                _download(entry["download_url"], download, entry["computed_md5"])
                if zipfile.is_zipfile(download):
                    _unpack_mat_files(download, folder)
                else:
                    shutil.move(download, folder / name)
        complete.write_text(url + "\n")
    return load_figshare(folder)


def _unpack_mat_files(archive, folder):
    """Extract the ``.mat`` members of a zip flat into ``folder`` (no paths from the archive)."""
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            name = Path(member.filename).name
            if name.endswith(".mat") and not member.is_dir():
                with zipped.open(member) as source, open(folder / name, "wb") as target:
                    shutil.copyfileobj(source, target)
