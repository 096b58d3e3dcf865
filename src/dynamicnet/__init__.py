"""dynamicnet — Dynamic-Net (Shoshan, Mechrez, Zelnik-Manor, ICCV 2019): tune a network's objective at test
time, without re-training, by walking α through small residual tuning blocks added to a frozen main network.

Public API: the core (:class:`DynamicNet`, :class:`TuningBlock`, model folders) and the application
pipelines. Training lives in :mod:`dynamicnet.training` and each application's ``train`` module.
"""
from ._version import __version__
from .apps.dcgan import DCGANPipeline
from .apps.style import StylePipeline
from .core import DynamicNet, TuningBlock, load_pretrained, read_config, save_pretrained
from .errors import DynamicNetError

__all__ = ["DCGANPipeline", "DynamicNet", "DynamicNetError", "StylePipeline", "TuningBlock", "__version__", "load_pretrained",
           "read_config", "save_pretrained"]
