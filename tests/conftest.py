"""Shared fixtures: small synthetic images, and the real data where present."""

import os
from pathlib import Path

import numpy as np
import pytest

from braintumor_features.datasets import make_demo

REPO = Path(__file__).resolve().parents[1]
BRAIN_MRI = Path(os.environ.get("BRAINTUMOR_DATA", REPO.parent / "shared" / "data" / "brain-mri"))


@pytest.fixture(scope="session")
def demo():
    """40 synthetic slices (10 per class, 2 per subject), 64x64."""
    return make_demo(n_samples=40, image_size=64, random_state=0)


@pytest.fixture(scope="session")
def brain_mri():
    """Path of ../shared/data/brain-mri; the test is skipped where it is absent."""
    if not (BRAIN_MRI / "metadata.csv").exists():
        pytest.skip(f"real data not found at {BRAIN_MRI}")
    return BRAIN_MRI


@pytest.fixture
def rng():
    return np.random.default_rng(0)
