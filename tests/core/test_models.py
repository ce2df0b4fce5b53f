import pytest
import torch

from kgn_gui.core.models import (ModelSpec, SpecError, build_model, count_parameters, paper_mnist_spec,
                                 spec_parameter_count)


def test_paper_mnist_spec_has_exactly_3039784_parameters():
    spec = paper_mnist_spec()
    assert count_parameters(build_model(spec)) == 3_039_784 == spec_parameter_count(spec)


def test_mlp_layout_is_L_hidden_relu_layers_then_linear_and_bound():
    model = build_model(ModelSpec(D=3, L=4, H=7, bound="sigmoid"))
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Linear", "ReLU"] * 4 + ["Linear", "Sigmoid"]
    assert model.net[0].in_features == 3 and model.net[-2].out_features == 3


@pytest.mark.parametrize("bound,lo,hi", [("sigmoid", 0.0, 1.0), ("tanh", -1.0, 1.0)])
def test_outputs_stay_inside_the_bound(bound, lo, hi):
    model = build_model(ModelSpec(D=5, L=3, H=16, bound=bound), seed=1)
    y = model(torch.randn(100, 5) * 50)
    assert y.min() >= lo and y.max() <= hi


def test_seed_makes_initial_weights_reproducible():
    spec = ModelSpec(D=4, L=2, H=8)
    a, b = build_model(spec, seed=3), build_model(spec, seed=3)
    c = build_model(spec, seed=4)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize("kwargs", [dict(D=0), dict(D=4, L=0), dict(D=4, H=-1), dict(D=4, bound="relu"),
                                    dict(D=4, arch="gan"), dict(D=4, shape=(1, 3, 3)), dict(D=4, L=2.5)])
def test_bad_specs_are_refused(kwargs):
    with pytest.raises(SpecError):
        ModelSpec(**kwargs)


def test_spec_dict_round_trip_and_unknown_fields():
    spec = paper_mnist_spec()
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError):
        ModelSpec.from_dict({**spec.to_dict(), "evil": 1})
    with pytest.raises(SpecError):
        ModelSpec.from_dict({"L": 3})
