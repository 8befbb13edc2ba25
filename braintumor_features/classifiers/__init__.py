"""Classifiers with the parameters a grid search over this library expects.

:class:`SVMClassifier` takes feature rows; :class:`CNNClassifier` takes the
pipeline's canonical images and fine-tunes a pretrained network on them.
"""

from ._cnn import CNNClassifier
from ._svm import SVMClassifier

__all__ = ["SVMClassifier", "CNNClassifier"]
