"""The ``braintumor`` command line: train, evaluate, predict, extract, demo.

Run ``braintumor COMMAND --help`` for each command's options. Results go to
standard output; progress bars (on a terminal only), notes, warnings and
errors go to standard error.

``train``, ``evaluate`` and ``extract`` take one or more data folders, read
together with :func:`~braintumor_features.datasets.load_folders`: each
folder (or its ``metadata.csv`` ``source`` column) is a source, subjects of
different sources are different groups, and the notes and the saved
model's training summary count the images of each source.

Images that cannot be read or processed never stop a run: features are
extracted once with ``on_error="skip"``, failed images are left out (and
listed on standard error, and in ``predict``'s output), and the remaining
images are used. ``train`` fits the scaler and classifier on the rows that
were extracted, so the saved pipeline is the whole fitted pipeline.

Exit codes: 0 success; 1 an error (one line on standard error saying what
to do; ``--verbose`` adds the traceback); 2 a usage error; 3 with
``--strict`` when some images were skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from tqdm.auto import tqdm

from .datasets import (
    IMAGE_SUFFIXES, find_duplicates, load_folders, make_demo, merge_duplicate_groups,
)
from .evaluation import EvaluationReport, _split_at_features, evaluate
from .features import SkippedImagesWarning
from .persistence import load_model, save_model
from .images import with_masks
from .pipeline import DEFAULT_FEATURES, FEATURE_FAMILIES, make_pipeline

__all__ = ["main", "build_parser"]

#: Exit code when ``--strict`` is given and some images were skipped.
EXIT_SKIPPED = 3

#: Images per progress-bar step (each step is extracted in parallel).
CHUNK = 64


class Console:
    """Where the command line writes: notes, warnings and progress on stderr."""

    def __init__(self, verbosity=1, stream=None):
        self.verbosity = verbosity
        self.stream = stream or sys.stderr

    def note(self, message, level=1):
        if self.verbosity >= level:
            print(message, file=self.stream)

    def warn(self, message):
        print(f"warning: {message}", file=self.stream)

    def progress(self, total, description):
        show = self.verbosity >= 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        # Redrawn at every step (a chunk of images, not an image): tqdm's default of at
        # most every 0.1 s would show nothing of a run that ends sooner.
        return tqdm(total=total, desc=description, unit="image", file=self.stream,
                    disable=not show, leave=False, mininterval=0, miniters=1)


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit code 1."""


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
    rows : ndarray of shape (n_items, n_features)
        NaN rows for the skipped items.
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
    rows = np.vstack(parts) if parts else np.empty((0, len(extractor.get_feature_names_out())))
    return rows, skipped


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
        if folder.is_dir() and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())
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
    return np.isfinite(rows).all(axis=1)


def _check_classes(y, source):
    if len(np.unique(y)) < 2:
        raise CommandError(f"{source}: fewer than two classes have readable images; cannot train")


def _print_report(report: EvaluationReport, title):
    print(title)
    print(report.summary().round(3).to_string())
    print()
    print(report.to_frame().round(3).to_string())
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


def _cross_validate(estimator, X, y, groups, folds, random_state, params=None):
    n_groups = len(np.unique(groups))
    if folds > n_groups:
        raise CommandError(f"--cv {folds} needs at least {folds} subjects, found {n_groups}")
    return evaluate(estimator, X, y, groups=groups, cv=folds, random_state=random_state,
                    params=params)


def _pipeline(args, classifier="svm", random_state=None):
    """``make_pipeline`` with the options of ``_work_options``."""
    model = make_pipeline(classifier, features=args.features, image_size=args.image_size,
                          n_jobs=args.n_jobs, random_state=random_state)
    return model.set_params(clahe="passthrough") if args.no_clahe else model


def _learning_families(extractor):
    return [name for name, family in extractor.families
            if family.__sklearn_tags__().requires_fit]


def _outlined_rows(front, data, learning, args, console):
    """Rows of every image, those of the families that learn from outlines cross-fitted
    (:meth:`~braintumor_features.features.ImageFeatures.fit_transform`); the images with
    their outlines."""
    outlined = sum(mask is not None for mask in data.masks)
    if not outlined:
        raise CommandError(
            f"{_where(args.data_dir)}: --features {','.join(learning)} learns from tumour "
            "outlines and no image has one; give them in metadata.csv's tumor_border column "
            "(see the user guide's data page)")
    console.note(f"{','.join(learning)}: learning from the outlines of {outlined} images, "
                 "rows cross-fitted over the subjects")
    items = with_masks(data.paths, data.masks)
    extractor = front.steps[-1][1]
    with _skipping(extractor):
        rows = front.fit_transform(items, features__groups=data.groups)
    return rows, list(extractor.skipped_), items


def _train(args, console):
    data = _load_data(args.data_dir, console, min_classes=2)
    model = _pipeline(args, args.classifier, random_state=args.random_state)
    front, back = _split(model, "make_pipeline")
    learning = _learning_families(front.steps[-1][1])
    if learning:
        rows, skipped, items = _outlined_rows(front, data, learning, args, console)
    else:
        front.fit(data.paths)
        rows, skipped = extract_features(front, data.paths, console)
        items = data.paths
    _report_skipped(skipped, len(rows), console)
    good = _good_rows(rows)
    rows, y, groups = rows[good], data.target[good], data.groups[good]
    _check_classes(y, _where(args.data_dir))
    several = len(args.data_dir) > 1
    training = {
        "data": [str(p) for p in args.data_dir] if several else str(args.data_dir[0]),
        "n_images": int(good.sum()), "n_skipped": len(skipped),
        "n_subjects": int(len(np.unique(groups))),
        "class_counts": _counts(y), "sources": _counts(data.sources[good]),
    }
    sources = f"; sources {_listing(training['sources'])}" if several else ""
    if args.cv:
        paths = [path for path, ok in zip(data.paths, good) if ok]
        joined = _join_duplicates(paths, groups, args.n_jobs, console)
        if learning:  # the whole pipeline in each fold: the outlines' lessons stay inside it
            console.note(f"cross-validation refits {','.join(learning)} in each fold")
            kept = [item for item, ok in zip(items, good) if ok]
            report = _cross_validate(clone(model), kept, y, joined, args.cv, args.random_state,
                                     params={"features__groups": joined})
        else:
            report = _cross_validate(back, rows, y, joined, args.cv, args.random_state)
        _print_report(report, f"subject-grouped {args.cv}-fold cross-validation "
                              f"({len(y)} images, {training['n_subjects']} subjects{sources}):")
        training["cv"] = {"folds": args.cv, "accuracy": report.accuracy,
                          "balanced_accuracy": report.balanced_accuracy}
    back.fit(rows, y)
    save_model(model, args.output, training=training)
    classes = ", ".join(map(str, model.classes_))
    console.note(f"wrote {args.output} ({len(y)} images, classes {classes}{sources})")
    return _exit_code(args, skipped)


def _load(args, console):
    model, metadata = load_model(args.model, trusted=args.trust, return_metadata=True)
    if metadata:
        console.note(f"{args.model}: trained {metadata['created']} on "
                     f"{(metadata.get('training') or {}).get('n_images', '?')} images", level=2)
    return model


def _evaluate(args, console):
    model = _load(args, console)
    front, back = _split(model, args.model)
    where = _where(args.data_dir)
    data = _load_data(args.data_dir, console, min_classes=1)
    rows, skipped = extract_features(front, data.paths, console)
    _report_skipped(skipped, len(rows), console)
    good = _good_rows(rows)
    y = data.target[good]
    if not good.any():
        raise CommandError(f"{where}: none of the images could be read")
    known = np.asarray(model.classes_)
    unseen = sorted(set(y) - set(known.astype(str)))
    if unseen:
        console.warn(
            f"{where}: classes the model was never trained on: {', '.join(unseen)} "
            f"({int(np.isin(y, unseen).sum())} images); they count as errors. The model knows: "
            + ", ".join(map(str, known))
        )
    classes = np.unique(np.concatenate([known.astype(str), y]))
    scores = np.zeros((len(y), len(classes)))
    if hasattr(back, "predict_proba"):
        scores[:, np.searchsorted(classes, known.astype(str))] = back.predict_proba(rows[good])
    report = EvaluationReport(classes=classes, y_true=y, y_pred=back.predict(rows[good]),
                              fold=np.zeros(len(y), int),
                              y_score=scores if hasattr(back, "predict_proba") else None)
    _print_report(report, f"{args.model} on {where} ({len(y)} images):")
    if args.report:
        _write_report(report, args, console)
    return _exit_code(args, skipped)


def _write_report(report, args, console):
    from .report import write_report  # matplotlib is loaded only when a report is asked for

    write_report(report, args.report, title=f"Evaluation of {Path(args.model).name}",
                 description=f"Model {args.model} on the images of {_where(args.data_dir)}.")
    console.note(f"wrote {args.report}")


def _collect_files(inputs):
    files = []
    for entry in map(Path, inputs):
        if entry.is_dir():
            found = sorted(p for p in entry.rglob("*")
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise CommandError(f"{entry}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it")
            files += found
        elif entry.exists():
            files.append(entry)
        else:
            raise CommandError(f"{entry}: no such file or folder")
    return [str(f) for f in files]


def _predictions_frame(files, rows, skipped, back):
    good = _good_rows(rows)
    classes = [str(c) for c in back.classes_]
    frame = pd.DataFrame({"file": files, "class": pd.Series([None] * len(files), dtype=object)})
    if good.any():
        frame.loc[good, "class"] = back.predict(rows[good]).astype(str)
        if hasattr(back, "predict_proba"):
            frame.loc[good, classes] = back.predict_proba(rows[good])
    frame["error"] = ""
    for entry in skipped:
        frame.loc[entry["index"], "error"] = _reason(entry)
    return frame


def _predict(args, console):
    files = _collect_files(args.inputs)
    model = _load(args, console)
    front, back = _split(model, args.model)
    rows, skipped = extract_features(front, files, console, description="predict")
    _report_skipped(skipped, len(files), console)
    frame = _predictions_frame(files, rows, skipped, back)
    if args.format == "json":
        classes = [c for c in frame.columns if c not in ("file", "class", "error")]
        records = [{"file": r["file"], "class": r["class"],
                    "probabilities": None if r["error"] else {c: float(r[c]) for c in classes},
                    "error": r["error"] or None} for r in frame.to_dict("records")]
        print(json.dumps(records, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        print(frame.to_csv(index=False), end="")
    else:
        frame["class"] = frame["class"].fillna("-")  # the reasons are listed on stderr
        print(frame.drop(columns="error").to_string(
            index=False, float_format=lambda v: f"{v:.3f}", na_rep=""))
    return _exit_code(args, skipped)


def _table_format(path):
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise CommandError(
            f"{path}: unknown table format {suffix!r}; end the name in .csv or .parquet"
        )
    return suffix


def _write_table(table, path):
    if _table_format(path) == ".csv":
        table.to_csv(path, index=False)
        return
    try:
        table.to_parquet(path, index=False)
    except ImportError:
        raise CommandError(
            f"{path}: writing Parquet needs pyarrow "
            "(pip install 'braintumor-features[parquet]'); or write .csv"
        ) from None


def _extract(args, console):
    _table_format(args.output)  # a wrong name fails before any work
    data = _load_data(args.data_dir, console, min_classes=1)
    front, _ = _split(_pipeline(args), "make_pipeline")
    front.fit(data.paths)
    rows, skipped = extract_features(front, data.paths, console)
    _report_skipped(skipped, len(rows), console)
    good = _good_rows(rows)
    names = front.steps[-1][1].get_feature_names_out()
    columns = ["file", "label", "subject"] + (["source"] if len(args.data_dir) > 1 else [])
    table = pd.concat(
        [data.frame.loc[good, columns].reset_index(drop=True),
         pd.DataFrame(rows[good], columns=names)], axis=1)
    _write_table(table, args.output)
    console.note(f"wrote {args.output} ({len(table)} images x {len(names)} features)")
    return _exit_code(args, skipped)


def _demo(args, console):
    demo = make_demo(n_samples=args.n_samples, image_size=128, random_state=args.random_state)
    model = make_pipeline(args.classifier, image_size=128, n_jobs=args.n_jobs,
                          random_state=args.random_state)
    front, back = _split(model, "make_pipeline")
    front.fit(demo.images)
    rows, _ = extract_features(front, demo.images, console)
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=args.random_state)
    predicted = cross_val_predict(back, rows, demo.target, groups=demo.groups, cv=cv)
    report = EvaluationReport(classes=demo.target_names, y_true=demo.target, y_pred=predicted,
                              fold=np.zeros(len(predicted), int))
    print(f"demo: {len(demo.images)} synthetic slices, {args.classifier}, "
          f"subject-grouped 5-fold accuracy {report.accuracy:.3f}")
    print("confusion matrix (rows true, columns predicted):")
    print(report.confusion_frame().to_string())
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _options(strict=True):
    """Options every command shares."""
    parser = argparse.ArgumentParser(add_help=False)
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_const", const=0, dest="verbosity",
                          default=1, help="print only results, warnings and errors (no progress bar)")
    loudness.add_argument("-v", "--verbose", action="store_const", const=2, dest="verbosity",
                          help="print more detail, and the traceback of an error")
    if strict:
        parser.add_argument("--strict", action="store_true",
                            help=f"exit with code {EXIT_SKIPPED} if any image had to be skipped")
    return parser


def _model_options():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("model",
                        help="model file written by `braintumor train` (.joblib or .skops)")
    parser.add_argument("--trust", action="append", metavar="TYPE", default=None,
                        help=".skops models: also accept this type (module.Name); repeatable")
    return parser


#: Families computed without training; the others learn from data (TumourMapFeatures, from
#: tumour outlines and patients) and only ``train`` takes them.
_STATELESS_FAMILIES = [name for name, family in FEATURE_FAMILIES.items()
                       if not family().__sklearn_tags__().requires_fit]
_LEARNING_FAMILIES = [name for name in FEATURE_FAMILIES if name not in _STATELESS_FAMILIES]


def _training_families(text):
    """``--features``: "default", or family names, comma-separated ("default" among them
    stands for the default recipe's families)."""
    if text == "default":
        return text
    names = []
    for name in (name.strip() for name in text.split(",")):
        names += list(DEFAULT_FEATURES) if name == "default" else [name]
    return list(dict.fromkeys(names))


def _families(text):
    """``--features`` of the commands that do not train: no family that learns."""
    names = _training_families(text)
    refused = [name for name in names if name in _LEARNING_FAMILIES] if names != "default" else []
    if refused:
        raise argparse.ArgumentTypeError(
            f"{', '.join(refused)} learns from tumour outlines: train a model with it "
            f"(`braintumor train`); this command takes {','.join(_STATELESS_FAMILIES)}")
    return names


def _work_options(parser, learning=False):
    names = ",".join(_STATELESS_FAMILIES + (_LEARNING_FAMILIES if learning else []))
    outlines = (f"; {','.join(_LEARNING_FAMILIES)} learns from the tumour outlines of "
                "metadata.csv's tumor_border column" if learning else "")
    parser.add_argument("--features", type=_training_families if learning else _families,
                        default="default", metavar="NAMES",
                        help=f"feature families, comma-separated ({names}; 'default' for the "
                             f"default recipe's, alone or among others){outlines}")
    parser.add_argument("--image-size", type=int, default=256, metavar="N",
                        help="side of the square image the features are computed on (default 256)")
    parser.add_argument("--n-jobs", type=int, default=None, metavar="N",
                        help="parallel workers for feature extraction (-1: all cores)")
    parser.add_argument("--no-clahe", action="store_true",
                        help="leave out the CLAHE contrast step (better with tumour_map)"
                        if learning else "leave out the CLAHE contrast step")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``braintumor`` command.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> from braintumor_features.cli import build_parser
    >>> args = build_parser().parse_args(["train", "site_a", "site_b", "-o", "model.skops"])
    >>> args.command, args.data_dir, args.output
    ('train', ['site_a', 'site_b'], 'model.skops')
    """
    parser = _Parser(
        prog="braintumor", description="Classify brain-tumour MRI slices with classical features.",
        epilog=f"Exit codes: 0 success, 1 error, 2 usage error, {EXIT_SKIPPED} images skipped "
               "with --strict.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_help = ("class-per-folder image trees (<dir>/<class>/<image>; metadata.csv used if "
                 "present), one per source; several are used together")

    train = commands.add_parser(
        "train", parents=[_options()], help="train a model on folders of images",
        description="Train the default pipeline on one or more class-per-folder image trees and "
                    "save it. Give every source you have: a model trained on one source learns "
                    "its scanner. Grouped cross-validation (--cv) keeps each subject of each "
                    "source on one side, and joins the subjects of near-duplicate images "
                    "(one slice saved twice) into one group.")
    train.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=data_help)
    train.add_argument("-o", "--output", required=True,
                       help="model file to write: .joblib, or .skops for sharing safely")
    train.add_argument("--classifier", choices=["svm", "rf"], default="svm")
    _work_options(train, learning=True)
    train.add_argument("--cv", type=int, default=None, metavar="K",
                       help="also print a subject-grouped K-fold cross-validation summary")
    train.add_argument("--random-state", type=int, default=0)
    train.set_defaults(run=_train)

    evaluate_ = commands.add_parser(
        "evaluate", parents=[_options(), _model_options()],
        help="measure a model on labelled folders of images",
        description="Predict every image of one or more class-per-folder trees and print the "
                    "metrics.")
    evaluate_.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=data_help)
    evaluate_.add_argument("--report", metavar="FILE.html", help="also write an HTML report")
    evaluate_.set_defaults(run=_evaluate)

    predict = commands.add_parser(
        "predict", parents=[_options(), _model_options()],
        help="class and class probabilities of image files",
        description="Predict the class of each image file (folders are searched recursively).")
    predict.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    predict.add_argument("--format", choices=["table", "json", "csv"], default="table")
    predict.set_defaults(run=_predict)

    extract = commands.add_parser(
        "extract", parents=[_options()], help="write the feature table of folders of images",
        description="Compute the default features of every image: one row per image with "
                    "file, label and subject, and source when several folders are given.")
    extract.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=data_help)
    extract.add_argument("-o", "--output", required=True, help="table to write: .csv or .parquet")
    _work_options(extract)
    extract.set_defaults(run=_extract)

    demo = commands.add_parser(
        "demo", parents=[_options(strict=False)],
        help="train and evaluate on the built-in synthetic demo set",
        description="Train the default pipeline on the built-in synthetic demo set and report "
                    "subject-grouped cross-validated accuracy. Needs no download.",
    )
    demo.add_argument("--classifier", choices=["svm", "rf"], default="svm")
    demo.add_argument("--n-samples", type=int, default=200)
    demo.add_argument("--n-jobs", type=int, default=None)
    demo.add_argument("--random-state", type=int, default=0)
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after ``braintumor`` (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 error, 2 usage error, 3 images skipped with ``--strict``.

    Examples
    --------
    >>> import cv2, numpy as np, os, tempfile
    >>> from braintumor_features.cli import main
    >>> root = tempfile.mkdtemp()
    >>> for label in ("glioma", "no_tumor"):
    ...     os.makedirs(os.path.join(root, label))
    ...     _ = cv2.imwrite(os.path.join(root, label, "a.png"), np.full((16, 16), 80, np.uint8))
    >>> table = os.path.join(root, "features.csv")
    >>> main(["extract", root, "-o", table, "--features", "intensity", "--image-size", "16", "-q"])
    0
    >>> os.path.exists(table)
    True
    """
    args = build_parser().parse_args(argv)
    console = Console(args.verbosity)

    def show(message, category, filename, lineno, file=None, line=None):
        console.warn(" ".join(str(message).splitlines()))

    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            return args.run(args, console)
        except KeyboardInterrupt:
            print("braintumor: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # every failure ends as one line and exit code 1
            if args.verbosity >= 2:
                traceback.print_exc()
            kind = "" if isinstance(exc, (CommandError, ValueError, OSError)) else (
                f"{type(exc).__name__}: ")
            message = " ".join(str(exc).splitlines())
            hint = "" if args.verbosity >= 2 or not kind else " (run with --verbose for details)"
            print(f"braintumor {args.command}: error: {kind}{message}{hint}", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
