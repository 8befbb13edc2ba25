"""The command line's parser: commands, options, and the checks of their values.

Every value is checked here, before any work starts: numbers against their
range, the files a command writes against the formats it can write and the
folders they go to. A wrong value is a usage error (exit code 2) naming the
flag.

Parsing imports nothing but the standard library (the library's names it needs are written
out here, and a test keeps them equal to the library's): ``--help``, ``--version`` and usage
errors answer before scikit-learn, OpenCV or ONNX Runtime are loaded. Each command's
``run`` is the name of its function in ``_commands``, imported when it runs.
"""

from __future__ import annotations

import argparse
import os
from importlib.util import find_spec
from pathlib import Path

from .._version import __version__
from ._base import EXIT_SKIPPED

__all__ = ["build_parser"]


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows the default of every option that takes a value and has one; the help of an
    option whose default is None says itself what leaving it out does."""

    def _get_help_string(self, action):
        if action.nargs == 0 or action.default is None:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit code 2) and whose help
    shows the defaults (its subcommands' parsers are of this class too)."""

    def __init__(self, *args, formatter_class=_HelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        """Parse, then check what depends on several options (a usage error, exit code 2,
        from the command's parser)."""
        parsed = super().parse_args(args, namespace)
        command = getattr(self, "commands", {}).get(getattr(parsed, "command", None))
        if command is not None:
            for check in getattr(parsed, "checks", ()):
                message = check(parsed)
                if message:
                    command.error(message)
        return parsed


def _integer(minimum, meaning, *, also=()):
    """An argparse ``type=``: an int of at least ``minimum`` (or one of ``also``); a
    smaller one is refused with ``meaning``, which says what to give."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum and value not in also:
            raise argparse.ArgumentTypeError(f"{value}: {meaning}")
        return value

    return parse


_folds = _integer(2, "cross-validation needs at least 2 folds")
_image_size = _integer(16, "give a side of at least 16 pixels")
_n_jobs = _integer(1, "give a number of workers of 1 or more, or -1 for all cores", also=(-1,))
_seed = _integer(0, "give a seed of 0 or more")
_demo_size = _integer(20, "the demo needs at least 20 slices (5 per class for its 5 folds)")


#: The packages that writing a format needs beyond the core install, and their extra.
_WRITERS_NEED = {".skops": ("skops", "safe"), ".parquet": ("pyarrow", "parquet")}


def _output(kind, *suffixes):
    """An argparse ``type=`` for a file a command writes: a suffix it can write (with
    the package that needs installed), in a folder that exists and can be written to."""
    endings = " or ".join(suffixes)

    def parse(text):
        path = Path(text)
        suffix = path.suffix.lower()
        if suffix not in suffixes:
            raise argparse.ArgumentTypeError(
                f"{text}: unknown {kind} format {suffix or '(none)'!r}; end the name in {endings}")
        if path.is_dir():
            raise argparse.ArgumentTypeError(
                f"{text} is a folder; give a file name ending in {endings}")
        folder = path.parent
        if not folder.is_dir():
            raise argparse.ArgumentTypeError(
                f"{text}: the folder {folder} does not exist; create it first")
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise argparse.ArgumentTypeError(
                f"{text}: not allowed to write there; choose a folder you can write to")
        if suffix in _WRITERS_NEED and find_spec(_WRITERS_NEED[suffix][0]) is None:
            package, extra = _WRITERS_NEED[suffix]
            raise argparse.ArgumentTypeError(
                f"{text}: writing {suffix} needs {package} "
                f"(pip install 'braintumor-features[{extra}]'), or end the name in another of "
                f"{endings}")
        return text

    return parse


def _folder(text):
    """An argparse ``type=`` for a folder a command writes into (made if missing)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {path.parent} does not exist")
    return text


def _fraction(name):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not 0 < value <= 1:
            raise argparse.ArgumentTypeError(
                f"{text}: give the {name} as a fraction of the image's side, in (0, 1]")
        return value

    return parse


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
                        help=".skops models: also accept this type (module.Name); repeatable "
                             "(default: only the types of scikit-learn and this library)")
    return parser


#: ``pipeline.FEATURE_FAMILIES``' names and ``DEFAULT_FEATURES``, written out so that parsing
#: imports no scikit-learn (tests/test_cli.py keeps them equal).
FEATURE_FAMILIES = ("glcm", "lbp", "intensity", "region", "hog", "tumor_map", "cnn")
DEFAULT_FEATURES = ("glcm", "lbp", "intensity")

#: Families that learn from data (TumorMapFeatures, from tumour outlines and patients; their
#: ``requires_fit`` tag): only ``train`` takes them. The others are computed without training.
_LEARNING_FAMILIES = ["tumor_map"]
_STATELESS_FAMILIES = [name for name in FEATURE_FAMILIES if name not in _LEARNING_FAMILIES]


def _report_needs_cv(args):
    if args.report and not args.cv:
        return "--report writes the cross-validation's report: give --cv K too"
    return None


def _network_takes_no_features(args):
    if args.classifier == "cnn" and args.features != "default":
        return "--classifier cnn learns from the images: leave out --features"
    return None


def _not_overwriting(args):
    """Files a command would write over: refused unless ``--force``."""
    written = [getattr(args, name, None) for name in ("output", "report")]
    existing = [path for path in written if path and Path(path).exists()]
    if existing and not args.force:
        return (f"{', '.join(existing)} already exists; give --force to write over it, or "
                "another file name")
    return None


def _force_option(parser):
    parser.add_argument("--force", action="store_true",
                        help="write over the output files if they exist (default: refuse)")


def _training_families(text):
    """``--features``: "default", or family names, comma-separated ("default" among them
    stands for the default recipe's families)."""
    if text == "default":
        return text
    names = []
    for name in (name.strip() for name in text.split(",")):
        names += list(DEFAULT_FEATURES) if name == "default" else [name] if name else []
    unknown = [name for name in names if name not in FEATURE_FAMILIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown feature families {unknown}; choose from default, "
            + ", ".join(FEATURE_FAMILIES) if unknown else "name at least one feature family")
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


def _n_jobs_option(parser):
    parser.add_argument("--n-jobs", type=_n_jobs, default=None, metavar="N",
                        help="parallel workers for feature extraction, -1 for all cores "
                             "(default: one, or what joblib's parallel_config says)")


_saliency_count = _integer(0, "give a number of images of 0 or more")


def _saliency_option(parser):
    parser.add_argument("--saliency", type=_saliency_count, default=4, metavar="N",
                        help="the report shows the model's saliency maps beside its N most "
                             "confident mistakes and N correct predictions (0: none; a few "
                             "seconds per map)")


def _classifier_options(parser, network=False):
    parser.add_argument("--classifier", choices=["svm", "rf", "cnn"] if network else ["svm", "rf"],
                        default="svm",
                        help="the classifier: calibrated SVM or random forest" + (
                            ", or cnn: EfficientNet-Lite0 fine-tuned on the canonical images "
                            "(needs pip install \"braintumor-features[train]\"; takes no "
                            "--features)" if network else ""))
    parser.add_argument("--random-state", type=_seed, default=0, metavar="SEED",
                        help="seed of every random choice, so that a run repeats")


def _work_options(parser, learning=False):
    names = ",".join(_STATELESS_FAMILIES + (_LEARNING_FAMILIES if learning else []))
    outlines = (f"; {','.join(_LEARNING_FAMILIES)} learns from the tumour outlines of "
                "metadata.csv's tumor_border column" if learning else "")
    parser.add_argument("--features", type=_training_families if learning else _families,
                        default="default", metavar="NAMES",
                        help=f"feature families, comma-separated ({names}; 'default' for the "
                             f"default recipe's, {','.join(DEFAULT_FEATURES)}, alone or among "
                             f"others){outlines}")
    parser.add_argument("--image-size", type=_image_size, default=256, metavar="N",
                        help="side of the square image the features are computed on")
    _n_jobs_option(parser)
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
    >>> args = build_parser().parse_args(["train", "site_a", "site_b", "-o", "model.joblib"])
    >>> args.command, args.data_dir, args.output
    ('train', ['site_a', 'site_b'], 'model.joblib')
    """
    parser = _Parser(
        prog="braintumor", description="Classify brain-tumour MRI slices with classical features.",
        epilog=f"Exit codes: 0 success, 1 error, 2 usage error, {EXIT_SKIPPED} images skipped "
               "with --strict.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     help="what to do; `braintumor COMMAND --help` says more")
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
    train.add_argument("-o", "--output", required=True, type=_output("model", ".joblib", ".skops"),
                       help="model file to write: .joblib, or .skops for sharing safely")
    _classifier_options(train, network=True)
    _work_options(train, learning=True)
    train.add_argument("--cv", type=_folds, default=None, metavar="K",
                       help="also print a subject-grouped K-fold cross-validation summary, and "
                            "the scores of each source (several sources) and of each sequence "
                            "(a sequence column in metadata.csv) (default: none)")
    train.add_argument("--report", metavar="FILE.html", type=_output("report", ".html"),
                       help="with --cv, also write an HTML report of the cross-validation "
                            "(default: none)")
    _saliency_option(train)
    _force_option(train)
    train.set_defaults(run="_train", checks=(_report_needs_cv, _network_takes_no_features,
                                              _not_overwriting))

    evaluate_ = commands.add_parser(
        "evaluate", parents=[_options(), _model_options()],
        help="measure a model on labelled folders of images",
        description="Predict every image of one or more class-per-folder trees and print the "
                    "metrics.")
    evaluate_.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=data_help)
    evaluate_.add_argument("--report", metavar="FILE.html", type=_output("report", ".html"),
                           help="also write an HTML report (default: none)")
    _saliency_option(evaluate_)
    _force_option(evaluate_)
    evaluate_.set_defaults(run="_evaluate", checks=(_not_overwriting,))

    predict = commands.add_parser(
        "predict", parents=[_options(), _model_options()],
        help="class and class probabilities of image files",
        description="Predict the class of each image file (folders are searched recursively).")
    predict.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR",
                         help="image files, and folders searched for them")
    predict.add_argument("--format", choices=["table", "json", "csv"], default="table",
                         help="how the predictions are printed")
    predict.set_defaults(run="_predict")

    explain = commands.add_parser(
        "explain", parents=[_options(), _model_options()],
        help="where the model finds its evidence: a saliency overlay per image",
        description="Compute an occlusion saliency map of each image for its predicted class "
                    "(or --target), write one PNG overlay per image and saliency_scores.csv to "
                    "the output folder. Where a metadata.csv beside the images (or one folder "
                    "up) outlines the tumour (tumor_border), the table scores the map against "
                    "it: share inside the outline, peak inside, share outside the head.")
    explain.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR",
                         help="image files, and folders searched for them")
    explain.add_argument("-o", "--output", required=True, type=_folder, metavar="DIR",
                         help="folder to write the overlays and saliency_scores.csv to "
                              "(made if missing)")
    explain.add_argument("--target", default=None, metavar="CLASS",
                         help="map the evidence for this class (default: the predicted class)")
    explain.add_argument("--patch", type=_fraction("patch"), default=0.125, metavar="F",
                         help="occlusion window, a fraction of the image's side")
    explain.add_argument("--stride", type=_fraction("stride"), default=0.0625, metavar="F",
                         help="step between windows, a fraction of the image's side")
    _n_jobs_option(explain)
    explain.set_defaults(run="_explain")

    extract = commands.add_parser(
        "extract", parents=[_options()], help="write the feature table of folders of images",
        description="Compute the default features of every image: one row per image with "
                    "file, label and subject, and source when several folders are given.")
    extract.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=data_help)
    extract.add_argument("-o", "--output", required=True, type=_output("table", ".csv", ".parquet"),
                         help="table to write: .csv or .parquet")
    _work_options(extract)
    _force_option(extract)
    extract.set_defaults(run="_extract", checks=(_not_overwriting,))

    demo = commands.add_parser(
        "demo", parents=[_options(strict=False)],
        help="train and evaluate on the built-in synthetic demo set",
        description="Train the default pipeline on the built-in synthetic demo set and report "
                    "subject-grouped cross-validated accuracy. Needs no download.",
    )
    _classifier_options(demo)
    demo.add_argument("--n-samples", type=_demo_size, default=200, metavar="N",
                      help="synthetic slices to make")
    _n_jobs_option(demo)
    demo.set_defaults(run="_demo")
    parser.commands = {"train": train, "evaluate": evaluate_, "predict": predict,
                       "extract": extract, "demo": demo}
    return parser
