"""Which features a fitted pipeline uses: permutation or impurity importance."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from ..features import FeatureExtractor

__all__ = ["feature_importance"]


def _split_at_features(pipeline):
    """The pipeline up to its feature extractor, and the model after it."""
    for index, (_, step) in enumerate(pipeline.steps):
        if isinstance(step, FeatureExtractor):
            return pipeline[: index + 1], pipeline[index + 1 :]
    raise ValueError(
        "the pipeline has no feature extraction step (a FeatureExtractor such as ImageFeatures); "
        "feature importance needs one"
    )


def feature_importance(pipeline, X, y, *, method="permutation", n_repeats=5, n_jobs=None,
                       random_state=0) -> pd.DataFrame:
    """How much a fitted pipeline relies on each feature.

    Features are computed once; permutation importance then shuffles each
    feature column of ``X``'s feature matrix and measures the drop in
    accuracy of the model after the feature step (works for any classifier,
    e.g. the SVM). ``"impurity"`` reads a tree ensemble's
    ``feature_importances_`` (mean decrease in impurity, random forest).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline with a feature extraction step.
    X : sequence of images
        Held-out images (permutation) or any images (impurity: unused).
    y : array-like
        Their labels.
    method : {"permutation", "impurity"}, default="permutation"
    n_repeats : int, default=5
        Shuffles per feature (permutation).
    n_jobs : int, default=None
    random_state : int or None, default=0

    Returns
    -------
    pandas.DataFrame
        Indexed by feature name, with ``family`` (the name the family has in
        :class:`~braintumor_features.features.ImageFeatures`, e.g. ``glcm``),
        ``importance`` and ``std``; sorted by importance.

    Examples
    --------
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.evaluation import feature_importance
    >>> demo = make_demo(n_samples=40, image_size=64, random_state=0)
    >>> pipe = make_pipeline("rf", features=["glcm", "intensity"], image_size=64, random_state=0)
    >>> pipe = pipe.set_params(classifier__n_estimators=20).fit(demo.images, demo.target)
    >>> sorted(feature_importance(pipe, demo.images, demo.target, method="impurity").family.unique())
    ['glcm', 'intensity']
    """
    features, model = _split_at_features(pipeline)
    names = features[-1].get_feature_names_out()
    if method == "impurity":
        classifier = model[-1]
        if not hasattr(classifier, "feature_importances_"):
            raise ValueError(
                f"method='impurity' needs a tree ensemble; {type(classifier).__name__} has no "
                "feature_importances_: use method='permutation'"
            )
        importance, std = classifier.feature_importances_, np.zeros(len(names))
    elif method == "permutation":
        result = permutation_importance(model, features.transform(X), np.asarray(y),
                                        n_repeats=n_repeats, n_jobs=n_jobs,
                                        random_state=random_state)
        importance, std = result.importances_mean, result.importances_std
    else:
        raise ValueError(f"method must be 'permutation' or 'impurity', got {method!r}")
    frame = pd.DataFrame(
        {"family": features[-1]._column_families(), "importance": importance,
         "std": std},
        index=pd.Index(names, name="feature"),
    )
    return frame.sort_values("importance", ascending=False)
