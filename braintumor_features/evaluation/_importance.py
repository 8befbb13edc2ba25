"""Which features a fitted pipeline uses: permutation or impurity importance."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

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


def _reaching(model, names):
    """Which of the extractor's columns reach the classifier: all but those a step before
    it drops (make_pipeline's check drops its acquisition columns)."""
    steps = model[:-1] if len(model) > 1 else None
    return np.ones(len(names), bool) if steps is None else np.isin(
        names, steps.get_feature_names_out(names))


def _tree_importances(classifier, n_features):
    """Each tree's ``feature_importances_``, one row per tree that splits at least once."""
    trees = [tree for tree in np.ravel(getattr(classifier, "estimators_", []))
             if hasattr(tree, "feature_importances_") and tree.tree_.node_count > 1]
    if not trees:  # e.g. boosting without separate trees: no spread to report
        return np.full((1, n_features), np.nan)
    return np.array([tree.feature_importances_ for tree in trees])


def _permuted_drops(model, matrix, y, columns, n_repeats, seed, baseline):
    """Drops in ``model.score`` when ``columns`` are shuffled together, ``n_repeats`` times."""
    rng = np.random.RandomState(seed)
    frame = hasattr(matrix, "iloc")
    shuffled = matrix.copy()
    drops = np.empty(n_repeats)
    for repeat in range(n_repeats):
        order = rng.permutation(len(y))
        if frame:
            shuffled.iloc[:, columns] = matrix.iloc[order, columns].to_numpy()
        else:
            shuffled[:, columns] = matrix[np.ix_(order, columns)]
        drops[repeat] = baseline - model.score(shuffled, y)
    return drops


def feature_importance(pipeline, X, y, *, method="permutation", by="feature", n_repeats=5,
                       n_jobs=None, random_state=0) -> pd.DataFrame:
    """How much a fitted pipeline relies on each feature, or on each feature family.

    Features are computed once. ``"permutation"`` shuffles the rows of a
    column of the feature matrix of ``X`` (with ``by="family"``, of all the
    columns of one family together, the same shuffle for each) and measures
    the drop in the accuracy of the model after the feature step; it works
    for any classifier (e.g. the SVM). Give it images the model was not
    trained on: on its training images a forest is right whatever is
    shuffled. ``"impurity"`` reads a tree ensemble's
    ``feature_importances_`` (mean decrease in impurity, random forest),
    learned from the training images (``X`` and ``y`` are unused).

    Correlated features share their importance: the model can read what a
    shuffled column carried from its neighbours, so a family of many
    similar columns (a histogram on a grid) can be important while each of
    its columns has a permutation importance near zero. Ask ``by="family"``
    for the importance of a family as a whole: it is *not* the sum of its
    columns' permutation importances, which adds up their noise.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline with a feature extraction step.
    X : sequence of images
        Held-out images (permutation) or any images (impurity: unused).
    y : array-like
        Their labels.
    method : {"permutation", "impurity"}, default="permutation"
    by : {"feature", "family"}, default="feature"
        One row per feature column, or one per family (the name a family
        has in :class:`~braintumor_features.features.ImageFeatures`, e.g.
        ``glcm``). With ``"impurity"`` a family's importance is the sum of
        its columns' (the impurity decrease of the splits on the family).
    n_repeats : int, default=5
        Shuffles per feature or family (permutation).
    n_jobs : int, default=None
        Parallel workers over the features or families (permutation).
    random_state : int or None, default=0
        Seed of the shuffles.

    Returns
    -------
    pandas.DataFrame
        Indexed by feature name (``by="feature"``) or family name, with
        ``family``, ``importance`` and ``std``; sorted by importance.
        Permutation: ``importance`` is the mean drop in accuracy over the
        shuffles (0 means the model does not use it, a small negative value
        is noise: shuffling it helped by chance) and ``std`` the spread of
        the drops over the shuffles. Impurity: ``importance`` is the
        forest's ``feature_importances_`` (summing to 1 over all columns)
        and ``std`` the standard deviation of the same over the forest's
        trees (NaN for a model without separate trees, such as one decision
        tree).

    Examples
    --------
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> from braintumor_features.evaluation import feature_importance
    >>> demo = make_demo(n_samples=40, image_size=64, random_state=0)
    >>> pipe = make_pipeline("rf", features=["glcm", "intensity"], image_size=64, random_state=0)
    >>> pipe = pipe.set_params(classifier__n_estimators=20).fit(demo.images, demo.target)
    >>> families = feature_importance(pipe, None, None, method="impurity", by="family")
    >>> families.index.tolist(), round(float(families.importance.sum()), 6)
    (['intensity', 'glcm'], 1.0)
    """
    if by not in ("feature", "family"):
        raise ValueError(f"by must be 'feature' or 'family', got {by!r}")
    if method not in ("permutation", "impurity"):
        raise ValueError(f"method must be 'permutation' or 'impurity', got {method!r}")
    features, model = _split_at_features(pipeline)
    extractor = features[-1]
    every_name = np.asarray(extractor.get_feature_names_out(), dtype=object)
    seen = _reaching(model, every_name)
    families = np.asarray(extractor._column_families(), dtype=object)[seen]
    if by == "feature":
        names, groups = every_name[seen], None
    else:
        names = list(dict.fromkeys(families))  # in the pipeline's order
        groups = [np.flatnonzero(families == name) for name in names]  # among the seen columns

    if method == "impurity":
        classifier = model[-1]
        if not hasattr(classifier, "feature_importances_"):
            raise ValueError(
                f"method='impurity' needs a tree ensemble; {type(classifier).__name__} has no "
                "feature_importances_: use method='permutation'"
            )
        importance = classifier.feature_importances_
        per_tree = _tree_importances(classifier, len(importance))
        if groups is not None:
            importance = np.array([importance[columns].sum() for columns in groups])
            per_tree = np.column_stack([per_tree[:, columns].sum(axis=1) for columns in groups])
        std = per_tree.std(axis=0)
    elif groups is None:
        result = permutation_importance(model, features.transform(X), np.asarray(y),
                                        n_repeats=n_repeats, n_jobs=n_jobs,
                                        random_state=random_state)
        importance, std = result.importances_mean[seen], result.importances_std[seen]
    else:
        matrix, y = features.transform(X), np.asarray(y)
        baseline = model.score(matrix, y)
        seeds = check_random_state(random_state).randint(np.iinfo(np.int32).max,
                                                         size=len(groups))
        drops = np.array(Parallel(n_jobs=n_jobs)(
            delayed(_permuted_drops)(model, matrix, y, np.flatnonzero(seen)[columns], n_repeats,
                                     seed, baseline)
            for columns, seed in zip(groups, seeds)))
        importance, std = drops.mean(axis=1), drops.std(axis=1)

    frame = pd.DataFrame(
        {"family": families if by == "feature" else names, "importance": importance,
         "std": std},
        index=pd.Index(names, name=by if by == "feature" else None),
    )
    return frame.sort_values("importance", ascending=False)
