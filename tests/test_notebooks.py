"""The notebooks run top to bottom, and are stored with the outputs of a run.

They run on the built-in demo set, or on real slices when ``BRAINTUMOR_DATA``
names a data folder (see notebooks/example_data.py). Their stored outputs
(tables, plots) are what a reader browsing the repository sees; after changing
a notebook, store a fresh run of it (on the demo set: leave ``BRAINTUMOR_DATA``
unset), from the repository root (``test_notebook_runs`` checks that a fresh run prints
what is stored: every text output, but for temporary paths, dates, file sizes in kB and
stderr, and decimal numbers to within 0.01, which another machine's BLAS may move)::

    import nbformat
    from nbclient import NotebookClient

    path = "notebooks/01_quickstart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, resources={"metadata": {"path": "notebooks"}}).execute()
    nbformat.write(notebook, path)
"""

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
SHARED_DATA = FOLDER.parents[1] / "shared" / "data" / "brain-mri"


def test_the_four_notebooks_are_there():
    assert [path.stem[:2] for path in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_with_its_outputs(path):
    assert path.stat().st_size < 1_000_000, f"{path.name}: keep it under 1 MB"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    # Run in order, top to bottom, in one session.
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), (
        f"{path.name}: store the outputs of one run from the top (see this module's docstring)")
    for cell in code:
        kinds = [output.output_type for output in cell.outputs]
        assert "error" not in kinds, f"{path.name}: a stored cell failed:\n{cell.source}"
        if "plt.show()" in cell.source:
            assert any("image/png" in output.get("data", {}) for output in cell.outputs), (
                f"{path.name}: the plot of this cell is not stored:\n{cell.source}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.delenv("BRAINTUMOR_DATA", raising=False)  # the stored run is on the demo set
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    stored = [_printed(cell) for cell in nbformat.read(path, as_version=4).cells
              if cell.cell_type == "code"]
    client.execute()  # raises CellExecutionError naming the failing cell
    fresh = [_printed(cell) for cell in notebook.cells if cell.cell_type == "code"]
    for number, ((stored_text, stored_numbers), (fresh_text, fresh_numbers)) in enumerate(
            zip(stored, fresh)):
        assert fresh_text == stored_text and np.allclose(fresh_numbers, stored_numbers,
                                                         atol=0.01), (
            f"{path.name}, code cell {number + 1}: a fresh run prints something else than the "
            f"stored output; store a fresh run (see this module's docstring)\n--- stored:\n"
            f"{stored_text}\n--- fresh:\n{fresh_text}")


#: What a run may print differently: temporary folders, dates, file sizes.
_VOLATILE = [(re.compile(r"/tmp/\w+"), "<tmp>"),
             (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+00:00)?"), "<date>"),
             (re.compile(r"\d+ kB"), "<size> kB")]
_DECIMAL = re.compile(r"-?\d+\.\d+(e[-+]?\d+)?")


def _printed(cell):
    """The text a code cell printed (stdout and results, not stderr), its volatile parts
    masked, and its decimal numbers apart."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif "text/plain" in output.get("data", {}):
            parts.append(output["data"]["text/plain"])
    text = "\n".join(parts)
    for pattern, mask in _VOLATILE:
        text = pattern.sub(mask, text)
    numbers = [float(match.group()) for match in _DECIMAL.finditer(text)]
    return _DECIMAL.sub("#", text), np.array(numbers)


@pytest.fixture
def example_data(monkeypatch):
    monkeypatch.syspath_prepend(str(FOLDER))
    import example_data

    return example_data


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="needs ../shared/data/brain-mri")
@pytest.mark.parametrize("cwd, folder", [
    (FOLDER, "../../shared/data/brain-mri"),       # as the notebooks say, from notebooks/
    (FOLDER.parent, "../shared/data/brain-mri"),   # from the repository root
    (FOLDER, "../shared/data/brain-mri"),          # the repository root's, from notebooks/
])
def test_data_folder_is_found_from_where_the_notebook_runs(example_data, monkeypatch, cwd,
                                                           folder):
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("BRAINTUMOR_DATA", folder)
    data = example_data.load_example(n_per_class=1)
    assert len(data.X) == 4 and all(Path(path).is_file() for path in data.X)
    assert data.source.startswith(str(SHARED_DATA.resolve()))


def test_a_missing_data_folder_is_named(example_data, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRAINTUMOR_DATA", "no/such/folder")
    with pytest.raises(FileNotFoundError, match=r"BRAINTUMOR_DATA=no/such/folder: no such folder"):
        example_data.load_example(n_per_class=1)


def test_notebook_01_names_the_data_path_tested_above():
    text = "".join(cell.source for cell in nbformat.read(NOTEBOOKS[0], as_version=4).cells)
    assert "BRAINTUMOR_DATA=../../shared/data/brain-mri" in text
