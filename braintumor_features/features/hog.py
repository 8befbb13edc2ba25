"""Histograms of oriented gradients (HOG): where in the head the edges lie.

On the canonical head image (cropped to the head, one size) the HOG cells
sit at the same place of every head, so the descriptor records the layout of
edges: ventricles, midline, a mass and its border.

References
----------
Dalal and Triggs, "Histograms of oriented gradients for human detection",
CVPR 2005.
"""

from __future__ import annotations

from numbers import Integral

import cv2
import numpy as np
from skimage.feature import hog
from sklearn.utils._param_validation import Interval

from ._base import FeatureExtractor

__all__ = ["HOGFeatures"]


class HOGFeatures(FeatureExtractor):
    """HOG descriptor of the image resized to a fixed square.

    The image is resized (area interpolation) to ``size`` x ``size`` and
    described by ``skimage.feature.hog`` with blocks of 2 x 2 cells
    normalised by L2-Hys.

    Parameters
    ----------
    size : int, default=128
        Side of the square the image is resized to.
    cell_size : int, default=16
        Side of a HOG cell in pixels (of the resized image).
    orientations : int, default=9
        Number of orientation bins.
    {extraction parameters}

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import HOGFeatures
    >>> images = [np.random.default_rng(0).random((50, 60))]
    >>> hog_features = HOGFeatures(size=32, cell_size=8)
    >>> hog_features.fit_transform(images).shape
    (1, 324)
    >>> hog_features.get_feature_names_out()[0]
    'hog_block00_00_cell0_0_o0'
    """

    _parameter_constraints = {
        **FeatureExtractor._parameter_constraints,
        "size": [Interval(Integral, 2, None, closed="left")],
        "cell_size": [Interval(Integral, 1, None, closed="left")],
        "orientations": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self, size=128, cell_size=16, orientations=9, n_jobs=None, batch_size=None,
        on_error="raise",
    ):
        self.size = size
        self.cell_size = cell_size
        self.orientations = orientations
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _check_parameters(self):
        if self.size < 2 * self.cell_size:
            raise ValueError(
                f"size ({self.size}) must hold at least 2 cells of cell_size ({self.cell_size}) "
                "per side, the size of one block"
            )

    def _blocks(self):
        return self.size // self.cell_size - 1

    def _features(self, image, mask):
        small = cv2.resize(image.astype(np.float32, copy=False), (self.size, self.size),
                           interpolation=cv2.INTER_AREA)
        cell = (self.cell_size, self.cell_size)
        return hog(small, orientations=self.orientations, pixels_per_cell=cell,
                   cells_per_block=(2, 2), block_norm="L2-Hys", feature_vector=True)

    def _feature_names(self):
        blocks = self._blocks()
        return [
            f"hog_block{r:02d}_{c:02d}_cell{i}_{j}_o{o}"
            for r in range(blocks) for c in range(blocks)
            for i in range(2) for j in range(2) for o in range(self.orientations)
        ]
