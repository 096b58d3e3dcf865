"""The learned auto α: features that see what a fill looks like next to its surroundings, a ridge fit that
recovers a real relationship under leave-one-photo-out validation, and the pipeline/CLI plumbing."""

import shutil

import numpy as np
import pytest
import torch

from dynamicnet.apps.completion.critic import (
    AlphaCritic,
    critic_features,
    fit_critic,
    oracle_share,
    ridge_fit,
)
from dynamicnet.apps.completion.evaluate import fit_auto_critic, write_calibration
from dynamicnet.apps.completion.pipeline import CompletionPipeline
from dynamicnet.data.masks import center_mask
from dynamicnet.losses import VGG16Features


def test_features_see_a_busier_and_a_differently_coloured_fill():
    g = torch.Generator().manual_seed(0)
    context = 0.5 + 0.05 * torch.rand(3, 48, 48, generator=g)
    mask = center_mask(48, 48, 24)
    busy = torch.where(mask > 0, torch.rand(3, 48, 48, generator=g), context)
    flat = torch.where(mask > 0, torch.full_like(context, 0.52), context)
    red = torch.where(mask > 0, torch.tensor([0.9, 0.1, 0.1])[:, None, None].expand(3, 48, 48), context)
    f = critic_features([flat, busy, red], mask)
    assert f.shape == (3 * 3 + 2,)
    detail = f[2::3]  # log(fill detail / ring detail) per fill
    colour = f[4::3]  # colour shift against the ring
    assert detail[1] > detail[0] + 1 and colour[2] > colour[0] + 0.2


def test_ridge_fit_learns_which_alpha_suits_which_image():
    rng = np.random.default_rng(0)
    grid = [0.0, 0.5, 1.0]
    n = 120
    texture = rng.random(n)  # the image property that decides the best α
    features = np.stack([texture, rng.random(n), rng.random(n)], 1)
    best = np.round(2 * (1 - texture)).astype(int)  # textured → α 0, smooth → α 1
    curves = 1.0 + 0.2 * np.abs(np.arange(3)[None] - best[:, None]) + 0.01 * rng.random((n, 3))
    groups = np.arange(n) % 6
    critic, report = fit_critic(features, curves, groups, grid, source="synthetic")
    assert report["photos"] == 6 and max(report["leave_one_photo_out_share"].values()) > 0.8
    picks = np.array([grid.index(critic.choose(f)) for f in features])
    assert oracle_share(curves, picks) > 0.8
    assert AlphaCritic.from_dict(critic.to_dict()) == critic
    constant = ridge_fit(np.zeros((4, 2)) + 1, np.array([[2.0, 1.0, 3.0]] * 4), 1.0, grid)
    assert constant.choose(np.ones(2)) == 0.5 and constant.prior_alpha == 0.5  # no information: the best global α


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_pipeline_uses_a_stored_critic(tiny_completion_model, tmp_path):
    folder = tiny_completion_model
    torch.manual_seed(0)  # the random VGG16
    pipe = CompletionPipeline.from_pretrained(folder, vgg=VGG16Features(("relu1_2", "relu2_2", "relu3_3")))
    g = torch.Generator().manual_seed(2)
    groups = [[torch.rand(3, 32, 32, generator=g) for _ in range(3)] for _ in range(3)]
    critic, report = fit_auto_critic(pipe, groups, pipe.vgg, hole=16, grid=(0.0, 0.5, 1.0), source="test")
    assert report["images"] == 9 and critic.grid == (0.0, 0.5, 1.0)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    write_calibration(copy, critic)
    again = CompletionPipeline.from_pretrained(copy)
    assert again.auto_calibration == critic and again.default_alpha == critic.prior_alpha
    image = torch.rand(3, 40, 36, generator=g)
    features = again.critic_features(image, None, critic.grid)
    assert again.auto_alpha(image) == critic.choose(features)
