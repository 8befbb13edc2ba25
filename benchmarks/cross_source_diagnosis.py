"""Why the default model fails on a second source: where its slices land, and what does not help.

Usage::

    python benchmarks/cross_source_diagnosis.py [--data ../shared/data/brain-mri]
        [--second-source ../shared/data/brain-mri-sartaj] [--n-jobs 2]

The default features (``make_pipeline()`` up to ``features``) of both sources are
computed once; every model below is trained on all of brain-mri and scored on
brain-mri-sartaj, 4-class. Printed:

1. the default model's confusion matrix on the second source (rows: true class,
   columns: predicted);
2. the same features under other classifiers (an SVM with a wider kernel,
   logistic regression, 5 nearest neighbours, a random forest): when all of them
   send the second source's tumours to ``no_tumor``, the features carry the
   source, not the classifier;
3. the class of each second-source slice's nearest brain-mri slice in the
   default scaler's feature space, per true class;
4. per-source standardisation: each source's feature columns scaled by that
   source's own mean and standard deviation (or median and interquartile
   range), a transductive harmonisation that needs a batch of the new source's
   images and assumes both sources hold the classes in similar proportions;
5. both sources in training, subject-grouped 5-fold CV on the union, with the
   second source's rows weighted 1, 3 or 10 in the SVM (``sample_weight``), at
   the default ``C=10`` and at ``C=0.3``: accuracy on each source's rows.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from sklearn.preprocessing import RobustScaler, StandardScaler

from braintumor_features import make_pipeline
from braintumor_features.datasets import find_duplicates, load_folder, merge_duplicate_groups

from accuracy import grouped_predictions, split_stateless, two_source_parser, union


def confusion_frame(y, predicted, labels):
    """Confusion matrix (rows: true class, only those present; columns: predicted)."""
    frame = pd.DataFrame(confusion_matrix(y, predicted, labels=labels), index=labels,
                         columns=labels)
    return frame.loc[[label for label in labels if (y == label).any()]]


def classifier_sweep(learned, features, y, other_features, y_other):
    """Cross-source accuracy and the share of second-source tumours called no_tumor, with
    the default scaler and each classifier."""
    models = {
        "default SVM (C=10, gamma='scale')": clone(learned[-1]),
        "SVM, gamma=1e-4": clone(learned[-1]).set_params(gamma=1e-4),
        "logistic regression (C=0.1)": LogisticRegression(C=0.1, max_iter=2000,
                                                          class_weight="balanced"),
        "5 nearest neighbours": KNeighborsClassifier(5),
        "random forest (300 trees)": RandomForestClassifier(300, class_weight="balanced",
                                                            n_jobs=2, random_state=0),
    }
    tumours = y_other != "no_tumor"
    rows = []
    for name, model in models.items():
        predicted = clone(learned).set_params(classifier=model).fit(features, y).predict(
            other_features)
        rows.append({"classifier": name, "cross-source": accuracy_score(y_other, predicted),
                     "tumours called no_tumor": np.mean(predicted[tumours] == "no_tumor")})
    return pd.DataFrame(rows).set_index("classifier")


def nearest_labels(features, y, other_features, y_other, labels):
    """Per true second-source class, how often its nearest brain-mri slice is of each class."""
    scaler = StandardScaler().fit(features)
    search = NearestNeighbors(n_neighbors=1).fit(scaler.transform(features))
    nearest = y[search.kneighbors(scaler.transform(other_features))[1][:, 0]]
    return confusion_frame(y_other, nearest, labels)


def per_source_scaling(learned, features, y, other_features, y_other, predicted):
    """Cross-source accuracy of the default SVM with each source scaled by its own statistics,
    after that of the default model (its ``predicted`` second-source labels)."""
    rows = {"one scaler, fitted on brain-mri (default)": accuracy_score(y_other, predicted)}
    for name, scaler in [("each source by its own mean and std", StandardScaler),
                         ("each source by its own median and IQR", RobustScaler)]:
        svm = clone(learned[-1]).fit(scaler().fit_transform(features), y)
        rows[name] = accuracy_score(y_other, svm.predict(scaler().fit_transform(other_features)))
    return pd.Series(rows, name="cross-source")


def weighted_union(learned, features, data, groups, other_features, other):
    """Subject-grouped CV on both sources with the second source's rows weighted."""
    X, y, union_groups = union(features, data, groups, other_features, other)
    second = np.arange(len(y)) >= len(features)
    rows = []
    for C in (10.0, 0.3):
        for weight in (1.0, 3.0, 10.0):
            predicted = grouped_predictions(
                clone(learned).set_params(classifier__C=C), X, y, union_groups,
                params={"classifier__sample_weight": np.where(second, weight, 1.0)})
            rows.append({"C": C, "second-source weight": weight,
                         "union": accuracy_score(y, predicted),
                         "brain-mri rows": accuracy_score(y[~second], predicted[~second]),
                         "second-source rows": accuracy_score(y[second], predicted[second])})
    return pd.DataFrame(rows)


def main(argv=None):
    args = two_source_parser(__doc__).parse_args(argv)
    data, other = load_folder(args.data), load_folder(args.second_source)
    groups = merge_duplicate_groups(data.groups, find_duplicates(data.paths, n_jobs=args.n_jobs))
    stateless, learned = split_stateless(make_pipeline(n_jobs=args.n_jobs, random_state=0))
    features, other_features = stateless.transform(data.paths), stateless.transform(other.paths)
    y, y_other, labels = data.target, other.target, list(data.target_names)
    format_ = {"float_format": "{:.3f}".format}
    predicted = clone(learned).fit(features, y).predict(other_features)
    print(f"1. default model, trained on {args.data.name}, on {args.second_source.name} "
          f"(accuracy {accuracy_score(y_other, predicted):.3f}); rows true, columns predicted:")
    print(confusion_frame(y_other, predicted, labels).to_string())
    print("\n2. other classifiers on the same features (the default scaler first):")
    print(classifier_sweep(learned, features, y, other_features, y_other).to_string(**format_))
    print(f"\n3. class of the nearest {args.data.name} slice (rows: true class of the "
          f"{args.second_source.name} slice):")
    print(nearest_labels(features, y, other_features, y_other, labels).to_string())
    print("\n4. per-source standardisation of the features (default SVM):")
    print(per_source_scaling(learned, features, y, other_features, y_other, predicted).to_string(
        **format_))
    print("\n5. both sources in training, subject-grouped 5-fold CV, second source weighted:")
    print(weighted_union(learned, features, data, groups, other_features, other).to_string(
        index=False, **format_))


if __name__ == "__main__":
    main()
