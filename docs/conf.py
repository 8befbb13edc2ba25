"""Sphinx configuration: numpydoc API pages, MyST Markdown pages, sphinx-gallery examples.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (tests/test_docs.py
does this with warnings as errors). The API reference (api.rst) is autosummary
tables whose pages are generated under ``generated/``; the gallery runs every
example but dask_cluster.py and keeps its figures.
"""

import importlib
import shutil
from pathlib import Path

import braintumor_features

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent

project = "braintumor-features"
author = "braintumor-features developers"
copyright = "braintumor-features developers"
release = version = braintumor_features.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    # scikit-learn's generated metadata-routing methods; its own docs describe them.
    "exclude-members": "set_fit_request,set_predict_request,set_predict_proba_request,"
                       "set_score_request,set_transform_request,set_inverse_transform_request",
}
autodoc_typehints = "none"
autosummary_generate = True
templates_path = ["_templates"]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": str(REPO / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    # Run the examples and keep their figures; dask_cluster.py starts a cluster, so the
    # site shows its code only (tests/test_examples.py runs every example).
    "plot_gallery": "True",
    "filename_pattern": r"/(?!dask_cluster\.py$)[^/]+\.py$",
    # "Examples using X" at the end of each API page (docs/_templates/autosummary).
    "doc_module": ("braintumor_features",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"braintumor_features": None},
    "download_all_examples": False,
    "write_computation_times": False,
}

html_theme = "alabaster"
html_title = f"braintumor-features {release}"
html_static_path = []

# The benchmark tables are benchmarks/README.md where it has been written.
_results = DOCS / "_generated" / "benchmark_results.md"
_results.parent.mkdir(exist_ok=True)
if (REPO / "benchmarks" / "README.md").exists():
    shutil.copyfile(REPO / "benchmarks" / "README.md", _results)
else:
    _results.write_text("No measured tables have been committed yet (benchmarks/README.md "
                        "does not exist): run the scripts above to measure them on your data.\n")


def _documented_name(app, env, node, contnode):
    """Link ``braintumor_features.features.glcm.GLCMFeatures`` to where it is documented.

    The API reference documents each object once, under the shortest path it
    is importable from (``braintumor_features.GLCMFeatures``); docstrings may
    name it by any path it is importable from.
    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("braintumor_features."):
        return None
    module, _, name = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    domain = env.domains["py"]
    for documented in domain.objects:
        home, _, documented_name = documented.rpartition(".")
        if documented_name == name and documented != target and home.startswith("braintumor_"):
            try:
                same = getattr(importlib.import_module(home), name) is obj
            except (ImportError, AttributeError):
                continue
            if same:
                return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                           documented, node, contnode)
    return None


def setup(app):
    app.connect("missing-reference", _documented_name)
