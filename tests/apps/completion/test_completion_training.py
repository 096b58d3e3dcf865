"""Training through the shared trainer: phases, discriminators and exact resume."""

import pytest
import torch

from dynamicnet.apps.completion.recipe import CompletionObjective, builtin_recipes
from dynamicnet.apps.completion.train import CompletionTask, train_completion
from dynamicnet.core import load_pretrained
from dynamicnet.data.folder import SyntheticImageDataset
from dynamicnet.data.masks import MaskedImageDataset
from dynamicnet.training import TrainerConfig

pytestmark = pytest.mark.slow

# Both objectives with an adversarial term: the main phase trains "disc" (exported beside the model), the
# tuning phase a fresh discriminator ("disc_tuning").
RECIPE = builtin_recipes()["photos"].with_overrides(
    width=4,
    dilations=(1, 2, 1),
    disc_width=4,
    size=16,
    batch_size=2,
    main_steps=2,
    tuning_steps=3,
    main=CompletionObjective(l1_weight=1.0, adversarial_weight=0.1),
    tuning=CompletionObjective(l1_weight=1.0, adversarial_weight=0.05),
)


def _train(out, resume=False):
    data = MaskedImageDataset(SyntheticImageDataset(6, 16), "mixed")
    config = TrainerConfig(out, batch_size=2, checkpoint_every=1, progress=False, resume=resume)
    return train_completion(RECIPE, data, out, config=config)


def test_resume_mid_tuning_is_exact(tmp_path, monkeypatch):
    reference = _train(tmp_path / "ref")
    original = CompletionTask.training_step
    calls = {"n": 0}

    def crash_in_tuning(self, ctx, batch):
        if ctx.phase.trainable == "tuning" and ctx.step == 2:
            raise RuntimeError("simulated crash")
        calls["n"] += 1
        return original(self, ctx, batch)

    monkeypatch.setattr(CompletionTask, "training_step", crash_in_tuning)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _train(tmp_path / "run")
    monkeypatch.setattr(CompletionTask, "training_step", original)
    resumed = _train(tmp_path / "run", resume=True)
    a, _ = load_pretrained(reference)
    b, _ = load_pretrained(resumed)
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(v, w), k
    ckpt = torch.load(tmp_path / "run" / "train" / "checkpoint.pt", weights_only=True)
    assert set(ckpt["modules"]) == {"model", "disc", "disc_tuning"}


def test_same_seed_same_model_and_the_main_network_is_frozen_while_tuning(tmp_path):
    first = _train(tmp_path / "a")
    second = _train(tmp_path / "b")
    a, config = load_pretrained(first)
    b, _ = load_pretrained(second)
    assert all(torch.equal(v, w) for v, w in zip(a.state_dict().values(), b.state_dict().values()))
    assert config["objectives"]["higher"]["adversarial_weight"] == 0.05
    assert (first / "discriminator.safetensors").is_file()
    data = MaskedImageDataset(SyntheticImageDataset(6, 16), "mixed")
    only_main = train_completion(
        RECIPE,
        data,
        tmp_path / "main",
        phase="main",
        config=TrainerConfig(tmp_path / "main", batch_size=2, progress=False),
    )
    theta, _ = load_pretrained(only_main)
    for (k, v), w in zip(theta.main.state_dict().items(), a.main.state_dict().values()):
        assert torch.equal(v, w), k  # the tuning phase did not move θ (nor its norm statistics)
