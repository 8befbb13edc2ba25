import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import joblib
import numpy as np
import pandas as pd
import pytest

from braintumor_features import __version__
from braintumor_features.cli import EXIT_SKIPPED, Console, _console, build_parser, main
from braintumor_features.datasets import load_folders, make_demo
from braintumor_features.exceptions import ShortcutWarning
from braintumor_features.persistence import load_model

FAST = ["--features", "intensity,glcm", "--image-size", "32"]


def _write_tree(root, n_samples=48):
    demo = make_demo(n_samples=n_samples, image_size=48, random_state=1)
    for i, (image, label) in enumerate(zip(demo.images, demo.target)):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        ok, encoded = cv2.imencode(".png", image)
        (folder / f"coupe {i:02d}.png").write_bytes(encoded.tobytes())  # non-ASCII safe write
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """48 slices, 12 per class, under a path with spaces and accents."""
    return _write_tree(tmp_path_factory.mktemp("cli") / "données IRM")


@pytest.fixture(scope="module")
def model_path(tree):
    path = tree.parent / "modèle.joblib"
    assert main(["train", str(tree), "-o", str(path), *FAST, "-q"]) == 0
    return path


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_console_script_and_every_subcommand_have_help(capsys):
    result = subprocess.run([shutil.which("braintumor") or "braintumor", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("train", "evaluate", "predict", "extract", "demo"):
        assert command in result.stdout
        with pytest.raises(SystemExit) as stop:
            build_parser().parse_args([command, "--help"])
        assert stop.value.code == 0
        assert "--quiet" in capsys.readouterr().out


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_on_a_terminal_unless_quiet(tree, tmp_path, monkeypatch, quiet):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    table = tmp_path / "features.csv"
    assert main(["extract", str(tree), "-o", str(table), *FAST, *(["-q"] if quiet else [])]) == 0
    shown = terminal.getvalue()
    if quiet:
        assert "\r" not in shown and "image" not in shown
    else:
        assert "\r" in shown and "48/48" in shown  # tqdm redraws its line: n/total images


def test_progress_bar_shows_every_step_however_fast():
    # Steps that come faster than tqdm's default 0.1 s interval are still drawn, the
    # last one included (the bar is cleared when it closes).
    terminal = _Terminal()
    with Console(stream=terminal).progress(200, "features") as bar:
        for done in (64, 64, 64, 8):
            bar.update(done)
    shown = terminal.getvalue()
    assert all(f"{n}/200" in shown for n in (64, 128, 192, 200))


@pytest.mark.parametrize("argv, said", [
    (["train", "some_dir"], "braintumor train: error: the following arguments are required: -o"),
    (["classify"], "braintumor: error: argument COMMAND: invalid choice: 'classify'"),
    (["train", "d", "-o", "m.joblib", "--cv", "five"], "argument --cv: invalid int value"),
    (["extract", "d", "-o", "f.csv", "--features", "glcm,tumor_map"],
     "argument --features: tumor_map learns from tumour outlines: train a model with it"),
    (["train", "d", "-o", "m.joblib", "--cv", "1"],
     "argument --cv: 1: cross-validation needs at least 2 folds"),
    (["train", "d", "-o", "m.joblib", "--features", "glcm,foo"],
     "argument --features: unknown feature families ['foo']; choose from default, glcm"),
    (["extract", "d", "-o", "f.csv", "--features", ","],
     "argument --features: name at least one feature family"),
    (["train", "d", "-o", "m.joblib", "--cv", "0"], "argument --cv: 0: cross-validation needs"),
    (["extract", "d", "-o", "f.csv", "--image-size", "0"],
     "argument --image-size: 0: give a side of at least 16 pixels"),
    (["train", "d", "-o", "m.joblib", "--n-jobs", "-2"],
     "argument --n-jobs: -2: give a number of workers of 1 or more, or -1 for all cores"),
    (["demo", "--n-jobs", "0"], "argument --n-jobs: 0: give a number of workers"),
    (["demo", "--random-state", "-1"], "argument --random-state: -1: give a seed of 0 or more"),
    (["demo", "--n-samples", "8"], "argument --n-samples: 8: the demo needs at least 20 slices"),
    (["extract", "d", "-o", "f.xlsx"],
     "argument -o/--output: f.xlsx: unknown table format '.xlsx'; end the name in .csv or .parquet"),
    (["train", "d", "-o", "model.pkl"],
     "argument -o/--output: model.pkl: unknown model format '.pkl'; end the name in .joblib"),
    (["evaluate", "m.joblib", "d", "--report", "report.pdf"],
     "argument --report: report.pdf: unknown report format '.pdf'; end the name in .html"),
])
def test_usage_errors_are_one_line_with_exit_code_2(argv, said, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    error = capsys.readouterr().err
    assert stop.value.code == 2 and said in error and error.count("\n") == 1
    assert error.rstrip().endswith("--help)")


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"braintumor {__version__}\n"


def test_every_option_has_help_and_shows_its_default():
    parser = build_parser()
    commands = next(action for action in parser._actions
                    if isinstance(action, argparse._SubParsersAction))
    assert sorted(commands.choices) == ["demo", "evaluate", "explain", "extract", "predict",
                                       "train"]
    for name, command in [("braintumor", parser), *commands.choices.items()]:
        formatter = command._get_formatter()
        for action in command._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
            if action.option_strings and action.nargs != 0 and not action.required:
                shown = formatter._get_help_string(action)  # as --help prints it
                assert "(default: " in shown, (name, action.dest, shown)
    assert "(default: 256)" in commands.choices["train"].format_help()


def test_values_that_take_no_default_are_accepted():
    args = build_parser().parse_args(["train", "d", "-o", "m.joblib", "--cv", "2",
                                      "--n-jobs", "-1", "--image-size", "16"])
    assert (args.cv, args.n_jobs, args.image_size) == (2, -1, 16)


def _usage_error(capsys, *argv):
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1
    return error


def test_the_output_is_checked_before_any_work(tmp_path, capsys):
    # the data folder does not exist either: the output is refused first, at parse time
    error = _usage_error(capsys, "train", tmp_path / "nowhere", "-o", tmp_path / "no" / "m.joblib")
    assert f"argument -o/--output: {tmp_path / 'no' / 'm.joblib'}: the folder " in error
    assert "does not exist; create it first" in error
    (tmp_path / "table.csv").mkdir()
    error = _usage_error(capsys, "extract", tmp_path, "-o", tmp_path / "table.csv")
    assert "table.csv is a folder; give a file name ending in .csv or .parquet" in error
    error = _usage_error(capsys, "evaluate", "m.joblib", tmp_path,
                         "--report", tmp_path / "missing" / "r.html")
    assert "argument --report: " in error and "does not exist" in error


def test_an_output_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    access = os.access  # as a read-only folder answers, whoever runs the tests (root writes anywhere)
    monkeypatch.setattr(os, "access", lambda path, mode: path != locked and access(path, mode))
    error = _usage_error(capsys, "train", tmp_path, "-o", locked / "m.joblib")
    assert "m.joblib: not allowed to write there; choose a folder you can write to" in error


@pytest.mark.parametrize("argv, package", [
    (["extract", "d", "-o", "{tmp}/f.parquet"], "pyarrow (pip install 'braintumor-features[parquet]')"),
    (["train", "d", "-o", "{tmp}/m.skops"], "skops (pip install 'braintumor-features[safe]')"),
])
def test_an_output_format_whose_package_is_missing_is_refused(argv, package, tmp_path,
                                                                 monkeypatch, capsys):
    from braintumor_features.cli import _parser

    monkeypatch.setattr(_parser, "find_spec", lambda name: None)
    error = _usage_error(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert f"needs {package}" in error


def test_train_with_cv_prints_a_grouped_summary_and_stores_metadata(tree, tmp_path, capsys):
    path = tmp_path / "m.skops"
    code, out, err = _run(capsys, "train", tree, "-o", path, *FAST, "--cv", "2")
    assert code == 0
    assert "subject-grouped 2-fold cross-validation (48 images, 48 subjects)" in out
    assert "balanced_accuracy" in out and "confusion matrix" in out
    assert f"wrote {path}" in err and "\r" not in err  # no progress bar when not on a terminal
    model, meta = load_model(path, return_metadata=True)
    assert meta["training"]["class_counts"] == {c: 12 for c in model.classes_}
    assert meta["training"]["cv"]["folds"] == 2 and meta["training"]["n_skipped"] == 0
    assert meta["training"]["data"] == str(tree) and meta["training"]["sources"] == {tree.name: 48}


def test_predict_formats_agree_with_the_model(tree, model_path, capsys):
    files = sorted(str(p) for p in (tree / "glioma").iterdir())[:3]
    model = load_model(model_path)
    with warnings.catch_warnings():  # trained on named rows, as make_pipeline's steps give
        warnings.simplefilter("error")
        expected = model.predict_proba(files)
    code, out, _ = _run(capsys, "predict", model_path, *files, "--format", "json")
    records = json.loads(out)
    assert code == 0 and [r["file"] for r in records] == files
    assert [r["class"] for r in records] == model.predict(files).astype(str).tolist()
    got = np.array([[r["probabilities"][c] for c in sorted(r["probabilities"])] for r in records])
    np.testing.assert_allclose(got, expected)
    code, out, _ = _run(capsys, "predict", model_path, tree / "glioma", "--format", "csv")
    table = pd.read_csv(pd.io.common.StringIO(out))
    assert len(table) == 12 and table["class"].notna().all()
    code, out, _ = _run(capsys, "predict", model_path, files[0])
    assert "coupe" in out and "pituitary" in out.splitlines()[0]


def test_predict_flags_images_unlike_the_training_images(tree, model_path, tmp_path, capsys):
    """A blank slice and noise are answered, but flagged in every format, with a warning."""
    blank, noise = tmp_path / "blank.png", tmp_path / "noise.png"
    cv2.imwrite(str(blank), np.zeros((200, 200), np.uint8))
    cv2.imwrite(str(noise), np.random.default_rng(0).integers(0, 255, (64, 64)).astype(np.uint8))
    good = sorted((tree / "glioma").iterdir())[0]
    code, out, err = _run(capsys, "predict", model_path, good, blank, noise, "--format", "json")
    records = json.loads(out)
    assert code == 0 and [r["out_of_distribution"] for r in records] == [False, True, True]
    assert all(r["class"] for r in records) and "outside the distribution" in err
    code, out, _ = _run(capsys, "predict", model_path, good, blank, "--format", "csv")
    assert pd.read_csv(io.StringIO(out))["out_of_distribution"].tolist() == [False, True]


def test_predict_reports_bad_files_and_keeps_the_good(tree, model_path, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    good = sorted((tree / "no_tumor").iterdir())[0]
    code, out, err = _run(capsys, "predict", model_path, good, bad, "--format", "json")
    records = json.loads(out)
    assert code == 0
    assert records[0]["class"] is not None and records[0]["error"] is None
    assert records[1]["class"] is None and "not a readable image" in records[1]["error"]
    assert "skipped 1 of 2" in err and "notes.png" in err
    code, _, _ = _run(capsys, "predict", model_path, good, bad, "--strict", "-q")
    assert code == EXIT_SKIPPED


def test_train_with_cv_writes_the_html_report_and_remembers_its_images(tree, tmp_path, capsys):
    report, model = tmp_path / "cv.html", tmp_path / "m.joblib"
    code, _, _ = _run(capsys, "train", tree, "-o", model, "--cv", "2", "--report", report, *FAST,
                      "-q")
    assert code == 0 and "Cross-validation of m.joblib" in report.read_text()
    training = load_model(model, return_metadata=True)[1]["training"]
    assert training["folders"] == [str(tree.resolve())] and len(training["sha256"]) == 48
    # issue 29 item 12: a usage error, exit code 2 (it was 1), before any work
    error = _usage_error(capsys, "train", tree, "-o", tmp_path / "other.joblib", "--report",
                         tmp_path / "other.html", "-q")
    assert "braintumor train: error: --report writes the cross-validation's report: give --cv K" \
        in error


def test_evaluate_writes_the_html_report(tree, model_path, tmp_path, capsys):
    report = tmp_path / "report.html"
    code, out, err = _run(capsys, "evaluate", model_path, tree, "--report", report)
    assert code == 0 and "accuracy" in out
    assert report.read_text().startswith("<!DOCTYPE html>") and f"wrote {report}" in err


def test_evaluate_warns_about_labels_the_model_never_saw(tree, model_path, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(tree / "glioma", data / "glioma")
    shutil.copytree(tree / "pituitary", data / "astrocytoma")
    code, out, err = _run(capsys, "evaluate", model_path, data)
    assert code == 0
    assert "never trained on: astrocytoma (12 images)" in err and "they count as errors" in err
    assert "astrocytoma" in out


def test_extract_writes_file_label_subject_and_features(tree, tmp_path, capsys):
    out_file = tmp_path / "features.csv"
    code, _, err = _run(capsys, "extract", tree, "-o", out_file, *FAST)
    table = pd.read_csv(out_file)
    assert code == 0 and len(table) == 48
    assert list(table.columns[:3]) == ["file", "label", "subject"]
    assert table.columns[3].startswith("intensity_") and "48 images" in err


def test_extract_parquet(tree, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    out_file = tmp_path / "features.parquet"
    assert _run(capsys, "extract", tree, "-o", out_file, *FAST)[0] == 0
    assert len(pd.read_parquet(out_file)) == 48


@pytest.fixture(scope="module")
def outlined_tree(tmp_path_factory):
    """48 demo slices of 64 x 64 pixels, 2 per subject, with a metadata.csv whose
    tumor_border column outlines each tumour (the demo's masks, traced)."""
    root = tmp_path_factory.mktemp("outlined") / "data"
    demo = make_demo(n_samples=48, image_size=64, random_state=2)
    records = []
    for i, (image, label, subject, mask) in enumerate(
            zip(demo.images, demo.target, demo.groups, demo.masks)):
        (root / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / label / f"{i:02d}.png"), image)
        border = ""
        if mask is not None:
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_NONE)
            border = json.dumps(max(contours, key=len)[:, 0].tolist())
        records.append({"file": f"{label}/{i:02d}.png", "label": label, "subject": subject,
                        "tumor_border": border})
    pd.DataFrame(records).to_csv(root / "metadata.csv", index=False)
    return root


def test_train_cnn_learns_where_the_tumour_is_from_outlines(outlined_tree, tmp_path, capsys,
                                                             monkeypatch):
    """``train --classifier cnn`` hands the outlines of metadata.csv to the network's mask
    loss (a tiny network: one epoch at 64 px)."""
    for module in ("onnxruntime", "torch", "skorch", "efficientnet_lite_pytorch"):
        pytest.importorskip(module)
    from braintumor_features.classifiers import _cnn
    from braintumor_features.cli import _commands

    seen = []
    masks_of = _cnn._masks
    monkeypatch.setattr(_cnn, "_masks", lambda *args: seen.append(masks_of(*args)) or seen[-1])
    pipeline = _commands._pipeline
    monkeypatch.setattr(_commands, "_pipeline", lambda *args, **kwargs: pipeline(
        *args, **kwargs).set_params(classifier__max_epochs=1, classifier__image_size=64,
                                    classifier__batch_size=8, classifier__mask_weight=1.0,
                                    classifier__validation_fraction=None))
    path = tmp_path / "m.joblib"
    code, out, err = _run(capsys, "train", outlined_tree, "-o", path, "--classifier", "cnn",
                          "--image-size", "64")
    assert code == 0, err
    outlined = (pd.read_csv(outlined_tree / "metadata.csv")["tumor_border"].notna()).sum()
    assert f"cnn: learning where the tumour is from the outlines of {outlined} images" in err
    assert sum(mask is not None for mask in seen[-1]) == outlined
    assert load_model(path).predict([str(outlined_tree / "glioma" / name) for name in sorted(
        p.name for p in (outlined_tree / "glioma").iterdir())[:2]]).shape == (2,)


def test_train_learns_the_tumor_map_from_outlines(outlined_tree, tmp_path, capsys):
    path = tmp_path / "m.joblib"
    code, out, err = _run(capsys, "train", outlined_tree, "-o", path, "--features",
                          "intensity,tumor_map", "--image-size", "64", "--classifier", "rf",
                          "--cv", "2", "--no-clahe")
    assert code == 0, err
    outlined = (pd.read_csv(outlined_tree / "metadata.csv")["tumor_border"].notna()).sum()
    assert f"tumor_map: learning from the outlines of {outlined} images" in err
    assert "cross-validation refits tumor_map in each fold" in err
    assert "subject-grouped 2-fold cross-validation (48 images, 24 subjects)" in out
    model = load_model(path)
    assert model.named_steps["clahe"] == "passthrough"
    tumor_map = dict(model.named_steps["features"].families_)["tumor_map"]
    assert 0 < tumor_map.n_training_images_ <= outlined
    images = sorted(str(file) for file in outlined_tree.glob("*/*.png"))
    assert model.predict_proba(images).shape == (48, 4)
    # predict reads images without outlines, as new images come
    assert _run(capsys, "predict", path, outlined_tree / "glioma", "--format", "csv")[0] == 0


def test_train_with_the_tumor_map_needs_outlines(tree, tmp_path, capsys):
    code, _, err = _run(capsys, "train", tree, "-o", tmp_path / "m.joblib", "--features",
                        "intensity,tumor_map", "--image-size", "32")
    error = err.strip().splitlines()[-1]  # after the note on the data read
    assert code == 1
    assert f"{tree}: --features tumor_map learns from tumour outlines and no image has one" in error
    assert "tumor_border" in error


def test_default_among_the_families_stands_for_the_default_recipe():
    args = build_parser().parse_args(["train", "d", "-o", "m.joblib", "--features",
                                      "default,region"])
    assert args.features == ["glcm", "lbp", "intensity", "region"]


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory):
    """site_a: glioma, meningioma (4 each); site_b: meningioma, no_tumor, pituitary (4 each).

    Without metadata, and with the same file names under meningioma in both.
    """
    root = tmp_path_factory.mktemp("sources")
    site_a, site_b = _write_tree(root / "site_a", 16), _write_tree(root / "site_b", 16)
    for folder in (site_a / "no_tumor", site_a / "pituitary", site_b / "glioma"):
        shutil.rmtree(folder)
    return site_a, site_b


def test_train_on_two_folders_uses_both_sources(two_sources, tmp_path, capsys):
    path = tmp_path / "m.joblib"
    code, out, err = _run(capsys, "train", *two_sources, "-o", path, *FAST, "--cv", "2",
                          "--classifier", "rf")  # the SVM calibrates on 5 folds: too few images
    assert code == 0
    # each file is its own subject, in its own source: 20 images, 20 groups
    assert ("(20 images, 20 subjects; sources site_a (8), site_b (12))") in out
    assert "site_a: 8 images, classes glioma (4), meningioma (4)" in err
    assert "site_b: 12 images" in err and "sources site_a (8), site_b (12)" in err
    model, meta = load_model(path, return_metadata=True)
    assert model.classes_.tolist() == ["glioma", "meningioma", "no_tumor", "pituitary"]
    # the saved model is fitted on every image of every folder, not on a fold
    assert meta["training"]["n_images"] == 20
    assert meta["training"]["sources"] == {"site_a": 8, "site_b": 12}
    assert meta["training"]["data"] == [str(folder) for folder in two_sources]
    # the scores of each source, from the same out-of-fold predictions as the summary
    assert "by source (out-of-fold predictions):" in out
    by_source = meta["training"]["cv"]["by_source"]
    assert {name: row["n"] for name, row in by_source.items()} == {"site_a": 8, "site_b": 12}
    pooled = sum(row["accuracy"] * row["n"] for row in by_source.values()) / 20
    assert pooled == pytest.approx(meta["training"]["cv"]["accuracy"])
    # glioma comes from site_a only, no_tumor and pituitary from site_b only
    assert ("warning: glioma only from site_a; no_tumor, pituitary only from site_b: a model can "
            "tell these classes by their source") in err


def test_a_class_from_one_source_only_is_a_shortcut_warning(two_sources):
    data = load_folders(two_sources)
    with pytest.warns(ShortcutWarning, match="glioma only from site_a; no_tumor, pituitary only "
                                             "from site_b"):
        _console._warn_single_source_classes(data.target, data.sources)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortcutWarning)
        one = load_folders(two_sources[1])  # one source: nothing to confound the classes with
        _console._warn_single_source_classes(one.target, one.sources)
        mixed = np.array(["site_a", "site_b"] * 10)  # every class from both sources
        _console._warn_single_source_classes(np.repeat(["glioma", "no_tumor"], 10), mixed)


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "brain-mri-radiopaedia").is_dir(), reason="no shared data")
def test_the_shared_brain_mri_confound_is_warned_and_three_sources_lift_it():
    brain_mri = load_folders(SHARED / "brain-mri")
    with pytest.warns(ShortcutWarning, match="no_tumor only from br35h"):
        _console._warn_single_source_classes(brain_mri.target, brain_mri.sources)
    every = load_folders([SHARED / name for name in
                          ("brain-mri", "brain-mri-sartaj", "brain-mri-radiopaedia")])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortcutWarning)
        _console._warn_single_source_classes(every.target, every.sources)


@pytest.fixture(scope="module")
def sequenced_tree(tmp_path_factory):
    """48 slices with a metadata.csv giving a sequence to 32 of them."""
    root = _write_tree(tmp_path_factory.mktemp("sequenced") / "data")
    files = sorted(path.relative_to(root).as_posix() for path in root.glob("*/*.png"))
    sequence = [("T1", "T2", None)[i % 3] for i in range(len(files))]
    pd.DataFrame({"file": files, "label": [f.split("/")[0] for f in files],
                  "sequence": sequence}).to_csv(root / "metadata.csv", index=False)
    return root


def test_train_with_cv_scores_each_sequence(sequenced_tree, tmp_path, capsys):
    path = tmp_path / "m.joblib"
    code, out, err = _run(capsys, "train", sequenced_tree, "-o", path, *FAST, "--cv", "2")
    assert code == 0, err
    table = out.split("by sequence (out-of-fold predictions):\n")[1].splitlines()
    assert table[0].split()[:3] == ["n", "accuracy", "balanced_accuracy"]
    assert [row.rsplit(None, len(table[0].split()))[0] for row in table[2:5]] == [
        "(not given)", "T1", "T2"]
    cv = load_model(path, return_metadata=True)[1]["training"]["cv"]
    assert {name: row["n"] for name, row in cv["by_sequence"].items()} == {
        "(not given)": 16, "T1": 16, "T2": 16}
    pooled = sum(row["accuracy"] * row["n"] for row in cv["by_sequence"].values()) / 48
    assert pooled == pytest.approx(cv["accuracy"])
    assert "by source" not in out  # one source: its scores are the summary's


def test_extract_two_folders_adds_a_source_column(two_sources, tmp_path, capsys):
    out_file = tmp_path / "features.csv"
    code, _, err = _run(capsys, "extract", *two_sources, "-o", out_file, *FAST)
    table = pd.read_csv(out_file)
    assert code == 0 and "20 images" in err
    assert list(table.columns[:4]) == ["file", "label", "subject", "source"]
    assert table["source"].value_counts().to_dict() == {"site_b": 12, "site_a": 8}
    assert table.columns[4].startswith("intensity_")


def test_evaluate_on_two_folders(two_sources, model_path, capsys):
    code, out, _ = _run(capsys, "evaluate", model_path, *two_sources, "-q")
    assert code == 0 and f"on {two_sources[0]}, {two_sources[1]} (20 images)" in out


@pytest.fixture()
def unreadable_tree(tmp_path):
    """Two class folders of files named .png that are not images."""
    for label in ("glioma", "no_tumor"):
        (tmp_path / "data" / label).mkdir(parents=True)
        (tmp_path / "data" / label / "scan.png").write_text("not an image")
    return tmp_path / "data"


@pytest.mark.parametrize("command", ["train", "extract", "predict"])
def test_a_run_in_which_every_image_is_skipped_fails(command, unreadable_tree, model_path,
                                                     tmp_path, capsys):
    output = tmp_path / ("m.joblib" if command == "train" else "features.csv")
    argv = ([command, unreadable_tree, "-o", output, *FAST] if command != "predict" else
            [command, model_path, unreadable_tree, "--format", "json"])
    code, out, err = _run(capsys, *argv)
    assert code == 1 and out == "" and not output.exists()
    assert "skipped 2 of 2" in err and "scan.png" in err
    error = err.splitlines()[-1]
    assert error.startswith(f"braintumor {command}: error: ")
    assert "none of the 2 images could be read or processed (the reasons are listed above)" in error


def test_one_class_folder_is_refused_with_one_line(tmp_path, capsys):
    _write_tree(tmp_path / "data", 8)
    for label in ("meningioma", "no_tumor", "pituitary"):
        shutil.rmtree(tmp_path / "data" / label)
    code, out, err = _run(capsys, "train", tmp_path / "data", "-o", tmp_path / "m.joblib")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "only the class glioma" in err and "at least two" in err


def test_empty_class_folder_is_reported_and_ignored(tmp_path, capsys):
    data = _write_tree(tmp_path / "data", 24)
    (data / "empty").mkdir()
    code, _, err = _run(capsys, "train", data, "-o", tmp_path / "m.joblib", *FAST)
    assert code == 0 and "class folders with no images are ignored: empty" in err
    assert "empty" not in load_model(tmp_path / "m.joblib").classes_


def test_model_from_another_version_warns_and_still_predicts(model_path, tree, tmp_path, capsys):
    payload = joblib.load(model_path)
    payload["metadata"]["versions"]["scikit-learn"] = "1.0"
    old = tmp_path / "old.joblib"
    joblib.dump(payload, old)
    code, out, err = _run(capsys, "predict", old, sorted((tree / "glioma").iterdir())[0])
    assert code == 0 and "coupe" in out
    assert "warning:" in err and "scikit-learn 1.0" in err and "Retrain" in err


@pytest.mark.parametrize("args,message", [
    (["predict", "{tmp}/m.joblib", "{tmp}/missing.png"], "missing.png: no such file or folder"),
    (["predict", "{tmp}/text.joblib", "{tmp}/ok.png"], "text.joblib: not a model file"),
    (["evaluate", "{tmp}/missing.joblib", "{tmp}"], "missing.joblib: no such model file"),
    (["train", "{tmp}/nowhere", "-o", "{tmp}/m.joblib"], "nowhere: no such data folder"),
])
def test_errors_are_one_line_naming_the_file(tmp_path, capsys, args, message):
    (tmp_path / "text.joblib").write_text("hello")
    cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((8, 8), np.uint8))
    code, _, err = _run(capsys, *[a.format(tmp=tmp_path) for a in args])
    assert code == 1 and err.count("\n") == 1 and message in err


def test_unexpected_failure_is_one_line_with_a_hint(monkeypatch, tmp_path, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(_console, "load_folders", broken)
    code, _, err = _run(capsys, "extract", tmp_path, "-o", tmp_path / "f.csv")
    assert code == 1 and err == "braintumor extract: error: RuntimeError: boom " \
                                "(run with --verbose for details)\n"
    code, _, err = _run(capsys, "extract", tmp_path, "-o", tmp_path / "f.csv", "--verbose")
    assert code == 1 and "Traceback" in err and err.endswith("error: RuntimeError: boom\n")


def test_demo_runs_end_to_end(capsys):
    code, out, _ = _run(capsys, "demo", "--n-samples", "40", "-q")
    assert code == 0 and "subject-grouped 5-fold accuracy" in out
    assert "pituitary" in out


def test_train_cv_keeps_copies_of_an_image_in_one_group(tmp_path, capsys):
    root = _write_tree(tmp_path / "data", n_samples=24)
    original = sorted((root / "glioma").iterdir())[0]
    (root / "glioma" / "copy of the first.png").write_bytes(original.read_bytes())
    code, out, err = _run(capsys, "train", root, "-o", tmp_path / "m.joblib", *FAST, "--cv", "2")
    assert code == 0
    assert "near-duplicate images in 1 set(s): their subjects are joined, 25 subjects -> 24 groups" in err
    assert "(25 images, 25 subjects)" in out


# Issue 29: messages a user can act on, a command line that starts at once.


def test_too_few_images_of_a_class_for_the_folds_is_named_before_any_extraction(
        tree, tmp_path, capsys, monkeypatch):
    """Item 1: 2 pituitary slices among 38 and --cv 3 failed after the whole extraction with
    ``class '3' has a single training sample``."""
    small = tmp_path / "small"
    shutil.copytree(tree, small)
    for path in sorted((small / "pituitary").iterdir())[2:]:
        path.unlink()
    from braintumor_features.cli import _commands

    def never(*args, **kwargs):
        raise AssertionError("features were extracted before the folds were checked")

    monkeypatch.setattr(_commands, "extract_features", never)
    monkeypatch.setattr(_commands, "_outlined_rows", never)
    model = tmp_path / "m.joblib"
    code, _, err = _run(capsys, "train", small, "-o", model, "--cv", "3", *FAST)
    assert code == 1 and not model.exists()
    line = err.strip().splitlines()[-1]
    assert line.startswith("braintumor train: error: class 'pituitary' has 2 image(s)")
    assert "fewer folds (--cv 2)" in line and "add images of 'pituitary'" in line


def test_out_of_distribution_images_are_named_by_file_once(tree, model_path, tmp_path, capsys):
    """Item 3: the warning named rows counted among readable images (row 1 here would be the
    blank slice, the third file), came twice, and gave a Python hint."""
    bad, blank = tmp_path / "unreadable.png", tmp_path / "blank.png"
    bad.write_text("not an image")
    cv2.imwrite(str(blank), np.zeros((200, 200), np.uint8))
    good = sorted((tree / "glioma").iterdir())[0]
    code, out, err = _run(capsys, "predict", model_path, bad, good, blank)
    warning = [line for line in err.splitlines() if "outside the distribution" in line]
    assert code == 0 and len(warning) == 1
    assert warning[0].endswith(f"not to be trusted: {blank}")
    assert "row" not in warning[0] and "DistributionCheck" not in err
    code, _, err = _run(capsys, "evaluate", model_path, tree, "-q")
    assert code == 0 and "DistributionCheck" not in err and "rows" not in err


def test_an_unreadable_file_has_no_out_of_distribution_flag(tree, model_path, tmp_path, capsys):
    """Item 4: every format wrote ``out_of_distribution=False`` for a file it could not read."""
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    good = sorted((tree / "glioma").iterdir())[0]
    _, out, _ = _run(capsys, "predict", model_path, good, bad, "--format", "json")
    assert [r["out_of_distribution"] for r in json.loads(out)] == [False, None]
    _, out, _ = _run(capsys, "predict", model_path, good, bad, "--format", "csv")
    table = pd.read_csv(io.StringIO(out))
    assert table["out_of_distribution"].isna().tolist() == [False, True]
    _, out, _ = _run(capsys, "predict", model_path, good, bad)
    assert "False" in out.splitlines()[1] and "False" not in out.splitlines()[2]


def test_train_cv_report_has_the_breakdowns_and_the_gallery(tree, tmp_path, capsys):
    """Item 5: the per-source tables printed on the console were missing from the HTML (a
    nested dump of 16-digit floats instead), and it had no gallery of mistakes."""
    other = tmp_path / "site_b"
    shutil.copytree(tree, other)
    report, model = tmp_path / "cv.html", tmp_path / "m.joblib"
    code, out, _ = _run(capsys, "train", tree, other, "-o", model, "--cv", "2", "--report",
                        report, *FAST, "-q")
    page = report.read_text()
    assert code == 0 and "by source (out-of-fold predictions):" in out
    assert "<h3>By source</h3>" in page and "site_b" in page
    assert "most confident mistakes" in page
    assert not re.search(r"\d\.\d{6,}", page.split("<h2>Model</h2>")[1])


def test_an_existing_file_is_not_written_over_without_force(tree, model_path, tmp_path, capsys):
    """Item 10: train -o existing.joblib overwrote the model silently."""
    existing = tmp_path / "m.joblib"
    shutil.copy(model_path, existing)
    before = existing.read_bytes()
    error = _usage_error(capsys, "train", tree, "-o", existing, *FAST, "-q")
    assert f"{existing} already exists; give --force to write over it" in error
    assert existing.read_bytes() == before
    table = tmp_path / "f.csv"
    table.write_text("mine")
    assert "give --force" in _usage_error(capsys, "extract", tree, "-o", table, "-q")
    report = tmp_path / "r.html"
    report.write_text("mine")
    assert "give --force" in _usage_error(capsys, "evaluate", model_path, tree, "--report",
                                          report)
    code, _, _ = _run(capsys, "train", tree, "-o", existing, *FAST, "-q", "--force")
    assert code == 0 and existing.read_bytes() != before


_IMPORTED = """
import runpy, sys
sys.argv = ["braintumor"] + ARGUMENTS
try:
    runpy.run_module("braintumor_features", run_name="__main__", alter_sys=True)
except SystemExit as stop:
    print("exit", stop.code)
print(sorted(name for name in ("sklearn", "cv2", "onnxruntime", "scipy", "pandas", "torch")
             if name in sys.modules))
"""


@pytest.mark.parametrize("arguments, code", [
    (["--version"], 0),
    (["--help"], 0),
    (["train", "--help"], 0),
    ([], 2),
    (["train"], 2),
    (["train", "d", "-o", "m.pdf"], 2),
    (["predict", "m.joblib", "x.png", "--format", "xml"], 2),
    (["extract", "d", "-o", "f.csv", "--features", "tumor_map"], 2),
    (["demo", "--n-samples", "3"], 2),
])
def test_help_version_and_usage_errors_load_no_scikit_learn(arguments, code, tmp_path):
    """Item 11: ``braintumor --version`` and every usage error took 3.4-4.2 s, importing
    scikit-learn before parsing; they must answer before it, OpenCV or ONNX Runtime load."""
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED.replace("ARGUMENTS", repr(arguments))],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    lines = result.stdout.strip().splitlines()
    assert lines[-2:] == [f"exit {code}", "[]"], result.stdout + result.stderr


def test_the_parser_knows_the_library_feature_families():
    """The parser writes the families out (so that it imports no scikit-learn): they are the
    library's."""
    from braintumor_features.cli import _parser
    from braintumor_features.pipeline import DEFAULT_FEATURES, FEATURE_FAMILIES

    assert _parser.FEATURE_FAMILIES == tuple(FEATURE_FAMILIES)
    assert _parser.DEFAULT_FEATURES == tuple(DEFAULT_FEATURES)
    assert _parser._LEARNING_FAMILIES == [
        name for name, family in FEATURE_FAMILIES.items()
        if family().__sklearn_tags__().requires_fit]
def test_explain_writes_overlays_and_scores_and_names_each_bad_input(outlined_tree, tmp_path,
                                                                      capsys):
    data = tmp_path / "data"
    shutil.copytree(outlined_tree, data)
    metadata = pd.read_csv(data / "metadata.csv", keep_default_na=False)
    outlined = metadata[metadata["tumor_border"] != ""]["file"].tolist()
    metadata.loc[metadata["file"] == outlined[1], "tumor_border"] = "[[10, 10], [300, 10], [20, 30]]"
    metadata.to_csv(data / "metadata.csv", index=False)
    model = tmp_path / "m.joblib"
    assert main(["train", str(data), "-o", str(model), *FAST, "-q"]) == 0
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    files = [data / outlined[0], data / outlined[1], bad, data / "no_tumor" / sorted(
        os.listdir(data / "no_tumor"))[0]]
    out_dir = tmp_path / "explained"
    code, _, err = _run(capsys, "explain", model, *files, "-o", out_dir, "--patch", "0.25",
                        "--stride", "0.25")
    assert code == 0
    table = pd.read_csv(out_dir / "saliency_scores.csv", keep_default_na=False)
    assert table["file"].tolist() == [str(f) for f in files]
    assert [bool(name) for name in table["overlay"]] == [True, True, False, True]
    for name in table["overlay"][table["overlay"] != ""]:
        assert cv2.imread(str(out_dir / name)) is not None
    scored, misplaced, unreadable, plain = table.to_dict("records")
    assert scored["energy_inside"] != "" and str(scored["pointing_hit"]) in ("True", "False")
    assert float(scored["outline_share"]) > 0 and scored["error"] == ""
    assert misplaced["energy_inside"] == "" and misplaced["outside_head"] != ""
    assert "outside the 64 x 64 image" in misplaced["error"]
    assert "not a readable image" in unreadable["error"]
    assert plain["energy_inside"] == "" and plain["outside_head"] != ""
    lines = [line for line in err.splitlines() if "warning" in line]
    assert len(lines) == 2
    assert any(str(bad) in line for line in lines)
    assert any(outlined[1].split("/")[-1] in line and "outline" in line for line in lines)
    code, _, err = _run(capsys, "explain", model, files[0], "-o", out_dir, "--target", "tumour")
    assert code == 1 and err.count("\n") == 1
    assert "--target tumour: the model knows the classes glioma, meningioma" in err
