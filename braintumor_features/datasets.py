"""Data sets: a class-per-folder tree on disk, and a synthetic demo set."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

from .images import Outline

__all__ = ["load_folder", "make_demo", "IMAGE_SUFFIXES", "CLASS_NAMES"]

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
        radius = rng.uniform(0.03, 0.05) * size
        lesion = _ellipse(shape, c + [size * 0.22, 0], [radius, radius * 1.3])
        image[lesion] = 210
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
