"""The package's modules import one way: each layer only from the layers below it.

The layers are listed in pyproject.toml (``[tool.importlinter]``);
import-linter reads every import in the package, including those inside
functions, and fails on an upward import or a cycle between layers.
"""

import re
from pathlib import Path

import pytest

pytest.importorskip("importlinter")
from importlinter import configuration  # noqa: E402
from importlinter.application.use_cases import lint_imports  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_imports_follow_the_layers(monkeypatch):
    monkeypatch.chdir(ROOT)
    configuration.configure()
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_logo=True) is True


def test_the_package_root_is_imported_by_nothing_inside_it():
    """The layers contract does not cover the root package itself: a module that
    imports it (say, for ``__version__``) would import every layer."""
    package = ROOT / "braintumor_features"
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in package.rglob("*.py")
        if path != package / "__init__.py"
        for line in path.read_text().splitlines()
        if re.match(r"(from (braintumor_features|\.|\.\.) import |import braintumor_features( |$))",
                    line.strip())
    ]
    assert offenders == []
