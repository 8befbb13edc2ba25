"""
Which features does a random forest use?
========================================

Fit the random-forest pipeline, then rank features two ways with
:func:`~braintumor_features.evaluation.feature_importance`: the forest's own
impurity decrease, and permutation importance on images of patients the
model has not seen (the less biased of the two).
"""

import matplotlib.pyplot as plt
from sklearn.model_selection import GroupShuffleSplit

from braintumor_features import make_pipeline
from braintumor_features.datasets import make_demo
from braintumor_features.evaluation import feature_importance
from braintumor_features.plotting import plot_feature_importance

demo = make_demo(n_samples=80, image_size=64, random_state=0)
train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.3, random_state=0)
                   .split(demo.images, demo.target, demo.groups))

pipe = make_pipeline("rf", image_size=64, random_state=0)
pipe.set_params(classifier__n_estimators=60)
pipe.fit([demo.images[i] for i in train], demo.target[train])

impurity = feature_importance(pipe, None, None, method="impurity")
permutation = feature_importance(pipe, [demo.images[i] for i in test], demo.target[test],
                                 n_repeats=2)
print("Top features by impurity decrease:")
print(impurity.head(8).to_string())
print("\nPermutation importance summed per family (held-out patients):")
print(permutation.groupby("family")["importance"].sum().sort_values(ascending=False).to_string())

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_feature_importance(impurity, by="feature", top=10, ax=axes[0])
plot_feature_importance(permutation, by="family", ax=axes[1])
fig.tight_layout()
plt.show()
