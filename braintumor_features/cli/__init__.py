"""The ``braintumor`` command line: train, evaluate, predict, explain, extract, demo.

Run ``braintumor COMMAND --help`` for each command's options. Results go to
standard output; progress bars (on a terminal only), notes, warnings and
errors go to standard error.

``train``, ``evaluate`` and ``extract`` take one or more data folders, read
together with :func:`~braintumor_features.datasets.load_folders`: each
folder (or its ``metadata.csv`` ``source`` column) is a source, subjects of
different sources are different groups, and the notes and the saved
model's training summary count the images of each source.

``train`` fits the model on every readable image of every folder given
(``--cv`` only measures, on folds of the same images); when the folders
hold several sources and a class comes from one of them only, it issues a
:class:`~braintumor_features.exceptions.ShortcutWarning` naming them, and
``--cv`` adds the scores of each source and each MR sequence.

``explain`` writes a saliency overlay per image (where the model finds its
evidence, :func:`~braintumor_features.evaluation.saliency_map`) and a table
of scores against the tumour outlines of a ``metadata.csv`` beside the images.

Every value is checked when the arguments are parsed, before any work:
numbers against their range and the file a command writes (``-o``,
``--report``) against the formats it writes and the folder it goes to.

Images that cannot be read or processed never stop a run: features are
extracted once with ``on_error="skip"``, failed images are left out (and
listed on standard error, and in ``predict``'s output), and the remaining
images are used. ``train`` fits the scaler and classifier on the rows that
were extracted, so the saved pipeline is the whole fitted pipeline. A run
in which no image could be read fails.

``--help``, ``--version`` and usage errors answer before the library (and scikit-learn,
OpenCV, ONNX Runtime) is imported. ``train``, ``evaluate`` and ``extract`` refuse to write
over an existing file unless ``--force`` is given.

Exit codes: 0 success; 1 an error (one line on standard error saying what
to do; ``--verbose`` adds the traceback), among them a run in which every
image was skipped; 2 a usage error, a value refused naming its flag; 3 with
``--strict`` when some images were skipped.
"""

from __future__ import annotations

import sys
import traceback
import warnings

from ._base import EXIT_SKIPPED, CommandError, Console
from ._parser import build_parser

__all__ = ["EXIT_SKIPPED", "build_parser", "main"]


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
    # the library, loaded only once the arguments are good
    from ._commands import _demo, _evaluate, _extract, _predict, _train
    from ._explain import _explain

    run = {"_demo": _demo, "_evaluate": _evaluate, "_explain": _explain, "_extract": _extract,
           "_predict": _predict, "_train": _train}[args.run]

    def show(message, category, filename, lineno, file=None, line=None):
        console.warn(" ".join(str(message).splitlines()))

    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            return run(args, console)
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
