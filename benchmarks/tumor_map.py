"""Does the tumour map family (``TumorMapFeatures``) help the default features? Whole pipelines.

Usage::

    python benchmarks/tumor_map.py [--data ../shared/data/brain-mri]
        [--second-source ../shared/data/brain-mri-sartaj] [--n-jobs 2]

Pipelines: ``make_pipeline()``, the same with the ``tumor_map`` family added to
the default families, and that without CLAHE (the map's tissue features are
measured against the head's own grey values, which CLAHE changes locally); each
scored as a whole (every fold fits every
step, the tumour map's cell classifier and its cross-fitting included, with the
patients as ``features__groups``), 4-class:

- grouped: StratifiedGroupKFold(5, shuffle=True, random_state=0) over the
  patient on brain-mri, subjects that share near-duplicate images joined;
- cross-source: trained on all of brain-mri, scored on brain-mri-sartaj;
- both, grouped: the same folds over the union of both sources (the second
  source's near-duplicates joined too).

brain-mri's images carry their tumour outlines (``load_folder``'s ``masks``),
from which the tumour map learns; the second source has none. Prints the
accuracies, per-class recalls and the time of each pipeline. The default
families' rows are kept in one in-memory ``FeatureCache`` shared by every
pipeline and fold, so each image's are computed once per preprocessing and the
tumour map is what is computed per fold.
About 40 minutes on 2 cores.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, recall_score

from braintumor_features import make_pipeline
from braintumor_features.datasets import find_duplicates, load_folder, merge_duplicate_groups
from braintumor_features.features import FeatureCache
from braintumor_features.images import with_masks
from braintumor_features.pipeline import DEFAULT_FEATURES

from accuracy import grouped_predictions, two_source_parser

#: Pipelines compared: their feature families and other parameters.
VARIANTS = {
    "default": (DEFAULT_FEATURES, {}),
    "default + tumor_map": (DEFAULT_FEATURES + ("tumor_map",), {}),
    "default + tumor_map, no CLAHE": (DEFAULT_FEATURES + ("tumor_map",),
                                       {"clahe": "passthrough"}),
}


def pipeline(variant, n_jobs):
    """The variant's whole pipeline, unfitted."""
    families, params = variant
    return make_pipeline(features=list(families), memory=FeatureCache(), n_jobs=n_jobs,
                         random_state=0).set_params(**params)


def scores(name, split, y, predicted, labels, seconds):
    recalls = recall_score(y, predicted, labels=labels, average=None, zero_division=np.nan)
    return {"pipeline": name, "split": split, "accuracy": accuracy_score(y, predicted),
            **{f"recall {label}": value for label, value in zip(labels, recalls)},
            "seconds": seconds}


def main(argv=None):
    args = two_source_parser(__doc__, VARIANTS).parse_args(argv)
    data, other = load_folder(args.data), load_folder(args.second_source)
    groups, other_groups = (
        merge_duplicate_groups(source.groups, find_duplicates(source.paths, n_jobs=args.n_jobs))
        for source in (data, other))
    X, y = with_masks(data.paths, data.masks), data.target
    X_other, y_other = list(other.paths), other.target
    both_X, both_y = X + X_other, np.concatenate([y, y_other])
    both_groups = np.concatenate([groups, [f"second:{g}" for g in other_groups]])
    labels = list(data.target_names)
    rows = []
    for name in args.only:
        variant = VARIANTS[name]
        start = time.perf_counter()
        predicted = grouped_predictions(pipeline(variant, args.n_jobs), X, y, groups,
                                        params={"features__groups": groups})
        rows.append(scores(name, "grouped", y, predicted, labels, time.perf_counter() - start))
        start = time.perf_counter()
        model = pipeline(variant, args.n_jobs).fit(X, y, features__groups=groups)
        predicted = model.predict(X_other)
        rows.append(scores(name, "cross-source", y_other, predicted, labels,
                           time.perf_counter() - start))
        start = time.perf_counter()
        predicted = grouped_predictions(pipeline(variant, args.n_jobs), both_X, both_y,
                                        both_groups, params={"features__groups": both_groups})
        rows.append(scores(name, "both, grouped", both_y, predicted, labels,
                           time.perf_counter() - start))
        print(pd.DataFrame(rows[-3:]).to_string(index=False, float_format="{:.3f}".format),
              flush=True)  # each pipeline's rows as soon as they are measured
    pd.set_option("display.width", 200)
    print("\n" + pd.DataFrame(rows).to_string(index=False, float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
