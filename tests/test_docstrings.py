"""Every public function and class has a numpydoc docstring with an Examples section.

The examples themselves run as doctests (``--doctest-modules`` in the pytest
configuration). Public means: named in the ``__all__`` of the package or of a
module whose path has no part starting with an underscore.
"""

import importlib
import inspect
import pkgutil

import pytest

import braintumor_features

PUBLIC_MODULES = ["braintumor_features"] + [
    module.name
    for module in pkgutil.walk_packages(braintumor_features.__path__, "braintumor_features.")
    if not any(part.startswith("_") for part in module.name.split("."))
]


def _public_objects():
    seen = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                seen.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return sorted(seen.items())


PUBLIC_OBJECTS = _public_objects()


def test_public_api_is_found():
    names = {name.rsplit(".", 1)[1] for name, _ in PUBLIC_OBJECTS}
    assert {"make_pipeline", "GLCMFeatures", "evaluate", "save_model", "load_folder"} <= names


@pytest.mark.parametrize("obj", [obj for _, obj in PUBLIC_OBJECTS],
                         ids=[name for name, _ in PUBLIC_OBJECTS])
def test_docstring_has_examples(obj):
    doc = inspect.getdoc(obj) or ""
    assert "Examples\n--------\n" in doc and ">>> " in doc.split("Examples\n--------\n", 1)[1], (
        f"{obj.__module__}.{obj.__qualname__}: add a numpydoc 'Examples' section with a doctest"
    )
