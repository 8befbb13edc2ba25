"""The default features are those of the code before the restructuring.

``tests/data/unchanged_features_7517934.npz`` holds the default pipeline's
feature matrix (``make_pipeline()`` up to its ``features`` step) computed
with the code at commit 7517934, before the package was laid out in layers,
the classifier rebuilt on scikit-learn's and the image steps given one base
class (``git worktree add /tmp/old 7517934``, then this module's
``_features_stage().fit_transform(...)`` with that checkout first on
``sys.path``), for the demo images and for 40 shared slices.

The matrices were sha256 digests of the float64 bytes until a dependency
release (scikit-learn 1.9.1, NumPy 2.4.6, SciPy 1.17.1, scikit-image 0.26.0,
OpenCV 5.1.0 here) moved the last bits of some values: the code at 7517934
gives the same new bytes in that environment, so the features had not
changed, the digests had. The comparison is now to a relative 1e-9, far
below any change of a feature's definition and above a library's rounding.
"""

import csv
from pathlib import Path

import numpy as np

from braintumor_features import make_pipeline
from braintumor_features.datasets import make_demo

REFERENCE = np.load(Path(__file__).parent / "data" / "unchanged_features_7517934.npz")


def _features_stage():
    pipe = make_pipeline()
    return pipe[: list(pipe.named_steps).index("features") + 1]


def _check(table, expected):
    # the default recipe's columns: the features step's, less the acquisition columns (only
    # the distribution check reads them)
    matrix = table.loc[:, ~table.columns.str.startswith("acquisition_")].to_numpy()
    assert matrix.shape == expected.shape == (len(expected), 995)
    np.testing.assert_allclose(matrix, expected, rtol=1e-9, atol=1e-12)


def test_demo_features_are_unchanged():
    demo = make_demo(n_samples=8, image_size=64, random_state=0)
    _check(_features_stage().fit_transform(demo.images), REFERENCE["demo"])


def test_shared_images_features_are_unchanged(brain_mri):
    with open(brain_mri / "metadata.csv", newline="") as file:
        files = [row["file"] for row in csv.DictReader(file)]
    chosen = [str(brain_mri / files[i]) for i in np.linspace(0, len(files) - 1, 40).astype(int)]
    _check(_features_stage().fit_transform(chosen), REFERENCE["shared"])
