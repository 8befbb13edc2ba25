"""Feature-extraction speed: each family and the default extraction next to the peers.

Usage::

    python benchmarks/extraction.py [--data ../shared/data/brain-mri] [--n-images 256]
        [--repeats 3] [--scaling-images 1000]

On ``--n-images`` slices spread over the data set, preprocessed once by the
default pipeline's preprocessing steps (grayscale, crop, resize to 256x256,
CLAHE, normalise), prints the per-image CPU time in milliseconds (median over
``--repeats`` interleaved passes, one process, one thread) of decoding and of
each preprocessing step on its own, of each of our feature families and of the
same work done by scikit-image, mahotas, pyfeats and pyradiomics (2-D,
``force2D``, the head mask), with the ratio peer / ours: of the medians, and
the range of the per-repeat ratios (each repeat times a peer and ours a few
seconds apart, so the machine's drift between repeats does not touch them).
Peers that are not installed are left out (``pip install '.[bench]'``;
pyradiomics: see benchmarks/README.md). The default extraction is timed from
the file paths (decode, preprocess, every feature family of
``make_pipeline()``, whatever they are). Where the default recipe computes a
family differently from the peers (LBP: two scales on spatial grids; region:
not in the default), the peers are compared with our family configured as they
compute it (``AS_THE_PEERS``), timed on its own line.

Then the parallel scaling (wall time; ``--scaling-only`` skips the table):
``fit_transform`` of the default pipeline's steps up to its features on
``--scaling-images`` paths with ``n_jobs=1`` and ``n_jobs=2`` (worker
processes started beforehand), the speed-up, and whether the two results are
identical.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from braintumor_features import LBPFeatures, RegionFeatures, make_pipeline
from braintumor_features.datasets import load_folder
from braintumor_features.io import read_image
from braintumor_features._parallel import _current_image, _sharing
from braintumor_features.features.glcm import quantize
from braintumor_features.preprocessing import head_mask, to_uint8

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "brain-mri"
ANGLES = [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
SCALES = [(8, 1), (16, 2), (24, 3)]
#: Peers timed on --slow-images only (mahotas' lbp enumerates ~700k patterns at 24 points).
SLOW = {"mahotas lbp x3 (all ri patterns)"}


def sample_paths(data, n):
    """``n`` image paths spread evenly over the data set (all classes)."""
    paths = load_folder(data).paths
    step = max(1, len(paths) // n)
    return list(paths[::step][:n])


def feature_steps(pipe=None, n_jobs=None):
    """The default pipeline's steps up to and including ``features``."""
    pipe = make_pipeline(n_jobs=n_jobs) if pipe is None else pipe
    names = [name for name, _ in pipe.steps]
    return Pipeline(pipe.steps[: names.index("features") + 1])


def repeated_ms(functions, items, repeats):
    """{label: the per-item CPU milliseconds of each of ``repeats`` passes}.

    CPU time of this (single-threaded) process, which other processes on the
    machine inflate far less than wall time; the passes of all functions are
    interleaved, so a change of load touches them alike.
    """
    times = {label: [] for label in functions}
    for _ in range(repeats):
        for label, (function, subset) in functions.items():
            subset = items if subset is None else subset
            start = time.process_time()
            for item in subset:
                function(item)
            times[label].append((time.process_time() - start) / len(subset) * 1e3)
    return times


#: Our families configured as the peers compute them, where the default recipe differs
#: (its LBP has two scales on spatial grids; region is not in the default).
AS_THE_PEERS = {
    "lbp": ("lbp at (8,1), (16,2), (24,3), whole head", LBPFeatures(radii=(1, 2, 3))),
    "region": ("region (RegionFeatures)", RegionFeatures()),
}


def ours(features, heads):
    """Our families on (index, image) items, as extraction runs them: the head
    mask is computed once per image (timed on its own line) and shared.
    Returns the timed functions and, per family, the label peers compare with."""
    for _, family in list(features.families) + list(AS_THE_PEERS.values()):
        family._validate_params()

    def shared(function):
        def run(item):
            index, image = item
            token = _current_image.set((image, {"head": heads[index]}))
            try:
                return function(image, None)
            finally:
                _current_image.reset(token)
        return run

    rows = {"head mask (once per image, shared)": lambda item: head_mask(item[1])}
    rows.update({f"{name} ({type(family).__name__})": shared(family._features)
                 for name, family in features.families})

    def together(item):
        with _sharing(item[1]):
            return features._features(item[1], None)

    rows["all families, head mask included"] = together
    compared = {label.split(" ")[0]: label for label in rows}
    for family, (label, extractor) in AS_THE_PEERS.items():
        rows[label] = shared(extractor._features)
        compared[family] = label
    return rows, compared


def preprocessing_rows(paths, preprocess):
    """Decoding and each preprocessing step on its own, as (function, items) per label, and
    the preprocessed images: the inputs of each step are computed beforehand, so a row
    times that step alone."""
    rows = {"decode (read_image)": (read_image, list(paths))}
    stage = [(read_image(path), None) for path in paths]
    for name, step in preprocess.fit(paths).steps:
        rows[f"{name} ({type(step).__name__})"] = (lambda item, step=step: step._apply(*item), stage)
        stage = [step._apply(*item) for item in stage]
    return rows, [image for image, _ in stage]


def skimage_peers(heads):
    from skimage.feature import graycomatrix, graycoprops, local_binary_pattern
    from skimage.measure import moments_hu, regionprops

    def glcm(item):
        matrices = graycomatrix(quantize(item[1], 32), [1, 2, 4], ANGLES, levels=32, symmetric=True,
                                normed=True)
        return [graycoprops(matrices, prop) for prop in
                ("contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation", "mean",
                 "std")]

    def lbp(item):
        return [np.bincount(local_binary_pattern(item[1], p, r, "uniform").astype(int).ravel(),
                            minlength=p + 2) for p, r in SCALES]

    def region(item):
        index, image = item
        props = regionprops(heads[index].astype(np.uint8), intensity_image=image)[0]
        return (props.area, props.perimeter, props.eccentricity, props.solidity, props.extent,
                props.axis_major_length, props.axis_minor_length, props.centroid,
                moments_hu(props.moments_normalized), props.intensity_mean)

    return {"glcm": ("scikit-image graycomatrix+graycoprops", glcm),
            "lbp": ("scikit-image local_binary_pattern x3", lbp),
            "region": ("scikit-image regionprops (head)", region)}


def mahotas_peers(heads):
    import mahotas.features

    def glcm(item):
        levels = quantize(item[1], 32)
        return [mahotas.features.haralick(levels, distance=d) for d in (1, 2, 4)]

    def lbp(item):  # rotation-invariant, not only uniform patterns: not the same histogram
        gray = to_uint8(item[1])
        return [mahotas.features.lbp(gray, r, p) for p, r in SCALES]

    return {"glcm": ("mahotas haralick, d=1,2,4", glcm),
            "lbp": ("mahotas lbp x3 (all ri patterns)", lbp)}


def pyfeats_peers(heads):
    import pyfeats

    def intensity(item):
        return pyfeats.fos(to_uint8(item[1]), heads[item[0]])

    def glcm(item):
        return pyfeats.glcm_features(to_uint8(item[1]), ignore_zeros=True)

    def lbp(item):
        return pyfeats.lbp_features(item[1], heads[item[0]], P=[8, 16, 24], R=[1, 2, 3])

    return {"intensity": ("pyfeats fos", intensity), "glcm": ("pyfeats glcm_features", glcm),
            "lbp": ("pyfeats lbp_features", lbp)}


def radiomics_extractor(*classes):
    from radiomics import featureextractor

    logging.getLogger("radiomics").setLevel(logging.ERROR)
    extractor = featureextractor.RadiomicsFeatureExtractor(force2D=True, binCount=32)
    extractor.disableAllFeatures()
    for name in classes:
        extractor.enableFeatureClassByName(name)
    return extractor


def pyradiomics_peers(heads):
    import SimpleITK as sitk

    masks = [head.astype(np.uint8) for head in heads]
    for mask in masks:
        mask[0, 0] = 0  # pyradiomics rejects a mask without background ("No labels found")

    def run(extractor):
        def function(item):
            index, image = item
            return extractor.execute(sitk.GetImageFromArray(image[None]),
                                     sitk.GetImageFromArray(masks[index][None]))
        return function

    return {"intensity": ("pyradiomics firstorder", run(radiomics_extractor("firstorder"))),
            "glcm": ("pyradiomics glcm", run(radiomics_extractor("glcm"))),
            "default": ("pyradiomics firstorder+glcm", run(radiomics_extractor("firstorder", "glcm")))}


def peers(heads):
    """{family: [(label, function of (index, image))]} for the installed peers."""
    found = {}
    for loader in (skimage_peers, mahotas_peers, pyfeats_peers, pyradiomics_peers):
        try:
            entries = loader(heads)
        except ImportError as exc:
            print(f"(left out: {exc})")
            continue
        for family, (label, function) in entries.items():
            found.setdefault(family, []).append((label, function))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slow-images", type=int, default=16,
                        help="images for peers slower than 0.5 s per image")
    parser.add_argument("--scaling-images", type=int, default=1000,
                        help="images for the n_jobs 1 vs 2 timing (0: skip)")
    parser.add_argument("--scaling-only", action="store_true",
                        help="skip the per-family table, time only n_jobs 1 vs 2")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Applying `local_binary_pattern`")
    # One thread everywhere, ours and the peers' (extraction does the same in
    # each worker): parallelism is over images, measured separately below.
    cv2.setNumThreads(1)
    threadpool_limits(limits=1)

    if not args.scaling_only:
        families_table(args)
    if args.scaling_images:
        scaling(args)


def families_table(args):
    """Print our families and the peers, per image (see the module docstring)."""
    paths = sample_paths(args.data, args.n_images)
    steps = feature_steps()
    preprocess, features = Pipeline(steps.steps[:-1]), steps.steps[-1][1]
    timed, preprocessed = preprocessing_rows(paths, preprocess)
    images = list(enumerate(preprocessed))
    heads = [head_mask(image) for _, image in images]
    print(f"{len(images)} images of {images[0][1].shape}, {args.repeats} interleaved repeats, one "
          "thread; CPU ms per image (median)\n")

    rows, compared = ours(features, heads)
    timed.update({label: (function, None) for label, function in rows.items()})
    default = "default extraction (decode -> vector)"
    timed[default] = (lambda batch: steps.fit_transform(batch), [paths])
    families = {}
    for family, entries in peers(heads).items():
        for label, function in entries:
            timed[label] = (function, images[: args.slow_images] if label in SLOW else None)
            families[label] = family
    passes = repeated_ms(timed, images, args.repeats)
    passes[default] = [value / len(paths) for value in passes[default]]
    ms = {label: float(np.median(values)) for label, values in passes.items()}

    print(f"{'ours':52s} {'ms':>8s}")
    for label in timed:
        if label not in families:
            print(f"{label:52s} {ms[label]:8.2f}")
    compared["default"] = default
    # Each repeat's ratio too: the machine's speed drifts between minutes, and a peer and
    # our family timed in the same repeat see the same speed.
    print(f"\n{'peer':40s} {'family':>10s} {'peer ms':>9s} {'ours ms':>9s} {'peer/ours':>10s}"
          "  repeats' ratios")
    for label, family in families.items():
        ours_label = compared[family]
        note = f"  (first {args.slow_images} images)" if label in SLOW else ""
        ratios = np.array(passes[label]) / np.array(passes[ours_label])
        print(f"{label:40s} {family:>10s} {ms[label]:9.2f} {ms[ours_label]:9.2f} "
              f"{ms[label] / ms[ours_label]:10.2f}  {ratios.min():.2f} to {ratios.max():.2f}{note}")



def scaling(args):
    """Wall time of the feature steps with n_jobs=1 and 2 (workers already started), and
    whether the results agree."""
    scaling_paths = sample_paths(args.data, args.scaling_images)
    # Start the two worker processes (imports: a few seconds, once per session) before timing.
    start = time.perf_counter()
    feature_steps(n_jobs=2).set_params(features__batch_size=1).fit_transform(scaling_paths[:4])
    print(f"\nstarting 2 worker processes: {time.perf_counter() - start:.1f} s (once, not timed below)")
    results, seconds = {}, {}
    for n_jobs in (1, 2):
        pipe = feature_steps(n_jobs=n_jobs)
        start = time.perf_counter()
        results[n_jobs] = pipe.fit_transform(scaling_paths)
        seconds[n_jobs] = time.perf_counter() - start
    same = np.array_equal(results[1], results[2], equal_nan=True)
    print(f"fit_transform of the feature steps on {len(scaling_paths)} images: "
          f"n_jobs=1 {seconds[1]:.1f} s, n_jobs=2 {seconds[2]:.1f} s, "
          f"speed-up {seconds[1] / seconds[2]:.2f}, identical results: {same}")


if __name__ == "__main__":
    main()
