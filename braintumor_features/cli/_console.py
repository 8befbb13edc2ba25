"""What the commands share: extraction with skipped images reported, the data checks (the
console and the one-line error are in ``_base``, which the parser uses before any import)."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from ..datasets import (
    find_duplicates,
    is_image_file,
    load_folders,
    merge_duplicate_groups,
)
from ..evaluation import EvaluationReport, evaluate
from ..evaluation._cross_validation import _check_training_folds
from ..evaluation._importance import _split_at_features
from ..exceptions import OutOfDistributionWarning, ShortcutWarning, SkippedImagesWarning
from ._base import EXIT_SKIPPED, CommandError, Console

__all__ = ["EXIT_SKIPPED", "CHUNK", "Console", "CommandError", "extract_features"]

#: Images per progress-bar step (each step is extracted in parallel).
CHUNK = 64


def _is_network(model):
    """Whether ``model`` is ``make_pipeline("cnn")``'s: image steps, then the network."""
    steps = dict(getattr(model, "steps", []))
    return "features" not in steps and type(steps.get("classifier")).__name__ == "CNNClassifier"


def _split(model, source):
    try:
        return _split_at_features(model)
    except (ValueError, AttributeError):
        raise CommandError(
            f"{source}: the model has no feature extraction step; the command line needs a "
            "pipeline built by make_pipeline (or `braintumor train`)"
        ) from None


@contextmanager
def _skipping(extractor):
    """Let ``extractor`` skip failed images for a while, then restore its setting."""
    previous = extractor.on_error
    extractor.set_params(on_error="skip")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedImagesWarning)  # reported by the caller
            yield
    finally:
        extractor.set_params(on_error=previous)


def extract_features(front, items, console, description="features"):
    """Features of every item, skipping the ones that fail.

    ``front`` is a pipeline ending in a feature extractor (already fitted);
    items are processed in chunks so that a progress bar can follow.

    Returns
    -------
    rows : DataFrame of shape (n_items, n_features)
        Columns named by the features (the rows the rest of a make_pipeline model
        learns and predicts from); NaN rows for the skipped items.
    skipped : list of dict
        ``{"index", "image", "reason"}`` per skipped item.
    """
    extractor = front.steps[-1][1]
    parts, skipped = [], []
    with _skipping(extractor), console.progress(len(items), description) as bar:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            parts.append(front.transform(chunk))
            skipped += [{**entry, "index": entry["index"] + start} for entry in extractor.skipped_]
            bar.update(len(chunk))
    names = front.get_feature_names_out()
    rows = pd.DataFrame(np.vstack(parts) if parts else np.empty((0, len(names))), columns=names)
    return rows, skipped


@contextmanager
def _check_quiet():
    """The model's DistributionCheck silent for a while: it names rows of the matrix it is
    given (counted among readable images, or within a fold) and speaks at every predict;
    the commands name the files once instead (:func:`_warn_out_of_distribution`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDistributionWarning)
        yield


def _out_of_distribution(back, rows):
    """Flags of the rows from the model's ``check`` step (make_pipeline's DistributionCheck);
    None when the model has none."""
    from ..distribution import DistributionCheck

    check = dict(back.steps).get("check") if hasattr(back, "steps") else None
    return check.flag(rows) if isinstance(check, DistributionCheck) else None


def _warn_out_of_distribution(flags, files, console):
    """One warning naming the files whose images lie outside what the model was trained on."""
    if flags is None or not flags.any():
        return
    flagged = [str(file) for file, flag in zip(files, flags) if flag]
    listed = ", ".join(flagged[:10]) + (f" and {len(flagged) - 10} more" if len(flagged) > 10
                                         else "")
    console.warn(f"{len(flagged)} of {len(files)} images lie outside the distribution the model "
                 "was trained on (blank, tiny, resized, non-brain or unusual images); their "
                 f"predictions are not to be trusted: {listed}")


def _reason(entry):
    """Why an image was skipped, without the file name that precedes it."""
    return entry["reason"].split(f"{entry['image']}: ", 1)[-1]


def _report_skipped(skipped, total, console):
    if not skipped:
        return
    console.warn(f"skipped {len(skipped)} of {total} images that could not be read or processed:")
    for entry in skipped:
        console.note(f"  {entry['image']}: {_reason(entry)}", level=0)


def _exit_code(args, skipped):
    return EXIT_SKIPPED if skipped and args.strict else 0


def _where(paths):
    """The data folders, as error messages and titles name them."""
    return ", ".join(map(str, paths))


def _warn_empty_class_folders(root, console):
    if (root / "metadata.csv").exists():
        return
    empty = sorted(
        folder.name for folder in root.iterdir()
        if folder.is_dir() and not any(is_image_file(p) for p in folder.iterdir())
    )
    if empty:
        console.warn(f"{root}: class folders with no images are ignored: {', '.join(empty)}")


def _counts(values):
    """How often each distinct value occurs, in sorted order: ``{"a": 3, "b": 1}``."""
    names, counts = np.unique(values, return_counts=True)
    return {str(name): int(count) for name, count in zip(names, counts)}


def _listing(counts):
    """``"a (3), b (1)"`` from :func:`_counts`."""
    return ", ".join(f"{name} ({count})" for name, count in counts.items())


def _load_data(paths, console, *, min_classes):
    """``load_folders`` plus the checks a command line needs.

    One note per folder when one is given, else one per source.
    """
    data = load_folders(paths)
    for root in map(Path, paths):
        _warn_empty_class_folders(root, console)
    if len(data.target_names) < min_classes:
        raise CommandError(
            f"{_where(paths)}: found only the class {', '.join(data.target_names)}; training "
            "needs at least two classes, one folder of images each"
        )
    parts = ([(paths[0], data.target)] if len(paths) == 1 else
             [(name, data.target[data.sources == name]) for name in np.unique(data.sources)])
    for name, target in parts:
        console.note(f"{name}: {len(target)} images, classes {_listing(_counts(target))}")
    return data


def _good_rows(rows):
    return np.isfinite(np.asarray(rows, dtype=float)).all(axis=1)


def _require_some(good, where):
    """A run in which no image could be read fails (one line; the reasons are listed above)."""
    if not good.any():
        raise CommandError(f"{where}: none of the {len(good)} images could be read or processed "
                           "(the reasons are listed above)")


def _warn_single_source_classes(target, sources):
    """A :class:`~braintumor_features.exceptions.ShortcutWarning` naming each class all of
    whose images come from one source, when the images come from several."""
    if len(np.unique(sources)) < 2:
        return
    alone = {}
    for label in np.unique(target):
        found = np.unique(sources[target == label])
        if len(found) == 1:
            alone.setdefault(str(found[0]), []).append(str(label))
    if alone:
        where = "; ".join(f"{', '.join(labels)} only from {source}"
                          for source, labels in sorted(alone.items()))
        warnings.warn(
            f"{where}: a model can tell these classes by their source (scanner, protocol, file "
            "format) instead of the anatomy, and cross-validation cannot see it; add images of "
            "these classes from other sources",
            ShortcutWarning, stacklevel=2,
        )


def _check_classes(y, source):
    if len(np.unique(y)) < 2:
        raise CommandError(f"{source}: fewer than two classes have readable images; cannot train")


def _print_report(report: EvaluationReport, title):
    print(title)
    print(report.summary().round(3).to_string(na_rep="n/a"))
    print()
    print(report.to_frame().round(3).to_string(na_rep="n/a"))
    print()
    print("confusion matrix (rows true, columns predicted):")
    print(report.confusion_frame().to_string())


def _join_duplicates(paths, groups, n_jobs, console):
    """Groups joined where images are near-duplicates, so no copy crosses a split."""
    duplicates = find_duplicates(paths, n_jobs=n_jobs)
    joined = merge_duplicate_groups(groups, duplicates)
    if len(duplicates.groups):
        console.note(f"near-duplicate images in {len(duplicates.groups)} set(s): their subjects are "
                     f"joined, {len(np.unique(groups))} subjects -> {len(np.unique(joined))} groups")
    return joined


def _check_folds(folds, groups, estimator=None, y=None, random_state=None):
    """Enough subjects for ``--cv``, and, given the classifier and labels, enough images of
    each class in each fold's training images (checked before any extraction; evaluate checks
    the final folds again before any fit)."""
    n_groups = len(np.unique(groups))
    if folds > n_groups:
        raise CommandError(f"--cv {folds} needs at least {folds} subjects, found {n_groups}")
    if estimator is None:
        return
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():  # a class with fewer subjects than folds: said below
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split(np.zeros(len(y)), y, groups))
    try:
        _check_training_folds(estimator, y, splits, groups,
                              fewer=f"fewer folds (--cv {folds - 1})" if folds > 2 else
                              "--classifier rf")
    except ValueError as error:
        raise CommandError(str(error)) from None


def _cross_validate(estimator, X, y, groups, folds, random_state, params=None, paths=None,
                    metadata=None):
    _check_folds(folds, groups)
    with _check_quiet():  # held-out rows of a fold, numbered within it: not the user's files
        return evaluate(estimator, X, y, groups=groups, cv=folds, random_state=random_state,
                        params=params, paths=paths, metadata=metadata)
