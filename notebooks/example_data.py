"""The images the notebooks run on.

Real slices when the environment variable ``BRAINTUMOR_DATA`` names a data
folder, else the built-in synthetic demo set, so every notebook runs on a
fresh install with no download. A relative folder is looked for from where
the notebook runs (``notebooks/``: ``../../shared/data/brain-mri``), then from
the repository root (``../shared/data/brain-mri``).
"""

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from braintumor_features.datasets import load_folder, make_demo

REPOSITORY = Path(__file__).resolve().parents[1]


def data_folder(folder):
    """``folder`` as given if absolute, else from the working directory or the repository root."""
    folder = Path(folder)
    for base in (Path.cwd(), REPOSITORY):  # an absolute folder stays as it is
        if (base / folder).is_dir():
            return (base / folder).resolve()
    raise FileNotFoundError(
        f"BRAINTUMOR_DATA={folder}: no such folder here ({Path.cwd()}) or in the repository "
        f"root ({REPOSITORY}); give an absolute path or one relative to either"
    )


def load_example(n_per_class=20, *, image_size=96, random_state=0):
    """``n_per_class`` images of each class, with labels, patients and tumour masks.

    Parameters
    ----------
    n_per_class : int, default=20
        Images drawn from each class (at random from a real data folder).
    image_size : int, default=96
        Side of the synthetic images (real images keep their size).
    random_state : int, default=0

    Returns
    -------
    Bunch with ``X`` (paths or arrays), ``y``, ``groups``, ``masks``
    (None where unknown) and ``source`` (where the images came from).

    """
    folder = os.environ.get("BRAINTUMOR_DATA")
    if not folder:
        demo = make_demo(4 * n_per_class, image_size=image_size, random_state=random_state)
        return Bunch(X=demo.images, y=demo.target, groups=demo.groups, masks=demo.masks,
                     source="synthetic demo set (set BRAINTUMOR_DATA to use real slices)")
    folder = data_folder(folder)
    data = load_folder(folder)
    rows = (data.frame.reset_index(drop=True)
            .groupby("label").sample(n=n_per_class, random_state=random_state).index)
    rows = np.sort(rows.to_numpy())
    return Bunch(X=[data.paths[i] for i in rows], y=data.target[rows],
                 groups=data.groups[rows], masks=[data.masks[i] for i in rows],
                 source=f"{folder} ({len(data.paths)} images, {n_per_class} per class drawn)")
