"""Parameter names are read once per class, and are scikit-learn's."""

import inspect

from sklearn.base import BaseEstimator, clone

from braintumor_features import make_pipeline
from braintumor_features.preprocessing import Resize


def test_names_are_scikit_learns_and_read_once_per_class(monkeypatch):
    ours = [step for _, step in make_pipeline().steps if type(step).__module__.startswith("braintumor")]
    ours += [family for _, family in make_pipeline().named_steps["features"].families]
    for step in ours:
        assert type(step)._get_param_names() == BaseEstimator._get_param_names.__func__(type(step))

    def read_again(*args, **kwargs):
        raise AssertionError("inspect.signature called again")

    monkeypatch.setattr(inspect, "signature", read_again)
    for step in ours:
        assert clone(step).get_params().keys() == step.get_params().keys()


def test_a_subclass_has_its_own_names():
    class Wider(Resize):
        def __init__(self, size=256, keep_aspect=True, interpolation="area", border=0):
            super().__init__(size=size, keep_aspect=keep_aspect, interpolation=interpolation)
            self.border = border

    assert "border" in Wider().get_params()
    assert "border" not in Resize().get_params()
