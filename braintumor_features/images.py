"""Sequences of images: what every step of the library takes as ``X``.

``X`` is a sequence whose items are file paths, 2-D (or colour) arrays, or
:class:`MaskedImage` pairs of an image and its tumour mask. Preprocessing
steps do not compute anything when they transform: they return an
:class:`ImageSequence` that remembers the source items and the chain of
steps, and computes an image when it is accessed. The feature extractors then
run the whole chain, image by image, inside their parallel workers, so a
batch travels to a worker as a list of file paths, not as pixels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import cv2
import numpy as np

from .io import read_image, to_gray

__all__ = ["MaskedImage", "Outline", "ImageSequence", "with_masks"]


@dataclass(frozen=True)
class Outline:
    """A tumour outline as a polygon, filled into a mask only when needed.

    Parameters
    ----------
    points : sequence of (x, y)
        Polygon vertices in pixel coordinates of the image (x = column,
        y = row), as in the ``tumor_border`` column of ``metadata.csv``.

    Examples
    --------
    >>> from braintumor_features.images import Outline
    >>> int(Outline([(1, 1), (4, 1), (4, 3), (1, 3)]).to_mask((5, 6)).sum())
    12
    """

    points: tuple

    def __post_init__(self):
        points = tuple(tuple(float(v) for v in p) for p in self.points)
        if len(points) < 3 or any(len(p) != 2 for p in points):
            raise ValueError("an Outline needs at least three (x, y) points")
        object.__setattr__(self, "points", points)

    def to_mask(self, shape) -> np.ndarray:
        """Fill the polygon into a boolean mask of the given (height, width)."""
        mask = np.zeros(shape[:2], np.uint8)
        polygon = np.round(np.asarray(self.points)).astype(np.int32)
        cv2.fillPoly(mask, [polygon], 1)
        return mask.astype(bool)


class MaskedImage(NamedTuple):
    """An image travelling with its tumour mask.

    Parameters
    ----------
    image : path or array
        A file path or a 2-D / colour array.
    mask : array, Outline, path or None
        A boolean (or 0/1) array of the image's shape, an :class:`Outline`
        filled at the image's size, a path to a mask image (non-zero is
        tumour), or None when the tumour is not outlined.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.images import MaskedImage
    >>> item = MaskedImage(np.zeros((8, 8)), np.eye(8, dtype=bool))
    >>> int(item.mask.sum())
    8
    """

    image: Any
    mask: Any = None


def with_masks(images, masks) -> list:
    """Pair images with their masks for region-of-interest work.

    Parameters
    ----------
    images : sequence of paths or arrays
    masks : sequence of arrays, Outlines, paths or None
        One per image.

    Returns
    -------
    list of MaskedImage

    Examples
    --------
    >>> from braintumor_features.images import with_masks
    >>> len(with_masks(["a.png", "b.png"], [None, None]))
    2
    """
    images, masks = list(images), list(masks)
    if len(images) != len(masks):
        raise ValueError(f"got {len(images)} images but {len(masks)} masks; give one mask per image")
    return [MaskedImage(image, mask) for image, mask in zip(images, masks)]


def _describe(item, index) -> str:
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    return f"X[{index}]"


def load_item(item, index=0):
    """Load one item of ``X`` as ``(image, mask)`` arrays.

    The image is 2-D (colour converted to gray); the mask is a boolean array
    of the image's shape, or None.
    """
    image, mask = (item.image, item.mask) if isinstance(item, MaskedImage) else (item, None)
    name = _describe(image, index)
    image = read_image(image) if isinstance(image, (str, os.PathLike)) else to_gray(image, name=name)
    if mask is None:
        return image, None
    if isinstance(mask, Outline):
        return image, mask.to_mask(image.shape)
    if isinstance(mask, (str, os.PathLike)):
        mask = read_image(mask)
    mask = np.asarray(mask)
    if mask.shape != image.shape:
        raise ValueError(
            f"{name}: the mask has shape {mask.shape} but the image has shape {image.shape}"
        )
    return image, mask.astype(bool, copy=False)


class ImageSequence(Sequence):
    """Images computed on access: source items plus a chain of image steps.

    This is what the preprocessing steps return. Indexing with an integer
    computes that image (an array, or a :class:`MaskedImage` of arrays when
    the source item carried a mask); indexing with a slice or an index array
    returns a smaller ``ImageSequence`` without computing anything.

    Parameters
    ----------
    items : sequence
        File paths, arrays or :class:`MaskedImage` pairs.
    steps : tuple of estimators, default=()
        Preprocessing steps applied in order; each has a method
        ``_apply(image, mask) -> (image, mask)``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.images import ImageSequence
    >>> seq = ImageSequence([np.zeros((4, 4)), np.ones((2, 2))])
    >>> len(seq), seq[1].shape
    (2, (2, 2))
    """

    def __init__(self, items, steps=(), *, positions=None):
        if isinstance(items, ImageSequence):
            steps = items.steps + tuple(steps)
            positions = items.positions if positions is None else positions
            items = items.items
        elif isinstance(items, np.ndarray) and items.ndim == 2:
            raise ValueError(
                f"X is a single 2-D array of shape {items.shape}; pass a sequence of "
                "images (a list of arrays or paths, or a 3-D stack)"
            )
        self.items = list(items)
        self.steps = tuple(steps)
        # Where each item stood in the X the user passed, for messages.
        self.positions = tuple(range(len(self.items)) if positions is None else positions)

    def then(self, step) -> ImageSequence:
        """Return a new sequence with ``step`` appended to the chain."""
        return ImageSequence(self.items, self.steps + (step,), positions=self.positions)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            image, mask = self.load(int(key))
            item = self.items[key]
            return MaskedImage(image, mask) if isinstance(item, MaskedImage) else image
        if isinstance(key, slice):
            return ImageSequence(self.items[key], self.steps, positions=self.positions[key])
        key = np.asarray(key)
        if key.dtype == bool:
            key = np.flatnonzero(key)
        return ImageSequence(
            [self.items[i] for i in key], self.steps, positions=[self.positions[i] for i in key]
        )

    def name(self, index: int) -> str:
        """How image ``index`` is named in messages: its file, or ``X[index]``."""
        item = self.items[index]
        return _describe(item.image if isinstance(item, MaskedImage) else item, self.positions[index])

    def load(self, index: int, *, with_scale=False):
        """Compute image ``index`` as ``(image, mask)`` through the whole chain.

        With ``with_scale``, ``(image, mask, scale)``: ``scale`` is the
        (rows, columns) pixels of the result per pixel of the source image,
        the product of the steps' ``_scale`` (1 where no step resamples).
        """
        image, mask = load_item(self.items[index], self.positions[index])
        scale = np.ones(2)
        for step in self.steps:
            if with_scale:
                scale *= step._scale(image.shape)
            image, mask = step._apply(image, mask)
        return (image, mask, tuple(scale)) if with_scale else (image, mask)

    def records(self):
        """Iterate over ``(image, mask)`` pairs, computing each in turn."""
        for index in range(len(self)):
            yield self.load(index)

    def __repr__(self):
        names = " -> ".join(type(step).__name__ for step in self.steps) or "no steps"
        return f"ImageSequence({len(self)} images; {names})"
