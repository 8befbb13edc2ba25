"""Which feature families earn their place: subject-grouped accuracy of combinations.

Usage::

    python benchmarks/ablation.py [--data ../shared/data/brain-mri] [--n-jobs 2]

Every candidate family is computed once on the canonical images of the
default pipeline (grayscale, head crop, aspect-preserving 256 x 256, CLAHE,
normalised within the head); each combination is then scored with the
default SVM by StratifiedGroupKFold(5) over the patient, with near-duplicate
images (the same slice saved at two sizes) joined into one group. The
families are stateless, so this equals cross-validating whole pipelines.
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from braintumor_features import (
    GLCMFeatures, HOGFeatures, IntensityFeatures, LBPFeatures, RegionFeatures, make_pipeline,
)
from braintumor_features.datasets import find_duplicates, load_folder, merge_duplicate_groups

from accuracy import DEFAULT_DATA, grouped_predictions, scores, split_stateless, tasks

CANDIDATES = {
    "glcm": GLCMFeatures(),
    "lbp": LBPFeatures(radii=(1, 2), grid=(1, 2, 4)),
    "intensity": IntensityFeatures(bins=16, grid=(1, 2, 4)),
    "region": RegionFeatures(),
    "hog": HOGFeatures(),
    # The same LBP and intensity histograms over the whole head only (no spatial grid):
    "lbp-head": LBPFeatures(radii=(1, 2)),
    "intensity-head": IntensityFeatures(bins=16),
}
BASE = ("glcm", "lbp", "intensity")
WITHOUT_GRIDS = ("glcm", "lbp-head", "intensity-head")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    data = load_folder(args.data)
    groups = merge_duplicate_groups(data.groups, find_duplicates(data.paths, n_jobs=args.n_jobs))
    blocks = {}
    _, learned = split_stateless(make_pipeline(random_state=0))
    for name, family in CANDIDATES.items():
        stateless, _ = split_stateless(make_pipeline(features=[(name, family)], n_jobs=args.n_jobs))
        start = time.perf_counter()
        blocks[name] = stateless.transform(data.paths)
        print(f"{name}: {blocks[name].shape[1]} columns, {time.perf_counter() - start:.0f} s",
              flush=True)
    combos = [(name,) for name in CANDIDATES] + [BASE, WITHOUT_GRIDS, BASE + ("region",),
                                                   BASE + ("hog",), BASE + ("region", "hog")]
    combos += [tuple(c) for c in combinations(BASE, 2)]
    rows = []
    for combo in combos:
        X = np.hstack([blocks[name] for name in combo])
        row = {"families": "+".join(combo), "columns": X.shape[1]}
        for task, subset, labels in tasks(data.target, data.target_names):
            predicted = grouped_predictions(learned, X[subset], data.target[subset],
                                            groups[subset], n_jobs=args.n_jobs)
            result = scores(data.target[subset], predicted, labels)
            row[f"{task} acc"] = result["accuracy"]
            row[f"{task} F1"] = result["macro_f1"]
        rows.append(row)
        print(row, flush=True)
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return frame


if __name__ == "__main__":
    main()
