"""Learned intensity standardisation: Nyúl–Udupa histogram standardisation.

MRI intensities have no fixed unit: the same tissue has different grey
values on different scanners, sequences and exports, so a model trained on
one source reads another source's grey levels wrongly.
:class:`HistogramStandardizer` learns, in ``fit``, a standard scale from the
training images (Nyúl, Udupa and Zhang, "New variants of a method of MRI
scale standardization", IEEE TMI 19(2), 2000) and maps every image onto it
piecewise linearly, so any monotone change of a source's grey levels is
undone up to the curvature between landmarks.

The per-image alternative that learns nothing, a robust z-score inside the
head, is ``NormalizeIntensity(method="robust")`` in
:mod:`braintumor_features.preprocessing`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from .._parallel import extract
from .._utils import head_mask
from ._base import ImageStep

__all__ = ["HistogramStandardizer"]


class HistogramStandardizer(ImageStep):
    """Nyúl–Udupa histogram standardisation learned from training images.

    For each image, the ``percentiles`` of its intensities (inside the head
    by default) are its landmarks. ``fit`` maps every training image's
    first and last landmark linearly onto ``scale`` and averages where its
    other landmarks land: those means are ``standard_landmarks_``.
    ``transform`` maps each image piecewise linearly from its own landmarks
    to the standard ones; intensities beyond the first and last landmark
    follow the end segments' slopes.

    Parameters
    ----------
    percentiles : sequence of float, default=(1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99)
        Landmark percentiles, strictly increasing, in [0, 100].
    scale : (float, float), default=(0.0, 1.0)
        Where the first and last landmark go (Nyúl's s1 and s2).
    within_head : bool, default=True
        Take the landmarks over the head
        (:func:`~braintumor_features.preprocessing.head_mask`) only, so the
        amount of black background does not move them.
    n_jobs : int, default=None
        Worker processes reading the training images' landmarks in ``fit``
        (None means 1, -1 all cores; one process inside another joblib
        worker, as for the feature extractors).

    Attributes
    ----------
    standard_landmarks_ : ndarray of shape (n_percentiles,)
        The learned standard scale: the mean mapped landmark of each
        percentile over the training images. Images constant between their
        first and last landmark are left out; when every one is, the
        landmarks of a uniform histogram are used.
    n_images_ : int
        Number of training images that set the scale.

    Notes
    -----
    Images are returned as ``float32``. Like the other image steps,
    ``transform`` computes nothing: it appends a copy of this fitted step to
    the images' chain. ``fit`` computes every training image once (through
    the preceding steps of a pipeline) to read its landmarks.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.preprocessing import HistogramStandardizer
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.integers(0, 200, (32, 32)).astype(np.uint8) for _ in range(4)]
    >>> step = HistogramStandardizer(percentiles=(1, 50, 99), within_head=False).fit(images)
    >>> step.standard_landmarks_.round(2).tolist()
    [0.0, 0.5, 1.0]
    >>> out = step.transform([np.sqrt(images[0].astype(float))])  # another grey scale
    >>> round(float(np.median(out[0])), 2)
    0.5
    """

    _parameter_constraints = {
        "percentiles": [tuple, list, np.ndarray],
        "scale": [tuple, list],
        "within_head": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, percentiles=(1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99), scale=(0.0, 1.0),
                 within_head=True, n_jobs=None):
        self.percentiles = percentiles
        self.scale = scale
        self.within_head = within_head
        self.n_jobs = n_jobs

    def _check_parameters(self):
        percentiles = np.asarray(self.percentiles, dtype=float)
        if (percentiles.ndim != 1 or len(percentiles) < 2 or np.any(np.diff(percentiles) <= 0)
                or percentiles[0] < 0 or percentiles[-1] > 100):
            raise ValueError(
                "percentiles must be at least two strictly increasing values in [0, 100], "
                f"got {self.percentiles!r}"
            )
        if (len(self.scale) != 2 or not all(isinstance(v, Real) for v in self.scale)
                or not self.scale[0] < self.scale[1]):
            raise ValueError(f"scale must be (low, high) with low < high, got {self.scale!r}")

    def _landmarks(self, image, mask=None):
        values = image[head_mask(image)] if self.within_head else image.ravel()
        return np.percentile(values.astype(np.float64, copy=False), self.percentiles)

    def _fit(self, X, y=None):
        """Learn the standard landmarks from the training images."""
        landmarks, _ = extract(X, self._landmarks, n_features=len(self.percentiles),
                               n_jobs=self.n_jobs)
        landmarks = landmarks[landmarks[:, -1] > landmarks[:, 0]]  # constant ones say nothing
        self.n_images_ = len(landmarks)
        if not len(landmarks):  # nothing to learn: the landmarks of a uniform histogram
            landmarks = np.asarray(self.percentiles, dtype=float)[None, :]
        low, high = self.scale
        mapped = low + (landmarks - landmarks[:, :1]) * (
            (high - low) / (landmarks[:, -1:] - landmarks[:, :1]))
        self.standard_landmarks_ = mapped.mean(axis=0)

    def _apply(self, image, mask):
        """Map one image from its own landmarks to the standard ones."""
        landmarks = self._landmarks(image)
        standard = self.standard_landmarks_
        # Ties (flat stretches of the histogram) would make the map undefined: spread them
        # by a negligible amount so the landmarks increase strictly.
        spread = max(landmarks[-1] - landmarks[0], 1.0) * 1e-9
        landmarks = np.maximum.accumulate(landmarks) + spread * np.arange(len(landmarks))
        values = image.astype(np.float64, copy=False)
        out = np.interp(values, landmarks, standard)
        slopes = np.diff(standard)[[0, -1]] / np.diff(landmarks)[[0, -1]]
        below, above = values < landmarks[0], values > landmarks[-1]
        out[below] = standard[0] + (values[below] - landmarks[0]) * slopes[0]
        out[above] = standard[-1] + (values[above] - landmarks[-1]) * slopes[1]
        return out.astype(np.float32), mask
