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
from collections import OrderedDict
from numbers import Integral

import joblib
import numpy as np

from ._version import __version__
from .images import MaskedImage, Outline
from .io import VolumeSlice

__all__ = ["FeatureCache"]

#: Parameters that do not change a row, left out of the key.
RUNTIME_PARAMETERS = frozenset({"n_jobs", "batch_size", "on_error", "cache"})

#: Default bound of the in-memory rows, in bytes (256 MiB).
DEFAULT_MAX_BYTES = 2**28


class _LeastRecentlyUsed:
    """Rows by key, dropping the least recently used beyond a number of bytes."""

    def __init__(self):
        self._rows = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            row = self._rows.get(key)
            if row is not None:
                self._rows.move_to_end(key)
            return row

    def put(self, key, row, max_bytes):
        with self._lock:
            previous = self._rows.pop(key, None)
            self._nbytes -= 0 if previous is None else previous.nbytes
            row.flags.writeable = False  # FeatureCache.put's own copy: no caller changes it
            self._rows[key] = row
            self._nbytes += row.nbytes
            while self._nbytes > max_bytes:
                self._nbytes -= self._rows.popitem(last=False)[1].nbytes

    def clear(self):
        with self._lock:
            self._rows.clear()
            self._nbytes = 0


# The in-memory rows, shared by every in-memory FeatureCache of this process:
# the key says everything about a row, so sharing is safe, and copies made by
# ``clone`` (deepcopy) or pickling find the same rows.
_MEMORY = _LeastRecentlyUsed()
# Content digest of each file, by path: ((size, modification time), digest), one entry
# per path, replaced when the file changes.
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
    stamp = (status.st_size, status.st_mtime_ns)
    known = _FILE_DIGESTS.get(path)
    if known is None or known[0] != stamp:
        with open(path, "rb") as file:
            known = _FILE_DIGESTS[path] = (stamp, _digest("file", file.read()))
    return known[1]


def _source_digest(source) -> str:
    if source is None:
        return "none"
    if isinstance(source, VolumeSlice):
        return _digest(_file_digest(source), "slice", source.index)
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


def _stored_row(key, row):
    """The function whose calls a :class:`joblib.Memory` keeps: by ``key`` alone, ``row``."""
    return row


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
        A directory, or a :class:`joblib.Memory`: rows are the cached calls
        of a function of that Memory (a directory, str or path, stands for
        ``joblib.Memory(str(directory), verbose=0)``), files shared by
        worker processes and kept across sessions. ``Memory(None)`` keeps
        nothing, as in joblib.
    max_bytes : int, default=DEFAULT_MAX_BYTES
        In memory: when a new row would take the process's rows over this
        many bytes, the least recently used rows are dropped. The default,
        256 MiB, holds about 30,000 rows of the default pipeline's ~1,000
        features. On disk the Memory decides:
        ``memory.reduce_size(bytes_limit=...)`` bounds it.

    Notes
    -----
    Keys are digests of the image's content, its mask, every preprocessing
    step's class, parameters and fitted attributes (of a step that learns,
    such as
    :class:`~braintumor_features.preprocessing.HistogramStandardizer`),
    the extractor's class and parameters and
    the library version. A file's content digest is remembered for as long
    as its size and modification time are unchanged. Rows stay until they
    are dropped for newer ones (in memory), the Memory is reduced or
    cleared, or :meth:`clear`. joblib writes each row atomically, so several
    processes may share a directory.

    Examples
    --------
    >>> import numpy as np
    >>> from braintumor_features.features import FeatureCache, ImageFeatures, LBPFeatures
    >>> images = [np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)]
    >>> features = ImageFeatures([("lbp", LBPFeatures(radii=[1]))], cache=FeatureCache())
    >>> first = features.fit_transform(images)
    >>> bool((features.fit_transform(images) == first).all())  # read from the cache
    True

    Rows beyond ``max_bytes`` make room by dropping the least recently used:

    >>> cache = FeatureCache(max_bytes=16)  # two values of float64
    >>> cache.put("a", [1.0]); cache.put("b", [2.0]); cache.put("c", [3.0])
    >>> cache.get("a") is None, cache.get("c")
    (True, array([3.]))
    """

    def __init__(self, location=None, *, max_bytes=DEFAULT_MAX_BYTES):
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, Integral) or max_bytes < 0:
            raise ValueError(f"max_bytes must be a whole number of bytes >= 0, got {max_bytes!r}")
        self.location = location
        self.max_bytes = max_bytes

    # Built on first use from ``location``, and neither copied nor pickled.
    _stored = None

    def __getstate__(self):
        return {"location": self.location, "max_bytes": self.max_bytes}

    def _on_disk(self):
        """The memorized :func:`_stored_row` of the Memory, or None (rows in memory)."""
        if self.location is None:
            return None
        if self._stored is None:
            memory = (self.location if isinstance(self.location, joblib.Memory)
                      else joblib.Memory(os.fspath(self.location), verbose=0))
            self._stored = memory.cache(_stored_row, ignore=["row"], verbose=0)
        return self._stored

    def get(self, key):
        """The row stored under ``key``, or None."""
        stored = self._on_disk()
        if stored is None:
            return _MEMORY.get(key)
        # A row removed between the check and the read is computed as None: a miss.
        return stored(key, None) if stored.check_call_in_cache(key, None) else None

    def put(self, key, row):
        """Store ``row`` under ``key``."""
        row = np.array(row, dtype=np.float64)
        stored = self._on_disk()
        if stored is None:
            _MEMORY.put(key, row, self.max_bytes)
        else:
            stored.call(key, row)  # replaces what is stored under key

    def clear(self):
        """Forget every row (in memory: of every in-memory cache of the process), and the
        process's remembered file digests, so that files are read again."""
        _FILE_DIGESTS.clear()
        stored = self._on_disk()
        if stored is None:
            _MEMORY.clear()
        else:
            stored.clear(warn=False)

    def __repr__(self):
        return f"FeatureCache(location={self.location!r}, max_bytes={self.max_bytes!r})"
