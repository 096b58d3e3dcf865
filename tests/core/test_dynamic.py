import math

import pytest
import torch
from toy import POINTS, TinyNet, tiny_dynamic

from dynamicnet.core import DynamicNet, TuningBlock

X = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def test_tuning_block_shape_and_zero_init():
    block = TuningBlock(8)
    z = torch.randn(2, 8, 5, 7)
    assert block(z).shape == z.shape
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 3 and all(c.kernel_size == (3, 3) and c.bias is not None for c in convs)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d)) for m in block.modules())
    assert torch.equal(TuningBlock(8, zero_init=True)(z), torch.zeros_like(z))


def test_channels_inferred_from_layers_and_by_probe():
    net = tiny_dynamic()
    assert net.channels == (8, 8, 8)
    probed = DynamicNet(TinyNet(width=5), ["c3"], example_input=X)
    assert probed.channels == (5,)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_alpha_zero_is_exactly_the_main_network(mode):
    net = tiny_dynamic(sets=("higher", "lower"))
    getattr(net, mode)()
    ref = net.main(X)  # main alone, same mode
    for alpha in (None, 0, 0.0, [0, 0, 0], {"higher": 0.0}):
        assert torch.equal(net(X, alpha=alpha), ref)


def test_alpha_changes_output_and_is_continuous():
    net = tiny_dynamic().eval()
    base = net(X)
    assert not torch.allclose(net(X, alpha=1.0), base)
    diffs = [(net(X, alpha=a) - net(X, alpha=a + 1e-4)).abs().max().item() for a in (0.0, 0.3, 0.9)]
    assert max(diffs) < 1e-3


def test_per_block_alpha_uses_only_the_chosen_block():
    net = tiny_dynamic().eval()
    with torch.no_grad():
        out = net(X, alpha=[0, 1.0, 0])
        manual_main = net.main
        h = torch.relu(manual_main.bn(manual_main.c1(X)))
        h = torch.relu(manual_main.c2(h))
        h = h + net.blocks["higher"][1](h)  # only the block before c3
        h = torch.relu(manual_main.c3(h))
        expected = manual_main.head(h)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_dual_sign_selects_set_and_scales_by_abs():
    net = tiny_dynamic(sets=("higher", "lower")).eval()
    with torch.no_grad():
        assert torch.equal(net(X, alpha=-0.5), net(X, alpha={"lower": 0.5}))
        assert torch.equal(net(X, alpha=0.7), net(X, alpha={"higher": 0.7}))
        assert not torch.allclose(net(X, alpha=-0.5), net(X, alpha=0.5))
        mixed = net(X, alpha=[-1.0, 0.0, 0.5])
        assert torch.equal(mixed, net(X, alpha={"lower": [1.0, 0, 0], "higher": [0, 0, 0.5]}))


def test_k_sets_general_sum():
    net = tiny_dynamic(sets=("a", "b", "c")).eval()
    with torch.no_grad():
        out = net(X, alpha={"a": 0.5, "c": [1.0, 0.0, 0.0]})
        m = net.main
        h = torch.relu(m.bn(m.c1(X)))
        h = h + 0.5 * net.blocks["a"][0](h) + 1.0 * net.blocks["c"][0](h)
        h = torch.relu(m.c2(h))
        h = h + 0.5 * net.blocks["a"][1](h)
        h = torch.relu(m.c3(h))
        h = h + 0.5 * net.blocks["a"][2](h)
        expected = m.head(h)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("alpha", "message"),
    [
        (math.nan, "finite"),
        (math.inf, "finite"),
        ([0.1, 0.2], "3 tuning blocks"),
        ({"nope": 1.0}, "unknown block set 'nope'"),
        ("0.5", "must be a number"),
        (-0.5, "no 'lower' block set"),
    ],
)
def test_invalid_alpha_is_a_clear_value_error(alpha, message):
    net = tiny_dynamic()
    with pytest.raises(ValueError, match=message):
        net(X, alpha=alpha)


def test_plain_alpha_is_ambiguous_for_general_sets():
    with pytest.raises(ValueError, match="ambiguous"):
        tiny_dynamic(sets=("a", "b"))(X, alpha=0.5)


def test_bad_construction_is_rejected():
    with pytest.raises(ValueError, match="unknown insertion point"):
        DynamicNet(TinyNet(), ["nope"])
    with pytest.raises(ValueError, match="distinct"):
        DynamicNet(TinyNet(), ["c2", "c2"])
    with pytest.raises(ValueError, match="channel count"):
        DynamicNet(TinyNet(), ["c2"], channels=[8, 8])


def test_freeze_keeps_norm_layers_in_eval_and_no_grad():
    net = tiny_dynamic()
    params = net.configure_trainable("tuning")
    assert {id(p) for p in params} == {id(p) for p in net.tuning_parameters()}
    net.train()
    assert net.blocks.training and not net.main.bn.training
    assert all(not p.requires_grad for p in net.main_parameters())
    main_params = net.configure_trainable("main")
    net.train()
    assert net.main.bn.training and all(p.requires_grad for p in main_params)
    assert all(not p.requires_grad for p in net.tuning_parameters())


def test_parameter_groups_by_set():
    net = tiny_dynamic(sets=("higher", "lower"))
    low = net.configure_trainable("tuning", ["lower"])
    assert {id(p) for p in low} == {id(p) for p in net.tuning_parameters("lower")}
    assert all(not p.requires_grad for p in net.tuning_parameters("higher"))
    with pytest.raises(ValueError, match="unknown block set"):
        net.tuning_parameters("middle")


def test_phase2_step_changes_only_the_tuning_blocks():
    net = tiny_dynamic()
    net.train()
    net(X)  # move BN stats off their initial values so a drift would show
    params = net.configure_trainable("tuning")
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opt = torch.optim.Adam(params, lr=1e-2)
    loss = net(X, alpha=1.0).square().mean()
    loss.backward()
    assert all(p.grad is None for p in net.main_parameters())
    opt.step()
    after = net.state_dict()
    for key, value in before.items():
        if key.startswith("main."):
            assert torch.equal(value, after[key]), f"{key} changed in the tuning phase"
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("blocks."))


def test_phase2_prefix_builds_no_autograd_graph():
    net = tiny_dynamic()
    net.configure_trainable("tuning")
    seen = {}
    net.blocks["higher"][0].register_forward_pre_hook(lambda m, a: seen.setdefault("z", a[0]))
    net.train()
    net(X.requires_grad_(False), alpha=1.0).sum().backward()
    assert seen["z"].grad_fn is None and not seen["z"].requires_grad
    # ...but gradients still reach every block, including those after the first.
    assert all(p.grad is not None for p in net.tuning_parameters())


def test_concurrent_threads_use_their_own_alpha():
    import concurrent.futures

    net = tiny_dynamic().eval()
    with torch.no_grad():
        expected = {a: net(X, alpha=a) for a in (0.0, 0.5, 1.0)}

        def run(a):
            return a, net(X, alpha=a)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for a, out in pool.map(run, [0.0, 0.5, 1.0] * 8):
                assert torch.equal(out, expected[a])


def test_points_listed():
    assert tiny_dynamic().insertion_points == POINTS


def test_copies_and_pickles_have_their_own_alpha():
    import copy
    import io
    import pickle

    from toy import tiny_dynamic

    net = tiny_dynamic(sets=("higher", "lower")).eval()
    for p in net.tuning_parameters():
        p.data.add_(0.05)
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = {a: net(x, alpha=a) for a in (0.0, 0.7, -0.4)}
        twin = copy.deepcopy(net)  # used to fail on the threading.local α
        for a, y in expected.items():
            assert torch.equal(twin(x, alpha=a), y)
        # the copy's hooks are its own: changing the copy's blocks changes only the copy
        for p in twin.tuning_parameters():
            p.data.mul_(2)
        assert torch.equal(net(x, alpha=0.7), expected[0.7]) and not torch.equal(twin(x, alpha=0.7), expected[0.7])
        restored = pickle.loads(pickle.dumps(net))
        buf = io.BytesIO()
        torch.save(net, buf)  # whole-module save, as some users do
        buf.seek(0)
        loaded = torch.load(buf, weights_only=False)
        for other in (restored, loaded):
            for a, y in expected.items():
                assert torch.equal(other(x, alpha=a), y)
