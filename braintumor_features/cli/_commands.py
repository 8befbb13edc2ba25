"""The commands: train, evaluate, predict, extract, demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..datasets import (
    IMAGE_SUFFIXES,
    is_image_file,
    make_demo,
)
from ..evaluation import evaluate
from ..images import with_masks
from ..persistence import image_digests, load_model, model_metadata, save_model
from ..pipeline import make_pipeline
from ._console import (
    CHUNK,
    CommandError,
    _check_classes,
    _check_folds,
    _check_quiet,
    _counts,
    _cross_validate,
    _exit_code,
    _good_rows,
    _is_network,
    _join_duplicates,
    _listing,
    _load_data,
    _out_of_distribution,
    _print_report,
    _reason,
    _report_skipped,
    _require_some,
    _skipping,
    _split,
    _warn_out_of_distribution,
    _warn_single_source_classes,
    _where,
    extract_features,
)

__all__ = []


def _pipeline(args, classifier="svm", random_state=None):
    """``make_pipeline`` with the options of ``_work_options``."""
    model = make_pipeline(classifier, features=args.features, image_size=args.image_size,
                          n_jobs=args.n_jobs, random_state=random_state)
    return model.set_params(clahe="passthrough") if args.no_clahe else model


def _learning_families(extractor):
    return [name for name, family in extractor.families
            if family.__sklearn_tags__().requires_fit]


def _outlined_rows(front, data, learning, args, console):
    """Rows of every image, those of the families that learn from outlines cross-fitted
    (:meth:`~braintumor_features.features.ImageFeatures.fit_transform`); the images with
    their outlines."""
    outlined = sum(mask is not None for mask in data.masks)
    if not outlined:
        raise CommandError(
            f"{_where(args.data_dir)}: --features {','.join(learning)} learns from tumour "
            "outlines and no image has one; give them in metadata.csv's tumor_border column "
            "(see the user guide's data page)")
    console.note(f"{','.join(learning)}: learning from the outlines of {outlined} images, "
                 "rows cross-fitted over the subjects")
    items = with_masks(data.paths, data.masks)
    extractor = front.steps[-1][1]
    with _skipping(extractor):
        rows = front.fit_transform(items, features__groups=data.groups)
    return rows, list(extractor.skipped_), items


def _breakdowns(report, data, good):
    """Print the cross-validated scores of each source and each MR sequence (metadata.csv's
    ``sequence`` column) when there are several; returns them for the training summary:
    ``{"by_source": {source: {"n": ..., "accuracy": ..., "balanced_accuracy": ...}}}``."""
    found = {}
    for name, values in (("source", data.sources), ("sequence", data.sequence)):
        if values is None:
            continue
        table = report.breakdown(np.asarray(values)[good], name)
        if len(table) > 1:
            print()
            print(f"by {name} (out-of-fold predictions):")
            print(table.round(3).to_string())
            found[f"by_{name}"] = json.loads(
                table[["n", "accuracy", "balanced_accuracy"]].to_json(orient="index"))
    return found


def _breakdown_columns(data, good):
    """The columns the report's tables break the scores down by (source, sequence)."""
    columns = [name for name in ("source", "sequence") if name in data.frame.columns]
    return data.frame.loc[good, columns].reset_index(drop=True)


def _train(args, console):
    if args.classifier == "cnn":
        return _train_network(args, console)
    data = _load_data(args.data_dir, console, min_classes=2)
    _warn_single_source_classes(data.target, data.sources)
    model = _pipeline(args, args.classifier, random_state=args.random_state)
    if args.cv:  # before the extraction, which it would waste
        _check_folds(args.cv, data.groups, model, data.target, args.random_state)
    front, back = _split(model, "make_pipeline")
    learning = _learning_families(front.steps[-1][1])
    if learning:
        rows, skipped, items = _outlined_rows(front, data, learning, args, console)
    else:
        front.fit(data.paths)
        rows, skipped = extract_features(front, data.paths, console)
        items = data.paths
    _report_skipped(skipped, len(rows), console)
    good = _good_rows(rows)
    _require_some(good, _where(args.data_dir))
    rows, y, groups = rows[good], data.target[good], data.groups[good]
    paths = [path for path, ok in zip(data.paths, good) if ok]
    _check_classes(y, _where(args.data_dir))
    several = len(args.data_dir) > 1
    training = {
        "data": [str(p) for p in args.data_dir] if several else str(args.data_dir[0]),
        "n_images": int(good.sum()), "n_skipped": len(skipped),
        "n_subjects": len(np.unique(groups)),
        "class_counts": _counts(y), "sources": _counts(data.sources[good]),
        "folders": [str(Path(p).resolve()) for p in args.data_dir],
        # evaluate warns when its test images are these (same file or same bytes)
        **image_digests(paths),
    }
    sources = f"; sources {_listing(training['sources'])}" if several else ""
    if args.cv:
        joined = _join_duplicates(paths, groups, args.n_jobs, console)
        if learning:  # the whole pipeline in each fold: the outlines' lessons stay inside it
            console.note(f"cross-validation refits {','.join(learning)} in each fold")
            kept = [item for item, ok in zip(items, good) if ok]
            report = _cross_validate(clone(model), kept, y, joined, args.cv, args.random_state,
                                     params={"features__groups": joined}, paths=paths,
                                     metadata=_breakdown_columns(data, good))
        else:
            report = _cross_validate(back, rows, y, joined, args.cv, args.random_state,
                                     paths=paths, metadata=_breakdown_columns(data, good))
        _print_report(report, f"subject-grouped {args.cv}-fold cross-validation "
                              f"({len(y)} images, {training['n_subjects']} subjects{sources}):")
        training["cv"] = {"folds": args.cv, "accuracy": report.accuracy,
                          "balanced_accuracy": report.balanced_accuracy,
                          **_breakdowns(report, data, good)}
    back.fit(rows, y)
    _save_trained(model, args, training, report if args.cv else None, console, sources)
    return _exit_code(args, skipped)


def _save_trained(model, args, training, report, console, sources=""):
    """Write the fitted model, the cross-validation's HTML report if asked, and say so."""
    save_model(model, args.output, training=training)
    if report is not None and args.report:
        _write_report(report, args.report, console,
                      title=f"Cross-validation of {Path(args.output).name}",
                      description=f"Subject-grouped {args.cv}-fold cross-validation on the images "
                                  f"of {_where(args.data_dir)}.",
                      model=model_metadata(model, training), pipeline=model,
                      n_saliency=args.saliency)
    classes = ", ".join(map(str, model.classes_))
    console.note(f"wrote {args.output} ({training['n_images']} images, classes {classes}{sources})")


def _train_network(args, console):
    """``train --classifier cnn``: the pipeline fits on the images themselves (no feature
    rows); the subjects are the network's validation split and the folds' groups, and the
    tumour outlines (metadata.csv) teach it where the tumour is (``mask_weight``)."""
    data = _load_data(args.data_dir, console, min_classes=2)
    _warn_single_source_classes(data.target, data.sources)
    model = _pipeline(args, "cnn", random_state=args.random_state)
    if args.cv:
        _check_folds(args.cv, data.groups, model, data.target, args.random_state)
    model.set_params(classifier__verbose=1 if console.verbosity > 0 else 0)
    y, groups = data.target, data.groups
    _check_classes(y, _where(args.data_dir))
    items = data.paths
    outlined = sum(mask is not None for mask in data.masks)
    if outlined and model.get_params()["classifier__mask_weight"] > 0:
        console.note(f"cnn: learning where the tumour is from the outlines of {outlined} images")
        items = with_masks(data.paths, data.masks)
    several = len(args.data_dir) > 1
    training = {
        "data": [str(p) for p in args.data_dir] if several else str(args.data_dir[0]),
        "n_images": len(y), "n_skipped": 0, "n_subjects": len(np.unique(groups)),
        "class_counts": _counts(y), "sources": _counts(data.sources),
        "folders": [str(Path(p).resolve()) for p in args.data_dir],
        **image_digests(data.paths),
    }
    if args.cv:
        joined = _join_duplicates(data.paths, groups, args.n_jobs, console)
        report = _cross_validate(clone(model), items, y, joined, args.cv, args.random_state,
                                 params={"classifier__groups": joined}, paths=data.paths,
                                 metadata=_breakdown_columns(data, np.ones(len(y), bool)))
        _print_report(report, f"subject-grouped {args.cv}-fold cross-validation "
                              f"({len(y)} images, {training['n_subjects']} subjects):")
        training["cv"] = {"folds": args.cv, "accuracy": report.accuracy,
                          "balanced_accuracy": report.balanced_accuracy,
                          **_breakdowns(report, data, np.ones(len(y), bool))}
    model.fit(items, y, classifier__groups=groups)
    _save_trained(model, args, training, report if args.cv else None, console)
    return 0


def _load(args, console, return_metadata=False):
    """The model of ``--model`` (and its metadata, None for a plain pickle)."""
    model, metadata = load_model(args.model, trusted=args.trust, return_metadata=True)
    if metadata:
        training = metadata.get("training") or {}
        sources = f" ({_listing(training['sources'])})" if training.get("sources") else ""
        console.note(f"{args.model}: trained {metadata['created']} on "
                     f"{training.get('n_images', '?')} images{sources}", level=2)
    return (model, metadata) if return_metadata else model


def _evaluate(args, console):
    model, metadata = _load(args, console, return_metadata=True)
    where = _where(args.data_dir)
    data = _load_data(args.data_dir, console, min_classes=1)
    if _is_network(model):  # the network takes the canonical images
        back = model[-1:]
        good, inputs, skipped = _network_inputs(model, data.paths, console, "images")
    else:
        front, back = _split(model, args.model)
        rows, skipped = extract_features(front, data.paths, console)
        good = _good_rows(rows)
        inputs = rows[good]
    _report_skipped(skipped, len(data.paths), console)
    _require_some(good, where)
    y = data.target[good]
    known = np.asarray(model.classes_)
    unseen = sorted(set(y) - set(known.astype(str)))
    if unseen:
        console.warn(
            f"{where}: classes the model was never trained on: {', '.join(unseen)} "
            f"({int(np.isin(y, unseen).sum())} images); they count as errors. The model knows: "
            + ", ".join(map(str, known))
        )
    paths = [path for path, ok in zip(data.paths, good) if ok]
    # warns (TrainingOverlapWarning) when the images are the model's training images
    with _check_quiet():
        report = evaluate(back, inputs, y, cv="prefit", groups=data.groups[good],
                          paths=paths, metadata=_breakdown_columns(data, good),
                          training=(metadata or {}).get("training"))
    _warn_out_of_distribution(_out_of_distribution(back, inputs), paths, console)
    _print_report(report, f"{args.model} on {where} ({len(y)} images):")
    if args.report:
        _write_report(report, args.report, console, title=f"Evaluation of {Path(args.model).name}",
                      description=f"Model {args.model} on the images of {where}.", model=metadata,
                      pipeline=model, n_saliency=args.saliency)
    return _exit_code(args, skipped)


def _write_report(report, path, console, *, title, description, model=None, **saliency):
    """The HTML report of ``report``, with the model's training summary when ``model`` (its
    metadata) is given, and saliency maps of ``pipeline`` (``n_saliency`` per group)."""
    from ..report import (
        write_report,  # matplotlib is loaded only when a report is asked for
    )

    write_report(report, path, title=title, description=description, model=model, **saliency)
    console.note(f"wrote {path}")


def _collect_files(inputs):
    files = []
    for entry in map(Path, inputs):
        if entry.is_dir():
            found = sorted(p for p in entry.rglob("*") if is_image_file(p))
            if not found:
                raise CommandError(f"{entry}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it")
            files += found
        elif entry.exists():
            files.append(entry)
        else:
            raise CommandError(f"{entry}: no such file or folder")
    return [str(f) for f in files]


def _feature_predictions(rows, back):
    """Which rows could be read, their classes, probabilities (or None) and flags (or None)
    from the model after its feature step."""
    good = _good_rows(rows)
    if not good.any():
        return good, [], None, None
    with _check_quiet():  # the caller names the flagged files once
        proba = back.predict_proba(rows[good]) if hasattr(back, "predict_proba") else None
        return good, back.predict(rows[good]), proba, _out_of_distribution(back, rows[good])


def _network_inputs(model, files, console, description):
    """Which files a network model (``make_pipeline("cnn")``: image steps, then the
    network) can read, their canonical images, and the skipped ones (computed chunk by
    chunk; a file that cannot be read or processed loses no other)."""
    steps = model[:-1]
    good, images, skipped = np.zeros(len(files), bool), [], []
    with console.progress(len(files), description) as bar:
        for start in range(0, len(files), CHUNK):
            chunk = steps.transform(files[start : start + CHUNK])
            for index in range(len(chunk)):
                try:
                    images.append(chunk[index])
                    good[start + index] = True
                except Exception as exc:
                    skipped.append({"index": start + index, "image": files[start + index],
                                    "reason": f"{type(exc).__name__}: {exc}"})
            bar.update(len(chunk))
    return good, images, skipped


def _network_predictions(model, files, console):
    """The same as :func:`_feature_predictions` from a network model, and the skipped
    files."""
    good, images, skipped = _network_inputs(model, files, console, "predict")
    network = model[-1]
    proba = network.predict_proba(images) if images else None
    predicted = network.classes_[proba.argmax(axis=1)] if images else []
    return good, predicted, proba, None, skipped


def _predictions_frame(files, classes, good, predicted, proba, flags, skipped):
    frame = pd.DataFrame({"file": files, "class": pd.Series([None] * len(files), dtype=object)})
    if good.any():
        frame.loc[good, "class"] = np.asarray(predicted).astype(str)
        if proba is not None:
            frame.loc[good, classes] = proba
    # The model's DistributionCheck (make_pipeline's "check" step) tells which images lie
    # outside what it was trained on; their predictions are given, but flagged. An image
    # that could not be read has no flag (empty, null), as it has no class; a model without
    # a check (a network) flags none (empty, null).
    frame["out_of_distribution"] = pd.Series([None] * len(files), dtype=object)
    if flags is not None:
        frame.loc[good, "out_of_distribution"] = pd.Series(flags.tolist(), dtype=object,
                                                           index=frame.index[good])
    frame["error"] = ""
    for entry in skipped:
        frame.loc[entry["index"], "error"] = _reason(entry)
    return frame


def _predict(args, console):
    files = _collect_files(args.inputs)
    model = _load(args, console)
    if _is_network(model):
        good, predicted, proba, flags, skipped = _network_predictions(model, files, console)
    else:
        front, back = _split(model, args.model)
        rows, skipped = extract_features(front, files, console, description="predict")
        good, predicted, proba, flags = _feature_predictions(rows, back)
    _report_skipped(skipped, len(files), console)
    _require_some(good, _where(args.inputs))
    classes = [str(c) for c in model.classes_] if proba is not None else []
    frame = _predictions_frame(files, classes, good, predicted, proba, flags, skipped)
    flagged = frame["out_of_distribution"].eq(True).to_numpy()
    _warn_out_of_distribution(flagged, files, console)
    if args.format == "json":
        records = [{"file": r["file"], "class": r["class"],
                    "probabilities": None if r["error"] else {c: float(r[c]) for c in classes},
                    "out_of_distribution": (None if r["out_of_distribution"] is None
                                            else bool(r["out_of_distribution"])),
                    "error": r["error"] or None} for r in frame.to_dict("records")]
        print(json.dumps(records, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        print(frame.to_csv(index=False), end="")
    else:
        frame["class"] = frame["class"].fillna("-")  # the reasons are listed on stderr
        frame["out_of_distribution"] = frame["out_of_distribution"].fillna("-")
        print(frame.drop(columns="error").to_string(
            index=False, float_format=lambda v: f"{v:.3f}", na_rep=""))
    return _exit_code(args, skipped)


def _write_table(table, path):
    """CSV or Parquet, as the suffix says (the parser checked it, and pyarrow for Parquet)."""
    if Path(path).suffix.lower() == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, index=False)


def _extract(args, console):
    data = _load_data(args.data_dir, console, min_classes=1)
    front, back = _split(_pipeline(args), "make_pipeline")
    front.fit(data.paths)
    rows, skipped = extract_features(front, data.paths, console)
    _report_skipped(skipped, len(rows), console)
    good = _good_rows(rows)
    _require_some(good, _where(args.data_dir))
    # the features a classifier learns from: not the acquisition columns, which only the
    # model's distribution check reads (a table of them would teach the file's size)
    names = rows.columns[~rows.columns.str.startswith(back.named_steps["check"].acquisition)]
    columns = ["file", "label", "subject"] + (["source"] if len(args.data_dir) > 1 else [])
    table = pd.concat(
        [data.frame.loc[good, columns].reset_index(drop=True),
         rows.loc[good, names].reset_index(drop=True)], axis=1)
    _write_table(table, args.output)
    console.note(f"wrote {args.output} ({len(table)} images x {len(names)} features)")
    return _exit_code(args, skipped)


def _demo(args, console):
    demo = make_demo(n_samples=args.n_samples, image_size=128, random_state=args.random_state)
    model = make_pipeline(args.classifier, image_size=128, n_jobs=args.n_jobs,
                          random_state=args.random_state)
    front, back = _split(model, "make_pipeline")
    front.fit(demo.images)
    rows, _ = extract_features(front, demo.images, console)
    report = _cross_validate(back, rows, demo.target, demo.groups, 5, args.random_state)
    print(f"demo: {len(demo.images)} synthetic slices, {args.classifier}, "
          f"subject-grouped 5-fold accuracy {report.accuracy:.3f}")
    print("confusion matrix (rows true, columns predicted):")
    print(report.confusion_frame().to_string())
    return 0
