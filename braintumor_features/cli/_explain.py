"""The ``explain`` command: a saliency overlay per image and a table of scores."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..datasets import load_folder
from ..evaluation import SALIENCY_SCORES, outline_scores, saliency_maps
from ..exceptions import SkippedImagesWarning
from ..io import read_image
from ._commands import _collect_files, _load
from ._console import CommandError, _exit_code

__all__ = []


def _outlines(files, console):
    """The tumour outline of each file that a metadata.csv in its folder or the folder
    above (a class-per-folder tree) gives, by resolved path."""
    roots = {parent for file in files for parent in list(Path(file).resolve().parents)[:2]
             if (parent / "metadata.csv").is_file()}
    outlines = {}
    for root in sorted(roots):
        try:
            data = load_folder(root)
        except Exception as error:  # outlines are optional: say so and go on without them
            console.warn(f"{root / 'metadata.csv'}: outlines not used: "
                         f"{' '.join(str(error).splitlines())}")
            continue
        outlines.update({str(Path(path).resolve()): mask
                         for path, mask in zip(data.paths, data.masks) if mask is not None})
    return outlines


def _overlay_name(file, used):
    name = f"{Path(file).parent.name}_{Path(file).stem}"
    stem, number = name, 1
    while name in used:
        number += 1
        name = f"{stem}_{number}"
    used.add(name)
    return f"{name}.png"


def _write_overlay(image, saliency, outline, title, path):
    from matplotlib.figure import Figure  # matplotlib is loaded only when a picture is drawn

    from ..plotting import plot_saliency

    figure = Figure(figsize=(5, 4.4))  # not pyplot's: no window with any backend
    plot_saliency(image, saliency, ax=figure.add_subplot(), outline=outline, title=title)
    figure.savefig(path, dpi=100, bbox_inches="tight")


def _warn_line(console, message):
    console.warn(" ".join(str(message).splitlines()))


def _explain(args, console):
    files = _collect_files(args.inputs)
    model = _load(args, console)
    classes = [str(label) for label in getattr(model, "classes_", [])]
    if args.target is not None and args.target not in classes:
        raise CommandError(f"--target {args.target}: the model knows the classes "
                           f"{', '.join(classes)}")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    outlines = _outlines(files, console)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedImagesWarning)
        maps = saliency_maps(model, files, target=args.target, patch=args.patch,
                             stride=args.stride, n_jobs=args.n_jobs)
    skipped = [str(w.message) for w in caught if issubclass(w.category, SkippedImagesWarning)]
    for line in skipped:
        _warn_line(console, line)
    explained = [file for file, saliency in zip(files, maps) if saliency is not None]
    # one batched prediction of the explained images (the extraction engine's batches)
    probabilities = dict(zip(explained, model.predict_proba(explained) if explained else []))
    rows, used = [], set()
    for file, saliency in zip(files, maps):
        row = {"file": file, "overlay": "", "class": "", "target": "", "probability": np.nan,
               **dict.fromkeys(SALIENCY_SCORES, np.nan), "error": ""}
        if saliency is None:
            row["error"] = next((line.split(": ", 1)[-1] for line in skipped if file in line), "")
            rows.append(row)
            continue
        proba = probabilities[file]
        predicted = classes[int(np.argmax(proba))]
        target = args.target or predicted
        outline = outlines.get(str(Path(file).resolve()))
        image = read_image(file)
        try:
            scores = outline_scores(saliency, image, outline, name=file)
        except ValueError as error:  # an outline that does not fit: say so, score without it
            _warn_line(console, f"{error}; scored without it")
            outline, scores = None, outline_scores(saliency, image)
            row["error"] = str(error).split(": ", 1)[-1]
        row.update(scores, **{"class": predicted, "target": target,
                              "probability": float(proba[classes.index(target)])})
        row["overlay"] = _overlay_name(file, used)
        _write_overlay(image, saliency, outline,
                       f"{Path(file).name}: {target} ({row['probability']:.2f})",
                       output / row["overlay"])
        rows.append(row)
    table = pd.DataFrame(rows)
    table.to_csv(output / "saliency_scores.csv", index=False)
    explained = int(table["overlay"].astype(bool).sum())
    if not explained:
        raise CommandError(f"none of the {len(files)} images could be explained")
    console.note(f"wrote {explained} overlays and saliency_scores.csv to {output}")
    return _exit_code(args, skipped)
