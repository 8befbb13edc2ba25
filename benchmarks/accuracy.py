"""Accuracy of the default pipelines on real MRI, measured without leakage.

Usage::

    python benchmarks/accuracy.py [--data ../shared/data/brain-mri] [--n-jobs 2]

Prints, for the default ``make_pipeline("svm")`` and ``make_pipeline("rf")``:
accuracy, macro F1 and per-class recall with StratifiedGroupKFold(5) over the
patient (``subject``), for the 4-class task and the 3-class tumour-type task,
next to the same with a random (leaky) split that puts slices of one patient
on both sides. Near-duplicate images (the same slice saved at two sizes,
found by ``find_duplicates``) are joined into one group, so no copy of an
image is on both sides of a grouped split. Then: the accuracy of a
classifier that sees only file metadata (``evaluation.shortcut_audit``:
original size, colour mode, format, bit depth, value range, file size), the
shortcut the canonical preprocessing must not learn, and how well our
features tell the image's source; the cross-source score (trained on all of
brain-mri, scored on brain-mri-sartaj, a second source with other scanners
and views), the union of both sources subject-grouped, and leave one source
out over the ``source`` column (br35h, figshare, sartaj); and the
figshare-style region-of-interest protocol (``roi_protocol.py``) when
``--roi`` is given.

Feature steps that learn nothing are computed once for all images and the
learned steps (scaler, classifier, and any fitted feature step) are
cross-validated; for such steps this gives exactly the numbers of
cross-validating the whole pipeline, in a fraction of the time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from braintumor_features import make_pipeline
from braintumor_features.datasets import find_duplicates, load_folder, merge_duplicate_groups
from braintumor_features.evaluation import leave_one_source_out, shortcut_audit

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "brain-mri"
SECOND_SOURCE = HERE.parent.parent / "shared" / "data" / "brain-mri-sartaj"
TUMOURS = ["glioma", "meningioma", "pituitary"]


def two_source_parser(doc, variants=None):
    """The options of the benchmarks that read both sources: ``--data``,
    ``--second-source``, ``--n-jobs`` and, given ``variants``, ``--only``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--second-source", type=Path, default=SECOND_SOURCE)
    parser.add_argument("--n-jobs", type=int, default=2)
    if variants is not None:
        parser.add_argument("--only", nargs="+", choices=list(variants), default=list(variants),
                            metavar="NAME", help="variants to run (default: all)")
    return parser


def without_acquisition(pipe: Pipeline) -> Pipeline:
    """``pipe`` without its ``acquisition`` feature family (make_pipeline's
    AcquisitionFeatures). The benchmarks keep feature rows as arrays, which carry no
    column names: the check could not find those columns to drop them, and the
    classifier would learn the file's size from them."""
    features = pipe.named_steps.get("features")
    if features is not None:
        pipe.set_params(features__families=[(name, family) for name, family in features.families
                                             if name != "acquisition"])
    return pipe


def split_stateless(pipe: Pipeline):
    """Split a pipeline where the steps that learn nothing end (without the acquisition
    columns, see :func:`without_acquisition`); the front gives arrays."""
    pipe = without_acquisition(pipe)
    for name in ("features", "check", "scale"):
        if name in pipe.named_steps:
            pipe.named_steps[name].set_output(transform="default")
    for index, (_, step) in enumerate(pipe.steps):
        if step not in (None, "passthrough") and step.__sklearn_tags__().requires_fit:
            return pipe[:index], pipe[index:]
    return pipe, None


def scores(y, predicted, labels):
    recalls = recall_score(y, predicted, labels=labels, average=None, zero_division=np.nan)
    return {
        "accuracy": accuracy_score(y, predicted),
        "macro_f1": f1_score(y, predicted, labels=labels, average="macro"),
        **{f"recall_{label}": r for label, r in zip(labels, recalls)},
    }


def tasks(target, target_names):
    """(name, rows, labels) of the 4-class task and of the 3-class tumour-type task."""
    return [("4-class", slice(None), list(target_names)),
            ("3-class", np.isin(target, TUMOURS), TUMOURS)]


def grouped_predictions(learned, X, y, groups, n_jobs=None, seed=0, params=None):
    """Out-of-fold predictions of StratifiedGroupKFold(5) over ``groups``; ``params`` are
    passed to ``fit``, those of one value per sample cut to each fold's training part."""
    cv = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
    return cross_val_predict(clone(learned), X, y, groups=groups, cv=cv, n_jobs=n_jobs,
                             params=params)


def union(features, data, groups, other_features, other):
    """Rows, labels and groups of both sources (the second's subjects kept apart)."""
    return (np.vstack([features, other_features]),
            np.concatenate([data.target, other.target]),
            np.concatenate([groups, [f"second:{g}" for g in other.groups]]))


def evaluate_features(features, learned, y, groups, labels, seed=0):
    leaky = StratifiedKFold(5, shuffle=True, random_state=seed)
    return {
        "subject-grouped": scores(y, grouped_predictions(learned, features, y, groups, seed=seed),
                                  labels),
        "random (leaky)": scores(y, cross_val_predict(clone(learned), features, y, cv=leaky),
                                 labels),
    }


def main(argv=None):
    parser = two_source_parser(__doc__)
    parser.add_argument("--roi", action="store_true", help="also run the figshare-style protocol")
    args = parser.parse_args(argv)

    data = load_folder(args.data)
    other = load_folder(args.second_source) if args.second_source.exists() else None
    y = data.target
    groups = merge_duplicate_groups(data.groups, find_duplicates(data.paths, n_jobs=args.n_jobs))
    print(f"{len(set(data.groups))} subjects joined into {len(set(groups))} groups by duplicates")
    labels4 = list(data.target_names)
    table = []
    stateless, _ = split_stateless(make_pipeline(n_jobs=args.n_jobs))
    start = time.perf_counter()
    features = stateless.transform(data.paths)
    print(f"{features.shape[1]} features of {len(data.paths)} images "
          f"in {time.perf_counter() - start:.0f} s")
    if other is not None:
        other_features = stateless.transform(other.paths)
        both, both_y, both_groups = union(features, data, groups, other_features, other)
    for classifier in ["svm", "rf"]:
        # The classifier is the only difference: the feature steps are shared.
        _, learned = split_stateless(make_pipeline(classifier, n_jobs=args.n_jobs, random_state=0))
        for task, subset, labels in tasks(y, data.target_names):
            results = evaluate_features(features[subset], learned, y[subset], groups[subset], labels)
            for split, result in results.items():
                table.append({"classifier": classifier, "task": task, "split": split, **result})
        if other is not None:
            model = clone(learned).fit(features, y)
            predicted = model.predict(other_features)
            table.append({"classifier": classifier, "task": "4-class",
                          "split": f"cross-source: {args.second_source.name}",
                          **scores(other.target, predicted, labels4)})
            predicted = grouped_predictions(learned, both, both_y, both_groups)
            table.append({"classifier": classifier, "task": "4-class",
                          "split": "subject-grouped, both sources",
                          **scores(both_y, predicted, labels4)})
    audit = shortcut_audit(data.paths, y, groups, sources=data.frame["source"].to_numpy(),
                           features=features, n_jobs=args.n_jobs)
    table.append({"classifier": "metadata only (rf)", "task": "4-class", "split": "subject-grouped",
                  **scores(audit.label_report.y_true, audit.label_report.y_pred, labels4)})
    frame = pd.DataFrame(table)
    pd.set_option("display.width", 200)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nshortcut audit (file metadata -> label; our features -> source), subject-grouped:")
    print(audit.summary().to_string(float_format=lambda v: f"{v:.3f}"))
    if other is not None:
        sources = np.concatenate([data.frame["source"].to_numpy(), other.frame["source"].to_numpy()])
        _, learned = split_stateless(make_pipeline("svm", n_jobs=args.n_jobs, random_state=0))
        loso = leave_one_source_out(learned, both, both_y, sources, n_jobs=args.n_jobs)
        print("\nleave one source out (svm; n_unseen: test images of a class no training source has):")
        print(loso.to_string(float_format=lambda v: f"{v:.3f}"))
    if args.roi:
        import roi_protocol

        roi_protocol.main(["--data", str(args.data), "--n-jobs", str(args.n_jobs)])
    return frame


if __name__ == "__main__":
    main()
