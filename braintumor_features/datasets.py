"""Data sets: class-per-folder trees, the figshare release, a synthetic demo set.

Also :func:`find_duplicates`, which finds identical and near-identical
images, so that a train/test split that shares them can be caught.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.datasets import get_data_home
from sklearn.model_selection import PredefinedSplit
from sklearn.utils import Bunch, check_random_state

from .features._extraction import extract
from .images import ImageSequence, Outline
from .preprocessing import to_uint8

__all__ = [
    "load_folder",
    "load_folders",
    "load_figshare",
    "fetch_figshare",
    "make_demo",
    "find_duplicates",
    "shared_duplicates",
    "merge_duplicate_groups",
    "MatArray",
    "IMAGE_SUFFIXES",
    "CLASS_NAMES",
    "FIGSHARE_LABELS",
    "FIGSHARE_ARTICLE",
]

#: File endings ``load_folder`` treats as images.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")

#: The four classes, in the order the demo set uses.
CLASS_NAMES = ("glioma", "meningioma", "no_tumor", "pituitary")


def _outline(text):
    if not isinstance(text, str) or not text.strip():
        return None
    points = json.loads(text)
    return Outline(points) if len(points) >= 3 else None


def load_folder(path) -> Bunch:
    """Load a class-per-folder image tree (``<path>/<class>/<image>``).

    When ``<path>/metadata.csv`` exists (columns ``file``, ``label`` and
    optionally ``subject``, ``source``, ``tumor_border``) it lists the
    images; otherwise every image file one folder deep is used and its
    folder name is its label.

    Parameters
    ----------
    path : str or path-like
        The data folder.

    Returns
    -------
    Bunch with
        paths : list of str
            Image files.
        target : ndarray of str
            Class names.
        target_names : ndarray of str
            Sorted distinct class names.
        groups : ndarray of str
            Patient (``subject``) where known, else one group per file: pass it
            as ``groups`` to grouped cross-validation.
        masks : list of Outline or None
            Tumour outlines (filled into masks only when an image is loaded).
        frame : pandas.DataFrame
            One row per image with ``file``, ``label``, ``subject`` and, where
            given, ``source``.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    ValueError
        If it holds no images.

    Examples
    --------
    >>> import cv2, numpy as np, os, tempfile
    >>> from braintumor_features.datasets import load_folder
    >>> root = tempfile.mkdtemp()
    >>> for label in ("glioma", "no_tumor"):
    ...     os.makedirs(os.path.join(root, label))
    ...     _ = cv2.imwrite(os.path.join(root, label, "a.png"), np.zeros((8, 8), np.uint8))
    >>> data = load_folder(root)
    >>> data.target.tolist(), data.target_names.tolist()
    (['glioma', 'no_tumor'], ['glioma', 'no_tumor'])
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such data folder")
    metadata = root / "metadata.csv"
    if metadata.exists():
        frame = pd.read_csv(metadata, dtype={"subject": str})
        missing = {"file", "label"} - set(frame.columns)
        if missing:
            raise ValueError(f"{metadata}: missing columns {sorted(missing)}")
    else:
        files = sorted(
            p for p in root.glob("*/*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        frame = pd.DataFrame(
            {"file": [p.relative_to(root).as_posix() for p in files],
             "label": [p.parent.name for p in files]}
        )
    if frame.empty:
        raise ValueError(
            f"{root}: no images found; expected <class>/<image> files "
            f"({', '.join(IMAGE_SUFFIXES)}) or a metadata.csv"
        )
    if "subject" not in frame.columns:
        frame["subject"] = np.nan
    frame["subject"] = frame["subject"].where(frame["subject"].notna(), "file:" + frame["file"])
    borders = frame.pop("tumor_border") if "tumor_border" in frame.columns else None
    masks = [None] * len(frame) if borders is None else [_outline(text) for text in borders]
    target = frame["label"].to_numpy(dtype=str)
    return Bunch(
        paths=[str(root / f) for f in frame["file"]],
        target=target,
        target_names=np.unique(target),
        groups=frame["subject"].to_numpy(dtype=str),
        masks=masks,
        frame=frame,
    )


def _folder_sources(frame, root):
    """The source of each row (metadata's ``source`` where given, else the folder's name).

    Also returns which rows the metadata named.
    """
    given = frame["source"] if "source" in frame.columns else pd.Series(np.nan, index=frame.index)
    named = given.notna().to_numpy()
    return given.where(named, root.resolve().name).to_numpy(dtype=str), named


def _check_folders_apart(roots, found):
    """Refuse a folder given twice, and a source name two folders share unless both declare it.

    Subjects are only kept apart by their source, so a source shared by
    folders that do not declare it (two folders of the same name) would
    merge unrelated patients.
    """
    resolved = [root.resolve() for root in roots]
    for index, folder in enumerate(resolved):
        if folder in resolved[:index]:
            raise ValueError(f"{roots[index]}: data folder given twice")
    owners = {}
    for root, (sources, named) in zip(roots, found):
        for name in map(str, np.unique(sources)):
            declared = bool(named[sources == name].all())
            if name in owners and not (declared and owners[name][1]):
                raise ValueError(
                    f"{owners[name][0]} and {root}: both give source {name!r} (a folder name "
                    "where metadata.csv names no source), so their subjects would be mixed; "
                    "rename one folder or give it a metadata.csv with a source column"
                )
            owners.setdefault(name, (root, declared))


def load_folders(paths) -> Bunch:
    """Load several class-per-folder trees as one data set, keeping track of their sources.

    Each folder is read with :func:`load_folder`. The source of an image is
    the ``source`` column of its folder's ``metadata.csv`` where given, else
    the folder's name. Groups are ``"<source>:<subject>"``, so patients of
    different sources never share a group, while folders whose
    ``metadata.csv`` files name the same source share its patient ids.

    Parameters
    ----------
    paths : str, path-like or sequence of them
        The data folders (one path is one folder).

    Returns
    -------
    Bunch with
        paths : list of str
            Image files, folder after folder.
        target : ndarray of str
            Class names.
        target_names : ndarray of str
            Sorted distinct class names of all folders.
        groups : ndarray of str
            ``"<source>:<subject>"`` (see :func:`load_folder` for the subject):
            pass it as ``groups`` to grouped cross-validation.
        masks : list of Outline or None
            Tumour outlines.
        frame : pandas.DataFrame
            The folders' frames one after the other, ``file`` relative to its
            folder and ``source`` filled in.
        sources : ndarray of str
            The source of each image: pass it to
            :func:`~braintumor_features.evaluation.leave_one_source_out` to
            score each source with a model trained on the others.

    Raises
    ------
    FileNotFoundError
        If a folder does not exist.
    ValueError
        If no folder is given, a folder holds no images or is given twice,
        or two folders without a ``source`` column have the same name.

    See Also
    --------
    load_folder : one folder.

    Examples
    --------
    >>> import cv2, numpy as np, os, tempfile
    >>> from braintumor_features.datasets import load_folders
    >>> root = tempfile.mkdtemp()
    >>> for folder, label in [("hospital_a", "glioma"), ("hospital_b", "no_tumor")]:
    ...     os.makedirs(os.path.join(root, folder, label))
    ...     _ = cv2.imwrite(os.path.join(root, folder, label, "a.png"), np.zeros((8, 8), np.uint8))
    >>> data = load_folders([os.path.join(root, "hospital_a"), os.path.join(root, "hospital_b")])
    >>> data.sources.tolist(), data.target_names.tolist()
    (['hospital_a', 'hospital_b'], ['glioma', 'no_tumor'])
    >>> data.groups.tolist()
    ['hospital_a:file:glioma/a.png', 'hospital_b:file:no_tumor/a.png']
    """
    roots = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    if not roots:
        raise ValueError("load_folders needs at least one data folder")
    parts = [load_folder(root) for root in roots]
    found = [_folder_sources(part.frame, root) for part, root in zip(parts, roots)]
    _check_folders_apart(roots, found)
    frame = pd.concat([part.frame.assign(source=sources)
                       for part, (sources, _) in zip(parts, found)], ignore_index=True)
    sources = frame["source"].to_numpy(dtype=str)
    subjects = np.concatenate([part.groups for part in parts])
    target = np.concatenate([part.target for part in parts])
    return Bunch(
        paths=[path for part in parts for path in part.paths],
        target=target,
        target_names=np.unique(target),
        groups=np.char.add(np.char.add(sources, ":"), subjects),
        masks=[mask for part in parts for mask in part.masks],
        frame=frame,
        sources=sources,
    )


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


def _ellipse(shape, center, axes, angle=0.0):
    mask = np.zeros(shape, np.uint8)
    center = (int(round(center[1])), int(round(center[0])))
    axes = (max(1, int(round(axes[1]))), max(1, int(round(axes[0]))))
    cv2.ellipse(mask, center, axes, angle, 0, 360, 1, -1)
    return mask.astype(bool)


def _demo_slice(label, size, rng):
    """One synthetic axial slice: skull, brain, ventricles and a class lesion."""
    shape = (size, size)
    c = size / 2 + rng.normal(0, size * 0.02, 2)
    head_axes = np.array([0.42, 0.36]) * size * rng.uniform(0.9, 1.05, 2)
    image = np.zeros(shape, np.float32)
    head = _ellipse(shape, c, head_axes)
    brain = _ellipse(shape, c, head_axes * 0.9)
    image[head] = 170  # scalp and skull rim
    image[brain] = 95
    noise = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), size / 60)
    image[brain] += 25 * noise[brain] / (noise.std() + 1e-6)
    for side in (-1, 1):  # lateral ventricles
        vent = _ellipse(shape, c + [-size * 0.03, side * size * 0.06], [size * 0.09, size * 0.03])
        image[vent] = 40
    lesion = np.zeros(shape, bool)
    if label == "glioma":  # irregular, heterogeneous, ring-enhancing, inside a hemisphere
        side = rng.choice([-1, 1])
        centre = c + [rng.uniform(-0.12, 0.05) * size, side * rng.uniform(0.12, 0.2) * size]
        radius = rng.uniform(0.08, 0.13) * size
        lesion = _ellipse(shape, centre, [radius, radius * rng.uniform(0.7, 1.0)],
                          rng.uniform(0, 180))
        core = _ellipse(shape, centre, [radius * 0.6, radius * 0.5])
        image[lesion] = 175
        image[core] = 60 + 30 * rng.random(core.sum())
    elif label == "meningioma":  # round, bright, homogeneous, against the skull
        angle = rng.uniform(0, 2 * np.pi)
        radius = rng.uniform(0.06, 0.1) * size
        offset = (head_axes * 0.9 - radius) * [np.sin(angle), np.cos(angle)]
        lesion = _ellipse(shape, c + offset, [radius, radius]) & brain
        image[lesion] = 200
    elif label == "pituitary":  # small bright midline blob, low in the head
        radius = rng.uniform(0.05, 0.07) * size
        lesion = _ellipse(shape, c + [size * 0.22, 0], [radius, radius * 1.3])
        image[lesion] = 225
    image += rng.normal(0, 6, shape).astype(np.float32)
    image[~head] = np.abs(rng.normal(0, 3, (~head).sum()))
    return np.clip(image, 0, 255).astype(np.uint8), (lesion if lesion.any() else None)


def make_demo(n_samples=200, *, image_size=128, slices_per_subject=2, random_state=None) -> Bunch:
    """A small synthetic MRI-like data set, made on the fly (no download).

    Each image is an axial slice: a head ellipse with a bright rim,
    textured brain and two dark ventricles. Glioma adds an irregular
    ring-enhancing mass with a dark core inside a hemisphere; meningioma a
    round bright homogeneous mass against the skull; pituitary a small
    bright blob on the midline low in the head; no_tumor nothing.

    Parameters
    ----------
    n_samples : int, default=200
        Number of images, spread evenly over the four classes.
    image_size : int, default=128
        Side of the square images.
    slices_per_subject : int, default=2
        Consecutive images of one class share a subject id (``groups``), as
        slices of one patient do.
    random_state : int, RandomState or None

    Returns
    -------
    Bunch with ``images`` (list of uint8 arrays), ``target``,
    ``target_names``, ``groups`` and ``masks`` (bool arrays, None for
    no_tumor).

    Examples
    --------
    >>> from braintumor_features.datasets import make_demo
    >>> demo = make_demo(n_samples=8, random_state=0)
    >>> len(demo.images), demo.images[0].shape, demo.target_names.tolist()
    (8, (128, 128), ['glioma', 'meningioma', 'no_tumor', 'pituitary'])
    """
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    labels = [CLASS_NAMES[i % len(CLASS_NAMES)] for i in range(n_samples)]
    labels.sort(key=CLASS_NAMES.index)
    images, masks, groups = [], [], []
    for index, label in enumerate(labels):
        image, mask = _demo_slice(label, image_size, rng)
        images.append(image)
        masks.append(mask)
        groups.append(f"{label}{(index - labels.index(label)) // slices_per_subject:03d}")
    target = np.asarray(labels)
    return Bunch(
        images=images, target=target, target_names=np.unique(target),
        groups=np.asarray(groups), masks=masks,
    )


class _Thumbnail:
    """Picklable per-image function: a ``side`` x ``side`` thumbnail plus the image shape."""

    def __init__(self, side):
        self.side = side

    def __call__(self, image, mask):
        small = cv2.resize(to_uint8(image).astype(np.float32), (self.side, self.side),
                           interpolation=cv2.INTER_AREA)
        return np.concatenate([small.ravel(), image.shape])


def _exact_pairs(images, thumbnails):
    """Pairs of pixel-identical images: same thumbnail and shape, then compared in full."""
    buckets = {}
    for index, row in enumerate(thumbnails):
        buckets.setdefault(row.tobytes(), []).append(index)
    pairs = []
    for members in buckets.values():
        loaded = {i: images.load(i)[0] for i in members} if len(members) > 1 else {}
        for a, i in enumerate(members):
            pairs += [(i, j) for j in members[a + 1:] if np.array_equal(loaded[i], loaded[j])]
    return pairs


def _similar_pairs(vectors, threshold, block=1024):
    """Pairs ``i < j`` whose unit vectors have a dot product of at least ``threshold``."""
    first, second, score = [], [], []
    for start in range(0, len(vectors), block):
        similarity = vectors[start:start + block] @ vectors.T
        rows, cols = np.nonzero(similarity >= threshold)
        keep = cols > rows + start
        first.append(rows[keep] + start)
        second.append(cols[keep])
        score.append(similarity[rows[keep], cols[keep]])
    return np.concatenate(first), np.concatenate(second), np.concatenate(score)


def find_duplicates(images, *, threshold=0.99, thumbnail_size=32, n_jobs=None) -> Bunch:
    """Find identical and near-identical images.

    Every image is reduced to a ``thumbnail_size`` square thumbnail (grey
    values scaled to 0..255, area-averaged); two images are near-duplicates
    when the Pearson correlation of their thumbnails is at least
    ``threshold``, which survives re-encoding, resizing and brightness or
    contrast changes. Pairs with identical thumbnails are compared pixel by
    pixel to find exact duplicates. Duplicate pairs are joined into groups
    (connected components).

    Parameters
    ----------
    images : sequence
        Paths, arrays or :class:`~braintumor_features.images.MaskedImage`
        items (anything that is a valid ``X``).
    threshold : float, default=0.99
        Smallest thumbnail correlation of a near-duplicate pair. On
        ../shared/data/brain-mri, resized copies correlate above 0.999, while
        neighbouring slices of one patient reach 0.97 to 0.99.
    thumbnail_size : int, default=32
        Side of the thumbnails.
    n_jobs : int, default=None
        Parallel workers for reading the images.

    Returns
    -------
    Bunch with
        groups : list of ndarray of int
            Indices of each group of duplicates (two or more images), largest first.
        kinds : ndarray of str
            ``"exact"`` when every image of the group is pixel-identical, else ``"near"``.
        pairs : pandas.DataFrame
            ``first``, ``second``, ``correlation`` and ``exact`` per duplicate pair.
        labels : ndarray of int
            Group number of every image, -1 for images without a duplicate.

    See Also
    --------
    shared_duplicates : the groups that a train/test split puts on both sides.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.datasets import find_duplicates
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.integers(0, 256, (2, 64, 64)).astype(np.uint8)
    >>> found = find_duplicates([a, b, a.copy(), (a // 2 + 10).astype(np.uint8)])
    >>> [g.tolist() for g in found.groups], found.kinds.tolist()
    ([[0, 2, 3]], ['near'])
    >>> found.pairs.query("exact")[["first", "second"]].values.tolist()
    [[0, 2]]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if thumbnail_size < 2:
        raise ValueError(f"thumbnail_size must be at least 2, got {thumbnail_size!r}")
    sequence = ImageSequence(images)
    rows, _ = extract(sequence, _Thumbnail(thumbnail_size),
                      n_features=thumbnail_size**2 + 2, n_jobs=n_jobs)
    exact = _exact_pairs(sequence, rows)
    vectors = rows[:, :-2] - rows[:, :-2].mean(axis=1, keepdims=True)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    first, second, score = _similar_pairs(vectors, threshold)
    pairs = pd.DataFrame({"first": first, "second": second, "correlation": score})
    exact_frame = pd.DataFrame(exact, columns=["first", "second"], dtype=int)
    pairs = pairs.merge(exact_frame.assign(exact=True), on=["first", "second"], how="outer")
    pairs["exact"] = pairs["exact"].astype("boolean").fillna(False).astype(bool)
    pairs["correlation"] = pairs["correlation"].fillna(1.0)
    n = len(sequence)
    graph = coo_matrix((np.ones(len(pairs)), (pairs["first"], pairs["second"])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    order = sorted((c for c in range(len(sizes)) if sizes[c] > 1), key=lambda c: (-sizes[c], c))
    groups = [np.flatnonzero(component == c) for c in order]
    labels = np.full(n, -1)
    for number, members in enumerate(groups):
        labels[members] = number
    exact_counts = np.bincount(labels[exact_frame["first"]], minlength=len(groups))
    kinds = np.array(["exact" if exact_counts[k] == len(g) - 1 else "near"
                      for k, g in enumerate(groups)], dtype=object).astype(str)
    return Bunch(groups=groups, kinds=kinds, pairs=pairs.reset_index(drop=True), labels=labels)


def shared_duplicates(duplicates, train, test) -> list:
    """The duplicate groups that a split puts on both the train and the test side.

    Parameters
    ----------
    duplicates : Bunch
        The result of :func:`find_duplicates` over the whole data set.
    train, test : array-like of int
        Indices of the two sides (as a cross-validation splitter yields them).

    Returns
    -------
    list of ndarray of int
        The groups with members on both sides; empty when the split is clean.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from braintumor_features.datasets import shared_duplicates
    >>> found = Bunch(labels=np.array([0, -1, 0, 1, 1]), groups=[np.array([0, 2]), np.array([3, 4])])
    >>> [g.tolist() for g in shared_duplicates(found, train=[0, 1, 3, 4], test=[2])]
    [[0, 2]]
    """
    labels = np.asarray(duplicates.labels)
    both = np.intersect1d(labels[np.asarray(train, dtype=int)], labels[np.asarray(test, dtype=int)])
    return [duplicates.groups[k] for k in both if k >= 0]


def merge_duplicate_groups(groups, duplicates) -> np.ndarray:
    """Join the cross-validation groups that duplicates connect.

    Patients whose images duplicate each other (or files, where each file is
    its own group) become one group, so grouped cross-validation keeps all
    copies of an image on one side of every split.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Patient (or file) of each image.
    duplicates : Bunch
        The result of :func:`find_duplicates` over the same images.

    Returns
    -------
    ndarray of str
        The merged group of each image: the first (sorted) original group
        of its merged set.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from braintumor_features.datasets import merge_duplicate_groups
    >>> found = Bunch(labels=np.array([0, -1, -1, 0]))
    >>> merge_duplicate_groups(["a", "b", "c", "d"], found).tolist()
    ['a', 'b', 'c', 'a']
    """
    groups = np.asarray(groups).astype(str)
    names, codes = np.unique(groups, return_inverse=True)
    labels = np.asarray(duplicates.labels)
    linked = labels >= 0
    n = len(names)
    graph = coo_matrix(
        (np.ones(linked.sum()), (codes[linked], n + labels[linked])),
        shape=(n + labels.max() + 1, n + labels.max() + 1),
    )
    _, component = connected_components(graph, directed=False)
    first = {}
    for code in range(n):  # names are sorted: the first seen is the smallest
        first.setdefault(component[code], names[code])
    return np.array([first[component[c]] for c in codes])
