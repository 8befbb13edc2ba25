"""Peak memory of training the default pipeline on every image of a folder, from paths.

Usage::

    python benchmarks/memory.py [--data ../shared/data/brain-mri] [--n-jobs 1]

Fits ``make_pipeline()`` on all images of the folder, given as file paths, and
prints the time and this process's peak resident set size (and that of its
worker processes, with ``n_jobs`` > 1) from ``resource.getrusage``. Images are
decoded and preprocessed in batches inside the extraction and dropped once
their feature rows are computed; only the (n_images, n_features) matrix is
kept. ``/usr/bin/time -v python benchmarks/memory.py`` reports the same peak
("Maximum resident set size") from outside.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from braintumor_features import make_pipeline
from braintumor_features.datasets import load_folder
from extraction import DEFAULT_DATA  # benchmarks/ is on sys.path when run as a script


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    data = load_folder(args.data)
    start = time.perf_counter()
    pipe = make_pipeline(n_jobs=args.n_jobs, random_state=0).fit(data.paths, data.target)
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"trained make_pipeline(n_jobs={args.n_jobs}) on {len(data.paths)} images from paths "
          f"in {seconds:.0f} s; training accuracy {pipe.score(data.paths[:200], data.target[:200]):.3f} "
          "on the first 200")
    print(f"peak RSS: this process {own:.0f} MiB, largest worker process {workers:.0f} MiB")


if __name__ == "__main__":
    main()
