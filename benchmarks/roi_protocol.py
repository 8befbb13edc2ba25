"""The figshare-style protocol on ../shared/data/brain-mri: tumour type from the tumour region.

Cheng et al. (2015, PLoS ONE 10(10): e0140381) classify the three tumour types
of the figshare release (glioma, meningioma, pituitary) from features of the
radiologist-outlined tumour region, with patient-wise five-fold
cross-validation; their best accuracy is 0.913. This script does the same
with this library's features computed inside the tumour outline (region
"mask": GLCM, LBP, intensity histogram, plus the tumour's shape and position
and the head's), an RBF SVM, and StratifiedGroupKFold(5) over subjects, with
the subjects of near-duplicate images (one slice saved twice) joined into one
group as in accuracy.py.

Features learn nothing from the data, so they are computed once for all
images and the folds fit only the scaler and the classifier on them (the
same result as cross-validating the whole pipeline, five times cheaper).

Run from the repository root::

    python benchmarks/roi_protocol.py [--data ../shared/data/brain-mri] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from braintumor_features import (
    GLCMFeatures,
    Grayscale,
    ImageFeatures,
    IntensityFeatures,
    LBPFeatures,
    NormalizeIntensity,
    RegionFeatures,
    Resize,
    with_masks,
)
from braintumor_features.classifiers import SVMClassifier
from braintumor_features.datasets import find_duplicates, load_folder, merge_duplicate_groups
from braintumor_features.evaluation import evaluate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brain-mri"
TUMOUR_CLASSES = ("glioma", "meningioma", "pituitary")
#: Cheng et al. 2015, best five-fold accuracy (tumour region augmentation, BoW, SVM).
CHENG_2015_ACCURACY = 0.913


def roi_features(n_jobs=None) -> Pipeline:
    """Images with tumour masks -> features of the tumour region."""
    return Pipeline([
        ("grayscale", Grayscale()),
        ("resize", Resize(size=256)),
        ("normalize", NormalizeIntensity()),
        ("features", ImageFeatures([
            ("glcm", GLCMFeatures(region="mask")),
            ("lbp", LBPFeatures(region="mask")),
            ("intensity", IntensityFeatures(region="mask")),
            ("region", RegionFeatures(regions="both")),
        ], n_jobs=n_jobs)),
    ])


def run(data=DATA, n_jobs=None, random_state=0):
    """Compute the features and the grouped five-fold evaluation; returns the report."""
    folder = load_folder(data)
    keep = np.isin(folder.target, TUMOUR_CLASSES)
    paths = [p for p, k in zip(folder.paths, keep) if k]
    masks = [m for m, k in zip(folder.masks, keep) if k]
    features = roi_features(n_jobs).fit_transform(with_masks(paths, masks))
    model = Pipeline([("scale", StandardScaler()),
                      ("classifier", SVMClassifier(random_state=random_state))])
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=random_state)
    groups = merge_duplicate_groups(folder.groups[keep], find_duplicates(paths, n_jobs=n_jobs))
    return evaluate(model, features, folder.target[keep], groups=groups, cv=cv)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    report = run(args.data, n_jobs=args.n_jobs, random_state=args.random_state)
    table = report.to_frame()
    folds = report.fold_scores["accuracy"]
    print(f"figshare-style protocol: {len(report.y_true)} tumour slices, 3 classes, tumour-region "
          "features, StratifiedGroupKFold(5) over subjects, RBF SVM")
    print("| metric | this library | Cheng et al. 2015 |\n|---|---|---|")
    print(f"| accuracy | {report.accuracy:.3f} (folds {folds.mean():.3f} ± {folds.std(ddof=0):.3f})"
          f" | {CHENG_2015_ACCURACY:.3f} |")
    print(f"| macro F1 | {table.loc['macro avg', 'f1']:.3f} | |")
    for name in TUMOUR_CLASSES:
        print(f"| recall {name} | {table.loc[name, 'recall']:.3f} | |")
    print()
    print(report.to_markdown())
    return report


if __name__ == "__main__":
    main()
