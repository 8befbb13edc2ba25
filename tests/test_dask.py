"""Extraction on a dask.distributed cluster gives the local features."""

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")

from joblib import parallel_config  # noqa: E402

from braintumor_features.features import GLCMFeatures, ImageFeatures, LBPFeatures  # noqa: E402
from braintumor_features.preprocessing import CLAHE, Resize  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def test_features_on_a_local_cluster_equal_the_local_ones(client, tmp_path, rng):
    import cv2

    paths = []
    for index in range(8):
        path = tmp_path / f"slice{index}.png"
        cv2.imwrite(str(path), rng.integers(0, 256, (40, 48), dtype=np.uint8))
        paths.append(str(path))
    images = CLAHE().fit_transform(Resize(32).fit_transform(paths))
    features = ImageFeatures([("glcm", GLCMFeatures(distances=[1], levels=8)),
                              ("lbp", LBPFeatures(radii=[1, 2]))], batch_size=2, n_jobs=-1)
    local = features.fit_transform(images)
    with distributed.get_task_stream(client) as stream, parallel_config(backend="dask"):
        remote = features.fit_transform(images)
    np.testing.assert_array_equal(remote, local)
    workers = {task["worker"] for task in stream.data}
    assert len(stream.data) >= 4 and workers <= set(client.scheduler_info()["workers"])
