"""Class-per-folder trees with an optional metadata.csv (subjects, sources, tumour outlines)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ..exceptions import ImageReadError
from ..images import Outline
from ..io import VolumeSlice, is_dicom, volume_slices

__all__ = ["IMAGE_SUFFIXES", "CLASS_NAMES", "is_image_file", "load_folder", "load_folders"]

#: File endings ``load_folder`` treats as images; DICOM files without an
#: extension are recognised by their preamble.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".dcm", ".nii", ".nii.gz")

#: The four classes, in the order the demo set uses.
CLASS_NAMES = ("glioma", "meningioma", "no_tumor", "pituitary")


def _outline(text, metadata=None, file=None):
    """The ``tumor_border`` of one metadata.csv row as an Outline (None: none drawn).

    Raises a ValueError naming ``metadata`` and the row's ``file`` when the
    value is not a JSON list of [x, y] points.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        points = json.loads(text)
        if not isinstance(points, list):
            raise TypeError(f"got a JSON {type(points).__name__}")
        return Outline(points) if len(points) >= 3 else None
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{metadata}: the tumor_border column of the row for file {file!r} is not a JSON "
            f"list of [x, y] points, e.g. [[10, 12], [30, 12], [20, 25]] ({error}): "
            f"{text[:80]!r}"
        ) from None


def _sequence(frame):
    """The ``sequence`` column (MRI sequence, e.g. T1, T1C, T2) as str, "" where missing;
    None when there is no such column."""
    if "sequence" not in frame.columns:
        return None
    return frame["sequence"].fillna("").to_numpy(dtype=str)


def is_image_file(path) -> bool:
    """Whether ``path`` is a file the data loaders read as images.

    Its name ends in one of :data:`IMAGE_SUFFIXES` (``.nii.gz`` included), or
    it is a DICOM file, with or without an extension (its ``DICM`` preamble).

    Examples
    --------
    >>> import os, tempfile
    >>> from braintumor_features.datasets import is_image_file
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "volume.nii.gz")
    >>> open(path, "wb").close()
    >>> is_image_file(path), is_image_file(os.path.join(folder, "notes.txt"))
    (True, False)
    """
    path = Path(path)
    return path.is_file() and (path.name.lower().endswith(IMAGE_SUFFIXES) or is_dicom(path))


def _slices(path: Path, index) -> list:
    """The items of one row: its slice where given, every slice of a volume, else the file."""
    if pd.notna(index):
        return [VolumeSlice(path, int(index))]
    try:
        items = volume_slices(path)  # one item for a file that is not a volume
    except ImageReadError:  # reading it fails later, naming the file
        items = []
    return items if len(items) > 1 else [str(path)]


def _expand_volumes(frame: pd.DataFrame, root: Path) -> tuple[pd.DataFrame, list]:
    """One row per slice of each volume file, with a ``slice`` column where any row has one.

    A row whose ``slice`` column (from metadata.csv) is given stays one slice.
    """
    given = frame["slice"] if "slice" in frame.columns else [np.nan] * len(frame)
    items = [_slices(root / file, index) for file, index in zip(frame["file"], given)]
    if "tumor_border" in frame.columns:
        for row, found in zip(frame.itertuples(), items):
            if len(found) > 1 and isinstance(row.tumor_border, str) and row.tumor_border.strip():
                raise ValueError(
                    f"{root / row.file}: a tumor_border for a whole volume of {len(found)} "
                    "slices; give the slice it is drawn on in a slice column of metadata.csv"
                )
    frame = frame.loc[frame.index.repeat([len(found) for found in items])]
    frame = frame.reset_index(drop=True)
    paths = [item for found in items for item in found]
    volume = [isinstance(item, VolumeSlice) for item in paths]
    if any(volume):
        frame["slice"] = pd.array([item.index if is_slice else None
                                   for item, is_slice in zip(paths, volume)], dtype="Int64")
        if "subject" not in frame.columns:
            frame["subject"] = np.nan
        stems = pd.Series([item.subject if is_slice else np.nan
                           for item, is_slice in zip(paths, volume)], index=frame.index)
        frame["subject"] = frame["subject"].where(frame["subject"].notna(), stems)
    return frame, paths


def _check_listed_once(frame, metadata):
    """Refuse a metadata.csv that lists an image (a file, or a slice of a volume) twice: it
    would be used twice, weighing double and crossing cross-validation splits."""
    keys = ["file", "slice"] if "slice" in frame.columns else ["file"]
    repeated = frame[frame.duplicated(keys, keep=False)]
    if repeated.empty:
        return
    first = repeated["file"].iloc[0]
    lines = [str(index + 2) for index in repeated.index[repeated["file"] == first]]  # 1 header
    n_files = repeated.drop_duplicates(keys).shape[0]
    raise ValueError(
        f"{metadata}: {n_files} image(s) listed more than once, e.g. {first} on lines "
        f"{', '.join(lines)}; list each image once (remove the repeated rows)")


def load_folder(path) -> Bunch:
    """Load a class-per-folder image tree (``<path>/<class>/<image>``).

    When ``<path>/metadata.csv`` exists (columns ``file``, ``label`` and
    optionally ``subject``, ``source``, ``tumor_border``, ``slice``) it lists
    the images; otherwise every image file one folder deep (by
    :data:`IMAGE_SUFFIXES`, and DICOM files by their preamble) is used and
    its folder name is its label.

    A file holding several slices (a NIfTI volume, a multi-frame DICOM)
    gives one item per slice, a
    :class:`~braintumor_features.io.VolumeSlice`, whose subject is the
    volume's file name without its extension unless metadata gives one; a
    ``slice`` column in metadata.csv picks one slice of a volume instead.

    Parameters
    ----------
    path : str or path-like
        The data folder.

    Returns
    -------
    Bunch with
        paths : list of str or VolumeSlice
            Image files, and slices of volumes.
        target : ndarray of str
            Class names.
        target_names : ndarray of str
            Sorted distinct class names.
        groups : ndarray of str
            Patient (``subject``) where known, else the volume of a slice, else
            one group per file: pass it as ``groups`` to grouped
            cross-validation.
        masks : list of Outline or None
            Tumour outlines (filled into masks only when an image is loaded).
        frame : pandas.DataFrame
            One row per image with ``file``, ``label``, ``subject`` and, where
            given, ``source``; ``slice`` (the index in its volume, empty for a
            single image) when any item is a slice of a volume. Every other
            column of ``metadata.csv`` is carried along.
        sequence : ndarray of str or None
            The ``sequence`` column of ``metadata.csv`` (e.g. ``T1``, ``T1C``,
            ``T2``), ``""`` where a row gives none; None without the column.
            Pass it to
            :meth:`~braintumor_features.evaluation.EvaluationReport.breakdown`
            to score each sequence.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    ValueError
        If it holds no images, or its metadata.csv lists an image twice.

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
        _check_listed_once(frame, metadata)
    else:
        files = sorted(p for p in root.glob("*/*") if is_image_file(p))
        frame = pd.DataFrame(
            {"file": [p.relative_to(root).as_posix() for p in files],
             "label": [p.parent.name for p in files]}
        )
    if frame.empty:
        raise ValueError(
            f"{root}: no images found; expected <class>/<image> files "
            f"({', '.join(IMAGE_SUFFIXES)}) or a metadata.csv"
        )
    frame, paths = _expand_volumes(frame, root)
    if "subject" not in frame.columns:
        frame["subject"] = np.nan
    frame["subject"] = frame["subject"].where(frame["subject"].notna(), "file:" + frame["file"])
    borders = frame.pop("tumor_border") if "tumor_border" in frame.columns else None
    masks = ([None] * len(frame) if borders is None else
             [_outline(text, root / "metadata.csv", file) for text, file in zip(borders, frame["file"])])
    target = frame["label"].to_numpy(dtype=str)
    return Bunch(
        paths=paths,
        target=target,
        target_names=np.unique(target),
        groups=frame["subject"].to_numpy(dtype=str),
        masks=masks,
        frame=frame,
        sequence=_sequence(frame),
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
            folder and ``source`` filled in; the other columns of their
            ``metadata.csv`` files are kept (empty for the folders without).
        sequence : ndarray of str or None
            As :func:`load_folder`'s, over every folder (``""`` for the
            images of a folder without the column); None when no folder
            has it.
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
        sequence=_sequence(frame),
    )
