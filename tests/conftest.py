import os

import pytest

# Keep runs reproducible and light on the 2-core CI machine (set before anything imports torch).
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_style_model(tmp_path_factory):
    """A random, very small style model folder (width 4): fast, and α visibly changes the output."""
    import torch

    from dynamicnet.apps.style.recipe import builtin_recipes
    from dynamicnet.apps.style.train import build_model
    from dynamicnet.core import save_pretrained

    torch.manual_seed(0)
    model = build_model(builtin_recipes()["level"].with_overrides(width=4))
    for p in model.tuning_parameters():
        p.data.mul_(3)
    return save_pretrained(model, tmp_path_factory.mktemp("models") / "tiny", application="style",
                           architecture={"name": "johnson", "kwargs": {"width": 4}},
                           extra={"description": "test model"})
