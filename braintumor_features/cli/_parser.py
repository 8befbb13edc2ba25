"""The command line's parser: commands, options and the feature-family lists they take."""

from __future__ import annotations

import argparse

from ..pipeline import DEFAULT_FEATURES, FEATURE_FAMILIES
from ._commands import _demo, _evaluate, _extract, _predict, _train
from ._console import EXIT_SKIPPED

__all__ = ["build_parser"]


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


#: Families computed without training; the others learn from data (TumorMapFeatures, from
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
                        help="leave out the CLAHE contrast step (better with tumor_map)"
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
