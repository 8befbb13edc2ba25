"""How often the default pipeline's DistributionCheck flags real and odd images.

Usage::

    python benchmarks/distribution_check.py [--n-jobs 2]

The default features of make_pipeline() are extracted once for
../shared/data/brain-mri, brain-mri-sartaj and brain-mri-radiopaedia. Then:

- brain-mri, StratifiedGroupKFold(5) over the patients: the check is fitted on
  four folds and flags the fifth (new patients of the same scanners: should be
  rare);
- fitted on all of brain-mri: the share of each other source (and of each
  radiopaedia sequence) flagged, i.e. how much of another hospital's images
  lies outside what a brain-mri model has seen;
- the same for odd inputs: blank, 1 x 1, 3 x 3, uniform noise, a synthetic
  chest film, a brain slice turned upside down and one scaled to 8 x 8 pixels;
- resized slices: 150 slices of the first fold's held-out patients, brought
  down to 1/2 and 1/4 of their size, to 128 x 128 and 40 x 40, and squeezed to
  700 x 100 and 100 x 700, against the check fitted on the other folds (the
  acquisition columns, AcquisitionFeatures, are what flags most of these).

The rows are kept as DataFrames: the check finds its acquisition columns by name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from braintumor_features import make_pipeline, read_image
from braintumor_features.datasets import load_folder
from braintumor_features.distribution import DistributionCheck

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
SOURCES = ["brain-mri", "brain-mri-sartaj", "brain-mri-radiopaedia"]


def odd_inputs(example_path):
    """Inputs no brain MRI model should answer for silently."""
    rng = np.random.default_rng(0)
    chest = np.zeros((200, 160), np.uint8)
    cv2.ellipse(chest, (80, 100), (70, 90), 0, 0, 360, 90, -1)
    for x in (50, 110):
        cv2.ellipse(chest, (x, 100), (22, 60), 0, 0, 360, 20, -1)
    for i in range(8):
        cv2.line(chest, (10, 40 + 18 * i), (150, 50 + 18 * i), 200, 3)
    brain = read_image(example_path)
    return {
        "blank 202 x 202": np.zeros((202, 202), np.uint8),
        "1 x 1": np.full((1, 1), 128, np.uint8),
        "3 x 3": rng.integers(0, 255, (3, 3)).astype(np.uint8),
        "uniform noise": rng.integers(0, 255, (256, 256)).astype(np.uint8),
        "synthetic chest film": chest,
        "brain slice upside down": brain[::-1].copy(),
        "brain slice at 8 x 8": cv2.resize(brain, (8, 8), interpolation=cv2.INTER_AREA),
    }


RESIZED = {
    "1/2 size": lambda image: cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2),
                                         interpolation=cv2.INTER_AREA),
    "1/4 size": lambda image: cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4),
                                         interpolation=cv2.INTER_AREA),
    "128 x 128": lambda image: cv2.resize(image, (128, 128), interpolation=cv2.INTER_AREA),
    "40 x 40": lambda image: cv2.resize(image, (40, 40), interpolation=cv2.INTER_AREA),
    "700 x 100 (height x width)": lambda image: cv2.resize(image, (100, 700),
                                                           interpolation=cv2.INTER_AREA),
    "100 x 700": lambda image: cv2.resize(image, (700, 100), interpolation=cv2.INTER_AREA),
}


def features(front, data, name, cache):
    path = cache / f"{name}.pkl"
    if path.exists():
        return pd.read_pickle(path)
    rows = front.fit_transform(data.paths)
    rows.to_pickle(path)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder to keep the feature matrices in between runs")
    args = parser.parse_args(argv)
    front = make_pipeline(n_jobs=args.n_jobs)[:-3]
    cache = args.cache or Path(__import__("tempfile").mkdtemp())
    cache.mkdir(parents=True, exist_ok=True)
    data = {name: load_folder(DATA / name) for name in SOURCES}
    X = {name: features(front, data[name], name, cache) for name in SOURCES}

    home = data["brain-mri"]
    flagged = np.zeros(len(home.target), bool)
    folds = StratifiedGroupKFold(5, shuffle=True, random_state=0)
    for fold, (train, test) in enumerate(folds.split(X["brain-mri"], home.target, home.groups)):
        fitted = DistributionCheck().fit(X["brain-mri"].iloc[train])
        flagged[test] = fitted.flag(X["brain-mri"].iloc[test])
        if fold == 0:
            first = (fitted, np.random.default_rng(0).choice(test, 150, replace=False))
    rows = [("brain-mri, held-out patients (5 folds)", len(flagged), flagged.mean())]
    fitted, chosen = first
    slices = [read_image(home.paths[i]) for i in chosen]
    for name, change in RESIZED.items():
        flags = fitted.flag(front.transform([change(image) for image in slices]))
        rows.append((f"brain-mri, held-out patients (fold 0), {name}", len(flags), flags.mean()))

    check = DistributionCheck().fit(X["brain-mri"])
    for name in SOURCES[1:]:
        flags = check.flag(X[name])
        rows.append((f"{name}, all", len(flags), flags.mean()))
        sequence = data[name].get("sequence")
        if sequence is not None:
            for value in sorted(set(map(str, sequence))):
                chosen = np.asarray(sequence, dtype=str) == value
                rows.append((f"{name}, {value}", int(chosen.sum()), flags[chosen].mean()))
    odd = odd_inputs(home.paths[0])
    odd_flags = check.flag(front.transform(list(odd.values())))
    rows += [(f"odd input: {name}", 1, float(flag)) for name, flag in zip(odd, odd_flags)]
    table = pd.DataFrame(rows, columns=["images", "n", "flagged"])
    print(f"thresholds (distance, extremes) {np.round(check.thresholds_, 2).tolist()}, "
          "training outliers left out "
          f"{check.n_training_outliers_}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
