"""
The command line, step by step
==============================

The ``braintumor`` command trains, evaluates and applies a model without
writing Python. This script writes a small class-per-folder image tree,
then runs each subcommand as you would in a shell (``braintumor train ...``);
here through :func:`braintumor_features.cli.main`, which takes the same
arguments.
"""

import os
import shlex
import tempfile

import cv2

from braintumor_features.cli import main
from braintumor_features.datasets import make_demo

work = tempfile.mkdtemp(prefix="braintumor-cli-")
demo = make_demo(n_samples=32, image_size=96, random_state=0)
for number, (image, label) in enumerate(zip(demo.images, demo.target)):
    folder = os.path.join(work, "data", label)
    os.makedirs(folder, exist_ok=True)
    cv2.imwrite(os.path.join(folder, f"{number:03d}.png"), image)
os.chdir(work)


def braintumor(command):
    """Print a shell command line, then run it."""
    print(f"\n$ braintumor {command}")
    code = main(shlex.split(command))
    if code != 0:
        raise SystemExit(f"braintumor {command} exited with code {code}")


# Train and save a model; --cv also prints a subject-grouped cross-validation.
braintumor("train data -o model.skops --classifier rf --image-size 64 --cv 3 -q")
# Measure it on a labelled folder (here the training data: optimistic) and write a report page.
braintumor("evaluate model.skops data --report report.html -q")
# Predict single files, as CSV.
braintumor("predict model.skops data/glioma/000.png data/no_tumor/016.png --format csv -q")
# Write the feature table of a folder.
braintumor("extract data -o features.csv --image-size 64 -q")
print("\nfiles written:", sorted(os.listdir(work)))
