"""dynamicnet — Dynamic-Net (Shoshan, Mechrez, Zelnik-Manor, ICCV 2019): tune a network's objective at test
time, without re-training, by walking α through small residual tuning blocks added to a frozen main network.

Public API: the core (:class:`DynamicNet`, :class:`TuningBlock`, model folders) and the application
pipelines. Training lives in :mod:`dynamicnet.training` and each application's ``train`` module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__
from .errors import DynamicNetError
from .utils.lazy import lazy_getattr

# The public names resolve on first use (PEP 562): `import dynamicnet` stays cheap (no torch), which keeps the
# command line's start-up and Ctrl-C handling clean and lets tools import the version alone.
_LAZY = {
    "CompletionPipeline": "dynamicnet.apps.completion.pipeline",
    "DCGANPipeline": "dynamicnet.apps.dcgan.pipeline",
    "StylePipeline": "dynamicnet.apps.style.pipeline",
    "DynamicNet": "dynamicnet.core",
    "TuningBlock": "dynamicnet.core",
    "load_pretrained": "dynamicnet.core",
    "read_config": "dynamicnet.core",
    "save_pretrained": "dynamicnet.core",
}

if TYPE_CHECKING:
    from .apps.completion.pipeline import CompletionPipeline
    from .apps.dcgan.pipeline import DCGANPipeline
    from .apps.style.pipeline import StylePipeline
    from .core import DynamicNet, TuningBlock, load_pretrained, read_config, save_pretrained


__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "CompletionPipeline",
    "DCGANPipeline",
    "DynamicNet",
    "DynamicNetError",
    "StylePipeline",
    "TuningBlock",
    "__version__",
    "load_pretrained",
    "read_config",
    "save_pretrained",
]
