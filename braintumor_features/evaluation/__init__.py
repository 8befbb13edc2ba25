"""Grouped cross-validation with the metrics the field reports, and feature importance.

:func:`evaluate` runs cross-validation that keeps every patient on one side
of each split (``StratifiedGroupKFold`` when ``groups`` are given) and
returns an :class:`EvaluationReport` of out-of-fold predictions: accuracy,
balanced accuracy, per-class and macro precision/recall/F1, one-vs-rest ROC
AUC, the confusion matrix and the per-fold scores, as tables.
:func:`feature_importance` measures which features a fitted pipeline uses.

What a model is worth on other hospitals' images: :func:`evaluate_cross_source`
trains on one data set and scores on another, :func:`leave_one_source_out`
holds out each source in turn, and :func:`shortcut_audit` measures how well
file metadata alone predicts the label (a data set whose classes come from
different sources can be "solved" without looking at the anatomy) and how
well the features predict the source.

Where a fitted model looks: :func:`saliency_map` (occlusion sensitivity, or
the model's own class activation map) and :func:`saliency_scores` (how much
of the map lies on the tumour outline, and outside the head).
"""

from ..exceptions import (
    SharedDuplicatesWarning,
    ShortcutWarning,
    TrainingOverlapWarning,
    UngroupedCVWarning,
)
from ._cross_source import evaluate_cross_source, leave_one_source_out
from ._cross_validation import evaluate
from ._importance import feature_importance
from ._report import EvaluationReport
from ._saliency import (
    SALIENCY_SCORES,
    outline_scores,
    saliency_map,
    saliency_maps,
    saliency_scores,
)
from ._shortcuts import ShortcutAudit, shortcut_audit

__all__ = [
    "EvaluationReport",
    "SALIENCY_SCORES",
    "SharedDuplicatesWarning",
    "ShortcutAudit",
    "ShortcutWarning",
    "TrainingOverlapWarning",
    "UngroupedCVWarning",
    "evaluate",
    "evaluate_cross_source",
    "feature_importance",
    "leave_one_source_out",
    "outline_scores",
    "saliency_map",
    "saliency_maps",
    "saliency_scores",
    "shortcut_audit",
]
