"""The default features are bit-for-bit those of the code before the restructuring.

The digests below are sha256 of the float64 bytes of the default pipeline's
feature matrix (``make_pipeline()`` up to its ``features`` step), computed
with the code at commit 7517934, before the package was laid out in layers,
the classifier rebuilt on scikit-learn's and the image steps given one base
class (``git worktree add /tmp/old 7517934``, then this module's
``_digest(_features_stage().fit_transform(...))`` with that checkout on
``sys.path``). A change of any default feature value changes them.
"""

import csv
import hashlib

import numpy as np

from braintumor_features import make_pipeline
from braintumor_features.datasets import make_demo

#: 40 images of ../shared/data/brain-mri: rows of metadata.csv evenly spaced.
SHARED_DIGEST = "de7ad3afa2acf9ac75b0acc85f50449033960c533ae7861b67cac5f148648998"
#: make_demo(n_samples=8, image_size=64, random_state=0).images
DEMO_DIGEST = "ef4cbfcb3dfc9f0ae45c652858d7fe6e238d9b64a294736becd1ec9498be60a7"


def _features_stage():
    pipe = make_pipeline()
    return pipe[: list(pipe.named_steps).index("features") + 1]


def _digest(matrix):
    assert matrix.shape[1] == 995  # the default recipe's columns
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.float64).tobytes()).hexdigest()


def test_demo_features_are_unchanged():
    demo = make_demo(n_samples=8, image_size=64, random_state=0)
    assert _digest(_features_stage().fit_transform(demo.images)) == DEMO_DIGEST


def test_shared_images_features_are_unchanged(brain_mri):
    with open(brain_mri / "metadata.csv", newline="") as file:
        files = [row["file"] for row in csv.DictReader(file)]
    chosen = [str(brain_mri / files[i]) for i in np.linspace(0, len(files) - 1, 40).astype(int)]
    assert _digest(_features_stage().fit_transform(chosen)) == SHARED_DIGEST
