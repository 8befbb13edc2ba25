"""The figshare brain-tumour release (Cheng et al.): reading its .mat files and fetching it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home
from sklearn.model_selection import PredefinedSplit
from sklearn.utils import Bunch

__all__ = [
    "FIGSHARE_LABELS", "FIGSHARE_ARTICLE", "FIGSHARE_REGISTRY", "FIGSHARE_URLS", "MatArray",
    "load_figshare", "fetch_figshare",
]

#: The figshare release's ``cjdata.label`` codes.
FIGSHARE_LABELS = {1: "meningioma", 2: "glioma", 3: "pituitary"}


#: The release's page (Cheng et al., figshare article 1512427).
FIGSHARE_ARTICLE = "https://doi.org/10.6084/m9.figshare.1512427"

# Each file of the release: its pinned checksum, and its figshare file id.
_FILES = {
    "brainTumorDataPublic_1-766.zip": ("md5:74b949ad33f042e6e103523091cd1428", 3381290),
    "brainTumorDataPublic_767-1532.zip": ("md5:7e8a875500d2c8a346f270538e29890e", 3381296),
    "brainTumorDataPublic_1533-2298.zip": ("md5:8227bf6080cb71f15a88be8d25c79ae7", 3381293),
    "brainTumorDataPublic_2299-3064.zip": ("md5:b378a80d6174e5317d59eb28430c6652", 3381302),
    "cvind.mat": ("md5:5ea82eb3212c9fcb84290ccf0beb486d", 7005344),
}

#: The files :func:`fetch_figshare` downloads, with their pinned checksums (a
#: :mod:`pooch` registry): the MD5 sums figshare publishes for them, as recorded
#: by several independent projects; see the function's notes about SHA256.
FIGSHARE_REGISTRY = {name: known for name, (known, _) in _FILES.items()}

#: Where figshare serves each file of ``FIGSHARE_REGISTRY`` (by its file id).
FIGSHARE_URLS = {name: f"https://ndownloader.figshare.com/files/{file_id}"
                 for name, (_, file_id) in _FILES.items()}


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


def fetch_figshare(data_home=None, *, download_if_missing=True, base_url=None) -> Bunch:
    """Download (once) and load the figshare brain tumour release.

    The release's files are fetched with :mod:`pooch` and each is checked
    against its checksum pinned in ``FIGSHARE_REGISTRY`` (not one read from
    the remote record, so a changed release is refused too); the zip
    archives are unpacked and deleted once every file is in place, and the
    result is cached under ``data_home``, so later calls read from disk. A
    run that was interrupted fetches only the files it still lacks.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Cache folder; None means scikit-learn's data home
        (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``). The release is
        kept in its ``figshare_brain_tumor`` sub-folder (about 880 MB).
    download_if_missing : bool, default=True
        If False, raise :class:`OSError` when the data are not cached,
        without downloading anything.
    base_url : str, default=None
        A mirror serving the release's files under their names
        (``base_url + "cvind.mat"``, ...); None downloads them from figshare
        (``FIGSHARE_URLS``). The pinned checksums apply to any source.

    Returns
    -------
    Bunch
        As :func:`load_figshare`.

    Raises
    ------
    OSError
        When the data are missing and ``download_if_missing`` is False, or a
        download fails or does not match its pinned checksum.

    Notes
    -----
    The checksums are the MD5 sums figshare publishes for the files of
    `article 1512427 <https://doi.org/10.6084/m9.figshare.1512427>`_. Pooch
    also takes SHA256 sums (``"sha256:..."``), which should replace them once
    computed, with :func:`pooch.file_hash`, from a verified download.

    Examples
    --------
    >>> from braintumor_features.datasets import fetch_figshare
    >>> data = fetch_figshare()  # doctest: +SKIP
    >>> data.target.shape, data.cv.get_n_splits()  # doctest: +SKIP
    ((3064,), 5)
    """
    folder = Path(get_data_home(data_home)) / "figshare_brain_tumor"
    complete = folder / ".complete"
    if complete.exists():
        return load_figshare(folder)
    if not download_if_missing:
        raise OSError(
            f"{folder}: the figshare release is not cached and download_if_missing=False; "
            f"pass download_if_missing=True, or download the files of {FIGSHARE_ARTICLE} "
            "yourself and read them with load_figshare(folder)"
        )
    import pooch  # here: it loads tqdm's notebook bars, which importing the library should not

    release = pooch.create(
        path=folder,
        base_url="" if base_url is None else base_url.rstrip("/") + "/",
        registry=FIGSHARE_REGISTRY,
        urls=FIGSHARE_URLS if base_url is None else None,
    )
    archives = [name for name in release.registry if name.endswith(".zip")]
    for name in release.registry:
        unzip = pooch.Unzip(extract_dir=".") if name in archives else None
        try:
            release.fetch(name, processor=unzip)
        except ValueError as exc:  # pooch's refusal of a file that fails its checksum
            raise OSError(f"{name} from {release.get_url(name)}: {exc}") from None
    for name in archives:  # the slices are unpacked: the archives are not needed again
        (folder / name).unlink()
    complete.write_text("".join(f"{name} {known}\n" for name, known in release.registry.items()))
    return load_figshare(folder)
