"""Saving and loading fitted models, with the metadata needed to trust them later.

The model file
--------------
:func:`save_model` writes one object, a dict::

    {"format": "braintumor-features model",
     "format_version": 1,
     "metadata": {...},       # plain JSON-able values, see below
     "model": <the fitted estimator, usually a Pipeline>}

in one of two containers, chosen from the file name:

- ``*.skops``: a `skops <https://skops.readthedocs.io>`_ file (a zip of
  JSON and NumPy arrays). Loading it runs no code from the file and refuses
  any type that is not known to be safe: classes of scikit-learn and of
  this library are accepted, anything else (a function, another library's
  class) must be named in ``trusted``. Use this format to share models.
  Needs ``pip install "braintumor-features[safe]"``.
- anything else (``*.joblib``, ``*.pkl``): a joblib pickle, compressed.

``metadata`` holds ``versions`` (``braintumor-features``, ``scikit-learn``,
``numpy``, ``python`` at save time), ``created`` (UTC, ISO 8601),
``classes`` (class names), ``feature_names`` (the names of the feature
step's columns, or None), ``training`` (a summary of the training set given
by the caller, e.g. the number of images per class, or None) and
``estimator`` (the model's class name).

A training summary that names the training images lets an evaluation
notice when it is given them again: ``folders`` (the training data
folders) and the ``files`` and ``sha256`` lists of :func:`image_digests`.
:func:`~braintumor_features.evaluation.evaluate` with ``cv="prefit"`` and
``braintumor evaluate`` read them and warn
(:class:`~braintumor_features.exceptions.TrainingOverlapWarning`) when test
images are training files, copies of them, or near-duplicates of them.

Why not load an untrusted pickle
--------------------------------
A pickle (and so a joblib file) is a program: loading it can run any code
its author wrote, with your permissions, before you see the model. Only
load ``.joblib``/``.pkl`` files that you or someone you trust made. A
``.skops`` file is data, not a program; :func:`load_model` lists any type
in it that it would have to trust and refuses to load it unless told to.

Plain files still work: ``pickle.dump(pipeline, ...)`` or
``joblib.dump(pipeline, ...)`` files load with :func:`load_model` (without
metadata), and a loaded model pickles like any scikit-learn estimator.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import os
import platform
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import sklearn

from ._version import __version__
from .exceptions import ModelFileError, ModelVersionWarning, UntrustedModelError
from .features import FeatureExtractor

__all__ = ["FORMAT", "FORMAT_VERSION", "image_digests", "model_metadata", "save_model",
           "load_model"]

FORMAT = "braintumor-features model"


FORMAT_VERSION = 1


#: Packages whose classes a ``.skops`` file may contain without being named in ``trusted``.
_TRUSTED_PACKAGES = ("braintumor_features", "sklearn")


def _versions() -> dict:
    return {
        "braintumor-features": __version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _feature_names(model):
    steps = getattr(model, "steps", [])
    for _, step in reversed(steps):
        if isinstance(step, FeatureExtractor):
            return [str(name) for name in step.get_feature_names_out()]
    return None


def image_digests(paths) -> dict:
    """The training images' files and SHA-256 digests, for a model's training summary.

    Stored in ``save_model(..., training={**summary, **image_digests(paths)})``,
    they let an evaluation find test images that are training files (same
    path) or byte-identical copies of them (same digest) even after the
    training folders are gone.

    Parameters
    ----------
    paths : sequence of str or path-like
        The training image files; a
        :class:`~braintumor_features.io.VolumeSlice` names its volume's file.

    Returns
    -------
    dict
        ``files``: the absolute paths (symbolic links resolved);
        ``sha256``: the hexadecimal SHA-256 digest of each file's bytes, in
        the same order (a file listed several times, as the slices of one
        volume, is read once).

    Examples
    --------
    >>> import os, tempfile
    >>> from braintumor_features.persistence import image_digests
    >>> path = os.path.join(tempfile.mkdtemp(), "slice.png")
    >>> with open(path, "wb") as file:
    ...     _ = file.write(b"not really a PNG")
    >>> digests = image_digests([path])
    >>> digests["files"] == [os.path.realpath(path)], digests["sha256"][0][:12]
    (True, '9d243875ccf8')
    """
    files = [str(Path(path).resolve()) for path in paths]
    digests = {file: hashlib.sha256(Path(file).read_bytes()).hexdigest()
               for file in dict.fromkeys(files)}
    return {"files": files, "sha256": [digests[file] for file in files]}


def model_metadata(model, training=None) -> dict:
    """The metadata :func:`save_model` stores with a fitted model.

    Parameters
    ----------
    model : fitted classifier or Pipeline
    training : dict or None, default=None
        A JSON-able summary of the training set (e.g. images per class).

    Returns
    -------
    dict
        ``versions``, ``created``, ``estimator``, ``classes``,
        ``feature_names`` and ``training``.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from braintumor_features.persistence import model_metadata
    >>> meta = model_metadata(DummyClassifier().fit([[0], [1]], ["a", "b"]))
    >>> meta["classes"], sorted(meta["versions"])
    (['a', 'b'], ['braintumor-features', 'numpy', 'python', 'scikit-learn'])
    """
    classes = getattr(model, "classes_", None)
    return {
        "versions": _versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "estimator": type(model).__name__,
        "classes": None if classes is None else [str(c) for c in classes],
        "feature_names": _feature_names(model),
        "training": training,
    }


def save_model(model, path, *, training=None) -> Path:
    """Write a fitted model and its metadata to a file.

    Parameters
    ----------
    model : fitted estimator
        Usually the pipeline :func:`~braintumor_features.make_pipeline` built.
    path : str or path-like
        ``*.skops`` for the safe sharing format (needs skops), anything else
        (``*.joblib``) for a compressed joblib pickle. See the module
        documentation for the layout.
    training : dict or None, default=None
        JSON-able summary of the training set, stored in the metadata.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> from braintumor_features.persistence import load_model, save_model
    >>> path = save_model(DummyClassifier().fit([[0], [1]], ["a", "b"]),
    ...                   os.path.join(tempfile.mkdtemp(), "model.joblib"),
    ...                   training={"n_images": 2})
    >>> model, meta = load_model(path, return_metadata=True)
    >>> model.predict([[0]]).tolist(), meta["training"]
    (['a'], {'n_images': 2})
    """
    path = Path(path)
    if not hasattr(model, "predict"):
        raise TypeError(f"save_model expects a fitted estimator, got {type(model).__name__}")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": model_metadata(model, training),
        "model": model,
    }
    # Written beside the target, then renamed over it: an interruption (Ctrl-C) or a
    # failure leaves the previous file, or none, never half of one.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        if path.suffix.lower() == ".skops":
            _skops().dump(payload, partial, compression=zipfile.ZIP_DEFLATED)
        else:
            joblib.dump(payload, partial, compress=3)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _skops():
    try:
        import skops.io
    except ImportError:
        raise ImportError(
            "the .skops format needs skops: pip install 'braintumor-features[safe]'"
        ) from None
    return skops.io


def _is_library_class(name: str) -> bool:
    """Whether ``module.Class`` names a class of scikit-learn or this library (defined
    there or re-exported by one of their public modules, as ``preprocessing.CLAHE``)."""
    module_name, _, attribute = name.rpartition(".")
    if module_name.split(".")[0] not in _TRUSTED_PACKAGES:
        return False
    try:
        obj = getattr(importlib.import_module(module_name), attribute, None)
    except ImportError:
        return False
    return isinstance(obj, type) and obj.__module__.split(".")[0] in _TRUSTED_PACKAGES


def _load_skops(path: Path, trusted):
    sio = _skops()
    untrusted = sio.get_untrusted_types(file=path)
    allowed = [name for name in untrusted if _is_library_class(name)] + list(trusted or [])
    refused = sorted(set(untrusted) - set(allowed))
    if refused:
        raise UntrustedModelError(
            f"{path}: refusing to load types that are not known to be safe: {refused}; "
            "if you trust whoever made the file, pass them as trusted=[...] "
            "(command line: --trust TYPE)"
        )
    return sio.load(path, trusted=allowed)


def _load_payload(path: Path, trusted):
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    if zipfile.is_zipfile(path):
        try:
            return _load_skops(path, trusted)
        except (UntrustedModelError, ImportError):
            raise
        except Exception as exc:
            raise ModelFileError(
                f"{path}: not a readable .skops model file ({type(exc).__name__}: {exc})"
            ) from exc
    if path.suffix.lower() == ".skops":
        # Never unpickle a file that claims the safe format: it could run code.
        raise ModelFileError(
            f"{path}: not a .skops file (no zip archive inside); it was not loaded, since a "
            "pickle under that name could run code. Ask for the model again in skops format"
        )
    try:
        return joblib.load(path)
    except Exception as exc:
        raise ModelFileError(
            f"{path}: not a model file ({type(exc).__name__}: {exc}); "
            "give a file written by save_model or `braintumor train`"
        ) from exc


def _warn_on_version_change(path, saved: dict) -> None:
    current = _versions()
    changed = [
        f"{name} {saved[name]} (now {current[name]})"
        for name in ("braintumor-features", "scikit-learn", "numpy")
        if name in saved and saved[name] != current[name]
    ]
    if changed:
        warnings.warn(
            f"{path} was saved with {', '.join(changed)}; predictions may differ or fail. "
            "Retrain the model, or install the versions it was saved with.",
            ModelVersionWarning, stacklevel=3,
        )


def load_model(path, *, trusted=None, return_metadata=False):
    """Load a model written by :func:`save_model`, or a plain pickled estimator.

    Only load ``.joblib``/``.pkl`` files from sources you trust: unpickling
    can run arbitrary code. ``.skops`` files are checked before loading.

    Parameters
    ----------
    path : str or path-like
        A ``.skops`` file, or a joblib/pickle file.
    trusted : list of str or None, default=None
        ``.skops`` only: types (``"module.Name"``) to accept beyond the
        classes of scikit-learn and this library.
    return_metadata : bool, default=False
        Also return the metadata (None for a plain pickle).

    Returns
    -------
    model : estimator
    metadata : dict or None
        Only when ``return_metadata`` is True.

    Raises
    ------
    ModelFileError
        If the file is missing, cannot be read, or does not hold a fitted
        estimator. The message names the file.
    UntrustedModelError
        If a ``.skops`` file holds types that are not trusted.

    Warns
    -----
    ModelVersionWarning
        If the model was saved under another version of braintumor-features,
        scikit-learn or NumPy.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> from braintumor_features.persistence import load_model, save_model
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> _ = save_model(DummyClassifier().fit([[0], [1]], ["a", "b"]), path)
    >>> type(load_model(path)).__name__
    'DummyClassifier'
    """
    path = Path(os.fspath(path))
    payload = _load_payload(path, trusted)
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        if payload.get("format_version", 0) > FORMAT_VERSION:
            raise ModelFileError(
                f"{path}: model file format {payload['format_version']} is newer than this "
                f"library reads ({FORMAT_VERSION}); upgrade braintumor-features"
            )
        model, metadata = payload["model"], payload["metadata"]
        _warn_on_version_change(path, metadata.get("versions", {}))
    else:
        model, metadata = payload, None
    if not (hasattr(model, "predict") and hasattr(model, "fit")):
        raise ModelFileError(
            f"{path}: holds a {type(model).__name__}, not a model; "
            "give a file written by save_model or `braintumor train`"
        )
    return (model, metadata) if return_metadata else model
