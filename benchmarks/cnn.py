"""Deep features (``CNNFeatures``): agreement with PyTorch, speed, and accuracy.

Usage::

    nice python benchmarks/cnn.py [--only reference speed cv sources] [--n-jobs 2]
        [--models efficientnet_lite0 efficientnet_lite2] [--features-cache /tmp/cnn_features]
    nice python benchmarks/cnn.py --only reference --models efficientnet_lite0 --write-fixture tests/data/cnn

``reference``: the converted ONNX graph of each built-in model against the
reference network of ``efficientnet-lite-pytorch`` (PyTorch, benchmark-only)
on the same network inputs made from real slices: largest absolute
difference of each stage's pooled activations and of the logits (target
1e-4). ``--write-fixture`` stores, for ``tests/test_cnn.py``, PyTorch's
pooled activations of a few demo images (``reference.npz``) and two tiny
checkpoints written by ``torch.save`` in its zip and legacy formats.

``speed``: ms per image for each built-in model at its input size, one
network pass and one extracted image (with the default flip average: two
passes), single-threaded (CPU time) and with ``n_jobs`` (wall time), next to
PyTorch (one thread) on the same network, as ratios. The PyTorch columns are
left out where it is not installed.

``cv``: subject-grouped 5-fold accuracy (StratifiedGroupKFold over the
``subject`` column, near-duplicates joined, as ``accuracy.py``), 4-class and
3-class, StandardScaler + SVC(C=10, class_weight="balanced"), for the default
texture families, each model's pooled layers alone, and texture + CNN fused
(then each model's best fusion with its CNN columns weighted, ``--cnn-weights``).
``sources``: leave one source out over brain-mri, brain-mri-sartaj and
brain-mri-radiopaedia with the same classifier. Features are computed once
per data set and model (every layer, flip-averaged) and kept as ``.npy``
files in ``--features-cache``.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy import DEFAULT_DATA, grouped_predictions, scores, split_stateless, tasks
from sklearn.pipeline import make_pipeline as make_sklearn_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from braintumor_features import make_pipeline
from braintumor_features.datasets import (
    find_duplicates,
    load_folder,
    make_demo,
    merge_duplicate_groups,
)
from braintumor_features.features._onnx_efficientnet import (
    BUILTIN_MODELS,
    STAGES,
    builtin_model_path,
    checkpoint_path,
)
from braintumor_features.features.cnn import CNNFeatures, _network, _network_input

SOURCES = ["brain-mri", "brain-mri-sartaj", "brain-mri-radiopaedia"]
#: Layer sets compared by grouped CV (every built-in model).
LAYER_SETS = [("head",), ("stage7",), ("stage6", "stage7"), ("stage5", "stage6", "stage7"),
              ("stage4", "stage5", "stage6"), ("stage4", "stage5", "stage6", "stage7")]
FIXTURE_LAYERS = ("stage3", "stage7", "head")


def weigh(X, weights):
    return X * weights


def classifier(column_weights=None):
    """StandardScaler + SVC(C=10, balanced); ``column_weights`` multiply the scaled columns."""
    weighting = [] if column_weights is None else [
        FunctionTransformer(weigh, kw_args={"weights": column_weights})]
    return make_sklearn_pipeline(StandardScaler(), *weighting, SVC(C=10, class_weight="balanced"))


def torch_network(name):
    """The reference network with the built-in weights (PyTorch, benchmark-only)."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_pretrained(name.replace("_", "-"), weights_path=str(checkpoint_path(name)))
    return net.eval()


def stage_ends(net):
    """Index of the last block of each stage of ``net``: a stage is a run of blocks with
    the same output channels (all seven differ)."""
    blocks = net._blocks
    return [i for i, block in enumerate(blocks) if i + 1 == len(blocks)
            or blocks[i + 1]._block_args.output_filters != block._block_args.output_filters]


def torch_reference(name):
    """A function giving the reference network's pooled stage outputs and logits."""
    import torch

    net = torch_network(name)
    ends = stage_ends(net)

    def run(batch):
        with torch.no_grad():
            x = net._swish(net._bn0(net._conv_stem(torch.from_numpy(batch))))
            maps = {"stem": x}
            for index, block in enumerate(net._blocks):
                x = block(x)
                if index in ends:
                    maps[f"stage{ends.index(index) + 1}"] = x
            maps["head"] = net._swish(net._bn1(net._conv_head(x)))
            logits = net._fc(maps["head"].mean(dim=(2, 3)))
        return {k: v.mean(dim=(2, 3)).numpy() for k, v in maps.items()}, logits.numpy()

    return run


def onnx_reference(name):
    """Pooled stage outputs and logits of the converted graph (a logits output is 2-D:
    ``_Network`` takes it as it is)."""
    network = _network(builtin_model_path(name), ["logits", *STAGES], BUILTIN_MODELS[name].image_size)

    def run(batch):
        logits, *pooled = network.pooled(batch)
        return dict(zip(STAGES, pooled)), logits

    return run


def preprocessing():
    """The default pipeline's preprocessing steps (lazy: images are made where used);
    ``make_pipeline(features="cnn")`` has the same."""
    stateless, _ = split_stateless(make_pipeline())
    return stateless[:-1]


def canonical_images(paths, n):
    """The first ``n`` of ``paths`` through the default pipeline's preprocessing."""
    return list(preprocessing().transform(list(paths[:n])))


def reference(args):
    data = load_folder(args.data)
    picked = data.paths[:: max(1, len(data.paths) // 16)][:16]
    images = canonical_images(picked, 16)
    rows = []
    for name in args.models:
        size = BUILTIN_MODELS[name].image_size
        batch = np.stack([_network_input(image, size, 3) for image in images])
        (torch_maps, torch_logits), (onnx_maps, onnx_logits) = (
            torch_reference(name)(batch), onnx_reference(name)(batch))
        for layer in [*STAGES, "logits"]:
            ours, theirs = (onnx_logits, torch_logits) if layer == "logits" else (
                onnx_maps[layer], torch_maps[layer])
            rows.append({"model": name, "layer": layer, "max_abs_diff": np.abs(ours - theirs).max(),
                         "max_abs_value": np.abs(theirs).max()})
    frame = pd.DataFrame(rows)
    print(f"ONNX graph vs PyTorch reference on {len(images)} real slices (target: max_abs_diff <= 1e-4)")
    print(frame.pivot(index="layer", columns="model", values="max_abs_diff").loc[[*STAGES, "logits"]]
          .to_string(float_format=lambda v: f"{v:.1e}"))
    if args.write_fixture:
        write_fixture(args.write_fixture)
    return frame


def write_fixture(folder):
    """PyTorch's pooled Lite0 activations of 4 demo images, and two tiny checkpoints."""
    import torch

    demo = make_demo(n_samples=4, image_size=64, random_state=0)
    name = "efficientnet_lite0"
    inputs = np.stack([_network_input(image, BUILTIN_MODELS[name].image_size, 3)
                       for image in demo.images])
    maps, _ = torch_reference(name)(inputs)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "reference.npz", images=np.stack(demo.images),
                        **{layer: maps[layer] for layer in FIXTURE_LAYERS})
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    state = {"transposed": base.t(), "offset_view": base[1:, 1:3],
             "counts": torch.tensor([1, 2, 3]), "half": torch.tensor([0.5, 1.5], dtype=torch.float16)}
    torch.save(state, folder / "tiny_zip.pth")
    torch.save(state, folder / "tiny_legacy.pth", _use_new_zipfile_serialization=False)
    print(f"wrote {folder}/reference.npz (PyTorch's pooled {FIXTURE_LAYERS}), tiny_zip.pth, "
          "tiny_legacy.pth")


def logits_runners(name):
    """One-image classifier passes of the converted graph (ONNX Runtime, one thread) and of
    the reference network (PyTorch, one thread): the same network on both."""
    import torch

    # CNNFeatures' own session: one thread, sequential
    session = _network(builtin_model_path(name), ["logits"], BUILTIN_MODELS[name].image_size).session
    torch.set_num_threads(1)
    net = torch_network(name)

    def torch_run(inputs):
        with torch.no_grad():
            return [net(torch.from_numpy(x)) for x in inputs]

    return (lambda inputs: [session.run(["logits"], {"image": x}) for x in inputs]), torch_run


def _per_image_ms(function, images, clock, repeat=3):
    """Best-of-``repeat`` milliseconds per image of ``function(images)`` by ``clock``."""
    function(images[:2])  # warm up (session creation, conversion)
    best = np.inf
    for _ in range(repeat):
        start = clock()
        function(images)
        best = min(best, clock() - start)
    return 1000 * best / len(images)


def speed(args):
    """Single-threaded columns are CPU time of this process (``time.process_time``), which
    other work on a shared machine changes less than wall time; ``n_jobs`` is wall time."""
    data = load_folder(args.data)
    images = canonical_images(data.paths, args.speed_images)
    cpu, wall = time.process_time, time.perf_counter
    rows = []
    for name in args.models:
        size = BUILTIN_MODELS[name].image_size
        row = {
            "model": f"{name} @ {size} px",
            "cnn ms/image": _per_image_ms(CNNFeatures(name).fit_transform, images, cpu),
            "cnn ms/image no flip": _per_image_ms(CNNFeatures(name, flip=False).fit_transform,
                                                  images, cpu),
            f"cnn wall ms/image n_jobs={args.n_jobs}": _per_image_ms(
                CNNFeatures(name, n_jobs=args.n_jobs).fit_transform, images, wall),
        }
        try:
            onnx_run, torch_run = logits_runners(name)
        except ImportError:  # no PyTorch or no reference architecture: no comparison
            rows.append(row)
            continue
        inputs = [_network_input(image, size, 3)[None] for image in images]
        row["onnx ms/pass"] = _per_image_ms(onnx_run, inputs, cpu)
        row["torch ms/pass"] = _per_image_ms(torch_run, inputs, cpu)
        row["torch / onnx"] = row["torch ms/pass"] / row["onnx ms/pass"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    print(f"\nms per image, {len(images)} canonical slices, best of 3, one thread (CPU time) "
          "unless n_jobs. 'image': CNNFeatures with its default layers (with the flip average: "
          "two network passes); 'pass': one classifier evaluation of the same network")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return frame


def cached(path, compute):
    if path.exists():
        return np.load(path)
    rows = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, rows)
    return rows


def source_features(folder, args):
    """Texture and every model's all-layer features of a data set, cached as .npy."""
    data = load_folder(folder)
    stateless, _ = split_stateless(make_pipeline(n_jobs=args.n_jobs))
    features = {"texture": cached(args.features_cache / f"{folder.name}-texture.npy",
                                  lambda: stateless.transform(data.paths))}
    for name in args.models:
        extractor = CNNFeatures(name, layers=list(STAGES), n_jobs=args.n_jobs)
        start = time.perf_counter()
        features[name] = cached(args.features_cache / f"{folder.name}-{name}.npy",
                                partial(extractor.transform, preprocessing().transform(data.paths)))
        print(f"{folder.name} {name}: {features[name].shape} in {time.perf_counter() - start:.0f} s")
    return data, features


def columns(name, layers):
    """Columns of ``layers`` in the all-layer features of model ``name``."""
    names = CNNFeatures(name, layers=list(STAGES)).get_feature_names_out()
    prefixes = tuple(f"cnn_{layer}_" for layer in layers)
    return np.array([str(n).startswith(prefixes) for n in names])


def grouped_accuracy(learned, X, y, groups, subset, labels, n_jobs):
    predicted = grouped_predictions(learned, X[subset], y[subset], groups[subset], n_jobs=n_jobs)
    return scores(y[subset], predicted, labels)["accuracy"]


def cv(args):
    data, features = source_features(args.data, args)
    groups_file = args.features_cache / f"{args.data.name}-groups.npy"
    groups = cached(groups_file, lambda: merge_duplicate_groups(
        data.groups, find_duplicates(data.paths, n_jobs=args.n_jobs)).astype(str))
    y = data.target
    rows = []

    def add(label, X, column_weights=None):
        row = {"features": label, "columns": X.shape[1]}
        for task, subset, labels in tasks(y, data.target_names):
            row[task] = grouped_accuracy(classifier(column_weights), X, y, groups, subset, labels,
                                         args.n_jobs)
        rows.append(row)
        print(f"  {label}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in row.items() if k != "features"), flush=True)

    texture = features["texture"]
    add("texture (default families)", texture)
    for name in args.models:
        for layers in LAYER_SETS:
            cnn = features[name][:, columns(name, layers)]
            add(f"{name} {'+'.join(layers)}", cnn)
            add(f"texture + {name} {'+'.join(layers)}", np.hstack([texture, cnn]))
    # Per-family weighting: the CNN columns of the best fusion of each model, scaled by w.
    for name in args.models:
        fused = [row for row in rows if row["features"].startswith(f"texture + {name} ")]
        layers = max(fused, key=lambda row: row["4-class"])["features"].split()[-1].split("+")
        cnn = features[name][:, columns(name, layers)]
        for weight in args.cnn_weights:
            add(f"texture + {weight} x {name} {'+'.join(layers)}", np.hstack([texture, cnn]),
                np.r_[np.ones(texture.shape[1]), np.full(cnn.shape[1], weight)])
    frame = pd.DataFrame(rows)
    print(f"\nsubject-grouped 5-fold accuracy on {args.data.name}, StandardScaler + SVC(C=10, balanced)")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return frame


def sources(args):
    from braintumor_features.evaluation import leave_one_source_out

    parts = [source_features(args.data.parent / name, args) for name in SOURCES]
    y = np.concatenate([data.target for data, _ in parts])
    source = np.repeat(SOURCES, [len(data.target) for data, _ in parts])
    texture = np.vstack([features["texture"] for _, features in parts])
    candidates = [("texture", texture)]
    for name in args.models:
        label = f"{name} {'+'.join(args.layers)}"
        chosen = columns(name, args.layers)
        cnn = np.vstack([features[name][:, chosen] for _, features in parts])
        candidates += [(label, cnn), (f"texture + {label}", np.hstack([texture, cnn]))]
    rows = [leave_one_source_out(classifier(), X, y, source, n_jobs=args.n_jobs).assign(features=label)
            for label, X in candidates]
    frame = pd.concat(rows)
    print("\nleave one source out, StandardScaler + SVC(C=10, balanced)")
    print(frame.to_string(float_format=lambda v: f"{v:.3f}"))
    return frame


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--models", nargs="+", choices=list(BUILTIN_MODELS), default=list(BUILTIN_MODELS))
    parser.add_argument("--only", nargs="+", choices=["reference", "speed", "cv", "sources"],
                        default=["reference", "speed", "cv", "sources"])
    parser.add_argument("--layers", nargs="+", default=["stage6", "stage7"],
                        help="layers of the leave-one-source-out runs")
    parser.add_argument("--features-cache", type=Path, default=Path("/tmp/cnn_features"))
    parser.add_argument("--cnn-weights", nargs="*", type=float, default=[0.5, 1.5, 2.0],
                        help="weights of the CNN columns in the fused runs of the cv step")
    parser.add_argument("--speed-images", type=int, default=32)
    parser.add_argument("--write-fixture", type=Path, metavar="FOLDER",
                        help="store PyTorch's outputs for the tests (tests/data/cnn)")
    args = parser.parse_args(argv)
    for step in args.only:
        globals()[step](args)


if __name__ == "__main__":
    main()
