"""Candidates that cross_source.py measured and the library did not keep.

Usage::

    python benchmarks/cross_source_ablation.py [--n-jobs 2] [--only NAME ...] [--cache DIR]

The protocol, data and groups are cross_source.py's (grouped 5-fold CV on the
union of the three shared sources with every source and radiopaedia sequence;
leave one source out). Each candidate changes one thing about the CNN family
(EfficientNet-Lite0, stages 4 to 7, on ``make_pipeline(features="cnn")``'s
canonical slices, image and mirror image averaged), or about the rows given to
the default scaler and SVM:

- pooling of the activation maps: ``mean`` (what CNNFeatures does), ``max``,
  ``gem`` (generalised mean, p=3), ``std``, ``mean+max``;
- where in the slice: ``center+periphery`` (the middle half of the map and
  the rest), ``mean+thirds`` (top, middle and bottom thirds);
- left-right asymmetry: ``asymmetry`` (mean over the map of
  |F(image) - F(mirror image)|, zero for a symmetric slice) alone and
  ``mean+asymmetry``;
- the input: ``no_clahe``; ``local_contrast`` (each pixel standardised by its
  neighbourhood's Gaussian mean and deviation, sigma 8 px); a second,
  intensity-inverted view appended to the upright one, inverted inside the
  head three ways: ``inverted_nonzero`` (every nonzero pixel: the near-black
  background turns white), ``inverted_head`` (head_mask: the skull is often
  left out) and ``inverted_loose`` (the largest blob above 0.05 after a
  2 px blur, holes filled: head and skull, background black);
- the rows: ``per_source_standardized`` (each source's rows standardised by
  that source's mean and deviation, test rows included) and
  ``drop_source_columns`` (dropping, on each training set, the half of the
  columns whose F statistic for the source within a class is largest
  relative to their F statistic for the class);
- a control for the second view: ``mean+mean_no_clahe`` (two upright views).

Pooled activations are kept in ``--cache`` (one ``.npz`` per input).
"""

from __future__ import annotations

import cv2
import numpy as np
from accuracy import split_stateless
from cnn import preprocessing
from cross_source import (
    SOURCES,
    cache_folder,
    command_line,
    evaluate,
    load_sources,
    print_tables,
)
from joblib import Parallel, delayed
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import f_classif
from sklearn.pipeline import Pipeline

from braintumor_features import make_pipeline
from braintumor_features.features._onnx_efficientnet import builtin_model_path
from braintumor_features.features.cnn import DEFAULT_LAYERS, _network, _network_input
from braintumor_features.preprocessing import head_mask

MODEL = "efficientnet_lite0"


def _local_contrast(image):
    mean = cv2.GaussianBlur(image, (0, 0), 8)
    deviation = np.sqrt(np.maximum(cv2.GaussianBlur(image * image, (0, 0), 8) - mean**2, 0))
    z = (image - mean) / (deviation + 0.02)
    return (np.clip(z / 6 + 0.5, 0, 1) * (image > 0)).astype(np.float32)


def _loose_head(image):
    foreground = cv2.GaussianBlur(image, (0, 0), 2) > 0.05
    labels, n = ndimage.label(foreground)
    if n == 0:
        return np.ones_like(foreground)
    sizes = ndimage.sum(foreground, labels, range(1, n + 1))
    return ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))


#: input name -> the image the network sees, from a canonical slice (0..1)
INPUTS = {
    "upright": lambda image: image,
    "local_contrast": _local_contrast,
    "inverted_nonzero": lambda image: np.where(image > 0, 1 - image, 0).astype(np.float32),
    "inverted_head": lambda image: np.where(head_mask(image), 1 - image, 0).astype(np.float32),
    "inverted_loose": lambda image: np.where(_loose_head(image), 1 - image, 0).astype(np.float32),
}


def _middle(height, width):
    inside = np.zeros((height, width), bool)
    inside[height // 4:height - height // 4, width // 4:width - width // 4] = True
    return inside


def _poolings(maps, mirrored):
    """Each pooling of one layer's (channels, height, width) maps of the image and of
    its mirror image (both in their own orientation)."""
    def both(pool):
        return (pool(maps) + pool(mirrored)) / 2

    middle = _middle(*maps.shape[1:])
    thirds = np.array_split(np.arange(maps.shape[1]), 3)
    return {
        "mean": both(lambda a: a.mean((1, 2))),
        "max": both(lambda a: a.max((1, 2))),
        "gem": both(lambda a: (np.maximum(a, 0) ** 3).mean((1, 2)) ** (1 / 3)),
        "std": both(lambda a: a.std((1, 2))),
        "asymmetry": np.abs(maps - mirrored).mean((1, 2)),
        "center": both(lambda a: a[:, middle].mean(1)),
        "periphery": both(lambda a: a[:, ~middle].mean(1)),
        "thirds": both(lambda a: np.concatenate([a[:, rows].mean((1, 2)) for rows in thirds])),
    }


def _pooled_rows(images, view):
    network = _network(builtin_model_path(MODEL), DEFAULT_LAYERS, 224)
    rows = []
    for image in images:
        batch = _network_input(INPUTS[view](np.asarray(image, np.float32)), 224, 3)[None]
        outputs = network.session.run(network.layers, {network.input_name: np.concatenate(
            [batch, batch[..., ::-1]])})
        parts = [_poolings(output[0], output[1]) for output in outputs]
        rows.append({key: np.concatenate([part[key] for part in parts]) for key in parts[0]})
    return rows


def pooled(canonical_images, view, cache, name, n_jobs):
    """Every pooling of the Lite0 stages 4-7 for the images that ``canonical_images()``
    returns, seen as ``view``; kept in ``cache`` (the images are made only when missing)."""
    path = cache / f"ablation_{name}.npz"
    if not path.exists():
        images = canonical_images()
        chunks = np.array_split(np.arange(len(images)), 8 * n_jobs)
        parts = Parallel(n_jobs=n_jobs)(delayed(_pooled_rows)([images[i] for i in chunk], view)
                                        for chunk in chunks)
        rows = [row for part in parts for row in part]
        np.savez(path, **{key: np.stack([row[key] for row in rows]) for key in rows[0]})
    return dict(np.load(path))


class DropSourceColumns(TransformerMixin, BaseEstimator):
    """Drop the ``fraction`` of columns that tell the source best relative to the class.

    ``fit(X, y, source=...)``: a column's score is its F statistic for the
    source within each class (averaged over the classes with more than one
    source) divided by its F statistic for the class.
    """

    def __init__(self, fraction=0.5):
        self.fraction = fraction

    def fit(self, X, y, source=None):
        for_class = np.nan_to_num(f_classif(X, y)[0])
        within = [np.nan_to_num(f_classif(X[y == label], source[y == label])[0])
                  for label in np.unique(y) if len(np.unique(source[y == label])) > 1]
        ratio = np.mean(within, axis=0) / (for_class + 1e-9)
        self.keep_ = ratio <= np.quantile(ratio, 1 - self.fraction)
        return self

    def transform(self, X):
        return X[:, self.keep_]


def per_source_standardized(X, dataset):
    X = X.copy()
    for source in SOURCES:
        rows = dataset == source
        X[rows] = (X[rows] - X[rows].mean(0)) / (X[rows].std(0) + 1e-6)
    return X


def main(argv=None):
    args = command_line(__doc__).parse_args(argv)
    cache = cache_folder(args.cache)

    sources = load_sources(args.n_jobs)
    canonical = {}

    def images(kind):
        if kind not in canonical:
            steps = preprocessing()
            if kind == "no_clahe":
                steps.set_params(clahe="passthrough")
            canonical[kind] = list(steps.transform(sources["paths"]))
        return canonical[kind]

    def rows(view, kind="clahe"):
        return pooled(lambda: images(kind), view, cache, f"{view}_{kind}", args.n_jobs)

    back = split_stateless(make_pipeline(random_state=0))[1]
    dropping = Pipeline([("drop", DropSourceColumns(0.5)), *back.steps])
    candidates = {
        "mean": lambda: rows("upright")["mean"],
        "max": lambda: rows("upright")["max"],
        "gem": lambda: rows("upright")["gem"],
        "std": lambda: rows("upright")["std"],
        "mean+max": lambda: np.hstack([rows("upright")["mean"], rows("upright")["max"]]),
        "center+periphery": lambda: np.hstack([rows("upright")["center"],
                                               rows("upright")["periphery"]]),
        "mean+thirds": lambda: np.hstack([rows("upright")["mean"], rows("upright")["thirds"]]),
        "asymmetry": lambda: rows("upright")["asymmetry"],
        "mean+asymmetry": lambda: np.hstack([rows("upright")["mean"], rows("upright")["asymmetry"]]),
        "no_clahe": lambda: rows("upright", "no_clahe")["mean"],
        "mean+mean_no_clahe": lambda: np.hstack([rows("upright")["mean"],
                                                 rows("upright", "no_clahe")["mean"]]),
        "local_contrast": lambda: rows("local_contrast", "no_clahe")["mean"],
        **{f"mean+{view}": (lambda view=view: np.hstack([rows("upright")["mean"], rows(view)["mean"]]))
           for view in ("inverted_nonzero", "inverted_head", "inverted_loose")},
        "per_source_standardized": lambda: per_source_standardized(rows("upright")["mean"],
                                                                   sources["dataset"]),
        "drop_source_columns": lambda: rows("upright")["mean"],
    }
    grouped, held_out = [], []
    for name in args.only or list(candidates):
        X = candidates[name]()
        if name == "drop_source_columns":
            results = evaluate(name, dropping, X, sources, {"drop__source": sources["dataset"]})
        else:
            results = evaluate(name, back, X, sources)
        grouped += results[0]
        held_out += results[1]
        print(f"{name}: {X.shape[1]} columns, union accuracy {results[0][0]['accuracy']:.3f}",
              flush=True)
    print_tables(grouped, held_out)


if __name__ == "__main__":
    main()
