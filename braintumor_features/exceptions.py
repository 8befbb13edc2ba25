"""Every exception and warning the library raises, in one leaf module.

Each is also importable from the module that raises it.
"""

__all__ = [
    "ImageReadError",
    "LargeImageWarning",
    "ModelFileError",
    "ModelVersionWarning",
    "OutOfDistributionWarning",
    "SharedDuplicatesWarning",
    "ShortcutWarning",
    "SkippedImagesWarning",
    "TrainingOverlapWarning",
    "UngroupedCVWarning",
    "UntrustedModelError",
]


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file and the reason.

    Examples
    --------
    >>> import os, tempfile
    >>> from braintumor_features import ImageReadError, read_image
    >>> path = os.path.join(tempfile.mkdtemp(), "missing.png")
    >>> try:
    ...     read_image(path)
    ... except ImageReadError as error:
    ...     print("missing.png" in str(error))
    True
    """


class LargeImageWarning(UserWarning):
    """A JPEG larger than ``MAX_PIXELS`` was decoded at a reduced scale.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features.io import LargeImageWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", LargeImageWarning)  # refuse downscaled images
    ...     issubclass(LargeImageWarning, UserWarning)
    True
    """


class SkippedImagesWarning(UserWarning):
    """Some images could not be processed and were skipped (``on_error="skip"``).

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from braintumor_features.exceptions import SkippedImagesWarning
    >>> from braintumor_features.features import IntensityFeatures
    >>> images = [np.zeros((8, 8), np.uint8), "missing.png"]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     rows = IntensityFeatures(on_error="skip").fit_transform(images)
    >>> any(issubclass(w.category, SkippedImagesWarning) for w in caught)
    True
    >>> bool(np.isnan(rows[1]).all())
    True
    """


class ModelFileError(ValueError):
    """A file is not a model this library can load; the message names it.

    Examples
    --------
    >>> import os, tempfile
    >>> from braintumor_features.persistence import ModelFileError, load_model
    >>> try:
    ...     load_model(os.path.join(tempfile.mkdtemp(), "none.joblib"))
    ... except ModelFileError as error:
    ...     print("none.joblib" in str(error))
    True
    """


class UntrustedModelError(ModelFileError):
    """A ``.skops`` file contains types that were not declared trusted.

    The message lists the types; pass them as ``load_model(path,
    trusted=[...])`` only if you trust where the file comes from.

    Examples
    --------
    >>> from braintumor_features.persistence import ModelFileError, UntrustedModelError
    >>> issubclass(UntrustedModelError, ModelFileError)
    True
    """


class ModelVersionWarning(UserWarning):
    """A model was saved with other versions of the library, scikit-learn or NumPy.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features.persistence import ModelVersionWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", ModelVersionWarning)  # refuse such models
    ...     issubclass(ModelVersionWarning, UserWarning)
    True
    """


class UngroupedCVWarning(UserWarning):
    """Cross-validation without ``groups``: slices of one patient may be on both sides.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.dummy import DummyClassifier
    >>> from braintumor_features.evaluation import UngroupedCVWarning, evaluate
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = evaluate(DummyClassifier(), [[0]] * 6, ["a", "b"] * 3, cv=3)
    >>> [w.category.__name__ for w in caught]
    ['UngroupedCVWarning']
    """


class SharedDuplicatesWarning(UserWarning):
    """A split puts duplicates of one image in both its train and its test side.

    Issued by :func:`evaluate` when given ``duplicates``; join the groups of
    duplicated images with
    :func:`~braintumor_features.datasets.merge_duplicate_groups`.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features.evaluation import SharedDuplicatesWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", SharedDuplicatesWarning)  # make leakage an error
    ...     issubclass(SharedDuplicatesWarning, UserWarning)
    True
    """


class ShortcutWarning(UserWarning):
    """Metadata alone predicts the label far above chance: the data set has a shortcut.

    Issued by :func:`~braintumor_features.evaluation.shortcut_audit` (see
    :attr:`~braintumor_features.evaluation.ShortcutAudit.label_skill` for the
    rule), and by ``braintumor train`` when all the images of a class come
    from one of several sources.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features.evaluation import ShortcutWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", ShortcutWarning)  # refuse confounded data
    ...     issubclass(ShortcutWarning, UserWarning)
    True
    """


class OutOfDistributionWarning(UserWarning):
    """Some images lie outside what the model was trained on; their predictions are doubtful.

    Issued by :class:`~braintumor_features.distribution.DistributionCheck`
    (a step of :func:`~braintumor_features.make_pipeline`) for blank, tiny,
    noisy or non-brain images, whose features no training image resembles.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features.exceptions import OutOfDistributionWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", OutOfDistributionWarning)  # refuse such images
    ...     issubclass(OutOfDistributionWarning, UserWarning)
    True
    """


class TrainingOverlapWarning(UserWarning):
    """Test images are the model's training images, or near-copies of them.

    Issued by :func:`~braintumor_features.evaluation.evaluate` with
    ``cv="prefit"`` and a ``training`` summary (and so by ``braintumor
    evaluate``): scores on images the model has seen overstate its accuracy
    on new ones. The message says how many images are the same files and how
    many are near-duplicates of training images.

    Examples
    --------
    >>> import warnings
    >>> from braintumor_features.exceptions import TrainingOverlapWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", TrainingOverlapWarning)  # refuse leaky evaluations
    ...     issubclass(TrainingOverlapWarning, UserWarning)
    True
    """
