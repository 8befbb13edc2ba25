"""Steps that change an image's frame: crop to the head, resize."""

from __future__ import annotations

from numbers import Integral, Real

import cv2
import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._utils import head_box
from ._base import ImageStep

__all__ = ["CropHead", "Resize"]


class CropHead(ImageStep):
    """Crop every image to the bounding box of the head.

    The head is the largest bright connected region (:func:`head_mask`),
    so differences in field of view and border width between scanners
    disappear.

    Parameters
    ----------
    margin : float, default=0.02
        Extra border around the head, as a fraction of the box's size.
    locate_size : int or None, default=256
        Find the head on a copy of the image shrunk to at most this many
        pixels on its longer side (see :func:`head_box`): on a 512 x 512
        slice a quarter of the work, with a box accurate to 2 pixels, well
        inside the margin. None finds it at full resolution.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import CropHead
    >>> image = np.zeros((50, 60), np.uint8); image[10:30, 20:50] = 180
    >>> CropHead(margin=0).fit_transform([image])[0].shape
    (20, 30)
    """

    _parameter_constraints = {
        "margin": [Interval(Real, 0, 1, closed="both")],
        "locate_size": [Interval(Integral, 16, None, closed="left"), None],
    }

    def __init__(self, margin=0.02, locate_size=256):
        self.margin = margin
        self.locate_size = locate_size

    def _window(self, image):
        """The (rows, columns) slices of the head's box with its margin."""
        top, left, bottom, right = head_box(image, self.locate_size)
        pad_r = int(round(self.margin * (bottom - top)))
        pad_c = int(round(self.margin * (right - left)))
        top, left = max(0, top - pad_r), max(0, left - pad_c)
        bottom, right = min(image.shape[0], bottom + pad_r), min(image.shape[1], right + pad_c)
        return slice(top, bottom), slice(left, right)

    def _apply(self, image, mask):
        window = self._window(image)
        return image[window], (None if mask is None else mask[window])

    def _coordinate_map(self, image):
        rows, columns = self._window(image)
        return np.array([[1.0, 0, -columns.start], [0, 1.0, -rows.start], [0, 0, 1]])


_INTERPOLATION = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "nearest": cv2.INTER_NEAREST,
}


class Resize(ImageStep):
    """Resize every image to one size.

    Parameters
    ----------
    size : int or (int, int), default=256
        Output (height, width); an int means a square.
    keep_aspect : bool, default=False
        If True, scale so the image fits inside ``size`` and pad the rest
        with zeros, centred; if False, stretch to ``size``.
    interpolation : {"area", "linear", "cubic", "nearest"}, default="area"
        OpenCV interpolation. Masks always use nearest neighbour.
    resolution : int or None, default=None
        One effective resolution: an image whose longer side has more
        pixels is first shrunk (area interpolation) to this many on its
        longer side, then resized to ``size``, so a sharp 512 px slice and a
        128 px one of the same head carry the same detail. None keeps every
        image's own detail.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import Resize
    >>> Resize(size=(32, 16)).fit_transform([np.zeros((100, 100))])[0].shape
    (32, 16)
    >>> sharp = np.indices((64, 64)).sum(axis=0) % 2 * 255.0  # a 1-pixel checkerboard
    >>> float(Resize(size=64, resolution=32).fit_transform([sharp])[0].std())
    0.0
    """

    _parameter_constraints = {
        "size": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "keep_aspect": ["boolean"],
        "interpolation": [StrOptions(set(_INTERPOLATION))],
        "resolution": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, size=256, keep_aspect=False, interpolation="area", resolution=None):
        self.size = size
        self.keep_aspect = keep_aspect
        self.interpolation = interpolation
        self.resolution = resolution

    def _check_parameters(self):
        self._shape()

    def _shape(self):
        size = (self.size, self.size) if isinstance(self.size, Integral) else tuple(self.size)
        if len(size) != 2 or not all(isinstance(s, Integral) and s >= 1 for s in size):
            raise ValueError(f"size must be a positive int or (height, width), got {self.size!r}")
        return size

    def _layout(self, shape):
        """The resized image's (height, width) inside the output and its (top, left) offset."""
        height, width = self._shape()
        if self.keep_aspect:
            scale = min(height / shape[0], width / shape[1])
            inner = (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))
        else:
            inner = (height, width)
        return inner, ((height - inner[0]) // 2, (width - inner[1]) // 2)

    def _scale(self, shape):
        inner, _ = self._layout(shape)
        return inner[0] / shape[0], inner[1] / shape[1]

    def _coordinate_map(self, image):
        _, (top, left) = self._layout(image.shape)
        scale_y, scale_x = self._scale(image.shape)
        # OpenCV's resize aligns pixel centres: x' + 0.5 = (x + 0.5) * scale.
        return np.array([[scale_x, 0, 0.5 * scale_x - 0.5 + left],
                         [0, scale_y, 0.5 * scale_y - 0.5 + top], [0, 0, 1]])

    def _apply(self, image, mask):
        height, width = self._shape()
        inner, (top, left) = self._layout(image.shape)  # of the image as given: one geometry
        if self.resolution is not None and max(image.shape) > self.resolution:
            shrink = self.resolution / max(image.shape)
            low = (max(1, round(image.shape[1] * shrink)), max(1, round(image.shape[0] * shrink)))
            image = cv2.resize(image, low, interpolation=cv2.INTER_AREA)
        image = cv2.resize(image, inner[::-1], interpolation=_INTERPOLATION[self.interpolation])
        if mask is not None:
            mask = cv2.resize(mask.astype(np.uint8), inner[::-1], interpolation=cv2.INTER_NEAREST)
            mask = mask.astype(bool)
        if inner == (height, width):
            return image, mask
        pad = ((top, height - inner[0] - top), (left, width - inner[1] - left))
        return np.pad(image, pad), (None if mask is None else np.pad(mask, pad))
