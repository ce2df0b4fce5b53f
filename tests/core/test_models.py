import pytest
import torch

from kgn_gui.core.errors import SpecError
from kgn_gui.core.model.architectures import (
    ModelSpec,
    build_model,
    count_parameters,
    paper_mnist_spec,
    spec_parameter_count,
)


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
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(D=0),
        dict(D=4, L=0),
        dict(D=4, H=-1),
        dict(D=4, bound="relu"),
        dict(D=4, arch="gan"),
        dict(D=4, shape=(1, 3, 3)),
        dict(D=4, L=2.5),
    ],
)
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


IMAGE_ARCHS = ["cnn", "unet", "transformer"]
SHAPES = [(1, 28, 28), (3, 32, 32), (1, 7, 9), (3, 5, 7)]  # (C = 1 or 3: what a picture draws)


def _small(arch, shape, bound="tanh", **kw):
    sizes = {"cnn": dict(L=3, H=4), "unet": dict(L=2, H=4), "transformer": dict(L=2, H=16)}[arch]
    return ModelSpec(D=int(torch.tensor(shape).prod()), arch=arch, shape=shape, bound=bound, **{**sizes, **kw})


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("arch", IMAGE_ARCHS)
@pytest.mark.parametrize("bound,lo,hi", [("sigmoid", 0.0, 1.0), ("tanh", -1.0, 1.0)])
def test_image_architectures_map_any_image_shape_to_itself_inside_the_bound(arch, shape, bound, lo, hi):
    spec = _small(arch, shape, bound)
    model = build_model(spec, seed=0)
    x = torch.randn(3, spec.D) * 50
    y = model(x)
    assert y.shape == (3, spec.D) and y.min() >= lo and y.max() <= hi
    assert model(x[0]).shape == (spec.D,)  # one flat sample, as torch.func passes it
    assert count_parameters(model) == spec_parameter_count(spec)
    # Nothing cropped away or left constant: (almost) every input value reaches the output, and (almost) every
    # output value changes with the input.
    g = torch.Generator().manual_seed(0)
    x1 = (torch.rand(8, spec.D, generator=g) * 2 - 1).requires_grad_(True)
    y1 = model(x1)
    y1.sum().backward()
    assert (x1.grad.abs().sum(0) > 0).float().mean() > 0.9
    assert (y1.detach().std(0) > 0).float().mean() > 0.9


def test_depth_adds_layers_and_levels_and_width_scales_the_channels():
    shape = (1, 28, 28)
    for arch in IMAGE_ARCHS:
        a, b = _small(arch, shape, L=2), _small(arch, shape, L=4)
        assert spec_parameter_count(b) > spec_parameter_count(a)
    conv = build_model(ModelSpec(D=784, L=4, H=8, arch="cnn", shape=shape))
    convs = [m for m in conv.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1]  # 28 → 14 → 7 → 4, then too small to halve
    unet = build_model(ModelSpec(D=784, L=3, H=8, arch="unet", shape=shape))
    assert len(unet.down) == len(unet.up) == len(unet.merge) == 3


def test_cnn_bottleneck_limits_what_passes_through():
    spec = ModelSpec(D=784, L=3, H=8, arch="cnn", shape=(1, 28, 28), bottleneck=5)
    linears = [m for m in build_model(spec).modules() if isinstance(m, torch.nn.Linear)]
    assert [lin.out_features for lin in linears][0] == 5
    assert spec_parameter_count(spec) > spec_parameter_count(ModelSpec(D=784, L=3, H=8, arch="cnn", shape=(1, 28, 28)))


def test_transformer_picks_patches_and_heads_and_pads_odd_images():
    spec = ModelSpec(D=784, L=1, H=64, arch="transformer", shape=(1, 28, 28))
    assert spec.effective_patch == 4 and spec.effective_heads == 2  # 49 patches, 64/32 heads
    spec = ModelSpec(D=3 * 30 * 30, L=1, H=48, arch="transformer", shape=(3, 30, 30), patch=4, heads=3)
    m = build_model(spec, seed=0)
    assert (m.gh, m.gw) == (8, 8)  # 30 padded to 32
    assert m(torch.rand(2, spec.D)).shape == (2, spec.D)
    assert "4×4 patches, 3 heads" in spec.describe()


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(D=2, arch="cnn"), "needs images"),
        (dict(D=4, arch="unet", shape=(4,)), "needs images"),
        (dict(D=16, arch="transformer", shape=(1, 4, 4), H=10, heads=3), "multiple of heads"),
        (dict(D=16, arch="transformer", shape=(1, 4, 4), patch=5), "larger than"),
        (dict(D=16, arch="mlp", bottleneck=3), "CNN autoencoder only"),
        (dict(D=16, arch="cnn", shape=(1, 4, 4), heads=2), "Transformer only"),
        (dict(D=16, arch="cnn", shape=(1, 4, 4), bottleneck=-1), "bottleneck"),
    ],
)
def test_architecture_options_that_do_not_apply_or_fit_are_refused(kwargs, needle):
    with pytest.raises(SpecError, match=needle):
        ModelSpec(**kwargs)


def test_old_spec_dicts_without_the_new_fields_still_load():
    d = {"D": 784, "L": 10, "H": 500, "bound": "tanh", "arch": "mlp", "shape": [1, 28, 28]}
    assert ModelSpec.from_dict(d) == paper_mnist_spec()
    spec = ModelSpec(D=784, L=2, H=8, arch="cnn", shape=(1, 28, 28), bottleneck=7)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
