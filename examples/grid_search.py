"""
Grid search with patient groups
===============================

Tune a preprocessing, a feature and a classifier parameter at once with
:class:`~sklearn.model_selection.GridSearchCV`. ``StratifiedGroupKFold`` keeps
every patient's slices on one side of each split, and ``memory=`` caches
feature rows, so settings that only change the classifier reuse them.
"""

import tempfile

import pandas as pd
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from braintumor_features import make_pipeline
from braintumor_features.datasets import make_demo

demo = make_demo(n_samples=80, image_size=64, random_state=0)

with tempfile.TemporaryDirectory() as cache:
    pipe = make_pipeline("svm", image_size=64, memory=cache, random_state=0)
    grid = {
        "clahe__tile_grid_size": [4, 8],
        "features__lbp__radii": [(1,), (1, 2)],
        "classifier__C": [1, 100],
    }
    search = GridSearchCV(pipe, grid, cv=StratifiedGroupKFold(n_splits=3))
    search.fit(demo.images, demo.target, groups=demo.groups)

results = pd.DataFrame(search.cv_results_)
columns = [f"param_{name}" for name in grid] + ["mean_test_score", "rank_test_score"]
print(results[columns].sort_values("rank_test_score").to_string(index=False))
print("best:", search.best_params_)
