"""Image-to-image steps: grayscale, crop to the head, resize, denoise, CLAHE, normalise.

Every step is a scikit-learn transformer that learns nothing. ``transform``
returns an :class:`~braintumor_features.images.ImageSequence`: the images are
computed when accessed, or by the feature extractors inside their parallel
workers, so a chain of steps runs image by image in one process. Geometric
steps (crop, resize) move the tumour mask with the image.
"""

from __future__ import annotations

from numbers import Integral, Real

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import Interval, StrOptions

from ._parameters import ParameterNamesOnce
from ._percentiles import linear_percentiles
from .images import ImageSequence

__all__ = [
    "ImageStep",
    "Grayscale",
    "CropHead",
    "Resize",
    "Denoise",
    "CLAHE",
    "NormalizeIntensity",
    "head_mask",
    "head_box",
    "percentiles_of_counts",
    "to_uint8",
]


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Return an 8-bit version of a grayscale image.

    ``uint8`` images are returned unchanged; other images are scaled from
    their own minimum and maximum to 0..255 (a constant image becomes 0).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import to_uint8
    >>> to_uint8(np.array([[0.0, 0.5], [1.0, 1.0]]))
    array([[  0, 128],
           [255, 255]], dtype=uint8)
    """
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float32, copy=False)
    low, high = float(image.min()), float(image.max())
    if high <= low:
        return np.zeros(image.shape, np.uint8)
    return np.round((image - low) * (255.0 / (high - low))).astype(np.uint8)


#: Structuring element that closes small gaps in the head's outline.
_CLOSING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def _largest_component(image):
    """Outer outline and bounding box of the head's region: the largest candidate region.

    The image is smoothed, thresholded with Otsu's method and closed; the
    candidate regions are its 8-connected components. Returns the largest
    one's outer outline (as ``cv2.findContours`` gives it) and its bounding
    box ``(left, top, width, height)``, or None when the threshold leaves no
    foreground or no background (a constant image). Of equally large
    regions, the first in raster order wins.
    """
    blurred = cv2.GaussianBlur(to_uint8(image), (5, 5), 0)
    _, binary = cv2.threshold(blurred, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if binary.max() == 0 or binary.min() == 1:
        return None
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, _CLOSING)
    # Every region has one outer outline (parent -1 in the two-level hierarchy),
    # which starts at the region's first pixel in raster order. Regions are
    # measured by flood-filling them, largest enclosed area first, until the
    # pixels not yet filled could not make a larger one: usually the head
    # alone, about half the time of labelling every pixel.
    outlines, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer = [o for o, link in zip(outlines, hierarchy[0]) if link[3] < 0]
    outer.sort(key=cv2.contourArea, reverse=True)
    unfilled = cv2.countNonZero(binary)
    best, best_rank = None, None
    for outline in outer:
        if best is not None and best[0] > unfilled:
            break
        column, row = (int(v) for v in outline[0, 0])
        area, _, _, box = cv2.floodFill(binary, None, (column, row), 2, flags=8)
        unfilled -= area
        rank = (area, -(row * binary.shape[1] + column))
        if best_rank is None or rank > best_rank:
            best, best_rank = (area, outline, box), rank
    return best[1], best[2]


def head_mask(image: np.ndarray) -> np.ndarray:
    """Find the head: the largest bright connected region, holes filled.

    The image is smoothed, thresholded with Otsu's method, closed, and the
    largest connected component is kept with its holes filled. Where no
    foreground is found (a constant image), the whole image is the head.

    Parameters
    ----------
    image : ndarray of shape (height, width)

    Returns
    -------
    mask : ndarray of bool, same shape

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import head_mask
    >>> image = np.zeros((40, 40), np.uint8); image[10:30, 5:25] = 200
    >>> image[2:4, 30:32] = 255  # a bright speck outside the head is not part of it
    >>> mask = head_mask(image)
    >>> bool(mask[20, 15]), bool(mask[3, 31])
    (True, False)
    """
    found = _largest_component(image)
    if found is None:
        return np.ones(image.shape, bool)
    # Holes filled: the outer outline drawn filled.
    mask = np.zeros(image.shape, np.uint8)
    cv2.drawContours(mask, [found[0]], -1, 1, thickness=cv2.FILLED)
    return mask.view(bool)


def head_box(image: np.ndarray, locate_size=None) -> tuple:
    """Bounding box ``(top, left, bottom, right)`` of :func:`head_mask`.

    Filling holes does not move a box, so it is read from the largest
    region's flood fill without building the mask.

    Parameters
    ----------
    image : ndarray of shape (height, width)
    locate_size : int or None, default=None
        Find the head on a copy shrunk by the smallest integer factor that
        brings its longer side to at most ``locate_size`` pixels (averaging
        blocks of pixels), and scale the box back; the box is then accurate
        to that factor. None finds it on the image itself.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import head_box
    >>> image = np.zeros((80, 80), np.uint8); image[21:61, 11:51] = 200
    >>> head_box(image)
    (21, 11, 61, 51)
    >>> head_box(image, locate_size=40)  # found on a 40 x 40 copy: to 2 pixels
    (20, 10, 62, 52)
    """
    height, width = image.shape
    # (Never a factor larger than the shorter side, which would leave no pixel.)
    factor = 1 if locate_size is None else min(-(-max(height, width) // locate_size), height, width)
    if factor > 1:
        # Whole blocks only: INTER_AREA then averages each factor x factor block exactly.
        image = to_uint8(image)[: height - height % factor, : width - width % factor]
        image = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    found = _largest_component(image)
    if found is None:
        return 0, 0, height, width
    left, top, box_width, box_height = (int(v) * factor for v in found[1])
    return top, left, min(height, top + box_height), min(width, left + box_width)


class ImageStep(ParameterNamesOnce, TransformerMixin, BaseEstimator):
    """Base class of the preprocessing steps.

    A subclass defines its parameters, ``_parameter_constraints`` and
    ``apply(image, mask) -> (image, mask)`` for one image. ``transform``
    returns the input sequence with this step appended to its chain.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import ImageStep
    >>> class Invert(ImageStep):
    ...     def apply(self, image, mask):
    ...         return 255 - image, mask
    >>> images = Invert().fit_transform([np.zeros((2, 2), np.uint8)])
    >>> images[0].tolist()
    [[255, 255], [255, 255]]
    """

    _parameter_constraints: dict = {}

    def fit(self, X, y=None):
        """Check the parameters; nothing is learned.

        Parameters
        ----------
        X : sequence of images
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        self._check_parameters()
        return self

    def transform(self, X):
        """Append this step to the images' chain.

        Parameters
        ----------
        X : sequence of images
            Paths, arrays, :class:`~braintumor_features.images.MaskedImage`
            pairs or an :class:`~braintumor_features.images.ImageSequence`.

        Returns
        -------
        ImageSequence
            The images, computed when accessed.
        """
        self._validate_params()
        self._check_parameters()
        return ImageSequence(X).then(clone(self))

    def _check_parameters(self):
        """Checks that go beyond ``_parameter_constraints``; subclasses extend."""

    def set_output(self, *, transform=None):
        """Accept and ignore an output container: images are not tables.

        Present so that ``Pipeline.set_output(transform="pandas")`` works on a
        pipeline that starts with image steps.
        """
        return self

    def apply(self, image, mask):  # pragma: no cover - abstract
        """Process one image (and its mask, or None)."""
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class Grayscale(ImageStep):
    """Bring every image to one 2-D grayscale form.

    Colour images were already converted when read; this step also maps
    16-bit and float images to 8-bit (min-max) when ``dtype="uint8"``.

    Parameters
    ----------
    dtype : {"uint8", "keep"}, default="uint8"
        ``"uint8"`` rescales every image to 0..255 (8-bit images are kept
        as they are); ``"keep"`` leaves the bit depth alone.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import Grayscale
    >>> Grayscale().fit_transform([np.full((3, 3, 3), 4000, np.uint16)])[0].dtype
    dtype('uint8')
    """

    _parameter_constraints = {"dtype": [StrOptions({"uint8", "keep"})]}

    def __init__(self, dtype="uint8"):
        self.dtype = dtype

    def apply(self, image, mask):
        return (to_uint8(image) if self.dtype == "uint8" else image), mask


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

    def apply(self, image, mask):
        top, left, bottom, right = head_box(image, self.locate_size)
        pad_r = int(round(self.margin * (bottom - top)))
        pad_c = int(round(self.margin * (right - left)))
        top, left = max(0, top - pad_r), max(0, left - pad_c)
        bottom, right = min(image.shape[0], bottom + pad_r), min(image.shape[1], right + pad_c)
        window = (slice(top, bottom), slice(left, right))
        return image[window], (None if mask is None else mask[window])


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

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import Resize
    >>> Resize(size=(32, 16)).fit_transform([np.zeros((100, 100))])[0].shape
    (32, 16)
    """

    _parameter_constraints = {
        "size": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "keep_aspect": ["boolean"],
        "interpolation": [StrOptions(set(_INTERPOLATION))],
    }

    def __init__(self, size=256, keep_aspect=False, interpolation="area"):
        self.size = size
        self.keep_aspect = keep_aspect
        self.interpolation = interpolation

    def _check_parameters(self):
        self._shape()

    def _shape(self):
        size = (self.size, self.size) if isinstance(self.size, Integral) else tuple(self.size)
        if len(size) != 2 or not all(isinstance(s, Integral) and s >= 1 for s in size):
            raise ValueError(f"size must be a positive int or (height, width), got {self.size!r}")
        return size

    def apply(self, image, mask):
        height, width = self._shape()
        if self.keep_aspect:
            scale = min(height / image.shape[0], width / image.shape[1])
            inner = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
        else:
            inner = (height, width)
        image = cv2.resize(image, inner[::-1], interpolation=_INTERPOLATION[self.interpolation])
        if mask is not None:
            mask = cv2.resize(mask.astype(np.uint8), inner[::-1], interpolation=cv2.INTER_NEAREST)
            mask = mask.astype(bool)
        if inner == (height, width):
            return image, mask
        top, left = (height - inner[0]) // 2, (width - inner[1]) // 2
        pad = ((top, height - inner[0] - top), (left, width - inner[1] - left))
        return np.pad(image, pad), (None if mask is None else np.pad(mask, pad))


class Denoise(ImageStep):
    """Reduce noise with a median, Gaussian, bilateral or non-local-means filter.

    Parameters
    ----------
    method : {"median", "gaussian", "bilateral", "nlmeans"}, default="median"
    size : int, default=3
        Odd kernel size of the median and Gaussian filters, diameter of the
        bilateral filter's neighbourhood.
    sigma : float, default=1.0
        Spatial standard deviation (pixels) of the Gaussian and bilateral filters.
    h : float, default=10.0
        Filter strength in grey levels of non-local means, and the
        bilateral filter's intensity standard deviation.

    Notes
    -----
    The bilateral and non-local-means filters work on 8-bit images: other
    images are rescaled to 0..255 first. The median filter of 16-bit and
    float images is limited to ``size`` 3 or 5 (an OpenCV limit).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import Denoise
    >>> image = np.zeros((9, 9), np.uint8); image[4, 4] = 255
    >>> int(Denoise("median").fit_transform([image])[0].max())
    0
    """

    _parameter_constraints = {
        "method": [StrOptions({"median", "gaussian", "bilateral", "nlmeans"})],
        "size": [Interval(Integral, 1, None, closed="left")],
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "h": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, method="median", size=3, sigma=1.0, h=10.0):
        self.method = method
        self.size = size
        self.sigma = sigma
        self.h = h

    def _check_parameters(self):
        if self.method in ("median", "gaussian") and self.size % 2 == 0:
            raise ValueError(f"size must be odd for the {self.method} filter, got {self.size}")

    def apply(self, image, mask):
        if self.method == "median":
            if image.dtype != np.uint8 and self.size > 5:
                image = to_uint8(image)
            return cv2.medianBlur(np.ascontiguousarray(image), self.size), mask
        if self.method == "gaussian":
            size = (self.size, self.size)
            return cv2.GaussianBlur(image, size, self.sigma), mask
        image = to_uint8(image)
        if self.method == "bilateral":
            return cv2.bilateralFilter(image, self.size, self.h, self.sigma), mask
        return cv2.fastNlMeansDenoising(image, None, h=self.h), mask


class CLAHE(ImageStep):
    """Contrast-limited adaptive histogram equalisation (OpenCV).

    Parameters
    ----------
    clip_limit : float, default=2.0
        Contrast limit per tile (OpenCV's ``clipLimit``).
    tile_grid_size : int, default=8
        The image is divided into ``tile_grid_size`` x ``tile_grid_size`` tiles.

    Notes
    -----
    8- and 16-bit images are equalised at their depth; float images are
    rescaled to 8-bit first.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import CLAHE
    >>> image = np.tile(np.arange(100, 140, dtype=np.uint8), (40, 1))
    >>> out = CLAHE().fit_transform([image])[0]
    >>> int(np.ptp(out)) > int(np.ptp(image))
    True
    """

    _parameter_constraints = {
        "clip_limit": [Interval(Real, 0, None, closed="neither")],
        "tile_grid_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, clip_limit=2.0, tile_grid_size=8):
        self.clip_limit = clip_limit
        self.tile_grid_size = tile_grid_size

    def apply(self, image, mask):
        if image.dtype not in (np.uint8, np.uint16):
            image = to_uint8(image)
        grid = (self.tile_grid_size, self.tile_grid_size)
        return cv2.createCLAHE(clipLimit=self.clip_limit, tileGridSize=grid).apply(image), mask


class NormalizeIntensity(ImageStep):
    """Normalise intensities, using statistics of the head only by default.

    Parameters
    ----------
    method : {"percentile", "minmax", "zscore", "robust"}, default="percentile"
        ``"percentile"`` maps the ``percentiles`` to 0 and 1 and clips;
        ``"minmax"`` maps minimum and maximum to 0 and 1; ``"zscore"``
        subtracts the mean and divides by the standard deviation;
        ``"robust"`` subtracts the median and divides by the interquartile
        range, so a bright tumour or a few hot pixels barely move the scale.
        For a standard scale learned from training images see
        :class:`~braintumor_features.standardization.HistogramStandardizer`.
    percentiles : (float, float), default=(1.0, 99.0)
        Lower and upper percentile for ``method="percentile"``.
    within_head : bool, default=True
        Compute the statistics over the head (:func:`head_mask`) only, so the
        amount of black background does not change the result.

    Returns images as ``float32``.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import NormalizeIntensity
    >>> out = NormalizeIntensity("minmax", within_head=False).fit_transform(
    ...     [np.array([[10, 20], [30, 50]], np.uint8)])[0]
    >>> out.min(), out.max()
    (np.float32(0.0), np.float32(1.0))
    """

    _parameter_constraints = {
        "method": [StrOptions({"percentile", "minmax", "zscore", "robust"})],
        "percentiles": [tuple, list],
        "within_head": ["boolean"],
    }

    def __init__(self, method="percentile", percentiles=(1.0, 99.0), within_head=True):
        self.method = method
        self.percentiles = percentiles
        self.within_head = within_head

    def _check_parameters(self):
        low, high = self.percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(f"percentiles must be 0 <= low < high <= 100, got {self.percentiles!r}")

    def apply(self, image, mask):
        head = head_mask(image) if self.within_head else None
        if image.dtype == np.uint8 and self.method in ("percentile", "robust"):
            values = None
            counts = cv2.calcHist([image], [0], None if head is None else head.view(np.uint8),
                                  [256], [0, 256]).ravel()
        else:
            values = image[head] if head is not None else image.ravel()
            values, counts = values.astype(np.float32, copy=False), None
        rescale = self._rescaling(values, counts)
        if image.dtype == np.uint8:
            # The same float32 arithmetic on the 256 grey levels, then looked up.
            return cv2.LUT(image, rescale(np.arange(256, dtype=np.float32))), mask
        return rescale(image.astype(np.float32, copy=False)), mask

    def _rescaling(self, values, counts):
        """The map of float32 grey values, from the head's ``values`` (or 8-bit ``counts``)."""
        if self.method == "zscore":
            mean, std = float(values.mean()), float(values.std())
            return lambda grey: (grey - mean) / (std if std > 0 else 1.0)
        if self.method == "minmax":
            low, high = float(values.min()), float(values.max())
        else:
            quantiles = (25, 50, 75) if self.method == "robust" else self.percentiles
            found = (np.percentile(values, quantiles) if counts is None
                     else percentiles_of_counts(counts, quantiles))
            if self.method == "robust":
                low, median, high = (float(v) for v in found)
                return lambda grey: (grey - median) / (high - low if high > low else 1.0)
            low, high = (float(v) for v in found)
        scale = 1.0 / (high - low) if high > low else 0.0
        return lambda grey: np.clip((grey - low) * scale, 0.0, 1.0)


def percentiles_of_counts(counts, q) -> np.ndarray:
    """``np.percentile(values, q)`` of integer values 0, 1, 2, ... given by their counts.

    The same numbers as NumPy's default (linear) method on the values
    themselves, without sorting them: an 8-bit image's percentiles from its
    256-bin histogram.

    Parameters
    ----------
    counts : 1-D array
        ``counts[v]`` is how often value ``v`` occurs (exact integers).
    q : float or sequence of float
        Percentiles, 0 to 100.

    Returns
    -------
    ndarray of float64
        One value per percentile (nan when every count is zero).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import percentiles_of_counts
    >>> values = np.array([0, 3, 3, 7, 9])
    >>> percentiles_of_counts(np.bincount(values), [10, 50, 95]).tolist()
    [1.2000000000000002, 3.0, 8.6]
    >>> np.percentile(values, [10, 50, 95]).tolist()
    [1.2000000000000002, 3.0, 8.6]
    """
    cumulative = np.cumsum(np.asarray(counts, dtype=np.int64))
    n = int(cumulative[-1]) if cumulative.size else 0
    if n == 0:
        return np.full(np.shape(np.atleast_1d(q)), np.nan)
    # The value of rank k is the first whose cumulative count exceeds k.
    return linear_percentiles(lambda ranks: np.searchsorted(cumulative, ranks, side="right"), n, q)
