"""``make_pipeline``: the default recipe, as a plain scikit-learn Pipeline."""

from __future__ import annotations

from sklearn.base import is_classifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .classifiers import CNNClassifier, SVMClassifier
from .distribution import DistributionCheck
from .features import (
    AcquisitionFeatures,
    CNNFeatures,
    FeatureExtractor,
    GLCMFeatures,
    HOGFeatures,
    ImageFeatures,
    IntensityFeatures,
    LBPFeatures,
    RegionFeatures,
    TumorMapFeatures,
)
from .preprocessing import CLAHE, CropHead, Grayscale, NormalizeIntensity, Resize

__all__ = ["make_pipeline", "default_features", "FEATURE_FAMILIES"]

#: Feature families ``make_pipeline(features=[...])`` knows by name.
FEATURE_FAMILIES = {
    "glcm": GLCMFeatures,
    "lbp": LBPFeatures,
    "intensity": IntensityFeatures,
    "region": RegionFeatures,
    "hog": HOGFeatures,
    "tumor_map": TumorMapFeatures,
    "cnn": CNNFeatures,
}

#: Parameters that differ from a family's own defaults when it is chosen by
#: name: histograms on 1 x 1, 2 x 2 and 4 x 4 grids keep where in the head a
#: pattern lies (benchmarks/ablation.py: +0.017 4-class, +0.024 3-class
#: grouped accuracy over one histogram of the whole head).
RECIPE_PARAMETERS = {
    "lbp": {"radii": (1, 2), "grid": (1, 2, 4)},
    "intensity": {"bins": 16, "grid": (1, 2, 4)},
}

#: The families of the default recipe (benchmarks/ablation.py: region and
#: HOG add nothing measurable to these three).
DEFAULT_FEATURES = ("glcm", "lbp", "intensity")


def default_features(names=DEFAULT_FEATURES, random_state=None) -> list:
    """The named feature families with the recipe's parameters.

    Parameters
    ----------
    names : sequence of str, default=("glcm", "lbp", "intensity")
        Keys of ``FEATURE_FAMILIES``; parameters from ``RECIPE_PARAMETERS``.
    random_state : int or None, default=None
        Seed of the families that draw random numbers (``tumor_map``).

    Returns
    -------
    list of (str, FeatureExtractor)

    Examples
    --------
    >>> from braintumor_features.pipeline import default_features
    >>> [name for name, _ in default_features(["glcm", "lbp"])]
    ['glcm', 'lbp']
    """
    unknown = [name for name in names if name not in FEATURE_FAMILIES]
    if unknown:
        raise ValueError(
            f"unknown feature families {unknown}; choose from {sorted(FEATURE_FAMILIES)} "
            "or pass (name, extractor) pairs"
        )
    families = [(name, FEATURE_FAMILIES[name](**RECIPE_PARAMETERS.get(name, {}))) for name in names]
    for _, family in families:
        if "random_state" in family.get_params():
            family.set_params(random_state=random_state)
    return families


def _families(features, random_state):
    families = []
    for entry in [features] if isinstance(features, str) else features:
        if isinstance(entry, str):
            names = DEFAULT_FEATURES if entry == "default" else [entry]
            families += default_features(names, random_state)
        elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], FeatureExtractor):
            families.append(entry)
        else:
            raise ValueError(
                f"features entries must be family names or (name, FeatureExtractor) pairs, "
                f"got {entry!r}"
            )
    return families


def _classifier(classifier, n_jobs, random_state):
    if classifier == "svm":
        return SVMClassifier(class_weight="balanced", random_state=random_state)
    if classifier == "cnn":
        return CNNClassifier(n_jobs=n_jobs, random_state=random_state)
    if classifier == "rf":
        return RandomForestClassifier(
            n_estimators=500, class_weight="balanced", n_jobs=n_jobs, random_state=random_state
        )
    if not isinstance(classifier, str) and is_classifier(classifier):
        return classifier
    raise ValueError(
        f"classifier must be 'svm', 'rf', 'cnn' or a scikit-learn classifier, got {classifier!r}"
    )


def make_pipeline(
    classifier="svm",
    *,
    features="default",
    image_size=256,
    n_jobs=None,
    memory=None,
    random_state=None,
) -> Pipeline:
    """Build the default classification pipeline for brain MRI slices.

    The steps bring every image to one canonical form (grayscale, cropped to
    the head, padded to a square of one size, contrast-equalised,
    intensities normalised within the head), so the model sees anatomy and
    not the file's size or colour mode; then they extract GLCM texture and
    spatial grids of LBP and intensity histograms in one parallel pass,
    standardise them and classify.

    Parameters
    ----------
    classifier : {"svm", "rf", "cnn"} or classifier, default="svm"
        ``"svm"``: RBF support vector machine with calibrated probabilities
        (:class:`~braintumor_features.classifiers.SVMClassifier`);
        ``"rf"``: random forest of 500 trees; ``"cnn"``: EfficientNet-Lite0
        fine-tuned on the canonical images
        (:class:`~braintumor_features.classifiers.CNNClassifier`, trained with
        the ``[train]`` extra; the pipeline then has no ``features``,
        ``check`` or ``scale`` step, and ``features`` must stay
        ``"default"``); or any scikit-learn classifier.
    features : "default", str or list, default="default"
        ``"default"`` is ``("glcm", "lbp", "intensity")``. Feature families by
        name (``"glcm"``, ``"lbp"``, ``"intensity"``, ``"region"``, ``"hog"``,
        ``"tumor_map"``, ``"cnn"``, with ``RECIPE_PARAMETERS``; ``"default"``
        inside a list stands for the default families, so
        ``["default", "cnn"]`` fuses them with the pretrained network's
        features) and/or ``(name, FeatureExtractor)`` pairs.
    image_size : int, default=256
        Side of the square canonical image.
    n_jobs : int, default=None
        Parallel workers for feature extraction (and the random forest).
    memory : bool, str, joblib.Memory, FeatureCache or None, default=None
        Cache each image's feature row (the costly part; with
        ``classifier="cnn"``, the frozen stages' activations), keyed by the
        image's content, the preprocessing and the feature parameters, so
        that a grid search over the classifier's parameters, or a refit,
        extracts each image once (the rows of a family that learns, such as
        ``tumor_map``, are computed at every fit): ``True`` keeps rows in memory, a directory
        or :class:`joblib.Memory` on disk (shared by worker processes and
        sessions). Passed to the ``features`` step as ``cache`` (see
        :class:`~braintumor_features.features.FeatureCache`); the fitted
        steps themselves are cheap and not cached.
    random_state : int or None, default=None
        Seed of the classifier and of the families named in ``features``
        that draw random numbers (``tumor_map``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``grayscale``, ``crop``, ``resize``, ``clahe``, ``normalize``,
        ``features``, ``check``, ``scale``, ``classifier``; parameters are
        addressed as usual, e.g. ``classifier__C`` or
        ``features__glcm__distances``. ``check``
        (:class:`~braintumor_features.distribution.DistributionCheck`) passes
        the rows through and warns with an
        :class:`~braintumor_features.exceptions.OutOfDistributionWarning`
        about images unlike every training image (blank, tiny, noise, not a
        brain, given at fewer pixels or another shape than every training
        slice); ``pipe.named_steps["check"].flag(rows)`` tells which. The
        ``features`` step ends with two
        :class:`~braintumor_features.features.AcquisitionFeatures` columns
        for the check, which it drops: the classifier never sees them (a
        pipeline without the check must leave out that family too:
        ``features__families=pipe["features"].families[:-1]``).
        The ``features``, ``check`` and ``scale`` steps give
        :class:`pandas.DataFrame` rows whose columns are the features' names
        (``pipe[:-1].transform(images)``), so the classifier and
        ``set_output(transform="pandas")`` on the fitted pipeline know them;
        ``.to_numpy()`` gives the array.

    Examples
    --------
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> demo = make_demo(n_samples=40, random_state=0)
    >>> pipe = make_pipeline("rf", image_size=64, random_state=0).fit(demo.images, demo.target)
    >>> pipe.predict_proba(demo.images[:2]).shape
    (2, 4)
    >>> list(pipe.named_steps)[-4:]
    ['features', 'check', 'scale', 'classifier']
    >>> pipe[:-1].transform(demo.images[:2]).columns[0]
    'glcm_asm_d1'
    """
    preprocessing = [
        ("grayscale", Grayscale()),
        ("crop", CropHead()),
        ("resize", Resize(size=image_size, keep_aspect=True)),
        ("clahe", CLAHE()),
        ("normalize", NormalizeIntensity()),
    ]
    if isinstance(classifier, str) and classifier == "cnn":
        if not (isinstance(features, str) and features == "default"):
            raise ValueError(f"classifier='cnn' learns from the images and takes no features; "
                             f"got features={features!r}")
        network = _classifier(classifier, n_jobs, random_state).set_params(memory=memory)
        return Pipeline([*preprocessing, ("classifier", network)])
    # The rows travel as DataFrames with the features' names, so every step after the
    # features learns them: set_output(transform="pandas") on the fitted pipeline then
    # names the columns (not x0, x1, ...) and predicts without feature-name warnings.
    # The acquisition columns (how many of the file's pixels span the head, its shape) are
    # for the check alone, which drops them: the classifier cannot learn the file's size.
    families = [*_families(features, random_state), ("acquisition", AcquisitionFeatures())]
    tables = [
        ("features", ImageFeatures(families, n_jobs=n_jobs, cache=memory)),
        ("check", DistributionCheck()),
        ("scale", StandardScaler()),
    ]
    for _, step in tables:
        step.set_output(transform="pandas")
    return Pipeline(
        [*preprocessing, *tables, ("classifier", _classifier(classifier, n_jobs, random_state))]
    )
