"""One table of the library's models: texture SVM and random forest, the frozen CNN, both fused.

Usage::

    python benchmarks/models.py [--n-jobs 2] [--cache DIR]

For each model on the feature families of ``make_pipeline`` (``texture svm``:
the default features and SVM; ``texture rf``: the same features and the random
forest; ``cnn svm``: the pretrained ``cnn`` family alone; ``default+cnn svm``:
both families fused):

- brain-mri, subject-grouped 5-fold (4-class and 3-class; the folds of
  accuracy.py and of ``finetune_cnn.py --only brain-mri``, groups joined by
  near-duplicates across the three sources);
- cross_source.py's protocol: grouped 5-fold on the union of the three shared
  sources (overall, each source, each radiopaedia sequence) and each source left
  out;
- ``fit s``: one fit on the 5062 images from their files (the features'
  extraction plus the classifier's fit), CPU seconds of this process: with
  ``--n-jobs 1`` what one core spends, whatever else runs on the machine;
  ``predict ms``: the prediction of 100 files, one worker, CPU time per image.

The fine-tuned network's row is ``finetune_cnn.py``'s (``--only brain-mri``,
``--only sources`` and ``--only timing``), on the same folds: its training
takes an hour per protocol on two cores, so it has a script of its own.
Feature rows are kept in ``--cache`` (cross_source.py's files).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from accuracy import grouped_predictions, split_stateless, tasks
from cross_source import (
    _features,
    breakdown,
    cache_folder,
    command_line,
    leave_one_source_out,
    load_sources,
    scores,
)
from sklearn.base import clone

from braintumor_features import make_pipeline

#: name -> (make_pipeline's features, classifier)
MODELS = {
    "texture svm": ("default", "svm"),
    "texture rf": ("default", "rf"),
    "cnn svm": ("cnn", "svm"),
    "default+cnn svm": (["default", "cnn"], "svm"),
}


def _pipeline(features, classifier, n_jobs):
    return make_pipeline(features=features, classifier=classifier, n_jobs=n_jobs, random_state=0)


#: CPU seconds of each feature set's extraction in this run (NaN: read from the cache).
EXTRACTION = {}


def rows_of(features, sources, cache, n_jobs):
    """The feature rows of ``features`` (cross_source.py's cache file) and the CPU
    seconds their extraction took in this run (NaN where an earlier run's were read)."""
    key = features if isinstance(features, str) else "+".join(features)
    front = split_stateless(_pipeline(features, "svm", n_jobs))[0]
    missing = not (cache / f"{key}.npy").exists()
    start = time.process_time()
    X = _features(key, front, sources["paths"], cache)
    if missing:
        EXTRACTION[key] = time.process_time() - start
    return X, EXTRACTION.get(key, np.nan)


def predict_ms(features, back, sources):
    """CPU ms per image of the prediction of 100 files, one worker, by the front of
    ``features`` and the fitted ``back``."""
    front = split_stateless(_pipeline(features, "svm", 1))[0]
    sample = list(sources["paths"][:: len(sources["paths"]) // 100][:100])
    front.transform(sample[:2])  # the network's session opened
    start = time.process_time()
    back.predict(front.transform(sample))
    return 1000 * (time.process_time() - start) / len(sample)


def evaluate(name, features, classifier, sources, cache, n_jobs):
    X, extraction = rows_of(features, sources, cache, n_jobs)
    back = split_stateless(_pipeline(features, classifier, n_jobs))[1]
    y, groups, dataset = sources["y"], sources["groups"], sources["dataset"]
    row = {"model": name}
    mine = dataset == "brain-mri"
    for task, subset, labels in tasks(y[mine], sources["labels"]):
        predicted = grouped_predictions(back, X[mine][subset], y[mine][subset],
                                        groups[mine][subset])
        row[f"brain-mri {task}"] = scores(y[mine][subset], predicted, labels)["accuracy"]
    predicted = grouped_predictions(back, X, y, groups)
    for part in breakdown(y, predicted, sources["labels"], dataset, sources["sequence"]):
        row["union" if part["scored"] == "all" else part["scored"]] = part["accuracy"]
    for part in leave_one_source_out(name, back, X, sources):
        row[f"LOSO {part['scored']}"] = part["accuracy"]
    start = time.process_time()
    fitted = clone(back).fit(X, y)
    row["fit s"] = extraction + time.process_time() - start
    row["predict ms"] = predict_ms(features, fitted, sources)
    print(pd.DataFrame([row]).to_string(index=False, float_format=lambda v: f"{v:.3f}"),
          flush=True)
    return row


def main(argv=None):
    parser = command_line(__doc__)
    args = parser.parse_args(argv)
    cache = cache_folder(args.cache)
    sources = load_sources(args.n_jobs)
    rows = [evaluate(name, *MODELS[name], sources, cache, args.n_jobs)
            for name in args.only or list(MODELS)]
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(pd.DataFrame(rows).set_index("model").T.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
