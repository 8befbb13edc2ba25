"""Does a model read the tumour or the source? Three sources, one protocol.

Usage::

    python benchmarks/cross_source.py [--n-jobs 2] [--only NAME ...] [--cache DIR]

The three shared sources (../shared/data/brain-mri, brain-mri-sartaj,
brain-mri-radiopaedia) are read together with ``load_folders``. Subjects are
grouped as in accuracy.py (radiopaedia's ``subject`` is a case id), and
near-duplicate images (``find_duplicates``) join their groups, across
sources too. For each candidate (a feature set and a classifier):

- grouped 5-fold CV on the union (StratifiedGroupKFold over the joined
  groups): accuracy and balanced accuracy overall, of every source and of
  every radiopaedia sequence, with per-class recall;
- leave one source out: trained on the other two, scored on the third,
  leaving out the test images that have a near-copy in the training
  sources (how many is printed).

Candidates (``--only``): ``default`` (make_pipeline()'s features and SVM),
``no_clahe`` (the same without CLAHE), ``balanced`` (default features, each
source x class weighted equally in training), ``cnn`` (the CNNFeatures family
alone, where it is installed) and ``default+cnn`` (both, fused), and
``invariant`` and ``invariant+cnn``: the same with the canonical images and
features of issue 26 (``INVARIANT``: one effective resolution, rank
grey levels in the head, left/right grid cells pooled). Feature matrices are
kept in ``--cache`` between runs, and the invariant candidates' rows per
image and family (``make_pipeline(memory=...)``) in ``--cache`` too.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy import grouped_predictions, split_stateless, without_acquisition
from cnn import cached
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score
from sklearn.utils.class_weight import compute_sample_weight

from braintumor_features import make_pipeline
from braintumor_features.datasets import (
    find_duplicates,
    load_folders,
    merge_duplicate_groups,
)

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
SOURCES = ["brain-mri", "brain-mri-sartaj", "brain-mri-radiopaedia"]


def _cnn_available():
    """Whether the ``cnn`` family and its runtime (the ``[cnn]`` extra) are installed."""
    import importlib.util

    from braintumor_features.pipeline import FEATURE_FAMILIES

    return "cnn" in FEATURE_FAMILIES and importlib.util.find_spec("onnxruntime") is not None


#: make_pipeline parameters of issue 26's canonical images and side-blind features.
INVARIANT = {
    "resize__resolution": 128,
    "normalize__method": "rank",
    "features__lbp__sides": "pooled",
    "features__intensity__sides": "pooled",
}


class FamilyByFamily:
    """The feature rows of ``features`` (names as make_pipeline takes them) with the
    pipeline parameters ``params``, extracted and cached family by family in
    ``memory``, so a fused candidate reuses the rows of its parts."""

    def __init__(self, features, params, memory, n_jobs=1):
        self.features, self.params, self.memory, self.n_jobs = features, params, memory, n_jobs

    def _front(self, family):
        pipe = make_pipeline(features=family, n_jobs=self.n_jobs, memory=self.memory,
                             random_state=0)
        names = set(pipe.named_steps["features"].get_params())
        return without_acquisition(pipe.set_params(**{
            key: value for key, value in self.params.items()
            if not key.startswith("features__") or key[len("features__"):] in names
        })).set_output(transform="default")[:-3]

    def fit_transform(self, images):
        families = [self.features] if isinstance(self.features, str) else self.features
        return np.hstack([self._front(family).fit_transform(images) for family in families])

    transform = fit_transform


def candidates(n_jobs, memory=None):
    """name -> (features front, learned back, weighted): the pipelines compared."""
    default_front, back = split_stateless(make_pipeline(n_jobs=n_jobs, random_state=0))
    found = {
        "default": (default_front, back, False),
        "no_clahe": (split_stateless(make_pipeline(n_jobs=n_jobs).set_params(clahe="passthrough"))[0],
                     back, False),
        "balanced": (default_front, back, True),
    }
    if _cnn_available():
        found["cnn"] = (split_stateless(make_pipeline(features="cnn", n_jobs=n_jobs))[0], back, False)
        found["default+cnn"] = (split_stateless(make_pipeline(features=["default", "cnn"],
                                                              n_jobs=n_jobs))[0], back, False)
    found["invariant"] = (FamilyByFamily("default", INVARIANT, memory, n_jobs), back, False)
    if _cnn_available():
        found["invariant+cnn"] = (FamilyByFamily(["default", "cnn"], INVARIANT, memory, n_jobs),
                                  back, False)
    return found


def _features(name, front, paths, cache):
    """The rows of ``paths`` by ``front``, kept in ``cache`` (shared by candidates
    with the same front)."""
    key = {"balanced": "default"}.get(name, name)
    return cached(cache / f"{key}.npy", lambda: front.fit_transform(paths))


def scores(y, predicted, labels, subset=slice(None)):
    y, predicted = y[subset], predicted[subset]
    present = [label for label in labels if (y == label).any()]
    recalls = recall_score(y, predicted, labels=present, average=None, zero_division=np.nan)
    return {
        "n": len(y),
        "accuracy": accuracy_score(y, predicted),
        "balanced": balanced_accuracy_score(y, predicted),
        **{f"recall_{label}": recalls[present.index(label)] if label in present else np.nan
           for label in labels},
    }


def breakdown(y, predicted, labels, dataset, sequence):
    """Overall, per-source and per-sequence rows of one set of predictions."""
    rows = [{"scored": "all", **scores(y, predicted, labels)}]
    for source in SOURCES:
        rows.append({"scored": source, **scores(y, predicted, labels, dataset == source)})
    for value in sorted(set(sequence[dataset == SOURCES[2]])):
        chosen = (dataset == SOURCES[2]) & (sequence == value)
        rows.append({"scored": f"{SOURCES[2]} {value}", **scores(y, predicted, labels, chosen)})
    return rows


def weights(y, dataset, weighted):
    """Equal total weight for every (source, class) pair present, or None."""
    if not weighted:
        return None
    return compute_sample_weight("balanced", np.char.add(np.char.add(dataset, ":"), y))


def load_sources(n_jobs):
    """The three sources read together: a dict of paths, y, labels, masks (tumour
    outlines or None), dataset (the folder of each image), sequence and groups
    (subjects joined by near-duplicates)."""
    data = load_folders([DATA / name for name in SOURCES])
    # the folder of each image (load_folders' sources are metadata.csv's column)
    dataset = np.array([Path(path).relative_to(DATA).parts[0] for path in data.paths])
    counts = [int((dataset == name).sum()) for name in SOURCES]
    duplicates = find_duplicates(data.paths, n_jobs=n_jobs)
    groups = merge_duplicate_groups(data.groups, duplicates)
    print(f"{len(dataset)} images: " + ", ".join(f"{n} {name}" for name, n in zip(SOURCES, counts))
          + f"; {len(set(data.groups))} subjects joined into {len(set(groups))} groups by "
          "near-duplicates")
    return {
        "paths": data.paths, "y": data.target, "labels": list(data.target_names),
        "masks": data.masks,
        "dataset": dataset, "groups": groups,
        "sequence": data.sequence if data.sequence is not None else np.full(len(dataset), ""),
    }


def evaluate(name, back, X, sources, fit_params=None):
    """Grouped 5-fold CV on the union and leave one source out, for the rows ``X``.

    ``fit_params``: fit parameters of one value per image (cut to the training
    rows). Returns the rows of both tables.
    """
    fit_params = fit_params or {}
    y, labels, dataset, groups = (sources[key] for key in ("y", "labels", "dataset", "groups"))
    predicted = grouped_predictions(back, X, y, groups, params=fit_params)
    grouped = [{"candidate": name, **row}
               for row in breakdown(y, predicted, labels, dataset, sources["sequence"])]
    return grouped, leave_one_source_out(name, back, X, sources, fit_params)


def leave_one_source_out(name, back, X, sources, fit_params=None):
    """The rows of the second table of :func:`evaluate`: trained on two sources, scored
    on the third's images that have no near-copy in them."""
    fit_params = fit_params or {}
    y, labels, dataset, groups = (sources[key] for key in ("y", "labels", "dataset", "groups"))
    held_out = []
    for source in SOURCES:
        test = dataset == source
        # a test image whose group reaches a training source has a near-copy there
        fresh = test & ~np.isin(groups, list(set(groups[~test])))
        model = clone(back).fit(X[~test], y[~test],
                                **{key: value[~test] for key, value in fit_params.items()})
        held_out.append({"candidate": name, "scored": source,
                         "near-copies left out": int(test.sum() - fresh.sum()),
                         **scores(y[fresh], model.predict(X[fresh]), labels)})
    return held_out


def print_tables(grouped, held_out):
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    if grouped:
        print("\ngrouped 5-fold CV on the union of the three sources:")
        print(pd.DataFrame(grouped).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nleave one source out (trained on the other two):")
    print(pd.DataFrame(held_out).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def command_line(doc, only=True):
    """The parser of the scripts on this protocol: ``--n-jobs``, ``--cache`` and,
    with ``only``, ``--only NAME ...``; its first line of ``doc`` describes it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    if only:
        parser.add_argument("--only", nargs="+", default=None, metavar="NAME")
    parser.add_argument("--cache", type=Path, default=None)
    return parser


def cache_folder(path):
    """``path`` (made if missing), or a new temporary folder where it is None."""
    cache = path or Path(tempfile.mkdtemp())
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def main(argv=None):
    args = command_line(__doc__).parse_args(argv)
    cache = cache_folder(args.cache)

    sources = load_sources(args.n_jobs)
    found = candidates(args.n_jobs, memory=str(cache))
    grouped, held_out = [], []
    for name in args.only or list(found):
        front, back, weighted = found[name]
        X = _features(name, front, sources["paths"], cache)
        sample_weight = weights(sources["y"], sources["dataset"], weighted)
        fit_params = {} if sample_weight is None else {"classifier__sample_weight": sample_weight}
        rows = evaluate(name, back, X, sources, fit_params)
        grouped += rows[0]
        held_out += rows[1]
    print_tables(grouped, held_out)


if __name__ == "__main__":
    main()
