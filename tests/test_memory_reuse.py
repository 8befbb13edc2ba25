"""Extraction reuses freed memory instead of faulting fresh pages in for every image.

Counts page faults (not time) of a fresh process extracting 24 slices of 256 x 256; on
glibc without the one-off large free before the first image this is about 860 per slice. The
process gets no ``MALLOC_*`` variables: a dask ``LocalCluster`` (tests/test_dask.py) leaves
``MALLOC_TRIM_THRESHOLD_=65536`` in this process's environment, which fixes the allocator's
thresholds (see docs/parallel.md).
"""

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the allocator behaviour is glibc's",
)

SCRIPT = textwrap.dedent("""
    import resource
    from braintumor_features import make_pipeline
    from braintumor_features.datasets import make_demo

    images = list(make_demo(n_samples=32, image_size=256, random_state=0).images)
    pipe = make_pipeline()
    steps = pipe[: list(pipe.named_steps).index("features") + 1]
    steps.fit_transform(images[:8])  # imports, first calls
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    steps.fit_transform(images[8:])
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 24)
""")


def test_extraction_does_not_fault_in_fresh_pages_for_every_image():
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("MALLOC_")}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            check=True, env=environment)
    faults_per_image = float(result.stdout.split()[-1])
    assert faults_per_image < 100
