"""
Which features does a random forest use?
========================================

Fit the random-forest pipeline on the images of some patients, then ask
:func:`~braintumor_features.evaluation.feature_importance` two questions:

- **Impurity decrease** (``method="impurity"``): how much the forest's splits
  on a feature purified the *training* images, as a share of the total (all
  features sum to 1). ``std`` is its spread over the forest's trees. Cheap,
  but it favours features with many distinct values and says nothing about
  new patients.
- **Permutation importance** on images of patients the model has *not* seen:
  shuffle a feature family's columns across the images (one shuffle for the
  whole family) and measure how much accuracy drops. 0 means the model does
  not need the family; ``std`` is the spread over the shuffles.

Shuffle whole families, not single columns: the default features are
thousands of highly correlated histogram bins and texture statistics, so
the forest can read what one shuffled column carried from its neighbours.
Each column's own permutation importance is then about zero, half of them
slightly negative by chance, and their sum per family adds up that noise.
"""

import matplotlib.pyplot as plt
from sklearn.model_selection import GroupShuffleSplit

from braintumor_features import make_pipeline
from braintumor_features.datasets import make_demo
from braintumor_features.evaluation import feature_importance
from braintumor_features.plotting import plot_feature_importance

# %%
# Train on 70 % of the (synthetic) patients, keep the rest for permutation.
demo = make_demo(n_samples=120, image_size=96, random_state=0)
train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.3, random_state=0)
                   .split(demo.images, demo.target, demo.groups))
X_train, y_train = [demo.images[i] for i in train], demo.target[train]
X_test, y_test = [demo.images[i] for i in test], demo.target[test]

pipe = make_pipeline("rf", image_size=96, random_state=0)
pipe.set_params(classifier__n_estimators=100).fit(X_train, y_train)
print(f"held-out accuracy: {pipe.score(X_test, y_test):.3f} on {len(test)} images "
      f"(chance: 0.25)")

# %%
# The forest's own view: impurity decrease per feature and per family.
impurity = feature_importance(pipe, None, None, method="impurity")
print("\nTop features by impurity decrease (std: spread over the 100 trees):")
print(impurity.head(8).round(4).to_string())
print("\nImpurity decrease per family (sums to 1):")
by_family = feature_importance(pipe, None, None, method="impurity", by="family")
print(by_family[["importance", "std"]].round(3).to_string())

# %%
# What held-out accuracy loses when a whole family is shuffled.
families = feature_importance(pipe, X_test, y_test, by="family", n_repeats=5)
print("\nDrop in held-out accuracy when a family is shuffled (5 shuffles):")
print(families[["importance", "std"]].round(3).to_string())

# %%
# Left: the ten features with the largest impurity decrease, with their
# spread over the trees. Right: the accuracy each family is worth on new
# patients, with the spread over the shuffles. The two views need not agree:
# impurity counts every split on the training images, including those that
# only tell training images apart; permutation measures what carries over
# to new patients.
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_feature_importance(impurity, by="feature", top=10, ax=axes[0])
axes[0].set_title("Impurity decrease (training images)")
plot_feature_importance(families, by="feature", ax=axes[1])
axes[1].set(title="Permutation, whole family (held-out patients)",
            xlabel="drop in accuracy")
fig.tight_layout()
plt.show()
