"""Benign changes of a slice: the same anatomy at another side, resolution, contrast or framing.

A benign change alters how a slice was acquired or stored, never what it
shows: a model's answer should not move under one. The same transforms
serve three purposes: measuring how often a model's answer flips
(``benchmarks/robustness.py``), teaching invariance with extra training rows
(:func:`augment`) and training a network on changed copies.
"""

from __future__ import annotations

import math
from numbers import Real

import cv2
import numpy as np
from sklearn.utils import check_random_state

from ..images import MaskedImage, load_item

__all__ = ["BENIGN_CHANGES", "BENIGN_RANGES", "benign_change", "augment", "TRAINING_TRANSFORMS",
           "training_transform"]

#: Names of the changes :func:`benign_change` knows.
BENIGN_CHANGES = ("mirror", "downscale", "gamma", "rotate", "jpeg", "pad")

#: The range each change's strength is drawn from when ``strength=None``:
#: downscale factor (uniform), gamma exponent (log-uniform, so 0.7 and
#: 1/0.7 are equally likely), rotation in degrees (uniform, either way),
#: JPEG quality (uniform integer, inclusive) and pad fraction (uniform).
#: Mirror has no strength.
BENIGN_RANGES = {
    "mirror": None,
    "downscale": (0.25, 1.0),
    "gamma": (0.7, 1 / 0.7),
    "rotate": (-15.0, 15.0),
    "jpeg": (25, 95),
    "pad": (0.0, 0.2),
}


def _draw(change, rng):
    low, high = BENIGN_RANGES[change]
    if change == "gamma":
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    if change == "jpeg":
        return int(rng.randint(low, high + 1))
    return float(rng.uniform(low, high))


def _value_range(image):
    if image.dtype == np.uint8:
        return 0.0, 255.0
    return float(image.min()), float(image.max())


def _downscale(image, factor):
    if not 0 < factor <= 1:
        raise ValueError(f"a downscale factor is in (0, 1], got {factor!r}")
    height, width = image.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _gamma(image, exponent):
    if exponent <= 0:
        raise ValueError(f"a gamma exponent is positive, got {exponent!r}")
    low, high = _value_range(image)
    if image.dtype == np.uint8:
        table = np.round(255.0 * (np.arange(256) / 255.0) ** exponent).astype(np.uint8)
        return cv2.LUT(image, table)
    if high <= low:
        return image.copy()
    unit = (image.astype(np.float64) - low) / (high - low)
    return (low + (high - low) * unit**exponent).astype(image.dtype)


def _rotate(image, degrees, scale=1.0, shift=(0.0, 0.0)):
    """Rotated by ``degrees`` and scaled about the centre, then moved by ``shift`` (x, y)
    pixels; black where nothing maps."""
    height, width = image.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, scale)
    matrix[:, 2] += shift
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _jpeg(image, quality):
    if not 1 <= quality <= 100:
        raise ValueError(f"a JPEG quality is in 1..100, got {quality!r}")
    low, high = _value_range(image)
    scale = 255.0 / (high - low) if high > low else 1.0
    eight_bit = image if image.dtype == np.uint8 else np.round((image - low) * scale).astype(
        np.uint8)
    ok, data = cv2.imencode(".jpg", eight_bit, [cv2.IMWRITE_JPEG_QUALITY, int(round(quality))])
    if not ok:  # pragma: no cover - OpenCV encodes any 2-D 8-bit image
        raise RuntimeError("OpenCV could not encode the image as JPEG")
    decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if image.dtype == np.uint8:
        return decoded
    return (low + decoded / scale).astype(image.dtype)


def _pad(image, fraction):
    if fraction < 0:
        raise ValueError(f"a pad fraction is at least 0, got {fraction!r}")
    rows, columns = round(fraction * image.shape[0]), round(fraction * image.shape[1])
    return np.pad(image, ((rows, rows), (columns, columns)))


_CHANGES = {
    "mirror": lambda image, _: np.ascontiguousarray(image[:, ::-1]),
    "downscale": _downscale,
    "gamma": _gamma,
    "rotate": _rotate,
    "jpeg": _jpeg,
    "pad": _pad,
}


def benign_change(image, change, *, strength=None, random_state=None) -> np.ndarray:
    """Apply one benign change to a 2-D image.

    Parameters
    ----------
    image : ndarray of shape (height, width)
        A grayscale image, ``uint8`` or float.
    change : {"mirror", "downscale", "gamma", "rotate", "jpeg", "pad"}
        ``"mirror"``: left-right flip. ``"downscale"``: the image at a lower
        resolution, as a scanner with larger pixels would give it
        (OpenCV's area interpolation); the result is *smaller*, e.g.
        512 -> 128 px for strength 0.25. ``"gamma"``: grey levels raised to
        a power within the image's range (0..255 for ``uint8``, its own
        minimum..maximum for float), a monotone change of the contrast curve.
        ``"rotate"``: rotation by ``strength`` degrees counter-clockwise
        about the centre, same shape, corners filled with 0 (bilinear).
        ``"jpeg"``: JPEG compression at quality ``strength`` and back (float
        images go through 8 bits of their own range). ``"pad"``: a border of
        0 of ``strength`` times the height (top and bottom) and width (left
        and right), so the result is *larger*.
    strength : float or None, default=None
        The change's amount: downscale factor in (0, 1], gamma exponent,
        degrees, JPEG quality 1..100, pad fraction; ignored by ``"mirror"``.
        None draws one from :data:`BENIGN_RANGES` with ``random_state``.
    random_state : int, RandomState or None, default=None
        Seed of the draw when ``strength`` is None
        (:func:`sklearn.utils.check_random_state`).

    Returns
    -------
    ndarray
        The changed image, of ``image``'s dtype; of its shape except for
        ``"downscale"`` (smaller) and ``"pad"`` (larger).

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import benign_change
    >>> image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    >>> benign_change(image, "mirror")[0].tolist()
    [3, 2, 1, 0]
    >>> benign_change(np.zeros((512, 512), np.uint8), "downscale", strength=0.25).shape
    (128, 128)
    >>> benign_change(image, "pad", strength=0.5).shape
    (7, 8)
    >>> a = benign_change(image, "gamma", random_state=0)
    >>> np.array_equal(a, benign_change(image, "gamma", random_state=0))
    True
    """
    if change not in _CHANGES:
        raise ValueError(f"unknown change {change!r}; choose from {BENIGN_CHANGES}")
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"benign_change takes a 2-D image, got shape {image.shape}")
    if strength is None and BENIGN_RANGES[change] is not None:
        strength = _draw(change, check_random_state(random_state))
    elif strength is not None and not isinstance(strength, Real):
        raise ValueError(f"strength must be a number or None, got {strength!r}")
    return _CHANGES[change](image, strength)


def augment(X, y, groups=None, *, changes=BENIGN_CHANGES, n_copies=1, random_state=None):
    """The images plus randomly changed copies, each keeping its label and group.

    Use before ``fit`` to teach a model that a benign change says nothing
    about the class. Every copy keeps its image's subject group, so a
    grouped cross-validation (e.g. ``StratifiedGroupKFold``) on the result
    never scores a patient on a changed copy of a training image; the
    copies of the test folds' patients should be dropped before scoring, or
    augment only the training fold.

    Parameters
    ----------
    X : sequence of paths or 2-D arrays
        Images, read with the library's reader (colour is converted to
        gray). Items with a tumour mask are refused: the changes do not move
        masks.
    y : array-like of shape (n_images,)
    groups : array-like of shape (n_images,) or None, default=None
        Subject of each image.
    changes : sequence of str, default=BENIGN_CHANGES
        Each copy gets one change drawn uniformly from these, of a strength
        drawn from :data:`BENIGN_RANGES`.
    n_copies : int, default=1
        Changed copies per image.
    random_state : int, RandomState or None, default=None

    Returns
    -------
    X_aug : list
        The items of ``X`` as given, then ``n_copies`` rounds of changed
        copies (arrays) in the order of ``X``.
    y_aug : ndarray of shape (n_images * (1 + n_copies),)
    groups_aug : ndarray of shape (n_images * (1 + n_copies),) or None

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import augment
    >>> X = [np.full((8, 8), v, np.uint8) for v in (10, 200)]
    >>> X_aug, y_aug, g_aug = augment(X, [0, 1], ["a", "b"], n_copies=2, random_state=0)
    >>> len(X_aug), y_aug.tolist(), g_aug.tolist()
    (6, [0, 1, 0, 1, 0, 1], ['a', 'b', 'a', 'b', 'a', 'b'])
    """
    items, y = list(X), np.asarray(y)
    if len(y) != len(items) or (groups is not None and len(groups) != len(items)):
        raise ValueError("X, y and groups must have one entry per image")
    unknown = [change for change in changes if change not in _CHANGES]
    if unknown or not len(changes):
        raise ValueError(f"changes must be a non-empty subset of {BENIGN_CHANGES}, got {changes!r}")
    if int(n_copies) != n_copies or n_copies < 0:
        raise ValueError(f"n_copies must be a non-negative integer, got {n_copies!r}")
    if any(isinstance(item, MaskedImage) for item in items):
        raise ValueError("augment does not move tumour masks; pass images without masks")
    rng = check_random_state(random_state)
    copies = []
    for _ in range(int(n_copies)):
        for index, item in enumerate(items):
            change = changes[rng.randint(len(changes))]
            copies.append(benign_change(load_item(item, index)[0], change, random_state=rng))
    repeat = 1 + int(n_copies)
    groups_aug = None if groups is None else np.tile(np.asarray(groups), repeat)
    return items + copies, np.tile(y, repeat), groups_aug


#: The random transforms :func:`training_transform` stacks, in the order applied.
TRAINING_TRANSFORMS = ("contrast", "bias_field", "gamma", "blur", "noise", "affine")


def _random_contrast(unit, head, strength, rng):
    """A random intensity curve inside the head (SynthSeg's random contrasts, Billot et al.
    2023): monotone (random increasing knots), non-monotone (free knots) or an inversion,
    so that which sequence a slice was acquired with stops telling the class."""
    kind = rng.choice(["monotone", "non-monotone", "inversion"],
                      p=[1 - 0.6 * strength, 0.3 * strength, 0.3 * strength])
    knots = np.linspace(0, 1, 6)
    if kind == "inversion":
        values = 1 - knots
    elif kind == "monotone":
        steps = rng.gamma(1 / max(strength, 1e-3), size=5)
        values = np.r_[0, np.cumsum(steps) / steps.sum()]
    else:
        values = rng.uniform(0, 1, 6)
    changed = unit.copy()
    changed[head] = np.interp(unit[head], knots, values)
    return changed


def _bias_field(unit, strength, rng):
    """A smooth multiplicative field (coarse random grid, bicubic), MRI's coil shading."""
    coarse = rng.normal(0, 0.3 * strength, (4, 4))
    field = cv2.resize(coarse, (unit.shape[1], unit.shape[0]), interpolation=cv2.INTER_CUBIC)
    return unit * np.exp(field)


def _small_affine(unit, strength, rng):
    """Rotation up to 10 degrees, scale within 10% and shift within 5% at strength 1."""
    height, width = unit.shape
    degrees = rng.uniform(-10, 10) * strength
    scale = 1 + rng.uniform(-0.1, 0.1) * strength
    shift = rng.uniform(-0.05, 0.05, 2) * strength * np.array([width, height])
    return _rotate(unit, degrees, scale, shift)


def training_transform(image, *, strength=0.5, random_state=None) -> np.ndarray:
    """A random training view of a canonical slice: new contrast, shading, noise and pose.

    Stacked random appearance, quality and spatial transforms (BigAug,
    Zhang et al., IEEE TMI 2020) that change how a slice looks but not what
    it shows, for training a network that should not read the scanner or the
    sequence: a random intensity curve inside the head (monotone,
    non-monotone or inverted; SynthSeg), a smooth bias field, a gamma curve,
    Gaussian blur, Gaussian noise (as TorchIO's random MRI artefacts) and a
    small affine move, each applied with probability 0.5 (the contrast and
    the affine move always). The image is mirrored half of the time.

    Parameters
    ----------
    image : 2-D array
        A canonical slice (float, 0 to 1 inside the head and 0 outside, as
        the pipeline's preprocessing gives; other ranges are scaled to 0..1).
    strength : float, default=0.5
        0 (identity but for the mirror and the curve's draw) to 1: how far
        each transform may go.
    random_state : int, RandomState, Generator or None, default=None

    Returns
    -------
    ndarray of float32, the image's shape, values in 0..1

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import training_transform
    >>> image = np.zeros((64, 64), np.float32); image[16:48, 16:48] = np.linspace(0, 1, 32)
    >>> view = training_transform(image, strength=1.0, random_state=0)
    >>> view.shape, view.dtype, bool(view.min() >= 0 and view.max() <= 1)
    ((64, 64), dtype('float32'), True)
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"training_transform takes a 2-D image, got shape {image.shape}")
    if not (isinstance(strength, Real) and 0 <= strength <= 1):
        raise ValueError(f"strength must be a number in 0..1, got {strength!r}")
    rng = (random_state if isinstance(random_state, np.random.Generator)
           else np.random.default_rng(check_random_state(random_state).randint(2**31)))
    low, high = _value_range(image)
    unit = (image.astype(np.float32) - low) / (high - low) if high > low else np.zeros(
        image.shape, np.float32)
    head = unit > 0
    if rng.random() < 0.5:
        unit, head = unit[:, ::-1], head[:, ::-1]
    unit = _random_contrast(unit, head, strength, rng)
    if rng.random() < 0.5:
        unit = _bias_field(unit, strength, rng)
    if rng.random() < 0.5:
        unit = unit ** math.exp(rng.uniform(-0.4, 0.4) * strength)
    if rng.random() < 0.5 and strength > 0:
        unit = cv2.GaussianBlur(unit, (0, 0), 0.1 + 1.4 * strength * rng.random())
    if rng.random() < 0.5:
        unit = unit + rng.normal(0, 0.05 * strength * rng.random(), unit.shape)
    unit = np.where(head, unit, 0).astype(np.float32)
    unit = _small_affine(np.ascontiguousarray(unit), strength, rng)
    return np.clip(unit, 0, 1).astype(np.float32)
