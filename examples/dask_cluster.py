"""
Feature extraction on a dask.distributed cluster
================================================

Usage::

    python examples/dask_cluster.py [SCHEDULER_ADDRESS] [--data ../shared/data/brain-mri]
        [--n-images 32]

With a scheduler address (``tcp://host:8786``, from ``dask scheduler`` on the
head node and ``dask worker tcp://host:8786`` on each machine), the work goes
to that cluster; without one, a local cluster with two workers is started on
127.0.0.1. The extraction code is unchanged: ``joblib.parallel_config(
backend="dask")`` routes its batches to the cluster. Each batch is sent as a
list of file paths plus the preprocessing chain, never as pixels, so the files
must be readable at the same path on every worker (a shared file system).
Keep ``n_jobs=-1`` on the extractor (use every worker) and leave
``GridSearchCV``'s own ``n_jobs`` at 1 around it (see docs/parallel.md).
Without the data folder, demo slices are written to a temporary folder and
used instead. Needs ``pip install 'braintumor-features[dask]'``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
from dask.distributed import Client, LocalCluster
from joblib import parallel_config

from braintumor_features import make_pipeline
from braintumor_features.datasets import load_folder, make_demo

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "brain-mri"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Extract features on a dask.distributed cluster.")
    parser.add_argument("scheduler", nargs="?", help="scheduler address, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-images", type=int, default=32)
    args = parser.parse_args(argv)

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                     dashboard_address=None))
    print(client)
    if args.data.exists():
        paths = load_folder(args.data).paths[: args.n_images]
    else:
        folder = Path(tempfile.mkdtemp())
        paths = [str(folder / f"demo{index:03d}.png") for index in range(args.n_images)]
        for path, image in zip(paths, make_demo(n_samples=args.n_images, random_state=0).images):
            cv2.imwrite(path, image)
    pipe = make_pipeline(n_jobs=-1)
    features = pipe[: list(pipe.named_steps).index("features") + 1]  # paths -> feature matrix
    start = time.perf_counter()
    with parallel_config(backend="dask"):
        matrix = features.fit_transform(paths)
    print(f"{matrix.shape[0]} images x {matrix.shape[1]} features in "
          f"{time.perf_counter() - start:.1f} s on {len(client.scheduler_info()['workers'])} workers")
    client.close()


if __name__ == "__main__":
    main()
