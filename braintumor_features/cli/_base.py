"""What the command line needs before any work: the console, the error a user can fix, the
exit code of ``--strict``. Imports nothing beyond the standard library, so that ``--help``,
``--version`` and usage errors answer at once (the commands import the library when they run)."""

from __future__ import annotations

import sys

__all__ = ["EXIT_SKIPPED", "Console", "CommandError"]

#: Exit code when ``--strict`` is given and some images were skipped.
EXIT_SKIPPED = 3


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
        from tqdm.auto import tqdm

        show = self.verbosity >= 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        # Redrawn at every step (a chunk of images, not an image): tqdm's default of at
        # most every 0.1 s would show nothing of a run that ends sooner.
        return tqdm(total=total, desc=description, unit="image", file=self.stream,
                    disable=not show, leave=False, mininterval=0, miniters=1)


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit code 1."""
