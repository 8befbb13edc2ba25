"""Parameter names read once per class, not on every ``get_params``.

scikit-learn reads an estimator's parameter names from its ``__init__``
signature (:func:`inspect.signature`) on every ``get_params``, ``clone``,
``set_params`` and parameter check. A grid search over the default pipeline
makes about six thousand such calls on this library's image steps and feature
extractors; the names of a class never change, so they are read once.
"""

from __future__ import annotations

from functools import lru_cache

from sklearn.base import BaseEstimator

__all__ = ["ParameterNamesOnce"]


@lru_cache(maxsize=None)
def _parameter_names(cls) -> tuple:
    return tuple(BaseEstimator._get_param_names.__func__(cls))


class ParameterNamesOnce:
    """Mixin, placed before :class:`~sklearn.base.BaseEstimator`, that remembers the
    parameter names scikit-learn reads from each class's ``__init__`` signature.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> from braintumor_features._parameters import ParameterNamesOnce
    >>> class Step(ParameterNamesOnce, BaseEstimator):
    ...     def __init__(self, size=8, margin=0):
    ...         self.size, self.margin = size, margin
    >>> Step(size=4).get_params()
    {'margin': 0, 'size': 4}
    """

    @classmethod
    def _get_param_names(cls):
        return list(_parameter_names(cls))
