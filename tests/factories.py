"""Tiny model folders for tests: one factory instead of a hand-built fixture per test module."""


def make_tiny_style_model(folder, recipe="level", **save_kwargs):
    """A random, very small style model folder (width 4) from a built-in recipe: fast, and its blocks (scaled up
    3×) visibly change the output. ``save_kwargs`` go to ``save_pretrained`` (α range, objectives, …)."""
    import torch

    from dynamicnet.apps.style.recipe import builtin_recipes
    from dynamicnet.apps.style.train import build_model
    from dynamicnet.core import save_pretrained

    torch.manual_seed(0)
    model = build_model(builtin_recipes()[recipe].with_overrides(width=4))
    for p in model.tuning_parameters():
        p.data.mul_(3)
    return save_pretrained(model, folder, application="style", architecture={"name": "johnson", "kwargs": {"width": 4}},
                           **{"extra": {"description": "test model"}, **save_kwargs})


def free_port() -> int:
    """A TCP port nothing listens on now (for torchrun rendezvous: fixed ports collide between runs)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
