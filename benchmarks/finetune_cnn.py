"""The fine-tuned CNN (``make_pipeline(classifier="cnn")``'s ``CNNClassifier``) on three sources.

Usage::

    python benchmarks/finetune_cnn.py [--only timing speed tuning sources loso brain-mri] [--n-jobs 2]
        [--cache DIR] [--epochs 4] [--frozen-stages 5] [--n-views 2] [--augment 0.5] [--mask-weight 0]

The classifier is the library's :class:`~braintumor_features.classifiers.CNNClassifier`
(``pip install "braintumor-features[cnn,train]"``) on the canonical slices of the
default preprocessing (``cnn.preprocessing()``, made once and kept in ``--cache``
as float16): EfficientNet-Lite0's stem and stages up to ``--frozen-stages`` run on
ONNX Runtime once per slice and view (the slice, its mirror, then random training
transforms up to ``--n-views``), their activations kept in the classifier's
``memory`` (a folder of ``--cache``); the later stages, the head convolution and a
new linear layer are trained with PyTorch through skorch, early stopping on a
subject-grouped fifth of each training set (``groups``).

``speed``: prediction in ms per image on one thread, split into the frozen and the
trained part, next to the ``cnn`` family on the same slices. ``timing``: one fit on every image with an empty activation cache (the frozen
stages' pass included), a refit from the cache, and prediction in ms per image on
one thread. ``brain-mri``: subject-grouped 5-fold accuracy on brain-mri alone,
4-class and 3-class (accuracy.py's folds). ``sources``: cross_source.py's protocol
(grouped 5-fold CV on the union of the three shared sources with every source and
radiopaedia sequence; leave one source out), so the table reads next to its rows;
``loso``: its second table alone (a source left out: three fits). ``tuning``: the
cut, epochs and learning rate by grouped 3-fold CV on brain-mri (``CANDIDATES``).
"""

from __future__ import annotations

import argparse
import shutil
import time

import numpy as np
from accuracy import grouped_predictions, scores as task_scores, tasks
from cnn import cached, preprocessing
from cross_source import (
    cache_folder,
    command_line,
    evaluate,
    leave_one_source_out,
    load_sources,
    print_tables,
)
from sklearn.model_selection import StratifiedGroupKFold

from braintumor_features.classifiers import CNNClassifier
from braintumor_features.images import MaskedImage, with_masks


def canonical(paths, cache):
    """The canonical slices of ``paths`` as one (n, 256, 256) float16 array, kept in ``cache``."""
    return cached(cache / "canonical_float16.npy",
                  lambda: np.stack(list(preprocessing().transform(paths))).astype(np.float16))


def with_canonical_masks(images, sources, cache):
    """``images`` as an object array of MaskedImage: each canonical slice with its tumour
    outline taken through the same preprocessing (brain-mri's ``tumor_border``; the
    others have none), the masks kept in ``cache`` as packed bits."""
    def compute():
        canonical = preprocessing().transform(with_masks(sources["paths"], sources["masks"]))
        return np.packbits(np.stack([np.zeros(images.shape[1:], bool) if item.mask is None
                                     else item.mask for item in canonical]), axis=-1)

    masks = np.unpackbits(cached(cache / "canonical_masks_packed.npy", compute),
                          axis=-1)[..., :images.shape[2]].astype(bool)
    items = np.empty(len(images), object)
    for index, (image, mask) in enumerate(zip(images, masks)):
        items[index] = MaskedImage(image, mask if mask.any() else None)
    print(f"{sum(item.mask is not None for item in items)} slices with a tumour mask", flush=True)
    return items


def classifier(args, memory):
    return CNNClassifier(max_epochs=args.epochs, frozen_stages=args.frozen_stages,
                         n_views=args.n_views, augment=args.augment, mask_weight=args.mask_weight,
                         memory=memory, random_state=0, n_jobs=args.n_jobs, verbose=1)


def timing(args, images, sources, cache):
    """The frozen stages' pass into an empty cache, then a fit reading it (a refit): their
    sum is one fit from nothing."""
    memory = cache / "activations"
    shutil.rmtree(memory, ignore_errors=True)
    model = classifier(args, memory)
    start = time.perf_counter()
    model._frozen_maps(list(images), args.n_views)
    frozen = time.perf_counter() - start
    print(f"frozen stages' pass: {frozen:.0f} s for {len(images)} images x {args.n_views} views "
          f"({1000 * frozen / len(images):.0f} ms/image, {args.n_jobs} threads)", flush=True)
    start = time.perf_counter()
    model.fit(images, sources["y"], groups=sources["groups"])
    refit = time.perf_counter() - start
    print(f"fit from the cache (a refit): {refit:.0f} s ({model.n_epochs_} epochs, "
          f"{args.n_jobs} threads); one fit from nothing: {frozen + refit:.0f} s", flush=True)
    model.set_params(n_jobs=1)
    sample = images[:: max(1, len(images) // 200)][:200]
    model.predict_proba(sample[:4])  # sessions opened
    start = time.process_time()
    model.predict_proba(sample)
    print(f"prediction: {1000 * (time.process_time() - start) / len(sample):.1f} ms/image "
          f"(CPU time, one thread, {len(sample)} slices, with the mirror image)", flush=True)


def speed(args, images, sources, cache):
    """Prediction cost, one thread, CPU time, best of 3, on 48 canonical slices: the
    classifier (with and without the mirror image), its frozen and trained parts, and the
    ``cnn`` family on the same slices (a 1-epoch fit on 24 slices: the cost does not depend
    on the training)."""
    from braintumor_features.features.cnn import CNNFeatures, _network_input

    X = list(images[:: len(images) // 48][:48].astype(np.float32))
    model = CNNClassifier(max_epochs=1, validation_fraction=None, random_state=0, n_jobs=1,
                          memory=False).fit(X[:24], sources["y"][:: len(images) // 48][:24])
    batch = np.stack([_network_input(x, model._size(), 3) for x in X])
    maps = model._run_frozen(batch)
    family = CNNFeatures()
    family.fit_transform(X[:2])

    def ms(function):
        function()
        best = np.inf
        for _ in range(3):
            start = time.process_time()
            function()
            best = min(best, time.process_time() - start)
        return 1000 * best / len(X)

    print(f"prediction ms/image, one thread: {ms(lambda: model.predict_proba(X)):.1f} (with the "
          f"mirror), {ms(lambda: model.set_params(flip=False).predict_proba(X)):.1f} (without); "
          f"frozen stages {ms(lambda: model._run_frozen(batch)):.1f} and trained part "
          f"{ms(lambda: model._trained(maps)):.1f} per pass; cnn family (with the mirror) "
          f"{ms(lambda: family.transform(X)):.1f}", flush=True)


def brain_mri(args, images, sources, cache):
    mine = sources["dataset"] == "brain-mri"
    X, y, groups = images[mine], sources["y"][mine], sources["groups"][mine]
    model = classifier(args, cache / "activations")
    for task, subset, labels in tasks(y, sources["labels"]):
        if task not in args.tasks:
            continue
        start = time.perf_counter()
        predicted = grouped_predictions(model, X[subset], y[subset], groups[subset],
                                        params={"groups": groups[subset]})
        found = task_scores(y[subset], predicted, labels)
        print(f"brain-mri grouped 5-fold {task}: accuracy {found['accuracy']:.3f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)


#: tuning's candidates: each changes the defaults (the first row) in one way; the cheaper
#: first (fewer epochs, a smaller input, fewer stages trained).
CANDIDATES = [{}, {"max_epochs": 3}, {"image_size": 192}, {"frozen_stages": 6}, {"lr": 2.5e-4},
              {"lr": 1e-3}, {"frozen_stages": 4}]


def tuning(args, images, sources, cache):
    """The training parameters by grouped CV: brain-mri 4-class, StratifiedGroupKFold(3)
    with another seed (1) than accuracy.py's folds, each of ``CANDIDATES``; each fit
    predicts with and without the mirror image (``flip``)."""
    mine = sources["dataset"] == "brain-mri"
    X, y, groups = images[mine], sources["y"][mine], sources["groups"][mine]
    folds = list(StratifiedGroupKFold(3, shuffle=True, random_state=1).split(X, y, groups))
    for change in CANDIDATES:
        start = time.perf_counter()
        right = {True: 0, False: 0}
        epochs = []
        for train, test in folds:
            model = classifier(args, cache / "activations").set_params(**change)
            model.fit(X[train], y[train], groups=groups[train])
            epochs.append(model.n_epochs_)
            for flip in right:
                right[flip] += int(np.sum(model.set_params(flip=flip).predict(X[test]) == y[test]))
        print(f"tuning {change or 'defaults'}: grouped 3-fold 4-class accuracy "
              f"{right[True] / len(y):.3f} ({right[False] / len(y):.3f} without the mirror), "
              f"epochs {epochs}, {time.perf_counter() - start:.0f} s ({args.n_jobs} threads)",
              flush=True)


def sources_protocol(args, images, sources, cache, held_out_only=False):
    model = classifier(args, cache / "activations")
    started = time.perf_counter()
    name = (f"CNNClassifier (stages {args.frozen_stages + 1}-7, {args.epochs} epochs, "
            f"{args.n_views} views, augment {args.augment})")
    fit_params = {"groups": sources["groups"]}
    if held_out_only:
        print_tables([], leave_one_source_out(name, model, images, sources, fit_params))
    else:
        print_tables(*evaluate(name, model, images, sources, fit_params))
    print(f"\n{time.perf_counter() - started:.0f} s of training and prediction "
          f"({args.n_jobs} threads)")


STEPS = {"timing": timing, "tuning": tuning, "speed": speed, "sources": sources_protocol, "brain-mri": brain_mri,
         "loso": lambda *args: sources_protocol(*args, held_out_only=True)}


def main(argv=None):
    parser = command_line(__doc__, only=False)
    parser.add_argument("--only", nargs="+", choices=list(STEPS), default=list(STEPS))
    parser.add_argument("--epochs", type=int, default=CNNClassifier().max_epochs)
    parser.add_argument("--frozen-stages", type=int, default=CNNClassifier().frozen_stages)
    parser.add_argument("--n-views", type=int, default=CNNClassifier().n_views)
    parser.add_argument("--augment", type=float, default=CNNClassifier().augment,
                        help="strength of the random training transforms of views beyond 2")
    parser.add_argument("--mask-weight", type=float, default=0.0,
                        help="above 0: the canonical slices carry their outlines, and this is "
                             "the weight of the tumour-mask loss (0: no outlines given)")
    parser.add_argument("--tasks", nargs="+", default=["4-class", "3-class"],
                        help="brain-mri step: 4-class and/or 3-class")
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cache = cache_folder(args.cache)
    sources = load_sources(args.n_jobs)
    images = canonical(sources["paths"], cache)
    if args.mask_weight > 0:
        images = with_canonical_masks(images, sources, cache)
    if args.limit:  # a quick check of the script: every n-th image
        step = len(images) // args.limit
        sources = {key: value[::step] if key != "labels" else value
                   for key, value in sources.items()}
        images = images[::step]
    for step in args.only:
        STEPS[step](args, images, sources, cache)


if __name__ == "__main__":
    main()
