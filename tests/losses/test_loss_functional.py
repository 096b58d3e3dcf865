"""The pure loss functions against their textbook definitions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dynamicnet.losses import content_loss, gan_d_loss, gan_g_loss, gram_matrix, style_loss, tv_loss


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def test_gram_matrix_is_normalised_per_sample(gen: torch.Generator) -> None:
    feat = torch.randn(3, 4, 5, 6, generator=gen)
    gram = gram_matrix(feat)
    assert gram.shape == (3, 4, 4)
    expected = torch.einsum("bihw,bjhw->bij", feat, feat) / (4 * 5 * 6)
    torch.testing.assert_close(gram, expected)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    torch.testing.assert_close(gram[1:2], gram_matrix(feat[1:2]))  # samples do not mix


def test_content_loss_is_feature_mse(gen: torch.Generator) -> None:
    a, b = torch.randn(2, 2, 8, 4, 4, generator=gen)
    torch.testing.assert_close(content_loss(a, b), ((a - b) ** 2).mean())


def test_style_loss_weights_taps_and_broadcasts_a_single_target(gen: torch.Generator) -> None:
    feats = {"a": torch.randn(3, 4, 6, 6, generator=gen), "b": torch.randn(3, 8, 3, 3, generator=gen)}
    feats["unused"] = torch.randn(3, 2, 2, 2, generator=gen)
    targets = {"a": torch.randn(1, 4, 4, generator=gen), "b": torch.randn(1, 8, 8, generator=gen)}
    weights = {"a": 0.5, "b": 2.0}
    expected = sum(
        w * ((gram_matrix(feats[tap]) - targets[tap].repeat(3, 1, 1)) ** 2).mean() for tap, w in weights.items()
    )
    torch.testing.assert_close(style_loss(feats, targets, weights), expected)
    per_sample_targets = {tap: g.repeat(3, 1, 1) for tap, g in targets.items()}
    torch.testing.assert_close(style_loss(feats, per_sample_targets, weights), expected)


def test_style_loss_names_missing_taps(gen: torch.Generator) -> None:
    feats = {"a": torch.randn(1, 2, 3, 3, generator=gen)}
    with pytest.raises(KeyError, match="'b'"):
        style_loss(feats, {"a": gram_matrix(feats["a"])}, {"a": 1.0, "b": 1.0})


def test_tv_loss() -> None:
    assert tv_loss(torch.full((2, 3, 5, 5), 0.7)).item() == 0
    stripes = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]).view(1, 1, 2, 3)  # only horizontal changes
    assert tv_loss(stripes).item() == pytest.approx(1.0)
    torch.testing.assert_close(tv_loss(stripes.transpose(2, 3)), tv_loss(stripes))


def test_bce_gan_losses_match_their_definitions(gen: torch.Generator) -> None:
    real, fake = torch.randn(2, 16, 1, generator=gen) * 3
    d = gan_d_loss(real, fake)
    torch.testing.assert_close(d, -F.logsigmoid(real).mean() - F.logsigmoid(-fake).mean())
    torch.testing.assert_close(gan_g_loss(fake), -F.logsigmoid(fake).mean())


def test_bce_generator_loss_does_not_saturate() -> None:
    # A confidently rejected fake (logit −20) still gets a gradient of about −1/N, not ~0.
    fake = torch.full((4,), -20.0, requires_grad=True)
    gan_g_loss(fake).backward()
    torch.testing.assert_close(fake.grad, torch.full((4,), -0.25))


def test_hinge_gan_losses() -> None:
    real = torch.tensor([2.0, 0.5, -1.0])
    fake = torch.tensor([-2.0, 0.0, 1.0])
    # D: mean(relu(1 − real)) + mean(relu(1 + fake)) = (0 + 0.5 + 2)/3 + (0 + 1 + 2)/3
    assert gan_d_loss(real, fake, kind="hinge").item() == pytest.approx(5.5 / 3)
    assert gan_g_loss(fake, kind="hinge").item() == pytest.approx(1 / 3)


def test_unknown_gan_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="wgan"):
        gan_d_loss(torch.zeros(1), torch.zeros(1), kind="wgan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wgan"):
        gan_g_loss(torch.zeros(1), kind="wgan")  # type: ignore[arg-type]


def test_functions_do_not_modify_their_inputs(gen: torch.Generator) -> None:
    feat, other = torch.randn(2, 2, 3, 4, 4, generator=gen)
    grams = {"x": gram_matrix(other)[:1]}
    before = [t.clone() for t in (feat, other, grams["x"])]
    gram_matrix(feat), content_loss(feat, other), style_loss({"x": feat}, grams, {"x": 1.0}), tv_loss(feat)
    gan_d_loss(feat, other), gan_g_loss(feat), gan_d_loss(feat, other, "hinge"), gan_g_loss(feat, "hinge")
    for t, b in zip((feat, other, grams["x"]), before):
        assert torch.equal(t, b)
