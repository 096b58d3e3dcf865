"""Dynamic-Net core: tuning blocks, α, the wrapper and model folders. Knows no application; imports torch only."""

from .blocks import TuningBlock
from .checkpoint import (
    FORMAT_VERSION,
    ModelFolderError,
    build_architecture,
    build_from_config,
    load_pretrained,
    read_config,
    register_architecture,
    save_pretrained,
)
from .dynamic import HIGHER, LOWER, AlphaLike, DynamicNet, infer_channels
from .fast import PreparedInput

__all__ = [
    "FORMAT_VERSION",
    "HIGHER",
    "LOWER",
    "AlphaLike",
    "DynamicNet",
    "ModelFolderError",
    "PreparedInput",
    "TuningBlock",
    "build_architecture",
    "build_from_config",
    "infer_channels",
    "load_pretrained",
    "read_config",
    "register_architecture",
    "save_pretrained",
]
