"""Grid search over the classifier without recomputing features, against the plain pipeline.

Usage::

    python benchmarks/gridsearch.py [--data ../shared/data/brain-mri] [--n-images N] [--repeats 3]

On the data set's slices (paths; ``--n-images`` of them, evenly spaced, for a
shorter run), prints the time of

1. one feature extraction of the data set (the default pipeline's steps up to
   ``features``, no cache);
2. the grid on the precomputed feature matrix: what the classifier fits
   alone cost, the floor of any grid search;
3. ``GridSearchCV`` with 5 folds x 12 classifier settings of
   ``make_pipeline(memory=FeatureCache())`` (an empty in-memory cache), and
   its ratio to (1) (target: at most 1.5);
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
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from braintumor_features import make_pipeline
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
    extraction_times, floor_times, cached_times = [], [], []
    for _ in range(args.repeats):
        pipe = make_pipeline(random_state=0)
        matrix, seconds = timed(lambda: pipe[:split].fit_transform(paths))
        extraction_times.append(seconds)
        floor_times.append(
            timed(lambda: GridSearchCV(pipe[split:], GRID, cv=folds).fit(matrix, target))[1])
        FeatureCache().clear()
        cached, seconds = timed(lambda: GridSearchCV(
            make_pipeline(memory=FeatureCache(), random_state=0), GRID, cv=folds).fit(paths, target))
        cached_times.append(seconds)
    ratios = np.array(cached_times) / np.array(extraction_times)
    once, floor, cached_s = (np.median(t) for t in (extraction_times, floor_times, cached_times))
    print(f"medians of {args.repeats} repeats, CPU s:")
    print(f"one feature extraction of {len(paths)} images: {once:.1f} CPU s")
    print(f"the same grid on the precomputed feature matrix (classifier fits only): {floor:.1f} CPU s "
          f"= {floor / once:.2f} x one extraction (ratio of the medians)")
    print(f"GridSearchCV 5 folds x {settings} settings, cached:   {cached_s:.1f} CPU s "
          f"= {np.median(ratios):.2f} x one extraction (median of the repeats' ratios; "
          f"range {ratios.min():.2f} to {ratios.max():.2f})")
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
