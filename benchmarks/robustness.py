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
"""

from __future__ import annotations

import time

import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score

from braintumor_features import make_pipeline
from braintumor_features.datasets import find_duplicates, load_folder, merge_duplicate_groups
from braintumor_features.pipeline import DEFAULT_FEATURES, default_features
from braintumor_features.preprocessing import Denoise
from braintumor_features.preprocessing import HistogramStandardizer

from accuracy import grouped_predictions, two_source_parser, union

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
    pipe = make_pipeline(n_jobs=n_jobs, random_state=0).set_params(**params)
    front, back = pipe[:-3], pipe[-3:]
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


if __name__ == "__main__":
    main()
