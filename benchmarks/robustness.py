"""Which preprocessing and feature choices hold across sources: a cross-source ablation.

Usage::

    python benchmarks/robustness.py [--data ../shared/data/brain-mri]
        [--second-source ../shared/data/brain-mri-sartaj] [--n-jobs 2] [--only NAME ...]

Each variant is the default ``make_pipeline("svm")`` with one choice changed
(``set_params``). Its steps up to ``features`` are fitted on brain-mri (only
the Nyúl standardisation learns anything there, and it sees no labels) and
turn both data sets into feature rows; the scaler and the SVM are then
scored three ways, 4-class:

- ``grouped``: StratifiedGroupKFold(5) over the patient on brain-mri, with
  near-duplicate images joined into one group;
- ``cross-source``: trained on all of brain-mri, scored on brain-mri-sartaj
  (other scanners, sequences and views);
- ``both, grouped``: StratifiedGroupKFold(5) on the union of both sources.

The ``vs default`` columns are the change of each score against the default.
The default LBP (``method="uniform"``) is already rotation-invariant (the
P + 2 rotation-invariant uniform patterns); ``"ror"`` on the default grids
has tens of thousands of columns and is left out.

Invariance (issue 26)::

    python benchmarks/robustness.py --invariance [--cache DIR] [--only NAME ...]
        [--augment] [--finetuned]

How often a benign change of a slice (``braintumor_features.preprocessing.
benign_change``: mirror, 1/4 and 1/2 resolution, gamma 0.8, rotation by 10
degrees, JPEG quality 30, 10% padding) flips the prediction, and the
accuracy on the changed slices. The models (``default``, ``default+cnn``
and their variants in ``INVARIANCE_CANDIDATES``) are trained on the
brain-mri subjects outside one fold of StratifiedGroupKFold(5) (near-copies
joined) and scored on 150 slices of that fold's held-out subjects, and on
150 slices of the other two sources (75 each). The grouped 5-fold accuracy
on brain-mri is printed with them. ``--augment`` adds, for every candidate,
a model trained with one changed copy of every training image
(``preprocessing.augment``, groups kept). ``--finetuned`` adds
``make_pipeline(classifier="cnn")`` where the library has it. Feature rows
are cached per image in ``--cache`` (``make_pipeline(memory=...)``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedGroupKFold

from braintumor_features import make_pipeline
from braintumor_features.datasets import find_duplicates, load_folder, merge_duplicate_groups
from braintumor_features.pipeline import DEFAULT_FEATURES, default_features
from braintumor_features.exceptions import OutOfDistributionWarning
from braintumor_features.io import read_image
from braintumor_features.preprocessing import (
    Denoise,
    HistogramStandardizer,
    augment,
    benign_change,
)

from accuracy import grouped_predictions, two_source_parser, union, without_acquisition
from cross_source import DATA, INVARIANT, SOURCES, FamilyByFamily

VARIANTS = {
    "default": {},
    "no head crop": {"crop": "passthrough"},
    "stretch to square (no padding)": {"resize__keep_aspect": False},
    "no CLAHE": {"clahe": "passthrough"},
    "min-max normalisation": {"normalize__method": "minmax"},
    "z-score in the head": {"normalize__method": "zscore"},
    "robust z-score in the head": {"normalize__method": "robust"},
    "Nyul standardisation (learned)": {"normalize": HistogramStandardizer()},
    "GLCM per angle (not averaged)": {"features__glcm__average_angles": False},
    "+ region shape and asymmetry": {
        "features__families": default_features(DEFAULT_FEATURES + ("region",))
    },
    # Is one family the carrier of the source? Each default family alone:
    "GLCM only": {"features__families": default_features(("glcm",))},
    "LBP only": {"features__families": default_features(("lbp",))},
    "intensity only": {"features__families": default_features(("intensity",))},
    # Fine texture (noise, compression) as the carrier: coarser canonical images.
    "128 x 128 canonical size": {"resize__size": 128},
    "Gaussian blur (sigma 1.5) in place of CLAHE": {
        "clahe": Denoise("gaussian", size=5, sigma=1.5)
    },
}
SCORES = ["grouped", "cross-source", "both, grouped"]


def grouped_accuracy(back, X, y, groups):
    return accuracy_score(y, grouped_predictions(back, X, y, groups))


def score_variant(params, data, other, groups, n_jobs):
    pipe = without_acquisition(make_pipeline(n_jobs=n_jobs, random_state=0).set_params(**params))
    front, back = pipe[:-3].set_output(transform="default"), pipe[-3:]
    features = front.fit_transform(data.paths)
    other_features = front.transform(other.paths)
    model = clone(back).fit(features, data.target)
    return {
        "grouped": grouped_accuracy(back, features, data.target, groups),
        "cross-source": accuracy_score(other.target, model.predict(other_features)),
        "both, grouped": grouped_accuracy(back, *union(features, data, groups, other_features,
                                                       other)),
    }


def main(argv=None):
    args = two_source_parser(__doc__, VARIANTS).parse_args(argv)
    data, other = load_folder(args.data), load_folder(args.second_source)
    groups = merge_duplicate_groups(data.groups, find_duplicates(data.paths, n_jobs=args.n_jobs))
    rows = []
    for name in args.only:
        start = time.perf_counter()
        row = {"variant": name, **score_variant(VARIANTS[name], data, other, groups, args.n_jobs)}
        print(f"{row} ({time.perf_counter() - start:.0f} s)", flush=True)
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("variant")
    if "default" in frame.index:
        for column in SCORES:
            frame[f"{column} vs default"] = frame[column] - frame.loc["default", column]
    pd.set_option("display.width", 200)
    signed = {f"{column} vs default": "{:+.3f}".format for column in SCORES}
    print(frame.to_string(float_format="{:.3f}".format, formatters=signed))
    return frame


#: The changes of the invariance table: (column name, change, strength).
TABLE_CHANGES = [
    ("mirror", "mirror", None),
    ("1/4 resolution", "downscale", 0.25),
    ("1/2 resolution", "downscale", 0.5),
    ("gamma 0.8", "gamma", 0.8),
    ("rotation 10 deg", "rotate", 10),
    ("JPEG 30", "jpeg", 30),
    ("pad 10%", "pad", 0.1),
]

_SIDES = {"features__lbp__sides": "pooled", "features__intensity__sides": "pooled"}

#: name -> (feature families, make_pipeline parameters changed with set_params): today's
#: recipe, each choice of issue 26 alone, and all of them (cross_source.INVARIANT).
INVARIANCE_CANDIDATES = {
    "default": ("default", {}),
    "default+cnn": (["default", "cnn"], {}),
    "sides pooled": ("default", _SIDES),
    "resolution 128": ("default", {"resize__resolution": 128}),
    "resolution 96": ("default", {"resize__resolution": 96}),
    "rank": ("default", {"normalize__method": "rank"}),
    "rank, no CLAHE": ("default", {"normalize__method": "rank", "clahe": "passthrough"}),
    "invariant": ("default", INVARIANT),
    "invariant+cnn": (["default", "cnn"], INVARIANT),
}


def _changed(paths, change, strength):
    return [benign_change(read_image(path), change, strength=strength) for path in paths]


def _held_out(data, groups, n, seed=0):
    """Training rows and ``n`` slices of the held-out subjects of one grouped fold."""
    cv = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
    train, test = next(cv.split(data.paths, data.target, groups))
    rng = np.random.RandomState(seed)
    return train, np.sort(rng.choice(test, size=min(n, len(test)), replace=False))


def _sample_other(n, seed=0):
    paths, y = [], []
    for name in SOURCES[1:]:
        other = load_folder(DATA / name)
        chosen = np.random.RandomState(seed).choice(len(other.paths), n // 2, replace=False)
        paths += [other.paths[i] for i in chosen]
        y += [other.target[i] for i in chosen]
    return paths, np.asarray(y)


def flip_table(model, rows_of, paths, y):
    """Flip rate, accuracy and share flagged by the distribution check of ``model``
    under every change of ``TABLE_CHANGES``."""
    check = model.named_steps.get("check")

    def predict(images):
        rows = rows_of(images)
        flagged = np.nan if check is None else float(np.mean(check.flag(rows)))
        return model.predict(rows), flagged

    base, flagged = predict(paths)
    row = {"original accuracy": accuracy_score(y, base), "original flagged": flagged}
    for column, change, strength in TABLE_CHANGES:
        predicted, flagged = predict(_changed(paths, change, strength))
        row[f"{column} flips"] = float(np.mean(predicted != base))
        row[f"{column} accuracy"] = accuracy_score(y, predicted)
        row[f"{column} flagged"] = flagged
    return row


def invariance(argv=None):
    parser = argparse.ArgumentParser(description="Flip rates under benign changes (issue 26)")
    parser.add_argument("--invariance", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA / SOURCES[0])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--only", nargs="+", default=list(INVARIANCE_CANDIDATES),
                        choices=list(INVARIANCE_CANDIDATES))
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--augment", action="store_true")
    parser.add_argument("--finetuned", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", OutOfDistributionWarning)  # counted in the table instead
    cache = args.cache or Path(tempfile.mkdtemp())
    data = load_folder(args.data)
    groups = merge_duplicate_groups(data.groups, find_duplicates(data.paths, n_jobs=1))
    paths, y = np.asarray(data.paths, dtype=object), np.asarray(data.target)
    train, test = _held_out(data, groups, args.n)
    other_paths, other_y = _sample_other(args.n)
    names = list(args.only)
    if args.finetuned:
        try:
            make_pipeline(classifier="cnn")
            names.append("finetuned cnn")
        except ValueError:
            print("make_pipeline(classifier='cnn') does not exist here: --finetuned skipped")
    table = []
    for name in names:
        start = time.perf_counter()
        if name == "finetuned cnn":  # pragma: no cover - where the library has it
            whole = make_pipeline(classifier="cnn", random_state=0)
            models = {name: whole.fit(list(paths[train]), y[train])}
            rows_of = list
        else:
            features, params = INVARIANCE_CANDIDATES[name]
            back = make_pipeline(random_state=0)[-3:]
            rows_of = FamilyByFamily(features, params, str(cache)).transform
            X = rows_of(list(paths))
            grouped = grouped_accuracy(back, X, y, groups)
            print(f"{name}: grouped accuracy on brain-mri {grouped:.3f}", flush=True)
            models = {name: clone(back).fit(X[train], y[train])}
            if args.augment:
                fit_start = time.perf_counter()
                copies, y_copies, _ = augment(list(paths[train]), y[train], n_copies=1,
                                              random_state=0)
                extra = rows_of(copies[len(train):])
                print(f"{name}: {len(extra)} changed copies extracted", flush=True)
                models[f"{name} + augmented"] = clone(back).fit(
                    np.vstack([X[train], extra]), np.concatenate([y[train], y_copies[len(train):]]))
                print(f"{name}: augmentation's extraction and fit {time.perf_counter() - fit_start:.0f} s",
                      flush=True)
        for label, model in models.items():
            for scored, (p, t) in {"brain-mri held out": (paths[test], y[test]),
                                   "other sources": (other_paths, other_y)}.items():
                row = {"model": label, "scored": scored, **flip_table(model, rows_of, list(p), t)}
                if name != "finetuned cnn":
                    row["grouped"] = grouped
                table.append(row)
                print(row, flush=True)
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)
    frame = pd.DataFrame(table).set_index(["model", "scored"])
    flips = frame[[c for c in frame.columns if c.endswith("flips")]]
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    print("\nshare of predictions flipped:")
    print(flips.rename(columns=lambda c: c[: -len(" flips")]).to_string(float_format="{:.1%}".format))
    accuracy = frame[[c for c in frame.columns if c.endswith("accuracy") or c == "grouped"]]
    print("\naccuracy on the changed slices:")
    print(accuracy.rename(columns=lambda c: c.replace(" accuracy", "")).to_string(
        float_format="{:.3f}".format))
    flagged = frame[[c for c in frame.columns if c.endswith("flagged")]]
    print("\nshare flagged by the distribution check (make_pipeline's check step, on the rows "
          "without the acquisition columns; distribution_check.py measures those):")
    print(flagged.rename(columns=lambda c: c[: -len(" flagged")]).to_string(
        float_format="{:.1%}".format))
    return frame


if __name__ == "__main__":
    invariance() if "--invariance" in sys.argv else main()
