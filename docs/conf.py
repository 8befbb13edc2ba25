"""Sphinx configuration: numpydoc API pages, MyST Markdown pages, sphinx-gallery examples.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (tests/test_docs.py
does this with warnings as errors).
"""

import shutil
from pathlib import Path

import braintumor_features

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent

project = "braintumor-features"
author = "braintumor-features developers"
copyright = "braintumor-features developers"  # noqa: A001 (Sphinx's name)
release = version = braintumor_features.__version__

extensions = [
    "sphinx.ext.autodoc",
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
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": str(REPO / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    # The test suite runs every example (tests/test_examples.py); the site shows their code.
    "plot_gallery": "False",
    "download_all_examples": False,
    "filename_pattern": r"\.py$",
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
