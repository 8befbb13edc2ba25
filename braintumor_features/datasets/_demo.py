"""A synthetic demo set of brain-like slices with tumours, made in memory."""

from __future__ import annotations

import cv2
import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._folders import CLASS_NAMES

__all__ = ["make_demo"]


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
