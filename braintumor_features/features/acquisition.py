"""How a slice was acquired and stored: how many of the file's pixels span the head, and its shape.

These numbers describe the file, not the anatomy: a model that learnt them
would read the scanner or the export (in brain-mri the tumour slices are
512 px and most normal slices about 225 px). :func:`~braintumor_features.make_pipeline`
computes them beside the features so that its
:class:`~braintumor_features.distribution.DistributionCheck` can flag a slice
given at fewer pixels than any training slice, or squeezed to another shape,
and then drops them: the classifier never sees them.
"""

from __future__ import annotations

import numpy as np

from .._utils import head_box
from ._base import FeatureExtractor

__all__ = ["AcquisitionFeatures"]


class AcquisitionFeatures(FeatureExtractor):
    """The head's span in the file's pixels and its aspect, from the preprocessing's scale.

    The head is found on the (canonical) image as the largest bright region
    (:func:`~braintumor_features.preprocessing.head_box`); the preprocessing
    chain tells how many of the image's pixels stand for one of the file's
    (:class:`~braintumor_features.preprocessing.Resize` is the step that
    resamples). Two columns, both logarithms:

    - ``acquisition_head_pixels``: the geometric mean of the head box's
      height and width in the file's pixels, at most in the image's own
      pixels: a head given with more pixels is brought down to the canonical
      size and carries the same detail, while one given with fewer is
      upsampled and blurred.
    - ``acquisition_head_aspect``: the head box's height over its width in
      the file's pixels (a slice resized to 700 x 100 has a head seven
      times taller than wide).

    Parameters
    ----------
    {extraction parameters}

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import AcquisitionFeatures
    >>> from braintumor_features.preprocessing import Resize
    >>> head = np.zeros((100, 100), np.uint8); head[10:90, 30:70] = 200
    >>> images = Resize(size=200, keep_aspect=True).fit_transform([head])
    >>> np.exp(AcquisitionFeatures().fit_transform(images)).round(1).tolist()
    [[56.6, 2.0]]
    """

    def __init__(self, n_jobs=None, batch_size=None, on_error="raise"):
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _uses_scale(self):
        return True

    def _features(self, image, mask, scale=(1.0, 1.0)):
        top, left, bottom, right = head_box(image)
        height, width = max(bottom - top, 1), max(right - left, 1)
        rows, columns = scale
        upsampled = max(np.sqrt(rows * columns), 1.0)
        return np.log([np.sqrt(height * width) / upsampled, (height / rows) / (width / columns)])

    def _feature_names(self):
        return ["acquisition_head_pixels", "acquisition_head_aspect"]
