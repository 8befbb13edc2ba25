"""The batched, parallel engine that runs a per-image function over many images.

:func:`extract` applies ``function(image, mask) -> row`` to every image of a
sequence, in batches, in parallel with scikit-learn's joblib ``Parallel``
(no backend named, so ``joblib.parallel_config`` reaches it). Each batch
computes its images itself, from the source items through the preprocessing
chain (see :class:`~braintumor_features.images.ImageSequence`), with
OpenCV, BLAS and OpenMP limited to one thread. Images that fail are named in
the error, or skipped (rows of NaN) while the others are computed.
"""

from __future__ import annotations

import functools
import math
import sys
import threading
import warnings
from contextlib import contextmanager
from contextvars import ContextVar

import cv2
import numpy as np
from joblib import effective_n_jobs
from joblib.parallel import get_active_backend
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import ThreadpoolController

from ._cache import item_digest, parameters_digest
from ._utils import head_mask
from .exceptions import SkippedImagesWarning
from .images import ImageSequence

__all__ = ["image_head_mask", "extract"]

#: The image being processed by ``_batch_rows`` and what has been computed
#: from it so far, shared by the feature families of that image.
_current_image: ContextVar = ContextVar("braintumor_features_current_image", default=None)


@contextmanager
def _sharing(image):
    """Let the families of one image share its head mask (see :func:`image_head_mask`)."""
    token = _current_image.set((image, {}))
    try:
        yield
    finally:
        _current_image.reset(token)


def image_head_mask(image):
    """:func:`~braintumor_features.preprocessing.head_mask`, computed once per image.

    While the extraction core processes an image, every family asking for
    that same array's head mask gets one shared, read-only mask; outside it
    (or for another array) the mask is computed afresh.
    """
    current = _current_image.get()
    if current is None or current[0] is not image:
        return head_mask(image)
    memo = current[1]
    if "head" not in memo:
        memo["head"] = head_mask(image)
        memo["head"].flags.writeable = False
    return memo["head"]


_threads_lock = threading.Lock()


_threads_users = [0, None, None]  # batches running; OpenCV's threads, BLAS/OpenMP limits before


#: Size of the block freed once per process before extracting (see :func:`_keep_freed_memory`).
_IMAGE_TEMPORARIES_BYTES = 8 * 2**20


@functools.lru_cache(maxsize=None)
def _keep_freed_memory():
    """Let the memory allocator reuse one image's temporaries for the next.

    The C library (glibc) hands blocks above a threshold straight back to
    the system when they are freed and faults them in afresh, page by page,
    on the next image: about 4 ms of system time per 256 x 256 slice, 15%
    of the default extraction. Freeing one larger block raises that
    threshold (glibc adapts it to the largest block freed, see
    ``mallopt(3)``), which every long-running process reaches sooner or
    later; this does it before the first image, once per process.
    Elsewhere it is a harmless allocation.
    """
    np.empty(_IMAGE_TEMPORARIES_BYTES, np.uint8)


#: The thread pools found, and how many modules were imported when they were looked for.
_found_pools = [None, -1]


def _thread_pools():
    """This process's BLAS and OpenMP thread pools: finding them takes about 5 ms,
    setting their limits through the controller 0.04 ms, so they are looked for
    again only when modules were imported since (a module may load a BLAS or an
    OpenMP runtime of its own, e.g. ONNX Runtime or PyTorch)."""
    if _found_pools[1] != len(sys.modules):
        _found_pools[:] = [ThreadpoolController(), len(sys.modules)]
    return _found_pools[0]


@contextmanager
def _one_thread_per_worker():
    """Run OpenCV, BLAS and OpenMP single-threaded while batches run.

    Parallelism is over images: the libraries' own threads would compete
    with the joblib workers (and make ``n_jobs=1`` use several cores, slowly,
    for small per-image operations: a tumour map per image took 332 ms
    with two OpenMP threads and 25 ms with one, with both cores busy). The
    previous settings are restored when the last concurrent batch ends.
    """
    with _threads_lock:
        if _threads_users[0] == 0:
            _threads_users[1] = cv2.getNumThreads()
            cv2.setNumThreads(1)
            _threads_users[2] = _thread_pools().limit(limits=1)
        _threads_users[0] += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users[0] -= 1
            if _threads_users[0] == 0:
                cv2.setNumThreads(_threads_users[1])
                _threads_users[2].restore_original_limits()


def _naming(exc: Exception, name: str) -> Exception:
    """``exc`` with the image's name in its message: the same type where it can be
    built from a message, else a RuntimeError (MemoryError is kept as it is)."""
    if name in str(exc) or isinstance(exc, MemoryError):
        return exc
    message = f"{name}: {exc}" if isinstance(exc, ValueError) else f"{name}: {type(exc).__name__}: {exc}"
    try:
        named = type(exc)(message)
    except Exception:
        return RuntimeError(message)
    return named if str(named) == message else RuntimeError(message)


def _batch_rows(function, images: ImageSequence, n_features, on_error, offset, with_scale):
    rows = np.full((len(images), n_features), np.nan)
    skipped = []
    _keep_freed_memory()
    with _one_thread_per_worker():
        for index in range(len(images)):
            try:
                loaded = images.load(index, with_scale=with_scale)
                with _sharing(loaded[0]):
                    rows[index] = function(*loaded)
            except Exception as exc:
                if on_error == "raise":
                    named = _naming(exc, images.name(index))
                    if named is exc:
                        raise
                    raise named from exc
                skipped.append(
                    {"index": offset + index, "image": images.name(index),
                     "reason": f"{type(exc).__name__}: {exc}"}
                )
    return rows, skipped


def _in_worker():
    """Whether this code already runs inside a joblib worker (nested call)."""
    backend, _ = get_active_backend()
    return getattr(backend, "nesting_level", 0) > 0


def _compute(images, function, n_features, n_jobs, batch_size, on_error, with_scale):
    """Rows of ``images`` and the skipped ones (by position in ``images``), in batches."""
    n = len(images)
    # Inside another joblib worker (e.g. GridSearchCV(n_jobs=2)), the outer
    # level already uses the cores: compute this worker's images in turn.
    workers = 1 if _in_worker() else effective_n_jobs(n_jobs)
    if batch_size is None:
        batch_size = max(1, min(64, math.ceil(n / (16 * workers))))
    tasks = [(images[start : start + batch_size], start) for start in range(0, n, batch_size)]
    if workers == 1 or len(tasks) <= 1:
        parts = [_batch_rows(function, batch, n_features, on_error, start, with_scale)
                 for batch, start in tasks]
    else:
        parts = Parallel(n_jobs=n_jobs)(
            delayed(_batch_rows)(function, batch, n_features, on_error, start, with_scale)
            for batch, start in tasks
        )
    rows = np.vstack([part[0] for part in parts]) if parts else np.empty((0, n_features))
    return rows, [entry for part in parts for entry in part[1]]


def _cached_rows(images, cache, signature, n_features, compute):
    """Rows from ``cache`` where stored; ``compute`` the others and store them."""
    parameters = parameters_digest(images.steps, signature)
    keys = [f"{parameters}-{item_digest(item)}" for item in images.items]
    rows = np.empty((len(images), n_features))
    missing = []
    for index, key in enumerate(keys):
        row = cache.get(key)
        if row is None or row.shape != (n_features,):
            missing.append(index)
        else:
            rows[index] = row
    computed, skipped = compute(images[missing])
    for entry in skipped:  # computed in a subset: give each its position in X
        entry["index"] = missing[entry["index"]]
    failed = {entry["index"] for entry in skipped}
    for position, index in enumerate(missing):
        rows[index] = computed[position]
        if index not in failed:
            cache.put(keys[index], computed[position])
    return rows, skipped


def extract(
    images, function, *, n_features, n_jobs=None, batch_size=None, on_error="raise", cache=None,
    signature=None, with_scale=False,
):
    """Apply ``function(image, mask) -> 1-D array`` to every image, in parallel.

    Parameters
    ----------
    images : sequence
        Anything :class:`~braintumor_features.images.ImageSequence` accepts.
    function : callable
        Picklable per-image function returning ``n_features`` numbers.
    n_features : int
        Length of each row.
    n_jobs : int or None
        Number of worker processes (None means 1, -1 all cores). Inside
        another joblib worker (a grid search with ``n_jobs``), images are
        computed in turn, so the two levels do not oversubscribe the cores.
    batch_size : int or None
        Images per task; None chooses about sixteen tasks per worker, at
        most 64 images each, so the workers finish close together (the last
        task's length is the time one worker may wait for the other).
    on_error : {"raise", "skip"}, default="raise"
        What a failing image (unreadable file, unusable array) does: stop
        everything with an error naming the image, or give a row of NaN and
        be listed in ``skipped`` while every other image is processed.
    cache : FeatureCache or None, default=None
        Rows of images seen before (same content, same preprocessing, same
        ``signature``) are read from it; the others are computed and stored.
        Rows of skipped images are not stored.
    signature : object
        What, besides the image and its preprocessing, determines a row (the
        extractor's class and parameters); required with ``cache``.
    with_scale : bool, default=False
        Call ``function(image, mask, scale)`` with the preprocessing's scale
        (see :meth:`~braintumor_features.images.ImageSequence.load`).

    Returns
    -------
    rows : ndarray of shape (n_images, n_features), float64
        Identical whatever ``n_jobs`` is: each image is computed the same way.
    skipped : list of dict
        One ``{"index", "image", "reason"}`` per skipped image.
    """
    images = ImageSequence(images)

    def compute(subset):
        return _compute(subset, function, n_features, n_jobs, batch_size, on_error, with_scale)

    if cache is None:
        rows, skipped = compute(images)
    else:
        rows, skipped = _cached_rows(images, cache, signature, n_features, compute)
    if skipped:
        listed = "; ".join(f"{e['image']} ({e['reason']})" for e in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            f"skipped {len(skipped)} of {len(images)} images, their rows are NaN: {listed}{more}",
            SkippedImagesWarning,
            stacklevel=3,
        )
    return rows, skipped
