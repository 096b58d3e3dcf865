"""Networks someone else trained, as θ: load them (ONNX, TorchScript, ``module:Class`` + safetensors), find
where tuning blocks can go, and wrap one as the main network of a model folder that references its file.
Application-neutral, like the core, which knows nothing of this package."""

from .loaders import ImportedNetwork, InputSpec, example_inputs, image_input_index, load_network
from .probe import InsertionPoint, Inspection, find_insertion_points
from .theta import ImportedMain, parse_fixed_inputs, source_sha256

__all__ = [
    "ImportedMain",
    "ImportedNetwork",
    "InputSpec",
    "Inspection",
    "InsertionPoint",
    "example_inputs",
    "find_insertion_points",
    "image_input_index",
    "load_network",
    "parse_fixed_inputs",
    "source_sha256",
]
