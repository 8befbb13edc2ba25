"""Grid search over the classifier without recomputing features, against the plain pipeline.

Usage::

    python benchmarks/gridsearch.py [--data ../shared/data/brain-mri] [--n-images N] [--repeats 3]

On the data set's slices (paths; ``--n-images`` of them, evenly spaced, for a
shorter run), prints the time of

1. one feature extraction of the data set (the default pipeline's steps up to
   ``features``, no cache);
2. the grid on the precomputed feature matrix with the steps after the
   distribution check (scaler and classifier): what the classifier fits
   alone cost; (1) + (2) is the floor of any grid search;
3. ``GridSearchCV`` with 5 folds x 12 classifier settings of
   ``make_pipeline(memory=FeatureCache())`` (an empty in-memory cache), and
   its ratio to (1) and to the floor (1) + (2) (target: at most 1.2);
   the first fit of its ``check`` step (``DistributionCheck``) on one fold's
   training rows against the scaler and classifier's (target: at most 20 %;
   the later fits on the same rows reuse it), and the check's fit averaged
   over the fold's 12 settings;
4. the same grid with the plain, uncached ``make_pipeline()``;

everything in one process (``n_jobs=1``, CPU seconds), and checks that both searches find
the same best parameters and scores. (1) to (3) are measured ``--repeats`` times in turn
(the machine's speed drifts by 10 % or more between minutes); the table gives their medians
and the median of the repeats' ratios. (4) takes about 60 extractions and runs once
(``--without-uncached`` skips it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from braintumor_features import distribution, make_pipeline
from braintumor_features.datasets import load_folder
from extraction import DEFAULT_DATA  # benchmarks/ is on sys.path when run as a script
from braintumor_features.features import FeatureCache
GRID = {"classifier__C": [0.3, 1.0, 3.0, 10.0], "classifier__gamma": ["scale", 0.01, 0.001]}


def timed(function):
    """Result and CPU seconds of this process (single-threaded work, ``n_jobs=1``), which
    other processes on the machine inflate far less than wall time."""
    start = time.process_time()
    result = function()
    return result, time.process_time() - start


def _cold(check):
    """The check with its fitted states forgotten: the time of a first fit on these rows (a
    grid search refits it on each fold's same rows for every setting, and reuses the first)."""
    distribution._FITTED.clear()
    return check


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-images", type=int, default=None,
                        help="evenly spaced slices to search on (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--without-uncached", action="store_true",
                        help="skip (4), the minutes-long uncached search")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    threadpool_limits(limits=1)  # one thread, so CPU seconds are the work's own
    data = load_folder(args.data)
    n_images = len(data.paths) if args.n_images is None else args.n_images
    chosen = np.linspace(0, len(data.paths) - 1, n_images).astype(int)
    paths, target = [data.paths[i] for i in chosen], data.target[chosen]
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    settings = len(GRID["classifier__C"]) * len(GRID["classifier__gamma"])

    split = list(make_pipeline().named_steps).index("features") + 1
    extraction_times, floor_times, cached_times, shares, amortised = [], [], [], [], []
    for _ in range(args.repeats):
        pipe = make_pipeline(random_state=0)
        matrix, seconds = timed(lambda: pipe[:split].fit_transform(paths))
        extraction_times.append(seconds)
        # the rows the scaler and classifier see: less the acquisition columns, which only
        # the check (pipe[split], which fits no classifier) reads and drops
        rows = matrix.drop(columns=matrix.filter(regex=f"^{pipe[split].acquisition}").columns)
        floor_times.append(
            timed(lambda: GridSearchCV(pipe[split + 1:], GRID, cv=folds).fit(rows, target))[1])
        train = next(folds.split(matrix, target))[0]  # positions: matrix is a DataFrame
        check = np.median([timed(lambda: _cold(clone(pipe[split])).fit(matrix.iloc[train]))[1]
                           for _ in range(5)])
        again = np.median([timed(lambda: clone(pipe[split]).fit(matrix.iloc[train]))[1]
                           for _ in range(5)])  # the same rows: the first fit reused
        classifier = np.median([timed(lambda: clone(pipe[split + 1:]).fit(rows.iloc[train],
                                                                          target[train]))[1]
                                for _ in range(5)])
        shares.append(check / classifier)
        amortised.append((check + (settings - 1) * again) / settings / classifier)
        FeatureCache().clear()
        cached, seconds = timed(lambda: GridSearchCV(
            make_pipeline(memory=FeatureCache(), random_state=0), GRID, cv=folds).fit(paths, target))
        cached_times.append(seconds)
    ratios = np.array(cached_times) / np.array(extraction_times)
    to_floor = np.array(cached_times) / (np.array(extraction_times) + np.array(floor_times))
    once, floor, cached_s = (np.median(t) for t in (extraction_times, floor_times, cached_times))
    print(f"medians of {args.repeats} repeats, CPU s:")
    print(f"one feature extraction of {len(paths)} images: {once:.1f} CPU s")
    print(f"the same grid on the precomputed feature matrix (scaler and classifier fits only): "
          f"{floor:.1f} CPU s = {floor / once:.2f} x one extraction (ratio of the medians)")
    print(f"GridSearchCV 5 folds x {settings} settings, cached:   {cached_s:.1f} CPU s "
          f"= {np.median(ratios):.2f} x one extraction (median of the repeats' ratios; "
          f"range {ratios.min():.2f} to {ratios.max():.2f})")
    print(f"cached search / floor (one extraction + the grid on precomputed rows): "
          f"{np.median(to_floor):.2f} (range {to_floor.min():.2f} to {to_floor.max():.2f}; "
          "target at most 1.2)")
    print(f"DistributionCheck.fit (first fit on these rows) / scaler and classifier fit on one "
          f"fold's {len(train)} rows: {np.median(shares):.1%} (target at most 20%; the search "
          f"fits it {len(GRID['classifier__C']) * len(GRID['classifier__gamma'])} times per fold, "
          "the later ones reuse the first)")
    print(f"the same, averaged over a fold's {settings} fits (one first fit, the others reusing "
          f"it): {np.median(amortised):.1%}")
    if args.without_uncached:
        return
    plain, plain_s = timed(lambda: GridSearchCV(
        make_pipeline(random_state=0), GRID, cv=folds).fit(paths, target))
    print(f"GridSearchCV 5 folds x {settings} settings, uncached: {plain_s:.1f} CPU s "
          f"= {plain_s / once:.2f} x one extraction ({plain_s / cached_s:.1f} x the cached search)")
    same = (cached.best_params_ == plain.best_params_
            and np.allclose(cached.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]))
    print(f"same best parameters and scores: {same} (best {cached.best_params_}, "
          f"accuracy {cached.best_score_:.3f})")


if __name__ == "__main__":
    main()
