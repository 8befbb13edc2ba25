"""Where the models look: occlusion saliency against the tumour outlines of held-out patients.

Usage::

    python benchmarks/saliency.py [--data ../shared/data/brain-mri] [--models texture ...]
        [--n-images 30] [--n-jobs 2] [--grid saliency_grid.png] [--timing-maps 3]

brain-mri is split by StratifiedGroupKFold(5, shuffle=True, random_state=0) over
the patient (subjects sharing near-duplicate images joined); each model is
trained on four folds and explains ``--n-images`` tumour slices of the fifth
(an equal number per tumour class, drawn with seed 0; the same slices for
every model), for its predicted class, with ``saliency_map``'s defaults
(occlusion by blurred windows 1/8 of the canonical side, stride 1/16: 225
copies). Each map is scored against the slice's outline (``outline_scores``,
peak tolerance 1/32 of the head's side = 8 px at 256 px):

- ``hits``: the pointing game, maps whose peak lies inside the outline;
- ``inside``: mean share of the positive saliency inside the outline, and
  ``x share``: that over the mean outline's share of the head;
- ``outside head``: mean share of the positive saliency outside the head.

The ``random`` rows score random smooth maps (uniform noise on a 16 x 16 grid
over the canonical image, brought back through the same crop and resize): what
a map that knows nothing of the tumour gets. ``outline share`` is the outline's
own share of the head. Targets (issue 28): hits >= 80%, inside >= 3 x share,
outside head < 5%.

Models (``--models``) are entries of ``MODELS``: the default texture SVM,
``features=["default", "cnn"]`` and the fine-tuned CNN (``make_pipeline("cnn")``,
the ``[train]`` extra), which offers ``class_activation_map`` and so is
explained by its CAM through the same call; ``finetuned+masks`` is the same
network trained on the slices with their outlines (``with_masks``) and
``mask_weight=1``, its class activation map taught to lie in the tumour. ``--cam-timing`` only times that
map against the network's prediction of the same image. Prints the
table, the seconds per map, and the time of ``--timing-maps`` occlusion maps
of the default pipeline with one worker (wall and CPU seconds; the CPU time is
what one core spends, whatever else runs on the machine), and writes a grid of
overlays. The texture SVM with 30 slices takes about 5 minutes on 2 cores;
``default+cnn`` about 45 s per map.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from braintumor_features import make_pipeline  # noqa: E402
from braintumor_features.datasets import (  # noqa: E402
    find_duplicates,
    load_folder,
    merge_duplicate_groups,
)
from braintumor_features.evaluation import outline_scores, saliency_map  # noqa: E402
from braintumor_features.images import with_masks  # noqa: E402
from braintumor_features.io import read_image  # noqa: E402
from braintumor_features.plotting import plot_saliency  # noqa: E402

#: The models explained: name -> a function of n_jobs returning an unfitted pipeline.
#: saliency_map explains the fine-tuned CNN by its own class_activation_map.
MODELS = {
    "texture": lambda n_jobs: make_pipeline(n_jobs=n_jobs, random_state=0),
    "default+cnn": lambda n_jobs: make_pipeline(features=["default", "cnn"], n_jobs=n_jobs,
                                                random_state=0),
    "finetuned": lambda n_jobs: make_pipeline("cnn", n_jobs=n_jobs, random_state=0),
    "finetuned+masks": lambda n_jobs: make_pipeline("cnn", n_jobs=n_jobs, random_state=0)
    .set_params(classifier__mask_weight=1.0),  # --mask-weight sets another
}

#: The models trained on the slices with their tumour outlines (``with_masks``).
WITH_MASKS = {"finetuned+masks"}


class RandomMap(ClassifierMixin, BaseEstimator):
    """A "model" whose class activation map is smooth random noise: the baseline."""

    def __init__(self, random_state=0):
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self._rng = np.random.default_rng(self.random_state)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return self.classes_[np.zeros(len(X), int)]

    def class_activation_map(self, image, target):
        coarse = self._rng.uniform(size=(16, 16)).astype(np.float32)
        return cv2.resize(coarse, image.shape[::-1], interpolation=cv2.INTER_LINEAR)


def held_out_slices(data, n_images, n_jobs):
    """Training indices (four folds) and ``n_images`` outlined tumour slices of the fifth."""
    groups = merge_duplicate_groups(data.groups, find_duplicates(data.paths, n_jobs=n_jobs))
    cv = StratifiedGroupKFold(5, shuffle=True, random_state=0)
    train, test = next(cv.split(data.paths, data.target, groups))
    rng = np.random.default_rng(0)
    tumor_classes = [name for name in data.target_names if name != "no_tumor"]
    chosen = []
    for position, label in enumerate(tumor_classes):
        candidates = [i for i in test if data.target[i] == label and data.masks[i] is not None]
        count = n_images // len(tumor_classes) + (position < n_images % len(tumor_classes))
        chosen += sorted(rng.permutation(candidates)[:count])  # fewer: a subset of more
    return train, np.array(chosen)


def explain(name, pipe, data, chosen, n_jobs):
    rows, maps = [], []
    predicted = pipe.predict([data.paths[i] for i in chosen])
    for index, label in zip(chosen, predicted):
        start = time.perf_counter()
        saliency = saliency_map(pipe, data.paths[index], n_jobs=n_jobs)
        seconds = time.perf_counter() - start
        image = read_image(data.paths[index])
        scores = outline_scores(saliency, image, data.masks[index], name=data.paths[index])
        rows.append({"model": name, "class": data.target[index], "correct": label == data.target[index],
                     **scores, "seconds": seconds})
        maps.append(saliency)
    return rows, maps


def table(rows):
    frame = pd.DataFrame(rows)
    parts = []
    for model, rows_of_model in frame.groupby("model", sort=False):
        for label, part in rows_of_model.groupby("class", sort=False):
            parts.append(summary(model, label, part))
        parts.append(summary(model, "all", rows_of_model))
    return pd.DataFrame(parts)


def summary(model, label, part):
    inside, share = part["energy_inside"].mean(), part["outline_share"].mean()
    return {"model": model, "class": label, "n": len(part), "correct": int(part["correct"].sum()),
            "hits": f"{int(part['pointing_hit'].sum())}/{len(part)}",
            "inside": round(inside, 3), "outline share": round(share, 3),
            "x share": round(inside / share, 2), "outside head": round(part["outside_head"].mean(), 3),
            "s/map": round(part["seconds"].mean(), 1)}


def time_default_map(pipe, path, repeats):
    """Wall and CPU seconds of ``repeats`` occlusion maps of ``pipe`` with one worker."""
    saliency_map(pipe, path, n_jobs=1)  # warm up
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        saliency_map(pipe, path, n_jobs=1)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return np.median(walls), np.median(cpus)


def time_cam(data, train, path, repeats, n_train=32):
    """CPU seconds of the fine-tuned CNN's class activation map and of its prediction of the
    same image, one thread (median of ``repeats``). The network is fitted for one epoch on
    ``n_train`` training images: the timing does not depend on how well it learnt."""
    pipe = MODELS["finetuned"](1).set_params(classifier__max_epochs=1,
                                             classifier__validation_fraction=None)
    chosen = np.random.default_rng(0).choice(train, n_train, replace=False)
    pipe.fit([data.paths[i] for i in chosen], data.target[chosen])
    saliency_map(pipe, path, method="cam"), pipe.predict_proba([path])  # warm up
    seconds = {"cam": [], "predict": []}
    for _ in range(repeats):
        for name, call in (("cam", lambda: saliency_map(pipe, path, method="cam")),
                           ("predict", lambda: pipe.predict_proba([path]))):
            start = time.process_time()
            call()
            seconds[name].append(time.process_time() - start)
    return np.median(seconds["cam"]), np.median(seconds["predict"])


def draw_grid(data, chosen, maps, path, n_rows=6):
    shown = np.linspace(0, len(chosen) - 1, min(n_rows, len(chosen))).astype(int)
    names = list(maps)
    figure, axes = plt.subplots(len(shown), len(names), figsize=(3.2 * len(names), 3 * len(shown)),
                                squeeze=False)
    for row, position in enumerate(shown):
        index = chosen[position]
        for column, name in enumerate(names):
            title = f"{name}\n{Path(data.paths[index]).parent.name}/{Path(data.paths[index]).name}"
            plot_saliency(data.paths[index], maps[name][position], outline=data.masks[index],
                          ax=axes[row, column], title=title, colorbar=False)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/brain-mri"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--n-images", type=int, default=30)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--grid", type=Path, default=Path("saliency_grid.png"))
    parser.add_argument("--timing-maps", type=int, default=3)
    parser.add_argument("--cam-timing", action="store_true",
                        help="only time the fine-tuned CNN's class activation map against its "
                             "prediction (one epoch on 32 training images; needs [train])")
    parser.add_argument("--mask-weight", type=float, default=None,
                        help="finetuned+masks' weight of the tumour-mask loss (default 1)")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="train on at most this many images of the four folds (smoke runs)")
    args = parser.parse_args(argv)

    data = load_folder(args.data)
    train, chosen = held_out_slices(data, args.n_images, args.n_jobs)
    if args.train_limit:
        train = np.random.default_rng(0).choice(train, args.train_limit, replace=False)
    if args.cam_timing:
        cam, predict = time_cam(data, train, data.paths[chosen[0]], args.timing_maps)
        print(f"fine-tuned CNN, one thread, CPU: class activation map {cam * 1000:.1f} ms, "
              f"prediction {predict * 1000:.1f} ms, ratio {cam / predict:.2f} "
              f"(median of {args.timing_maps})")
        return None
    print(f"trained on {len(train)} images of four folds; explaining {len(chosen)} held-out "
          "tumour slices")
    rows, maps = [], {}
    for name in args.models:
        start = time.perf_counter()
        paths = [data.paths[i] for i in train]
        if name in WITH_MASKS:
            paths = with_masks(paths, [data.masks[i] for i in train])
        pipe = MODELS[name](args.n_jobs)
        if name in WITH_MASKS and args.mask_weight is not None:
            pipe.set_params(classifier__mask_weight=args.mask_weight)
        pipe.fit(paths, data.target[train])
        print(f"{name}: trained in {time.perf_counter() - start:.0f} s", flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model_rows, maps[name] = explain(name, pipe, data, chosen, args.n_jobs)
        rows += model_rows
        if name == "texture" and args.timing_maps:
            wall, cpu = time_default_map(pipe, data.paths[chosen[0]], args.timing_maps)
            print(f"one occlusion map of the default pipeline, one worker: {wall:.2f} s wall, "
                  f"{cpu:.2f} s CPU (median of {args.timing_maps})", flush=True)
    baseline = Pipeline(MODELS["texture"](1).steps[:5] + [("random", RandomMap())])
    baseline.fit([data.paths[i] for i in chosen[:2]], ["a", "b"])
    random_rows, maps["random"] = explain("random", baseline, data, chosen, 1)
    rows += [{**row, "correct": False} for row in random_rows]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table(rows).to_string(index=False))
    draw_grid(data, chosen, maps, args.grid)
    print(f"overlays: {args.grid}")
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
