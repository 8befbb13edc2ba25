"""Scan ../shared/data/brain-mri for exact and near-duplicate images, and where they fall.

Run from the repository root::

    python benchmarks/duplicate_scan.py [--data ../shared/data/brain-mri] [--threshold 0.99]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from braintumor_features.datasets import find_duplicates, load_folder

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brain-mri"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--threshold", type=float, default=0.99)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    data = load_folder(args.data)
    found = find_duplicates(data.paths, threshold=args.threshold, n_jobs=args.n_jobs)
    print(f"{len(data.paths)} images, threshold {args.threshold}: {len(found.groups)} groups "
          f"({(found.kinds == 'exact').sum()} exact, {(found.kinds == 'near').sum()} near), "
          f"{sum(len(g) for g in found.groups)} images in them, {len(found.pairs)} pairs "
          f"({int(found.pairs.exact.sum())} pixel-identical)")
    print("| class(es) | groups | images | groups spanning subjects |\n|---|---|---|---|")
    rows = {}
    for group in found.groups:
        key = "+".join(sorted(set(data.target[group])))
        entry = rows.setdefault(key, [0, 0, 0])
        entry[0] += 1
        entry[1] += len(group)
        entry[2] += len(set(data.groups[group])) > 1
    for key, (groups, images, spanning) in sorted(rows.items()):
        print(f"| {key} | {groups} | {images} | {spanning} |")
    return found


if __name__ == "__main__":
    main()
