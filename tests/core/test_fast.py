import pytest
import torch
from toy import tiny_dynamic

from dynamicnet.apps.style.recipe import builtin_recipes
from dynamicnet.apps.style.train import build_model
from dynamicnet.core import PreparedInput

X = torch.rand(1, 3, 32, 24, generator=torch.Generator().manual_seed(3))


@pytest.fixture(scope="module")
def style_net():
    torch.manual_seed(0)
    net = build_model(builtin_recipes()["dual"].with_overrides(width=4)).eval()
    for p in net.tuning_parameters():
        p.data.mul_(3)
    return net


ALPHAS = [0.0, 0.3, 1.0, -0.6, [0.0, 0.0, 0.7], [0.0, 0.0, 0.2], [1.0, -0.5, 0.25], {"higher": 0.4, "lower": 0.4}]


def test_prepared_equals_full_forward_for_every_alpha_form(style_net):
    prepared = PreparedInput(style_net, X)
    assert prepared.fast and prepared._affine_tail
    with torch.no_grad():
        for alpha in ALPHAS + ALPHAS[::-1]:  # the second pass hits the caches
            torch.testing.assert_close(prepared(alpha), style_net(X, alpha=alpha), rtol=0, atol=1e-4)


@pytest.mark.parametrize("points", [("out",), ("res3", "out"), ("up1",), ("res3", "up2")])
def test_other_block_placements(points):
    torch.manual_seed(1)
    net = build_model(builtin_recipes()["level"].with_overrides(width=4, insertion_points=points)).eval()
    for p in net.tuning_parameters():
        p.data.mul_(3)
    prepared = PreparedInput(net, X)
    assert prepared._affine_tail == (points[-1] == "out")
    alphas = [0.0, 0.5, 0.9, 0.5, [0.2] * len(points), [0.2] * (len(points) - 1) + [0.7]]
    with torch.no_grad():
        for alpha in alphas:
            torch.testing.assert_close(prepared(alpha), net(X, alpha=alpha), rtol=0, atol=1e-4)


def test_moving_only_the_last_alpha_reuses_the_tail(style_net):
    prepared = PreparedInput(style_net, X)
    prepared([0.5, 0.5, 0.0])
    calls = []
    handle = style_net.main.up1.register_forward_hook(lambda *a: calls.append(1))
    try:
        for a in (0.1, 0.6, 0.9):
            with torch.no_grad():
                torch.testing.assert_close(
                    prepared([0.5, 0.5, a]), style_net(X, alpha=[0.5, 0.5, a]), rtol=0, atol=1e-4
                )
    finally:
        handle.remove()
    assert len(calls) == 3  # only the reference full forwards ran up1; the prepared path reused h


def test_prefix_runs_once(style_net):
    calls = []
    handle = style_net.main.conv1.register_forward_hook(lambda *a: calls.append(1))
    try:
        prepared = PreparedInput(style_net, X)
        for a in (0.2, 0.4, -0.3):
            prepared(a)
    finally:
        handle.remove()
    assert len(calls) == 1


def test_non_sequential_networks_fall_back_to_full_forwards():
    net = tiny_dynamic().eval()
    prepared = PreparedInput(net, X)
    assert not prepared.fast
    with torch.no_grad():
        assert torch.equal(prepared(0.5), net(X, alpha=0.5))


def test_invalid_alpha_still_rejected(style_net):
    with pytest.raises(ValueError, match="finite"):
        PreparedInput(style_net, X)(float("nan"))
