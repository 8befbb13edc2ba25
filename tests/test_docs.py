"""The documentation site builds with warnings as errors, covers the public API, and its code runs."""

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from braintumor_features import make_pipeline
from tests.test_docstrings import PUBLIC_MODULES

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
API = (DOCS / "api.rst").read_text()


def _code_blocks(path, language="python"):
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), re.MULTILINE | re.DOTALL)


def _documented():
    """The names api.rst generates a page for (its entries are relative to the package)."""
    entries, in_toctree = [], False
    for line in API.splitlines():
        if line.startswith(".. "):
            in_toctree = False
        if line.strip() == ":toctree: generated":
            in_toctree = True
        elif in_toctree and line.startswith("   ~"):
            entries.append(f"braintumor_features.{line.strip()[1:]}")
    return entries


def test_api_reference_lists_every_public_module():
    missing = [name for name in PUBLIC_MODULES if f".. automodule:: {name}\n" not in API]
    assert not missing, f"add to docs/api.rst: {missing}"


def test_api_reference_documents_every_public_name_once():
    documented = _documented()
    assert len(documented) == len(set(documented))
    pages = {}
    for entry in documented:
        module, name = entry.rsplit(".", 1)
        pages[entry] = getattr(importlib.import_module(module), name)
    top = importlib.import_module("braintumor_features")
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            # Documented once, under the shortest path: the package itself for its own names.
            home = [entry for entry, value in pages.items()
                    if entry.rsplit(".", 1)[1] == name and value is obj]
            expected_top = name in top.__all__
            if not home or (expected_top and home != [f"braintumor_features.{name}"]):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"list in an autosummary of docs/api.rst: {missing}"


def test_navigation_lists_each_page_once():
    pages = []
    for source in sorted(DOCS.rglob("*.md")) + [DOCS / "api.rst"]:
        if "_build" in source.parts or "_generated" in source.parts:
            continue
        for block in re.findall(r"^```\{toctree\}\n(.*?)^```", source.read_text(),
                                re.MULTILINE | re.DOTALL):
            for line in block.splitlines():
                if line.strip() and not line.startswith(":"):
                    pages.append(os.path.normpath(source.parent.relative_to(DOCS) / line.strip()))
    assert len(pages) == len(set(pages)), sorted(page for page in pages if pages.count(page) > 1)
    assert {"getting_started", "user_guide/index", "parallel", "user_guide/cnn", "api"} <= set(pages)


def test_getting_started_snippet_runs_when_pasted(tmp_path):
    (code,) = _code_blocks(DOCS / "getting_started.md")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600, env={**os.environ, "MPLBACKEND": "Agg"},
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout


def test_readme_grid_search_uses_the_feature_cache():
    (search,) = [code for code in _code_blocks(REPO / "README.md") if "GridSearchCV" in code]
    compile(search, "README.md", "exec")
    assert re.search(r"make_pipeline\([^)]*memory=", search)
    assert "memory" in inspect.signature(make_pipeline).parameters
    for module, names in re.findall(r"^from (braintumor_features\S*) import (.+)$", search,
                                    re.MULTILINE):
        for name in names.split(","):
            assert hasattr(importlib.import_module(module), name.strip()), name


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The site, built once with warnings as errors (the gallery runs the examples)."""
    build = tmp_path_factory.mktemp("docs")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(build / "doctrees"), str(DOCS), str(build / "html")],
        capture_output=True, text=True, timeout=1200, check=False,
    )
    assert result.returncode == 0, result.stderr
    return build / "html"


def test_docs_build_without_warnings(html):
    for page in ["index", "getting_started", "api", "benchmarks", "intended_use", "parallel",
                 "user_guide/features", "user_guide/cnn", "auto_examples/index",
                 "auto_examples/grid_search", "auto_examples/dask_cluster"]:
        assert (html / f"{page}.html").exists(), page


def test_api_pages_are_generated(html):
    api = (html / "api.html").read_text()
    for name in _documented():
        page = html / "generated" / f"{name}.html"
        assert page.exists(), page
        assert f'href="generated/{name}.html#{name}"' in api, name
    (cnn,) = [name for name in _documented() if name.endswith(".CNNFeatures")]
    assert f'id="{cnn}"' in (html / "generated" / f"{cnn}.html").read_text()


def test_cnn_module_imports_for_autodoc_without_its_runtime():
    # The site is built where the optional extra (onnxruntime, onnx) may be missing.
    code = ("import sys; sys.modules['onnxruntime'] = sys.modules['onnx'] = None; "
            "from braintumor_features.features.cnn import CNNFeatures; print(CNNFeatures.__doc__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and "Examples" in result.stdout, result.stderr


def test_gallery_pages_show_figures_and_api_pages_link_to_them(html):
    page = (html / "auto_examples/random_forest_importance.html").read_text()
    figures = re.findall(r'<img src="\.\./(_images/sphx_glr_random_forest_importance_\d+\.png)"',
                         page)
    assert figures and all((html / figure).exists() for figure in figures)
    assert "held-out accuracy" in page  # the printed output is shown too
    for name in ["braintumor_features.make_pipeline",
                 "braintumor_features.evaluation.feature_importance"]:
        api_page = (html / "generated" / f"{name}.html").read_text()
        assert "Examples using" in api_page, name
        assert "random_forest_importance.html" in api_page, name
