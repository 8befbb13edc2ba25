"""How well file metadata alone predicts the label, and the features the source."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils.parallel import Parallel, delayed

from ..exceptions import ShortcutWarning
from ..io import read_stored
from ._cross_validation import evaluate
from ._report import EvaluationReport

__all__ = ["METADATA_COLUMNS", "ShortcutAudit", "shortcut_audit"]

#: The columns of :attr:`ShortcutAudit.metadata`.
METADATA_COLUMNS = ["height", "width", "channels", "chroma", "bit_depth", "format", "file_size",
                    "min", "max"]


def _file_metadata(path) -> dict:
    """What a file says without its content: size, colour mode, format, depth, raw range."""
    image = read_stored(path)  # colour and bit depth kept, no preprocessing
    path = Path(path)  # a slice of a volume gives the volume's file
    channels = 1 if image.ndim == 2 else image.shape[2]
    color = image[..., :3].astype(np.int32) if channels >= 3 else None
    chroma = 0.0 if color is None else float(
        np.abs(np.diff(color, axis=-1)).mean())  # 0 for gray stored as RGB
    values = [image.shape[0], image.shape[1], channels, chroma, image.dtype.itemsize * 8,
              path.suffix.lower(), path.stat().st_size, float(image.min()), float(image.max())]
    return dict(zip(METADATA_COLUMNS, values))


def _chance(labels) -> float:
    """Accuracy of always predicting the most frequent class."""
    _, counts = np.unique(labels, return_counts=True)
    return float(counts.max() / counts.sum())


def _skill(accuracy, chance) -> float:
    """The share of the gap from chance to perfect accuracy that a model closes."""
    return 0.0 if chance >= 1 else (accuracy - chance) / (1 - chance)


@dataclass
class ShortcutAudit:
    """How much of a data set's labels can be read without looking at the anatomy.

    Attributes
    ----------
    metadata : pandas.DataFrame
        Per file: ``height``, ``width``, ``channels``, ``chroma`` (mean
        absolute difference between colour channels; 0 for gray),
        ``bit_depth``, ``format`` (the suffix), ``file_size`` (bytes),
        ``min`` and ``max`` of the stored values.
    label_report : EvaluationReport
        Grouped cross-validation of a classifier predicting the label from
        ``metadata`` alone.
    label_chance : float
        Accuracy of always predicting the most frequent label.
    source_report : EvaluationReport or None
        Grouped cross-validation of the classifier predicting the source
        from the given features.
    source_chance : float or None
        Accuracy of always predicting the most frequent source.
    tolerance : float
        The largest :attr:`label_skill` accepted without a
        :class:`ShortcutWarning`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from braintumor_features.evaluation import EvaluationReport, ShortcutAudit
    >>> y = np.array(["a", "a", "b", "b"])
    >>> report = EvaluationReport(np.array(["a", "b"]), y, y, np.zeros(4, int))
    >>> audit = ShortcutAudit(pd.DataFrame(), report, 0.5, None, None, 0.25)
    >>> audit.label_accuracy, audit.label_skill, audit.has_shortcut
    (1.0, 1.0, True)
    """

    metadata: pd.DataFrame
    label_report: EvaluationReport
    label_chance: float
    source_report: EvaluationReport | None
    source_chance: float | None
    tolerance: float

    @property
    def label_accuracy(self) -> float:
        """Cross-validated accuracy of predicting the label from metadata alone."""
        return self.label_report.accuracy

    @property
    def label_skill(self) -> float:
        """``(accuracy - chance) / (1 - chance)``: the share of the gap from chance to perfect
        that metadata closes (0 at chance, 1 when metadata gives every label)."""
        return _skill(self.label_accuracy, self.label_chance)

    @property
    def has_shortcut(self) -> bool:
        """Whether :attr:`label_skill` exceeds :attr:`tolerance`."""
        return self.label_skill > self.tolerance

    @property
    def source_accuracy(self) -> float | None:
        """Cross-validated accuracy of predicting the source from the features (or None)."""
        return None if self.source_report is None else self.source_report.accuracy

    def summary(self) -> pd.DataFrame:
        """Accuracy, balanced accuracy and chance of each audit, one row each."""
        rows = {"label from metadata": (self.label_report, self.label_chance)}
        if self.source_report is not None:
            rows["source from features"] = (self.source_report, self.source_chance)
        return pd.DataFrame(
            {name: {"accuracy": report.accuracy, "balanced_accuracy": report.balanced_accuracy,
                    "chance": chance, "skill": _skill(report.accuracy, chance)}
             for name, (report, chance) in rows.items()}
        ).T.rename_axis("audit")

    def __repr__(self):
        text = (f"ShortcutAudit({len(self.metadata)} files, label from metadata "
                f"{self.label_accuracy:.3f} vs chance {self.label_chance:.3f}")
        if self.source_report is not None:
            text += (f"; source from features {self.source_accuracy:.3f} vs chance "
                     f"{self.source_chance:.3f}")
        return text + ")"


def shortcut_audit(paths, y, groups=None, sources=None, features=None, *, classifier=None,
                   cv=None, tolerance=0.25, n_jobs=None, random_state=0) -> ShortcutAudit:
    """Measure how well labels can be predicted without the anatomy: a shortcut audit.

    When every image of a class comes from one source, a model can score well
    by recognising the source (image size, colour mode, format, grey range)
    instead of the tumour, and fail on anyone else's images. This audit
    reports (a) the grouped cross-validated accuracy of a classifier given
    only the files' metadata, read as stored (no preprocessing), beside
    chance (always the most frequent label); and (b), when ``features`` and
    ``sources`` are given, how well those features predict the source.

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files.
    y : array-like of shape (n_samples,)
        Their labels.
    groups : array-like of shape (n_samples,), default=None
        Patient of each image, for grouped cross-validation as in
        :func:`evaluate` (without them an :class:`UngroupedCVWarning` is
        issued).
    sources : array-like of shape (n_samples,), default=None
        Source of each image, for the audit of the features.
    features : array-like of shape (n_samples, n_features), default=None
        Feature matrix of the images, e.g. the output of a fitted pipeline's
        feature step.
    classifier : classifier, default=None
        The model of both audits; default a random forest of 200 trees.
    cv : int or splitter, default=None
        As in :func:`evaluate` (default 5 folds).
    tolerance : float, default=0.25
        A :class:`ShortcutWarning` is issued when the metadata closes more
        than this share of the gap from chance to perfect accuracy:
        ``(accuracy - chance) / (1 - chance) > tolerance``. With two balanced
        classes, 0.25 means metadata accuracy above 0.625.
    n_jobs : int, default=None
        Files read, and folds fitted, in parallel.
    random_state : int or None, default=0

    Returns
    -------
    ShortcutAudit

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> import cv2, numpy as np
    >>> from braintumor_features.evaluation import shortcut_audit
    >>> folder, rng = tempfile.mkdtemp(), np.random.default_rng(0)
    >>> paths, labels = [], []
    >>> for i in range(20):  # every tumour is a large PNG, every normal a small JPEG
    ...     tumour = i % 2 == 0
    ...     path = os.path.join(folder, f"{i}.png" if tumour else f"{i}.jpg")
    ...     _ = cv2.imwrite(path, rng.integers(0, 255, (40, 40) if tumour else (30, 30), np.uint8))
    ...     paths.append(path); labels.append("tumour" if tumour else "normal")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     audit = shortcut_audit(paths, labels, groups=range(20), cv=4)
    >>> audit.label_accuracy, audit.label_chance, [w.category.__name__ for w in caught]
    (1.0, 0.5, ['ShortcutWarning'])
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, Real) or not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be a number in [0, 1), got {tolerance!r}")
    if (features is None) != (sources is None):
        raise ValueError("give both features and sources to audit the features, or neither")
    y = np.asarray(y)
    paths = list(paths)
    if len(paths) != len(y):
        raise ValueError(f"got {len(paths)} paths but {len(y)} labels; give one label per file")
    if classifier is None:
        classifier = RandomForestClassifier(200, random_state=random_state)
    records = Parallel(n_jobs=n_jobs)(delayed(_file_metadata)(path) for path in paths)
    metadata = pd.DataFrame(records, columns=METADATA_COLUMNS,
                            index=pd.Index([str(p) for p in paths], name="file"))
    matrix = metadata.assign(format=pd.factorize(metadata["format"])[0]).to_numpy(float)

    def audit(X, target):
        return evaluate(classifier, X, target, groups=groups, cv=cv, n_jobs=n_jobs,
                        random_state=random_state)

    result = ShortcutAudit(metadata=metadata, label_report=audit(matrix, y),
                           label_chance=_chance(y), source_report=None, source_chance=None,
                           tolerance=tolerance)
    if features is not None:
        sources = np.asarray(sources)
        result.source_report, result.source_chance = audit(features, sources), _chance(sources)
    if result.has_shortcut:
        warnings.warn(
            f"metadata alone (image size, colour mode, format, grey range) predicts the label "
            f"with accuracy {result.label_accuracy:.3f} against {result.label_chance:.3f} for "
            f"always guessing the most frequent class: a model can learn the source instead "
            f"of the anatomy; score it on another source (evaluate_cross_source) before "
            f"trusting it",
            ShortcutWarning, stacklevel=2,
        )
    return result
