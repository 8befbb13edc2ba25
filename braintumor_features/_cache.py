"""A cache of per-image feature rows, so a grid search computes each image once.

A row is stored under a key made of the image's content (the file's bytes or
the array's bytes, dtype and shape, and its tumour mask), the preprocessing
chain that produced it (every step's class and parameters) and the feature
extractor's class and parameters (not ``n_jobs``, ``batch_size``,
``on_error`` or ``cache``, which do not change a row), plus the library
version. Any difference gives another key, so a row is never returned for
another image or other parameters.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import joblib
import numpy as np

from ._version import __version__
from .images import MaskedImage, Outline

__all__ = ["FeatureCache"]

#: Parameters that do not change a row, left out of the key.
RUNTIME_PARAMETERS = frozenset({"n_jobs", "batch_size", "on_error", "cache"})

# The in-memory store, shared by every in-memory FeatureCache of this process:
# the key says everything about a row, so sharing is safe, and copies made by
# ``clone`` (deepcopy) or pickling find the same rows.
_MEMORY: dict = {}
_MEMORY_LOCK = threading.Lock()
# Content digests of files, by (path, size, modification time).
_FILE_DIGESTS: dict = {}


def _digest(*parts) -> str:
    hasher = hashlib.blake2b(digest_size=20)
    for part in parts:
        hasher.update(part if isinstance(part, bytes) else str(part).encode())
        hasher.update(b"\0")
    return hasher.hexdigest()


def _file_digest(path) -> str:
    path = os.fspath(path)
    try:
        status = os.stat(path)
    except OSError:
        return _digest("missing", path)  # reading it will fail and name the file
    stamp = (path, status.st_size, status.st_mtime_ns)
    if stamp not in _FILE_DIGESTS:
        with open(path, "rb") as file:
            _FILE_DIGESTS[stamp] = _digest("file", file.read())
    return _FILE_DIGESTS[stamp]


def _source_digest(source) -> str:
    if source is None:
        return "none"
    if isinstance(source, (str, os.PathLike)):
        return _file_digest(source)
    if isinstance(source, Outline):
        return _digest("outline", repr(source.points))
    array = np.ascontiguousarray(source)
    return _digest("array", array.dtype.str, array.shape, array.tobytes())


def item_digest(item) -> str:
    """Digest of one item of ``X``: its image's content and its mask's."""
    if isinstance(item, MaskedImage):
        return _digest(_source_digest(item.image), _source_digest(item.mask))
    return _digest(_source_digest(item), "none")


def _fitted_state(step) -> tuple:
    """What a learning step (e.g. HistogramStandardizer) learned in ``fit``; () for the rest."""
    learned = {name: value for name, value in vars(step).items()
               if name.endswith("_") and not name.startswith("_")}
    return (learned,) if learned else ()


def _canonical(value):
    """``value`` as nested tuples of plain values, which depend on what the value is and not
    on which objects it shares with its neighbours: a pickle (``joblib.hash``) of the same
    parameters differs once ``clone`` has copied some of them and not others. Every
    container is tagged with its kind, so no two different values meet in one form."""
    if isinstance(value, dict):
        return "dict", tuple(sorted((repr(_canonical(key)), _canonical(item))
                                    for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return type(value).__name__, tuple(_canonical(item) for item in value)
    if isinstance(value, np.ndarray) and value.dtype != object:
        return ("ndarray", value.dtype.str, value.shape,
                _digest(np.ascontiguousarray(value).tobytes()))
    if hasattr(value, "get_params") and not isinstance(value, type):
        # An estimator given as a parameter: its parameters and what it learned.
        return (type(value).__module__, type(value).__qualname__,
                _canonical(value.get_params(deep=False)), _canonical(_fitted_state(value)))
    if value is None or type(value) in (str, bytes, bool, int, float, complex):
        return value
    return "object", joblib.hash(value)  # a function, a type, a NumPy scalar: by its pickle


def parameters_digest(steps, signature) -> str:
    """Digest of a preprocessing chain and an extractor's signature."""

    chain = [(type(step).__module__, type(step).__qualname__, step.get_params(deep=False))
             + _fitted_state(step) for step in steps]
    return _digest(__version__, repr(_canonical(chain)), repr(_canonical(signature)))


class FeatureCache:
    """Feature rows of single images, kept in memory or on disk.

    Give one to :class:`~braintumor_features.features.ImageFeatures`
    (``cache=``) or to :func:`~braintumor_features.make_pipeline`
    (``memory=``) and an image whose row was computed before, with the same
    preprocessing and feature parameters, is not computed again: a grid
    search over the classifier's parameters extracts each image once.

    Parameters
    ----------
    location : str, path, joblib.Memory or None, default=None
        ``None``: rows are kept in this process's memory (shared by every
        in-memory cache of the process, and by the copies ``clone`` makes).
        A directory (or a :class:`joblib.Memory`, whose ``location`` is
        used): rows are files under ``<location>/braintumor_features``,
        shared by worker processes and kept across sessions.

    Notes
    -----
    Keys are digests of the image's content, its mask, every preprocessing
    step's class, parameters and fitted attributes (of a step that learns,
    such as
    :class:`~braintumor_features.preprocessing.HistogramStandardizer`),
    the extractor's class and parameters and
    the library version. A file's content digest is remembered for as long
    as its size and modification time are unchanged. In-memory rows stay
    until :meth:`clear`; rows on disk until the directory is deleted. Files
    are written atomically, so several processes may share a directory.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import FeatureCache, ImageFeatures, LBPFeatures
    >>> images = [np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)]
    >>> features = ImageFeatures([("lbp", LBPFeatures(radii=[1]))], cache=FeatureCache())
    >>> first = features.fit_transform(images)
    >>> bool((features.fit_transform(images) == first).all())  # read from the cache
    True
    """

    def __init__(self, location=None):
        self.location = location

    def _directory(self):
        location = getattr(self.location, "location", self.location)
        return None if location is None else Path(location) / "braintumor_features"

    def get(self, key):
        """The row stored under ``key``, or None."""
        directory = self._directory()
        if directory is None:
            return _MEMORY.get(key)
        try:
            return np.load(directory / key[:2] / f"{key}.npy")
        except (OSError, ValueError):
            return None

    def put(self, key, row):
        """Store ``row`` under ``key``."""
        row = np.array(row, dtype=np.float64)
        directory = self._directory()
        if directory is None:
            with _MEMORY_LOCK:
                _MEMORY[key] = row
            return
        folder = directory / key[:2]
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(temporary, "wb") as file:
            np.save(file, row)
        os.replace(temporary, folder / f"{key}.npy")

    def clear(self):
        """Forget every row (in memory: of every in-memory cache of the process), and the
        process's remembered file digests, so that files are read again."""
        _FILE_DIGESTS.clear()
        directory = self._directory()
        if directory is None:
            with _MEMORY_LOCK:
                _MEMORY.clear()
            return
        for file in directory.glob("*/*.npy"):
            file.unlink(missing_ok=True)

    def __repr__(self):
        return f"FeatureCache(location={self.location!r})"
